// Soak: a whole devnet (dev chain, five directors, the viewer) for --slots slots (default 100; the
// devnet's slots are 12 s, so about 20 minutes plus start-up). Every 10 slots it prints each process's
// RSS and open file descriptors (from /proc), and at the end the growth per slot after warm-up (the
// first 10 slots): the goal is no growth. Prints figures, asserts nothing.
// Usage: node --import tsx bench/soak.ts --slots 100   (or: npm run bench -- soak)
import '../src/polyfill.ts' // first: Node 20 lacks Promise.withResolvers and a global WebSocket
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DevChainClient } from '../src/chain/index.ts'
import { initBlake3 } from '../src/crypto/index.ts'
import { Devnet } from '../src/node/devnet.ts'

const arg = process.argv.indexOf('--slots')
const SLOTS = arg > 0 ? Number(process.argv[arg + 1]) : Number(process.env.SOAK_SLOTS ?? 100)
if (!Number.isInteger(SLOTS) || SLOTS < 20) throw new Error('--slots: expected a whole number >= 20')
const WARMUP = 10
const EVERY = 10

interface Sample {
  slot: number
  rssMiB: number
  fds: number
}

async function sample(pid: number): Promise<{ rssMiB: number; fds: number } | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
    const fds = (await readdir(`/proc/${pid}/fd`)).length
    return { rssMiB: kb / 1024, fds }
  } catch {
    return null
  }
}

/** Least-squares slope of `y` over `x` (growth per slot): robust to one noisy sample, unlike last − first. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

await initBlake3()
const dataDir = await mkdtemp(join(tmpdir(), 'nsn-bench-soak-'))
const devnet = new Devnet({ dataDir, reset: false, directors: 5, viewerPort: 0 })
const series = new Map<string, Sample[]>()
let chain: DevChainClient | null = null
const startedAt = Date.now()
try {
  await devnet.start()
  const procs: [string, { child: ChildProcess }][] = [
    ['devchain', devnet.chainProc!],
    ...devnet.directorProcs.map((p, i): [string, { child: ChildProcess }] => [`director-${i}`, p]),
    ['viewer', devnet.viewerProc!],
  ]
  chain = new DevChainClient({ url: devnet.chainProc!.ready.url })
  const info = await chain.info()
  const blocksPerSlot = BigInt(info.blocksPerSlot)
  let best = 0n
  let finalized = 0
  chain.subscribe((ev) => {
    if (ev.type === 'BftResultFinalized') finalized++
    if (ev.type === 'NewBlock') best = ev.block
  }, 0n)
  const slotMs = info.blocksPerSlot * 500
  console.log(
    `soak: ${SLOTS} slots of ${slotMs / 1000} s (${procs.length} processes), sampling every ${EVERY} slots`,
  )
  // Sampling on slot boundaries, polled: one bounded loop, deadline 3× the nominal run.
  const deadline = Date.now() + SLOTS * slotMs * 3
  let first: bigint | null = null
  let next = 0
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250))
    if (best === 0n) continue
    const slot = best / blocksPerSlot
    first ??= slot
    const n = Number(slot - first)
    if (n < next) continue
    const rows = await Promise.all(
      procs.map(async ([name, p]) => [name, await sample(p.child.pid!)] as const),
    )
    const line = rows.map(([name, s]) => {
      if (s !== null) {
        const list = series.get(name) ?? []
        list.push({ slot: n, ...s })
        series.set(name, list)
      }
      return `${name} ${s === null ? 'gone' : `${s.rssMiB.toFixed(0)} MiB ${s.fds} fds`}`
    })
    console.log(`slot +${n} (finalized ${finalized}): ${line.join(' | ')}`)
    if (n >= SLOTS) break
    next = n + EVERY
  }
  const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1)
  console.log(
    `\n${SLOTS} slots in ${minutes} min, ${finalized} finalized (${((100 * finalized) / SLOTS).toFixed(0)} % of slots). Growth per slot after slot +${WARMUP} (least-squares slope):`,
  )
  for (const [name, all] of series) {
    const list = all.filter((s) => s.slot >= WARMUP)
    if (list.length < 2) continue
    const a = list[0]!
    const b = list[list.length - 1]!
    const xs = list.map((s) => s.slot)
    const rss = slope(
      xs,
      list.map((s) => s.rssMiB * 1024),
    )
    const fds = slope(
      xs,
      list.map((s) => s.fds),
    )
    console.log(
      `  ${name}: RSS ${rss.toFixed(1)} KiB/slot (${a.rssMiB.toFixed(0)} → ${b.rssMiB.toFixed(0)} MiB, ${((100 * rss) / (a.rssMiB * 1024)).toFixed(2)} % of warm RSS per slot), fds ${fds.toFixed(2)}/slot (${a.fds} → ${b.fds})`,
    )
  }
} finally {
  await chain?.close().catch(() => {})
  await devnet.stop()
  await rm(dataDir, { recursive: true, force: true })
}
