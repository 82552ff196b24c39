// GossipSub delivery of signed 1 MiB video chunks across a 10-node mesh: ten real libp2p nodes
// (TCP, Noise, Yamux, our validators) in ONE process on 127.0.0.1, so every hop's crypto and
// validation share this machine's cores. Prints latency p50/p99, sustained MiB/s and memory per
// node; asserts nothing.
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { blake3, NodeKey } from '../src/crypto/index.ts'
import { buildVideoChunks, P2PNode, staticElection } from '../src/p2p/index.ts'
import { bytesToHex, type VideoChunk } from '../src/types/index.ts'

const MiB = 1024 * 1024
const NODES = 10
const LATENCY_CHUNKS = 20
const STREAM_CHUNKS = 32
const DEADLINE_MS = 30_000

// A real GC before each memory reading (the bench runner does not pass --expose-gc).
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
/** Live JS heap plus Buffer/ArrayBuffer memory (where the 1 MiB payloads live). */
const liveBytes = () => {
  gc()
  const m = process.memoryUsage()
  return { rss: m.rss, live: m.heapUsed + m.arrayBuffers }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}
const mib = (bytes: number) => (bytes / MiB).toFixed(1)

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (cond()) return true
    await new Promise((r) => setTimeout(r, 2))
  }
  return cond()
}

/** Phase 0: one hop between two nodes alone, for reference (no other node competes for the CPU). */
async function oneHop(): Promise<number[]> {
  const ks = await Promise.all([1, 2].map((i) => NodeKey.fromSeed(new Uint8Array(32).fill(i + 200))))
  const pair = ks.map(
    (key) =>
      new P2PNode({
        key,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        electedForSlot: staticElection([ks[0]!.publicKeyProto]),
      }),
  )
  try {
    await Promise.all(pair.map((n) => n.start()))
    await pair[1]!.dial(pair[0]!.multiaddrs()[0]!)
    let last = 0
    let count = 0
    pair[1]!.subscribe('video', () => {
      last = performance.now()
      count++
    })
    await until(() => pair[0]!.meshPeers('video').length === 1, 10_000)
    const v = new Uint8Array(randomBytes(LATENCY_CHUNKS * MiB))
    const out: number[] = []
    for (const c of buildVideoChunks(bytesToHex(blake3(v)), 1n, v, ks[0]!)) {
      const t = performance.now()
      const before = count
      await pair[0]!.publishVideo([c])
      if (await until(() => count > before, 5000)) out.push(last - t)
    }
    return out
  } finally {
    await Promise.allSettled(pair.map((n) => n.stop()))
  }
}

const memBase = liveBytes()
const keys = await Promise.all(
  Array.from({ length: NODES }, (_, i) => NodeKey.fromSeed(new Uint8Array(32).fill(i + 100))),
)
const electedForSlot = staticElection([keys[0]!.publicKeyProto])
const nodes = keys.map((key) => new P2PNode({ key, listen: ['/ip4/127.0.0.1/tcp/0'], electedForSlot }))

/** Per receiver: `${content}:${index}` → arrival time. */
const arrivals = nodes.map(() => new Map<string, number>())

try {
  await Promise.all(nodes.map((n) => n.start()))
  // Ring plus chords: node i dials i+1 and i+3, and the first half dial across (i+5): degree 5.
  for (let i = 0; i < NODES; i++) {
    const targets = [(i + 1) % NODES, (i + 3) % NODES, ...(i < NODES / 2 ? [i + NODES / 2] : [])]
    for (const j of targets) await nodes[i]!.dial(nodes[j]!.multiaddrs()[0]!)
  }
  nodes.forEach((n, i) => {
    n.subscribeDecoded('video', (c) =>
      arrivals[i]!.set(`${c.header.content_id}:${c.header.chunk_index}`, performance.now()),
    )
  })
  const meshed = await until(() => nodes.every((n) => n.meshPeers('video').length >= 5), 10_000)
  const meshSizes = nodes.map((n) => n.meshPeers('video').length)
  console.log(
    `nodes ${NODES} (one process, 127.0.0.1, TCP+Noise+Yamux), video mesh sizes ${meshSizes.join(',')}${meshed ? '' : ' (not all >= 5)'}`,
  )
  const memMeshed = liveBytes()

  const video = (n: number) => {
    const v = new Uint8Array(randomBytes(n * MiB))
    return buildVideoChunks(bytesToHex(blake3(v)), 1n, v, keys[0]!)
  }
  const allArrived = (contentId: string, count: number) =>
    arrivals.slice(1).every((a) => {
      for (let i = 0; i < count; i++) if (!a.has(`${contentId}:${i}`)) return false
      return true
    })
  const latencies = (chunks: VideoChunk[], sentAt: number[]) => {
    const out: number[] = []
    for (const [i, c] of chunks.entries()) {
      for (const a of arrivals.slice(1)) {
        const t = a.get(`${c.header.content_id}:${i}`)
        if (t !== undefined) out.push(t - sentAt[i]!)
      }
    }
    return out
  }

  // 1. One chunk at a time: the unloaded latency to the last of 9 receivers.
  const single = video(LATENCY_CHUNKS)
  const singleSent: number[] = []
  for (const [i, c] of single.entries()) {
    singleSent[i] = performance.now()
    await nodes[0]!.publishVideo([c])
    await until(() => arrivals.slice(1).every((a) => a.has(`${c.header.content_id}:${i}`)), 5000)
  }
  const lat1 = latencies(single, singleSent)
  console.log(
    `one 1 MiB chunk at a time (${LATENCY_CHUNKS} chunks x ${NODES - 1} receivers): ` +
      `latency p50 ${pct(lat1, 50).toFixed(1)} ms, p99 ${pct(lat1, 99).toFixed(1)} ms, max ${Math.max(...lat1).toFixed(1)} ms`,
  )
  // The same latencies grouped by the receiver's distance (connection hops) from the publisher.
  const ids = nodes.map((n) => n.peerId)
  const hops = new Map<number, number>([[0, 0]])
  for (let frontier = [0]; frontier.length > 0; ) {
    const next: number[] = []
    for (const i of frontier) {
      for (const c of nodes[i]!.status().connections) {
        const j = ids.indexOf(c.peer)
        if (j >= 0 && !hops.has(j)) {
          hops.set(j, hops.get(i)! + 1)
          next.push(j)
        }
      }
    }
    frontier = next
  }
  const byHop = new Map<number, number[]>()
  for (const [i, c] of single.entries()) {
    for (let r = 1; r < NODES; r++) {
      const t = arrivals[r]!.get(`${c.header.content_id}:${i}`)
      const h = hops.get(r) ?? -1
      if (t !== undefined) byHop.set(h, [...(byHop.get(h) ?? []), t - singleSent[i]!])
    }
  }
  console.log(
    `  by distance from the publisher: ${[...byHop]
      .sort(([a], [b]) => a - b)
      .map(([h, xs]) => `${h} hop${h === 1 ? '' : 's'} p50 ${pct(xs, 50).toFixed(1)} ms`)
      .join(', ')}`,
  )

  // 2. A stream: publishVideo of STREAM_CHUNKS chunks back to back (paced by its acks).
  const stream = video(STREAM_CHUNKS)
  const cid = stream[0]!.header.content_id
  const sentAt: number[] = []
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const report = { published: 0, maxAckMs: 0, sumAckMs: 0 }
  for (const [i, c] of stream.entries()) {
    sentAt[i] = performance.now()
    const r = await nodes[0]!.publishVideo([c])
    report.published += r.published
    report.maxAckMs = Math.max(report.maxAckMs, r.maxAckMs)
    report.sumAckMs += r.avgAckMs
  }
  const tPublished = performance.now()
  const complete = await until(() => allArrived(cid, STREAM_CHUNKS), DEADLINE_MS)
  const tDone = performance.now()
  const cpu = process.cpuUsage(cpu0)
  const cpuMsPerDelivery = (cpu.user + cpu.system) / 1000 / (STREAM_CHUNKS * (NODES - 1))
  const lat = latencies(stream, sentAt)
  const seconds = (tDone - t0) / 1000
  console.log(
    `stream of ${STREAM_CHUNKS} x 1 MiB: published ${report.published} in ${((tPublished - t0) / 1000).toFixed(2)} s ` +
      `(ack avg ${(report.sumAckMs / STREAM_CHUNKS).toFixed(1)} ms, max ${report.maxAckMs.toFixed(1)} ms), ` +
      `${complete ? 'all' : 'NOT all'} at ${NODES - 1} receivers after ${seconds.toFixed(2)} s`,
  )
  console.log(
    `  sustained ${(STREAM_CHUNKS / seconds).toFixed(1)} MiB/s per receiver (${(((NODES - 1) * STREAM_CHUNKS) / seconds).toFixed(0)} MiB/s delivered in total); ` +
      `latency under load p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms`,
  )
  // CPU time does not depend on what else runs on the machine, wall-clock figures do.
  console.log(
    `  CPU ${cpuMsPerDelivery.toFixed(1)} ms per 1 MiB chunk delivered to one node (its receive, verify and ` +
      `share of relaying), i.e. about ${(1000 / cpuMsPerDelivery).toFixed(0)} MiB/s per node with a core of its own`,
  )
  const memAfter = liveBytes()
  const perNode = (a: number, b: number) => mib((a - b) / NODES)
  console.log(
    `memory per node (heap + buffers, after GC): ${perNode(memMeshed.live, memBase.live)} MiB with the mesh up, ` +
      `${perNode(memAfter.live, memBase.live)} MiB after the stream (GossipSub message caches hold recent chunks); ` +
      `process RSS ${mib(memBase.rss)} -> ${mib(memMeshed.rss)} -> ${mib(memAfter.rss)} MiB`,
  )
  const scores = nodes[1]!.status().scores
  console.log(
    `node 1 peer scores: ${Object.values(scores)
      .map((s) => s.toFixed(1))
      .join(', ')}`,
  )
} finally {
  await Promise.allSettled(nodes.map((n) => n.stop()))
}

const hop = await oneHop()
console.log(
  `for reference, one hop between two nodes alone (${hop.length} x 1 MiB): ` +
    `latency p50 ${pct(hop, 50).toFixed(1)} ms, p99 ${pct(hop, 99).toFixed(1)} ms`,
)
