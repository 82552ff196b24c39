// Running `nsn` as an operator does in the CLI tests: a real process, its exit code, stdout and
// stderr, and the first line of its message.
import { spawn } from 'node:child_process'
import { openSync } from 'node:fs'
import { NSN_BIN } from '../../../src/node/processes.ts'

export interface Run {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  /** First line of stderr. */
  first: string
}

/** The environment without any NSN_* variable of the machine running the tests. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NSN_') && v !== undefined) env[k] = v
  return { ...env, ...extra }
}

/** Run `nsn <args>` to completion (SIGKILLed and rejected after `timeoutMs`). */
export function runNsn(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string; stdinFile?: string } = {},
): Promise<Run> {
  const timeoutMs = opts.timeoutMs ?? 60_000
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NSN_BIN, ...args], {
      stdio: [opts.stdinFile === undefined ? 'ignore' : openSync(opts.stdinFile, 'r'), 'pipe', 'pipe'],
      env: cleanEnv(opts.env),
      cwd: opts.cwd,
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`nsn ${args.join(' ')}: still running after ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, first: stderr.split('\n')[0] ?? '' })
    })
  })
}

/** No stack trace anywhere in the output. */
export function noStack(r: Run): boolean {
  return !/^\s+at /m.test(r.stderr) && !/^\s+at /m.test(r.stdout)
}
