// `nsn node` (run a node), and `nsn status` (ask a running node how it is).
import { Command } from 'commander'
import { ConfigError, type ConfigSources, loadConfig, type NodeConfig } from '../node/config.ts'
import { DEVNET_PROFILE } from '../node/devnet-profile.ts'
import { NsnNode } from '../node/node.ts'
import { formatP2PStatus, type P2PStatus } from '../p2p/index.ts'
import { UsageError } from './errors.ts'

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

export interface NodeFlags {
  config?: string
  role?: string
  dataDir?: string
  httpPort?: string
  chainUrl?: string
  bootstrap: string[]
  listen: string[]
  set: string[]
  printConfig: boolean
  profile?: string
  logFormat?: string
}

/** The configuration options `nsn node` and `nsn doctor` share. */
export function addConfigOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML configuration file (see docs/config.md)')
    .option('--role <role>', 'director | viewer (node.role)')
    .option('--data-dir <dir>', 'key, journal and task files (node.dataDir)')
    .option('--http-port <port>', 'metrics, status and viewer port; 0 = any (http.port)')
    .option('--chain-url <url>', 'dev chain or Substrate WebSocket endpoint (chain.url)')
    .option('--bootstrap <multiaddr>', 'peer to dial, repeatable (p2p.bootstrap)', collect, [])
    .option('--listen <multiaddr>', 'listen address, repeatable (p2p.listen)', collect, [])
    .option('--set <key=value>', 'any configuration key, repeatable; wins over everything', collect, [])
    .option('--profile <name>', 'start from a named profile: devnet')
    .option(
      '--log-format <format>',
      'json | pretty | auto: pretty when stdout is a terminal (node.logFormat)',
    )
}

/** The configuration the flags, the file and the environment give. */
export async function configFromFlags(flags: NodeFlags): Promise<NodeConfig> {
  if (flags.profile !== undefined && flags.profile !== 'devnet') {
    throw new ConfigError(
      'INVALID_VALUE',
      'profile',
      `--profile: unknown profile "${flags.profile}" (known: devnet)`,
    )
  }
  const sources: ConfigSources = {
    profile: flags.profile === 'devnet' ? DEVNET_PROFILE : undefined,
    file: flags.config,
    env: process.env,
    set: flagAssignments(flags),
  }
  return loadConfig(sources)
}

/** Named flags are shorthands for `--set`; `--set` comes last and wins. */
export function flagAssignments(f: NodeFlags): string[] {
  const out: string[] = []
  if (f.role !== undefined) out.push(`node.role=${f.role}`)
  if (f.dataDir !== undefined) out.push(`node.dataDir=${f.dataDir}`)
  if (f.httpPort !== undefined) out.push(`http.port=${f.httpPort}`)
  if (f.chainUrl !== undefined) out.push(`chain.url=${f.chainUrl}`)
  if (f.bootstrap.length > 0) out.push(`p2p.bootstrap=${f.bootstrap.join(',')}`)
  if (f.listen.length > 0) out.push(`p2p.listen=${f.listen.join(',')}`)
  if (f.logFormat !== undefined) out.push(`node.logFormat=${f.logFormat}`)
  return [...out, ...f.set]
}

export function printableConfig(c: NodeConfig): string {
  return `${JSON.stringify(c, null, 2)}\n`
}

/** Run until SIGINT/SIGTERM, then stop every part and exit 0. */
export async function runUntilSignal(stop: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
  await stop()
}

export function nodeCommand(): Command {
  return addConfigOptions(
    new Command('node').description('run an NSN node (director or viewer) until SIGINT/SIGTERM'),
  )
    .option('--print-config', 'print the effective configuration and exit', false)
    .addHelpText(
      'after',
      '\nPrecedence: defaults < --config file < NSN_* environment < flags.\n' +
        'Logs go to stderr; stdout carries one JSON line {"event":"started",…} once running.\n' +
        'Exit codes: 0 stopped cleanly, 2 bad usage or configuration, 3 failed to start.',
    )
    .action(async (flags: NodeFlags) => {
      const config = await configFromFlags(flags)
      if (flags.printConfig) {
        process.stdout.write(printableConfig(config))
        return
      }
      const node = await NsnNode.start(config)
      const http = node.http.address()
      // One JSON line on stdout: what an operator (or the devnet) needs to reach this node.
      process.stdout.write(
        `${JSON.stringify({
          event: 'started',
          peerId: node.key.peerId.toString(),
          role: config.node.role,
          http: `http://${http.host}:${http.port}`,
          listen: node.p2p.multiaddrs(),
        })}\n`,
      )
      await runUntilSignal(() => node.stop())
    })
}

export function statusCommand(): Command {
  return new Command('status')
    .description("print a running node's /api/status")
    .option('--url <url>', 'the node HTTP address', 'http://127.0.0.1:9100')
    .option('--json', 'print the raw /api/status JSON')
    .action(async (opts: { url: string; json?: boolean }) => {
      if (!/^https?:\/\//.test(opts.url))
        throw new UsageError(
          `nsn status: --url ${opts.url}: expected the node's http:// address (http.port, e.g. http://127.0.0.1:9100), not a chain URL`,
        )
      const url = `${opts.url.replace(/\/$/, '')}/api/status`
      let res: Response
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(5000) })
      } catch (err) {
        throw new Error(`no node answers at ${url} (${(err as Error).message})`)
      }
      const text = await res.text()
      let status: { role?: string; chain?: unknown; p2p?: P2PStatus }
      try {
        status = JSON.parse(text)
      } catch {
        throw new Error(
          `${url} is not an nsn node's HTTP API (HTTP ${res.status}, not JSON): give --url the node's http address (http.port), not the chain's`,
        )
      }
      if (opts.json === true || status.p2p?.reachability === undefined) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`)
        return
      }
      const lines = [`role         ${status.role ?? '?'}`, `chain        ${JSON.stringify(status.chain)}`]
      process.stdout.write(`${[...lines, ...formatP2PStatus(status.p2p)].join('\n')}\n`)
    })
}
