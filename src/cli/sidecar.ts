// `nsn sidecar`: runs the sidecar gRPC server over a plugins folder until SIGINT/SIGTERM.
import { Command, InvalidArgumentError, Option } from 'commander'
import { createLogger, type LogFormat } from '../node/logging.ts'
import {
  DEFAULT_LANE0_MAX_LATENCY_MS,
  DEFAULT_LANE1_MAX_LATENCY_MS,
  DEFAULT_POLICY_MAX_VRAM_GB,
  DEFAULT_SIDECAR_HOST,
  DEFAULT_SIDECAR_PORT,
  DEFAULT_TASK_RETENTION_MS,
  type PluginPolicy,
  SidecarServer,
} from '../sidecar/index.ts'
import { logFormatOption } from './log-options.ts'

function parseListen(v: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):([0-9]{1,5})$/.exec(v)
  const port = Number(m?.[2])
  if (m === null || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:50050')
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
}

function positive(v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0')
  return n
}

function nonNegative(v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0')
  return n
}

interface SidecarOpts {
  pluginsDir: string
  listen: { host: string; port: number }
  workDir?: string
  runner?: string
  allow?: string
  maxVramGb: number
  lane0MaxLatencyMs: number
  lane1MaxLatencyMs: number
  taskRetentionMs: number
  logLevel: string
  logFormat: LogFormat
}

export function sidecarCommand(): Command {
  return (
    new Command('sidecar')
      .description('run the sidecar gRPC server (nsn.sidecar.Sidecar) that executes plugins as processes')
      // addCommand() does not pass these on from the program: usage errors must reach main() (exit 2).
      .exitOverride()
      .configureOutput({ writeErr: (s) => process.stderr.write(s) })
      .option('--plugins-dir <dir>', 'folder of <name>/manifest.yaml plugin folders', 'plugins')
      .addOption(
        new Option('--listen <host:port>', 'address to listen on')
          .argParser(parseListen)
          .default(
            { host: DEFAULT_SIDECAR_HOST, port: DEFAULT_SIDECAR_PORT },
            `${DEFAULT_SIDECAR_HOST}:${DEFAULT_SIDECAR_PORT}`,
          ),
      )
      .option('--work-dir <dir>', 'parent of the per-task output folders (default: a fresh temp folder)')
      .option(
        '--runner <command>',
        'command that runs module:Class plugins, e.g. "python3 -m vortex.plugins.runner" (PYTHONPATH from the environment)',
      )
      .option(
        '--allow <names>',
        'comma-separated plugin allowlist (default: every valid plugin in the folder)',
      )
      .option(
        '--max-vram-gb <gb>',
        'VRAM ceiling and budget for declared plugin needs',
        nonNegative,
        DEFAULT_POLICY_MAX_VRAM_GB,
      )
      .option(
        '--lane0-max-latency-ms <ms>',
        'largest declared max_latency_ms on lane 0',
        positive,
        DEFAULT_LANE0_MAX_LATENCY_MS,
      )
      .option(
        '--lane1-max-latency-ms <ms>',
        'largest declared max_latency_ms on lane 1',
        positive,
        DEFAULT_LANE1_MAX_LATENCY_MS,
      )
      .option(
        '--task-retention-ms <ms>',
        'how long finished tasks and their files are kept',
        positive,
        DEFAULT_TASK_RETENTION_MS,
      )
      .option('--log-level <level>', 'pino log level on stderr', 'info')
      .addOption(logFormatOption())
      .addHelpText(
        'after',
        `\nListens on ${DEFAULT_SIDECAR_HOST}:${DEFAULT_SIDECAR_PORT} by default; the channel is not encrypted.`,
      )
      .action(async (opts: SidecarOpts) => {
        const logger = createLogger(opts.logLevel, opts.logFormat).child({ name: 'sidecar' })
        const loopback = ['127.0.0.1', '::1', 'localhost'].includes(opts.listen.host)
        if (!loopback)
          logger.warn(
            { host: opts.listen.host },
            'listening beyond loopback without TLS: any peer can run plugins',
          )
        const policy: Partial<PluginPolicy> = {
          allowlist:
            opts.allow === undefined
              ? null
              : opts.allow
                  .split(',')
                  .map((s) => s.trim())
                  .filter((s) => s !== ''),
          maxVramGb: opts.maxVramGb,
          lane0MaxLatencyMs: opts.lane0MaxLatencyMs,
          lane1MaxLatencyMs: opts.lane1MaxLatencyMs,
        }
        const server = await SidecarServer.start({
          pluginsDir: opts.pluginsDir,
          host: opts.listen.host,
          port: opts.listen.port,
          workDir: opts.workDir,
          runnerCommand: opts.runner?.split(/\s+/).filter((x) => x !== '') ?? [],
          policy,
          taskRetentionMs: opts.taskRetentionMs,
          logger,
        })
        const plugins = server.runner.list().map((p) => p.name)
        process.stdout.write(
          `sidecar listening on ${server.address} (plugins: ${plugins.join(', ') || 'none'})\n`,
        )
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve)
          process.once('SIGTERM', resolve)
        })
        await server.stop()
      })
  )
}
