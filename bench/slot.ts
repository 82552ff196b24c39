// Slot overhead on the local five-director network (docs/protocol.md §10): for each slot, the time from "all
// outputs generated" (the last director's generation finished) to the first certificate, to the
// certificate and the last chunk at a viewer, and to the chain's acceptance — generation itself
// excluded. p50/p99 over at least 20 slots (`--slots N`); prints figures, asserts nothing.
// Clock: Date.now() of this one host, read by every process (pino's `time` in the directors' info
// logs, the test-side viewer and chain client here), so the differences need no clock sync.
// Runtime: about 12 s per slot (the devnet's slot length) plus ~30 s to start and stop.
import '../src/polyfill.ts' // first: Node 20 lacks Promise.withResolvers and a global WebSocket
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TestNetwork, waitFor } from '../test/helpers/network.ts'

const arg = process.argv.indexOf('--slots')
const SLOTS = arg > 0 ? Number(process.argv[arg + 1]) : 20
if (!Number.isInteger(SLOTS) || SLOTS < 1) throw new Error('--slots: expected a whole number >= 1')

interface LogLine {
  time: number
  msg: string
  slot?: number
  source?: string
  state?: string
  ms?: number
}

/** Per director, every info line that carries a slot. */
async function readLogs(dataDir: string, directors: number): Promise<LogLine[][]> {
  const out: LogLine[][] = []
  for (let i = 0; i < directors; i++) {
    const text = await readFile(join(dataDir, 'logs', `director-${i}.log`), 'utf8').catch(() => '')
    const lines: LogLine[] = []
    for (const l of text.split('\n')) {
      if (!l.startsWith('{"level"')) continue
      try {
        const j = JSON.parse(l) as LogLine
        if (j.slot !== undefined) lines.push(j)
      } catch {
        // a torn last line
      }
    }
    out.push(lines)
  }
  return out
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

/** Peak resident memory (MiB) of each director process, sampled. */
const peakRss = new Map<string, number>()
async function sampleRss(net: TestNetwork): Promise<void> {
  for (const p of net.devnet.directorProcs) {
    const status = await readFile(`/proc/${p.child.pid}/status`, 'utf8').catch(() => '')
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
    peakRss.set(p.name, Math.max(peakRss.get(p.name) ?? 0, kb / 1024))
  }
}

const t0 = Date.now()
const net = await TestNetwork.start({ name: 'bench-slot', directorSet: () => ['node.logLevel=info'] })
const rssTimer = setInterval(() => void sampleRss(net), 2000)
let finalized: bigint[] = []
try {
  console.log(
    `network up in ${((Date.now() - t0) / 1000).toFixed(1)} s; measuring ${SLOTS} slots (~${SLOTS * 12} s)`,
  )
  let last = 0
  finalized = await waitFor(
    `${SLOTS} finalized slots`,
    () => {
      const f = net.finalizedSlots()
      if (f.length !== last) {
        last = f.length
        process.stdout.write(`  final: ${f.length}/${SLOTS}\r`)
      }
      return f.length >= SLOTS ? f.slice(0, SLOTS) : null
    },
    { timeoutMs: SLOTS * 12_000 + 120_000, intervalMs: 500, seen: () => net.describe() },
  )
  // The viewer may still be reassembling the newest slot.
  await waitFor('the last slot at the viewer', () => net.observer!.slots.get(finalized.at(-1)!)?.complete, {
    timeoutMs: 10_000,
  }).catch(() => {})
} finally {
  clearInterval(rssTimer)
}
const logs = await readLogs(net.dataDir, 5)
const obs = net.observer!
const rows: {
  slot: bigint
  cert: number
  certViewer: number
  chunks: number
  chain: number
  block: number
}[] = []
const generation: number[] = []
const missing: string[] = []
const lastSlot = finalized.at(-1) ?? 0n
const firstSlot = finalized[0] ?? 0n
for (let slot = firstSlot; slot <= lastSlot; slot++) {
  const n = Number(slot)
  const of = (msg: string, pred: (l: LogLine) => boolean = () => true) =>
    logs
      .map((ls) => ls.find((l) => l.slot === n && l.msg === msg && pred(l))?.time)
      .filter((t) => t !== undefined)
  const generated = of('generated')
  for (const ls of logs) {
    const g = ls.find((l) => l.slot === n && l.msg === 'generated')
    if (g?.ms !== undefined) generation.push(g.ms)
  }
  const certs = of('certificate', (l) => l.source === 'local')
  const accepted = of('submission settled', (l) => l.state === 'accepted')
  const seen = obs.slots.get(slot)
  const block = net.events.find((e) => e.event.type === 'BftResultSubmitted' && e.event.slot === slot)
  if (generated.length === 0 || certs.length === 0 || accepted.length === 0 || !seen?.complete || !block) {
    missing.push(
      `${slot} (generated ${generated.length}, certified ${certs.length}, accepted ${accepted.length}, viewer ${seen?.complete ? 'yes' : 'no'}, block ${block ? 'yes' : 'no'})`,
    )
    continue
  }
  const allGenerated = Math.max(...generated)
  rows.push({
    slot,
    cert: Math.min(...certs) - allGenerated,
    certViewer: seen.certificate!.atMs - allGenerated,
    chunks: seen.complete.atMs - allGenerated,
    chain: Math.min(...accepted) - allGenerated,
    block: block.atMs - allGenerated,
  })
}
await net.stop()

const fmt = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(0)).padStart(7)
const line = (name: string, xs: number[]) =>
  console.log(`  ${name.padEnd(44)} ${fmt(pct(xs, 50))} ${fmt(pct(xs, 99))} ${fmt(Math.max(...xs))}`)
console.log(
  `\nslot overhead after the last director's output was generated (ms, ${rows.length} slots ${firstSlot}..${lastSlot})`,
)
console.log(`  ${''.padEnd(44)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'max'.padStart(7)}`)
line(
  'first certificate (a director holds q commits)',
  rows.map((r) => r.cert),
)
line(
  'certificate at the viewer',
  rows.map((r) => r.certViewer),
)
line(
  'last chunk at the viewer (video complete)',
  rows.map((r) => r.chunks),
)
line(
  'chain accepted (submitter has the answer)',
  rows.map((r) => r.chain),
)
line(
  'chain block event at the viewer',
  rows.map((r) => r.block),
)
const full = rows.map((r) => Math.max(r.chunks, r.chain))
line('full overhead (max of last chunk, chain)', full)
console.log(
  `  generation per director (excluded above): p50 ${pct(generation, 50)} ms, p99 ${pct(generation, 99)} ms`,
)
console.log(`  peak RSS per director: ${[...peakRss].map(([k, v]) => `${k} ${v.toFixed(0)} MiB`).join(', ')}`)
if (missing.length > 0) console.log(`  slots without a complete record: ${missing.join('; ')}`)
console.log(
  `  goals: certificate p99 < 100 ms: ${
    pct(
      rows.map((r) => r.cert),
      99,
    ) < 100
      ? 'met'
      : 'NOT met'
  }; ` + `full overhead p99 < 1000 ms: ${pct(full, 99) < 1000 ? 'met' : 'NOT met'}`,
)
console.log(`  total ${((Date.now() - t0) / 1000).toFixed(0)} s`)
