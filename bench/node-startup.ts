// Start-up time of `nsn node` (a director, to its "started" line) from the TypeScript sources
// through tsx (bin/nsn.js) and from the compiled JavaScript (dist/bin/nsn.js, `npm run build` first).
// Prints the median of N runs each, and the ratio compiled / tsx.
// Usage: node --import tsx bench/node-startup.ts [runs=5]
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { type DevChainReady, startNsn } from '../src/node/processes.ts'

const root = new URL('..', import.meta.url).pathname
const runs = Number(process.argv[2] ?? 5)
const dist = join(root, 'dist/bin/nsn.js')
if (!existsSync(dist)) {
  console.error('dist/bin/nsn.js missing: run npm run build first')
  process.exit(2)
}
const dir = await mkdtemp(join(tmpdir(), 'nsn-startup-'))
const chain = await startNsn<DevChainReady>(
  'devchain',
  ['devchain', '--data-dir', join(dir, 'chain'), '--listen', '127.0.0.1:0', '--log-level', 'warn'],
  { logFile: join(dir, 'chain.log') },
)

function once(bin: string, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(
      process.execPath,
      [
        bin,
        'node',
        '--profile',
        'devnet',
        '--data-dir',
        join(dir, `node-${n}`),
        '--chain-url',
        chain.ready.url,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NSN_PARENT_PID: String(process.pid) } },
    )
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${bin}: not started within 120 s`))
    }, 120_000)
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (!l.includes('"event":"started"')) return
      const ms = performance.now() - t0
      clearTimeout(timer)
      child.once('exit', () => resolve(ms))
      child.kill('SIGTERM')
    })
  })
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const results: Record<string, number[]> = { tsx: [], compiled: [] }
try {
  for (let i = 0; i < runs; i++) {
    results.tsx!.push(await once(join(root, 'bin/nsn.js'), i * 2))
    results.compiled!.push(await once(dist, i * 2 + 1))
  }
} finally {
  await chain.stop()
  await rm(dir, { recursive: true, force: true })
}
const tsx = median(results.tsx!)
const compiled = median(results.compiled!)
console.log(
  `nsn node start-up, median of ${runs}: tsx ${tsx.toFixed(0)} ms, compiled ${compiled.toFixed(0)} ms`,
)
console.log(`ratio compiled / tsx: ${(compiled / tsx).toFixed(2)}`)
console.log(
  `all runs (ms): tsx ${results.tsx!.map((x) => x.toFixed(0)).join(' ')}; compiled ${results.compiled!.map((x) => x.toFixed(0)).join(' ')}`,
)
