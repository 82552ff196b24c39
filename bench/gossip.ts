// GossipSub delivery of signed 1 MiB video chunks between real libp2p nodes (TCP, Noise, Yamux, our
// validators) on 127.0.0.1, EACH NODE ITS OWN PROCESS (this file re-runs itself as a node with
// `--node`). Prints, in one run:
//   - the floor: the CPU work one relaying node must do per MiB (Noise decrypt + encrypt with
//     node:crypto ChaCha20-Poly1305, one StrictSign Ed25519 verification over the message, BLAKE3,
//     the chunk header's signature check), measured here and now, so that the figures below can be
//     read as ratios on a loaded machine;
//   - one hop, 1 MiB: latency p50/p99 and CPU ms per MiB at the receiver;
//   - a 10-node mesh (10 processes): latency p50/p99 to every receiver, and CPU ms per MiB per node
//     under a stream of chunks.
// Asserts nothing. Set NSN_BENCH_PROF=<dir> to write a --cpu-prof profile of node 1 (a relay).
import '../src/polyfill.ts'
import { type ChildProcess, fork } from 'node:child_process'
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { blake3, initBlake3, NodeKey, verifyWithProtoKey } from '../src/crypto/index.ts'
import { buildVideoChunks, P2PNode, staticElection } from '../src/p2p/index.ts'
import { bytesToHex, encodeVideoChunkHeader, type VideoChunk } from '../src/types/index.ts'

const MiB = 1024 * 1024
const NODES = 10
const LATENCY_CHUNKS = 20
const STREAM_CHUNKS = 32
const STEP_TIMEOUT_MS = 120_000
const PUBLISHER_SEED = 100

/** Wall-clock time in ms with sub-ms resolution, comparable between processes of one host. */
const now = () => performance.timeOrigin + performance.now()
const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}
const seedKey = (seed: number) => NodeKey.fromSeed(new Uint8Array(32).fill(seed))

type ToNode =
  | { cmd: 'dial'; addrs: string[] }
  | { cmd: 'mesh'; min: number }
  | { cmd: 'one'; index: number }
  | { cmd: 'stream' }
  | { cmd: 'cpu' }
  | { cmd: 'stop' }
type FromNode =
  | { ev: 'ready'; addr: string; peerId: string }
  | { ev: 'ok'; mesh?: number }
  | { ev: 'arrived'; index: number; at: number }
  | { ev: 'streamed'; at: number[] }
  | { ev: 'sent'; index: number; at: number }
  | { ev: 'cpu'; ms: number; bytes: number; duplicates: number; forwarded: number }

// ---------------------------------------------------------------------------------------------
// One node (child process)

async function runNode(seed: number): Promise<void> {
  await initBlake3()
  const send = (m: FromNode) => process.send?.(m)
  const publisherKey = await seedKey(PUBLISHER_SEED)
  const key = seed === PUBLISHER_SEED ? publisherKey : await seedKey(seed)
  const node = new P2PNode({
    key,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    electedForSlot: staticElection([publisherKey.publicKeyProto]),
  })
  await node.start()
  let bytes = 0
  const streamed: number[] = []
  let cpu0 = process.cpuUsage()
  let relay0 = node.status().relayPath
  node.subscribeDecoded('video', (c) => {
    bytes += c.payload.length
    // The stream phase publishes in slot 2: its arrivals are reported once, when all are in (one
    // IPC message per chunk would add the bench's own work to the CPU measured).
    if (c.header.slot === 2n) {
      streamed[c.header.chunk_index] = now()
      if (streamed.filter((t) => t !== undefined).length === STREAM_CHUNKS)
        send({ ev: 'streamed', at: streamed })
    } else send({ ev: 'arrived', index: c.header.chunk_index, at: now() })
  })
  let chunks: VideoChunk[] = []
  // NSN_BENCH_PROF: profile node 1 (a relay) over the stream phase only (between two 'cpu' asks).
  const profileDir = process.env.NSN_BENCH_PROF
  let profile: (() => Promise<void>) | undefined
  if (profileDir !== undefined && seed === PUBLISHER_SEED + 1) {
    const { Session } = await import('node:inspector/promises')
    const { writeFile } = await import('node:fs/promises')
    const session = new Session()
    session.connect()
    let running = false
    let asks = 0
    profile = async () => {
      asks++
      if (asks === 1) {
        await session.post('Profiler.enable')
        await session.post('Profiler.start')
        running = true
      } else if (running) {
        const { profile: p } = await session.post('Profiler.stop')
        running = false
        await writeFile(`${profileDir}/relay-${process.pid}.cpuprofile`, JSON.stringify(p))
      }
    }
  }
  const video = (n: number) => {
    const v = new Uint8Array(randomBytes(n * MiB))
    return buildVideoChunks(bytesToHex(blake3(v)), 1n, v, key)
  }
  process.on('message', async (m: ToNode) => {
    if (m.cmd === 'dial') {
      for (const a of m.addrs) await node.dial(a)
      send({ ev: 'ok' })
    } else if (m.cmd === 'mesh') {
      send({ ev: 'ok', mesh: await node.waitForMesh('video', m.min, 20_000) })
    } else if (m.cmd === 'one') {
      if (m.index === 0) chunks = video(LATENCY_CHUNKS)
      const at = now()
      await node.publishVideo([chunks[m.index]!])
      send({ ev: 'sent', index: m.index, at })
    } else if (m.cmd === 'stream') {
      const v = new Uint8Array(randomBytes(STREAM_CHUNKS * MiB))
      const built = buildVideoChunks(bytesToHex(blake3(v)), 2n, v, key)
      cpu0 = process.cpuUsage()
      relay0 = node.status().relayPath
      const sentAt: number[] = []
      for (const c of built) {
        sentAt.push(now())
        await node.publishVideo([c])
      }
      for (const [i, at] of sentAt.entries()) send({ ev: 'sent', index: 1000 + i, at })
      send({ ev: 'ok' })
    } else if (m.cmd === 'cpu') {
      await profile?.()
      const r = node.status().relayPath
      send({
        ev: 'cpu',
        ms: cpuMs(process.cpuUsage(cpu0)),
        bytes,
        duplicates: r.duplicatesReceived - relay0.duplicatesReceived,
        forwarded: r.forwarded - relay0.forwarded,
      })
      relay0 = r
      bytes = 0
      cpu0 = process.cpuUsage()
    } else if (m.cmd === 'stop') {
      await node.stop()
      process.exit(0)
    }
  })
  send({ ev: 'ready', addr: node.multiaddrs()[0]!, peerId: node.peerId })
}

// ---------------------------------------------------------------------------------------------
// The driver

class Child {
  readonly proc: ChildProcess
  private waiters: Array<{ ev: FromNode['ev']; resolve: (m: FromNode) => void }> = []
  onArrived: (index: number, at: number) => void = () => {}
  onSent: (index: number, at: number) => void = () => {}
  constructor(seed: number) {
    this.proc = fork(new URL(import.meta.url).pathname, ['--node', String(seed)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.proc.on('message', (m: FromNode) => {
      if (m.ev === 'arrived') this.onArrived(m.index, m.at)
      if (m.ev === 'streamed') for (const [i, t] of m.at.entries()) this.onArrived(1000 + i, t)
      if (m.ev === 'sent') this.onSent(m.index, m.at)
      const i = this.waiters.findIndex((w) => w.ev === m.ev)
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m)
    })
  }
  next<E extends FromNode['ev']>(ev: E): Promise<Extract<FromNode, { ev: E }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`node ${this.proc.pid}: no "${ev}" within ${STEP_TIMEOUT_MS} ms`)),
        STEP_TIMEOUT_MS,
      )
      this.waiters.push({
        ev,
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m as Extract<FromNode, { ev: E }>)
        },
      })
    })
  }
  ask<E extends FromNode['ev']>(m: ToNode, ev: E): Promise<Extract<FromNode, { ev: E }>> {
    const p = this.next(ev)
    this.proc.send(m)
    return p
  }
}

async function waitUntil(cond: () => boolean, what: () => string): Promise<void> {
  const deadline = performance.now() + STEP_TIMEOUT_MS
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what()}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

interface MeshResult {
  latency: number[]
  underLoad: number[]
  cpuPerMiB: number[]
  publisherCpuPerMiB: number
  /** Per receiver and chunk of the stream: duplicate copies received, copies forwarded. */
  duplicates: number
  forwarded: number
  streamSeconds: number
  meshSizes: number[]
}

/** `n` node processes; `links[i]` = the nodes node i dials. Node 0 publishes. */
async function mesh(n: number, links: number[][]): Promise<MeshResult> {
  const seeds = Array.from({ length: n }, (_, i) => PUBLISHER_SEED + i)
  const children = seeds.map((s) => new Child(s))
  try {
    const ready = await Promise.all(children.map((c) => c.next('ready')))
    await Promise.all(
      children.map((c, i) =>
        c.ask({ cmd: 'dial', addrs: (links[i] ?? []).map((j) => ready[j]!.addr) }, 'ok'),
      ),
    )
    const want = Math.min(n - 1, 4)
    const meshSizes = (await Promise.all(children.map((c) => c.ask({ cmd: 'mesh', min: want }, 'ok')))).map(
      (m) => m.mesh ?? 0,
    )
    const arrivals = children.map(() => new Map<number, number>())
    const sent = new Map<number, number>()
    children.forEach((c, i) => {
      c.onArrived = (index, at) => arrivals[i]!.set(index, at)
      c.onSent = (index, at) => sent.set(index, at)
    })
    const receivers = arrivals.slice(1)
    const allHave = (index: number) => receivers.every((a) => a.has(index))
    // 1. One chunk at a time: unloaded latency.
    for (let i = 0; i < LATENCY_CHUNKS; i++) {
      await children[0]!.ask({ cmd: 'one', index: i }, 'sent')
      await waitUntil(
        () => allHave(i),
        () => `chunk ${i} at all receivers (${receivers.filter((a) => a.has(i)).length}/${n - 1})`,
      )
    }
    const latency: number[] = []
    for (let i = 0; i < LATENCY_CHUNKS; i++) for (const a of receivers) latency.push(a.get(i)! - sent.get(i)!)
    // 2. A stream, paced by publishVideo's acks: CPU per MiB per node.
    await Promise.all(children.map((c) => c.ask({ cmd: 'cpu' }, 'cpu')))
    const t0 = performance.now()
    await children[0]!.ask({ cmd: 'stream' }, 'ok')
    for (let i = 0; i < STREAM_CHUNKS; i++) {
      await waitUntil(
        () => allHave(1000 + i),
        () =>
          `stream chunk ${i} at all receivers (${receivers.filter((a) => a.has(1000 + i)).length}/${n - 1})`,
      )
    }
    const streamSeconds = (performance.now() - t0) / 1000
    const underLoad: number[] = []
    for (let i = 1000; i < 1000 + STREAM_CHUNKS; i++)
      for (const a of receivers) underLoad.push(a.get(i)! - sent.get(i)!)
    const cpu = await Promise.all(children.map((c) => c.ask({ cmd: 'cpu' }, 'cpu')))
    return {
      latency,
      underLoad,
      cpuPerMiB: cpu.slice(1).map((c) => c.ms / (c.bytes / MiB)),
      publisherCpuPerMiB: cpu[0]!.ms / STREAM_CHUNKS,
      duplicates: cpu.slice(1).reduce((a, c) => a + c.duplicates, 0) / ((n - 1) * STREAM_CHUNKS),
      forwarded: cpu.slice(1).reduce((a, c) => a + c.forwarded, 0) / ((n - 1) * STREAM_CHUNKS),
      streamSeconds,
      meshSizes,
    }
  } finally {
    await Promise.allSettled(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.proc.exitCode !== null) return resolve()
            const kill = setTimeout(() => c.proc.kill('SIGKILL'), 5000)
            c.proc.once('exit', () => {
              clearTimeout(kill)
              resolve()
            })
            c.proc.send({ cmd: 'stop' })
          }),
      ),
    )
  }
}

/** The required CPU work of one relaying node per MiB, on this machine now (median of rounds). */
async function floor(): Promise<{ total: number; parts: Record<string, number> }> {
  await initBlake3()
  const key = await seedKey(7)
  const msg = new Uint8Array(randomBytes(MiB))
  const sig = key.sign(msg)
  const [chunk] = buildVideoChunks('ab'.repeat(32), 1n, msg, key)
  const header = encodeVideoChunkHeader(chunk!.header)
  const k = randomBytes(32)
  const iv = randomBytes(12)
  const med = (fn: () => void) => {
    const xs: number[] = []
    for (let r = 0; r < 15; r++) {
      const c = process.cpuUsage()
      fn()
      xs.push(cpuMs(process.cpuUsage(c)))
    }
    return pct(xs, 50)
  }
  let sealed = new Uint8Array(0)
  const parts = {
    'noise encrypt': med(() => {
      const c = createCipheriv('chacha20-poly1305', k, iv, { authTagLength: 16 })
      sealed = Buffer.concat([c.update(msg), c.final()])
    }),
    'noise decrypt': med(() => {
      const d = createDecipheriv('chacha20-poly1305', k, iv, { authTagLength: 16 })
      d.setAuthTag(randomBytes(16))
      d.update(sealed)
    }),
    'StrictSign verify': med(() => verifyWithProtoKey(key.publicKeyProto, msg, sig)),
    BLAKE3: med(() => blake3(msg)),
    'header verify': med(() => verifyWithProtoKey(key.publicKeyProto, header, chunk!.signature)),
  }
  return { total: Object.values(parts).reduce((a, b) => a + b, 0), parts }
}

async function main(): Promise<void> {
  const f = await floor()
  console.log(
    `floor per relaying node and MiB (CPU, this run): ${f.total.toFixed(2)} ms = ` +
      Object.entries(f.parts)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(' + '),
  )
  const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms`
  const hop = await mesh(2, [[], [0]])
  const hopCpu = hop.cpuPerMiB[0]!
  console.log(
    `one hop, 1 MiB (2 processes): latency ${fmt(hop.latency)} (goal p99 <= 10 ms); receiver CPU ` +
      `${hopCpu.toFixed(1)} ms/MiB (${(hopCpu / f.total).toFixed(1)}x floor), publisher ${hop.publisherCpuPerMiB.toFixed(1)} ms/MiB`,
  )
  // Ring plus chords: node i dials i+1 and i+3, and the first half dial across (i+5).
  const links = Array.from({ length: NODES }, (_, i) => [
    (i + 1) % NODES,
    (i + 3) % NODES,
    ...(i < NODES / 2 ? [i + NODES / 2] : []),
  ])
  const m = await mesh(NODES, links)
  const meanCpu = m.cpuPerMiB.reduce((a, b) => a + b, 0) / m.cpuPerMiB.length
  console.log(
    `${NODES}-node mesh (${NODES} processes, video mesh sizes ${m.meshSizes.join(',')}): latency to every receiver ` +
      `${fmt(m.latency)} (goal p99 < 100 ms)`,
  )
  console.log(
    `  stream of ${STREAM_CHUNKS} x 1 MiB in ${m.streamSeconds.toFixed(2)} s (latency ${fmt(m.underLoad)}); CPU per MiB per node: mean ` +
      `${meanCpu.toFixed(1)} ms, max ${Math.max(...m.cpuPerMiB).toFixed(1)} ms (${(meanCpu / f.total).toFixed(1)}x floor; ` +
      `goal <= 10 ms), publisher ${m.publisherCpuPerMiB.toFixed(1)} ms/MiB; per node and chunk ` +
      `${m.duplicates.toFixed(1)} duplicate copies received, ${m.forwarded.toFixed(1)} copies forwarded`,
  )
}

if (process.argv[2] === '--node') await runNode(Number(process.argv[3]))
else await main()
