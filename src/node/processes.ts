// Child `nsn` processes (dev chain, nodes) for the devnet and the end-to-end tests: start one, wait
// for its one-line JSON "ready" report on stdout, keep its logs in a file, stop it (SIGTERM, then
// SIGKILL after a grace period) so that no process outlives its owner.
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** The `nsn` entry point children are started with: the one this process runs from. */
export const NSN_BIN = currentBin()

function currentBin(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  // Compiled (dist/src/node/processes.js): dist/bin/nsn.js; sources: bin/nsn.js.
  return here.endsWith(join('dist', 'src', 'node'))
    ? resolve(here, '../../bin/nsn.js')
    : join(resolve(here, '../..'), 'bin/nsn.js')
}

/**
 * A child started by startNsn ends with its parent, also when the parent dies by SIGKILL and runs
 * no cleanup: it polls its parent pid (given in NSN_PARENT_PID) and stops itself with SIGTERM when
 * it has been re-parented.
 */
export function watchParent(env: NodeJS.ProcessEnv = process.env): void {
  const parent = Number(env.NSN_PARENT_PID)
  if (!Number.isSafeInteger(parent) || parent <= 0) return
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer)
      process.kill(process.pid, 'SIGTERM')
    }
  }, 500)
  timer.unref()
}

/** The last line of a child's log that says why it stopped (its `nsn: …` error, else the last line). */
export async function exitCause(logFile: string): Promise<string | null> {
  const text = await readFile(logFile, 'utf8').catch(() => '')
  const lines = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-50)
  const err = lines.findLast((l) => l.startsWith('nsn'))
  if (err !== undefined) return err.trim()
  const last = lines.at(-1)
  if (last === undefined) return null
  try {
    const rec = JSON.parse(last) as { msg?: string; err?: { message?: string } }
    return [rec.msg, rec.err?.message].filter(Boolean).join(': ') || last.slice(0, 200)
  } catch {
    return last.slice(0, 200)
  }
}

export class ProcessStartError extends Error {
  override readonly name = 'ProcessStartError'
  constructor(
    readonly what: string,
    message: string,
  ) {
    super(message)
  }
}

export interface NsnProcess<Ready> {
  readonly name: string
  readonly child: ChildProcess
  readonly ready: Ready
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<number | string>
  /** SIGKILL now (crash tests). */
  kill(): Promise<number | string>
}

export interface StartOptions {
  /** Where stdout/stderr go (appended). */
  logFile: string
  /** @default 60000 */
  readyTimeoutMs?: number
  env?: Record<string, string>
}

/** Start `nsn <args>` and wait for the first stdout line that is a JSON object with `event`. */
export async function startNsn<Ready extends { event: string }>(
  name: string,
  args: string[],
  opts: StartOptions,
): Promise<NsnProcess<Ready>> {
  const log: WriteStream = createWriteStream(opts.logFile, { flags: 'a' })
  const child = spawn(process.execPath, [NSN_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env, NSN_PARENT_PID: String(process.pid) },
  })
  child.stderr!.pipe(log, { end: false })
  const logClosed = new Promise<void>((res) => log.once('close', () => res()))
  const exited = new Promise<number | string>((res) => {
    child.once('exit', (code, signal) => {
      log.end()
      res(code ?? signal ?? 'unknown')
    })
  })
  const lines = createInterface({ input: child.stdout! })
  const ready = await new Promise<Ready>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      rej(
        new ProcessStartError(
          name,
          `${name}: not ready within ${opts.readyTimeoutMs ?? 60_000} ms (log: ${opts.logFile})`,
        ),
      )
    }, opts.readyTimeoutMs ?? 60_000)
    lines.on('line', (line) => {
      log.write(`${line}\n`)
      if (!line.startsWith('{')) return
      try {
        const v = JSON.parse(line) as Ready
        if (typeof v.event === 'string') {
          clearTimeout(timer)
          res(v)
        }
      } catch {
        // an ordinary log line
      }
    })
    void exited.then(async (code) => {
      clearTimeout(timer)
      await Promise.race([logClosed, new Promise((r) => setTimeout(r, 2000))])
      const cause = await exitCause(opts.logFile)
      rej(
        new ProcessStartError(
          name,
          `${name}: exited (${code}) before it was ready${cause === null ? '' : `: ${cause}`} (log: ${opts.logFile})`,
        ),
      )
    })
  })
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(t)
      return code
    }
    return exited
  }
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return exited
  }
  return { name, child, ready, exited, stop, kill }
}

/** The devchain's ready line. */
export interface DevChainReady {
  event: 'listening'
  url: string
  port: number
  genesisHash: string
  bestBlock: string
}

/** `nsn node`'s ready line. */
export interface NodeReady {
  event: 'started'
  peerId: string
  role: 'director' | 'viewer'
  http: string
  listen: string[]
}
