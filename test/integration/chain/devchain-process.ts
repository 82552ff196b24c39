// Starts the real dev chain as a child process (`node bin/nsn.js devchain ...`) on 127.0.0.1, reads
// the bound port from its first stdout line, and stops it. Every process started here is tracked so
// that a test file's `after` hook can kill whatever a failed test left running.
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { type GenesisAccount, hex } from '../../../src/chain/index.ts'

const repoRoot = new URL('../../../', import.meta.url).pathname

export interface DevchainProcess {
  proc: ChildProcess
  url: string
  port: number
  genesisHash: string
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>
  stderr: () => string
}

const running = new Set<ChildProcess>()

export async function startDevchain(args: string[], timeoutMs = 20_000): Promise<DevchainProcess> {
  const proc = spawn(
    process.execPath,
    [join(repoRoot, 'bin/nsn.js'), 'devchain', '--log-level', 'warn', ...args],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  running.add(proc)
  let err = ''
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000)
  })
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => {
      running.delete(proc)
      resolve(code)
    })
  })
  const lines = createInterface({ input: proc.stdout! })
  const listening = await new Promise<{ url: string; port: number; genesisHash: string }>(
    (resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`devchain did not listen within ${timeoutMs} ms: ${err}`)),
        timeoutMs,
      )
      lines.on('line', (line) => {
        try {
          const o = JSON.parse(line) as { event?: string; url: string; port: number; genesisHash: string }
          if (o.event === 'listening') {
            clearTimeout(timer)
            resolve(o)
          }
        } catch {
          // not the line we wait for
        }
      })
      void exited.then((code) => {
        clearTimeout(timer)
        reject(new Error(`devchain exited with ${code} before listening: ${err}`))
      })
    },
  )
  return { proc, ...listening, exited, stderr: () => err }
}

/** Stop with `signal` and wait for the exit (SIGKILL after `graceMs`). */
export async function stopDevchain(
  p: DevchainProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5000,
): Promise<number | null> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return p.exited
  p.proc.kill(signal)
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), graceMs)
  const code = await p.exited
  clearTimeout(timer)
  return code
}

/** Kill every dev chain this file started that is still running. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (proc) =>
        new Promise<void>((resolve) => {
          proc.once('exit', () => resolve())
          proc.kill('SIGKILL')
        }),
    ),
  )
}

/** Poll `cond` every `stepMs` until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  what: string,
  timeoutMs = 15_000,
  stepMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await cond()
    if (v) return v as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

export async function writeGenesis(path: string, accounts: GenesisAccount[]): Promise<string> {
  const doc = {
    accounts: accounts.map((a) => ({
      peer: hex(a.peer),
      role: a.role,
      region: a.region,
      stake: a.stake.toString(),
      reputation: (a.reputation ?? 0n).toString(),
    })),
  }
  await writeFile(path, JSON.stringify(doc))
  return path
}
