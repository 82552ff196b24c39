// Shared helpers for tests that run a whole local network (dev chain process, director processes, a
// viewer process, the devnet's recipe author): start it in a fresh folder, wait for chain outcomes
// with deadlines that say what was seen, read nodes' status and journals, observe the gossip as a
// viewer would (certificates checked against the chain's elected set, chunks reassembled with the
// viewer rules), hold chain calls in a proxy, and prove at the end that no process outlived the test.
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import { type ChainEvent, type ChainInfo, DevChainClient } from '../../src/chain/index.ts'
import { blake3, CertificateError, initBlake3, NodeKey } from '../../src/crypto/index.ts'
import { entryFromJson, type JournalEntry } from '../../src/lane0/index.ts'
import { Devnet, type DevnetOptions } from '../../src/node/devnet.ts'
import { P2PNode } from '../../src/p2p/index.ts'
import {
  CertifiedSlots,
  type ChunkOutcome,
  type CompletedSlot,
  checkCertificate,
} from '../../src/trust/index.ts'
import {
  bytesToHex,
  type Certificate,
  type CommitEquivocationEvidence,
  decodeBftSignal,
  decodeChallenge,
  type EquivocationEvidence,
  encodeRecipe,
  equalBytes,
  type Proposal,
  type Recipe,
  type VideoChunk,
} from '../../src/types/index.ts'
import { sleep, waitFor } from './wait.ts'

// Waiting lives in wait.ts; re-exported for the tests that import it from here.
export { sleep, type WaitOptions, waitFor } from './wait.ts'

// -----------------------------------------------------------------------------------------------
// Node status (GET /api/status; bigints arrive as decimal strings)

export interface SlotSummaryJson {
  epoch: string
  slot: string
  stage: string
  canonicalHash: string | null
  similarity: number | null
  failed: { stage: string; code: string; causeCode: string | null } | null
  updatedAtMs: number
}

export interface NodeStatusJson {
  peerId: string
  role: 'director' | 'viewer'
  chain: { networkId: string; bestBlock: string | null; epoch: string | null; slot: string | null }
  p2p: {
    peers: number
    topics: Record<string, { meshPeers: string[]; subscribers: number }>
    /** GossipSub score of each connected peer (by PeerId). */
    scores: Record<string, number>
    /** Validation outcomes per topic. */
    validation: Partial<Record<string, { accept: number; reject: number; ignore: number }>>
  }
  director: {
    stateText: string
    inflightSlots: string[]
    recentSlots: SlotSummaryJson[]
  } | null
}

/** GET `<http>/api/status` (bounded by `timeoutMs`). */
export async function fetchStatus(http: string, timeoutMs = 2000): Promise<NodeStatusJson> {
  const res = await fetch(`${http}/api/status`, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`${http}/api/status: HTTP ${res.status}`)
  return (await res.json()) as NodeStatusJson
}

/** GET `<http>/metrics` and sum the samples of `name` whose labels contain every `labels` pair. */
export async function fetchMetric(
  http: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${http}/metrics`, { signal: AbortSignal.timeout(2000) })
  const text = await res.text()
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z0-9_:]+)(\{([^}]*)\})?\s+([-+0-9.eE]+|NaN)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const ls = m[3] ?? ''
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[4])
  }
  return sum
}

// -----------------------------------------------------------------------------------------------
// Processes

/**
 * Processes that still belong to a test folder: an `nsn` process with `dataDir` on its command line,
 * or a plugin whose task folder (NSN_TASK_DIR, cwd) is inside it.
 */
export async function strayProcesses(dataDir: string): Promise<{ pid: number; cmd: string }[]> {
  const out: { pid: number; cmd: string }[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    if (pid === process.pid) continue
    try {
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim()
      let mine = cmd.includes(dataDir)
      if (!mine) {
        const env = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '')
        const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '')
        mine = env.includes(`NSN_TASK_DIR=${dataDir}`) || cwd.startsWith(dataDir)
      }
      if (mine) out.push({ pid, cmd: cmd.slice(0, 200) })
    } catch {
      // the process ended while we looked
    }
  }
  return out
}

/** Lines of a log file at warn level or above (pino JSON), the last `n`. */
export async function logProblems(file: string, n = 5): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter((l) => /"level":(40|50|60)/.test(l) || (l.length > 0 && !l.startsWith('{')))
    .slice(-n)
    .map((l) => l.slice(0, 400))
}

// -----------------------------------------------------------------------------------------------
// The network

export interface TimedChainEvent {
  event: ChainEvent
  /** Date.now() when this test process received it. */
  atMs: number
}

export interface TestNetworkOptions {
  /** Folder name prefix under the OS temp folder. */
  name: string
  /** @default 5 */
  directors?: number
  skipDirectors?: DevnetOptions['skipDirectors']
  directorSet?: DevnetOptions['directorSet']
  chainUrlFor?: DevnetOptions['chainUrlFor']
  beforeDirectors?: DevnetOptions['beforeDirectors']
  /** Start a test-side observer (a viewer in this process). @default true */
  observer?: boolean
}

/**
 * A devnet in a fresh temporary folder with this process's own chain client (every event recorded
 * with its arrival time) and, by default, a SlotObserver. `stop()` always ends everything, checks that
 * no process is left, and removes the folder (kept with KEEP_NETWORK_TEST_DATA=1).
 */
export class TestNetwork {
  readonly events: TimedChainEvent[] = []
  readonly elected = new Map<bigint, Uint8Array[]>()
  observer: SlotObserver | null = null
  chain: DevChainClient | null = null
  info: ChainInfo | null = null
  private stopped = false

  private constructor(
    readonly devnet: Devnet,
    readonly dataDir: string,
  ) {}

  static async start(opts: TestNetworkOptions): Promise<TestNetwork> {
    await initBlake3()
    const dataDir = await mkdtemp(join(tmpdir(), `nsn-${opts.name}-`))
    const devnet = new Devnet({
      dataDir,
      reset: false,
      directors: opts.directors ?? 5,
      viewerPort: 0,
      skipDirectors: opts.skipDirectors,
      directorSet: opts.directorSet,
      chainUrlFor: opts.chainUrlFor,
      beforeDirectors: opts.beforeDirectors,
    })
    const net = new TestNetwork(devnet, dataDir)
    try {
      await devnet.start()
      const chain = new DevChainClient({ url: devnet.chainProc!.ready.url })
      net.chain = chain
      net.info = await chain.info()
      chain.subscribe((event) => net.onEvent(event), 0n)
      const first = await chain.electedDirectors(net.info.currentEpoch)
      net.elected.set(net.info.currentEpoch, first)
      if (opts.observer !== false) {
        const authorKey = await NodeKey.load(join(dataDir, 'author', 'node.key'))
        net.observer = await SlotObserver.create({
          bootstrap: [...devnet.directorAddrs.values()],
          networkId: net.info.genesisHash,
          quorum: net.info.quorum,
          slotsPerEpoch: net.info.slotsPerEpoch,
          elected: (epoch) => net.elected.get(epoch) ?? null,
          recipeAuthors: [bytesToHex(authorKey.publicKey)],
        })
        await net.observer.start()
      }
    } catch (err) {
      const problems = await net.problems()
      await net.stop()
      ;(err as Error).message += `\n${problems}`
      throw err
    }
    return net
  }

  private onEvent(event: ChainEvent): void {
    this.events.push({ event, atMs: Date.now() })
    if (event.type === 'OnDeckElection' || event.type === 'EpochStarted')
      this.elected.set(event.epoch, event.directors)
  }

  get networkId(): Uint8Array {
    return this.info!.genesisHash
  }

  /** The newest block number seen. */
  get bestBlock(): bigint {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!.event
      if (e.type === 'NewBlock') return e.block
    }
    return 0n
  }

  /** The slot of the newest block seen. */
  get currentSlot(): bigint {
    return this.bestBlock / BigInt(this.info!.blocksPerSlot)
  }

  /** Slots finalized on chain, in the order the events came. */
  finalizedSlots(): bigint[] {
    return this.events.flatMap((e) => (e.event.type === 'BftResultFinalized' ? [e.event.slot] : []))
  }

  /** Every BftResultSubmitted event of `slot` (more than one would be a chain bug). */
  submittedEvents(slot: bigint): Extract<ChainEvent, { type: 'BftResultSubmitted' }>[] {
    return this.events.flatMap((e) =>
      e.event.type === 'BftResultSubmitted' && e.event.slot === slot ? [e.event] : [],
    )
  }

  directorKey(index: number): Promise<NodeKey> {
    return NodeKey.load(join(this.dataDir, `director-${index}`, 'node.key'))
  }

  directorHttp(index: number): string {
    const p = this.devnet.directorProc(index)
    if (p === null) throw new Error(`director-${index} was not started`)
    return p.ready.http
  }

  directorStatus(index: number): Promise<NodeStatusJson> {
    return fetchStatus(this.directorHttp(index))
  }

  /** The slot's journal entry as director `index` wrote it on disk, or null. */
  async journalEntry(index: number, slot: bigint): Promise<JournalEntry | null> {
    const file = join(
      this.dataDir,
      `director-${index}`,
      'journal',
      `slot-${slot.toString().padStart(20, '0')}.json`,
    )
    try {
      return entryFromJson(await readFile(file, 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  }

  /**
   * Wait until the observer has verified a certificate for some slot: the mesh, the recipe author and
   * BFT all work. A test that picks "the next slot" picks it after this, so that slot's recipe was
   * published to a formed mesh before its cut-off (a slot right after start may have none: NO_RECIPE).
   */
  async waitForCertified(timeoutMs: number): Promise<bigint> {
    const observer = this.observer
    if (observer === null) throw new Error('waitForCertified needs the observer')
    return waitFor(
      'a certified slot at the observer',
      () => {
        for (const s of observer.slots.values()) if (s.certificate !== null) return s.slot
        return null
      },
      { timeoutMs, intervalMs: 100, seen: () => this.describe() },
    )
  }

  /** Wait until `count` slots are final on chain; returns them. */
  async waitForFinalized(count: number, timeoutMs: number): Promise<bigint[]> {
    return waitFor(
      `${count} finalized slots`,
      () => {
        const f = this.finalizedSlots()
        return f.length >= count ? f.slice(0, count) : null
      },
      { timeoutMs, intervalMs: 250, seen: () => this.describe() },
    )
  }

  /** One line on the chain's state and every director's recent slots, then log problems. */
  async describe(): Promise<string> {
    const parts = [
      `block ${this.bestBlock}, finalized [${this.finalizedSlots().join(',')}], submitted [${this.events
        .flatMap((e) => (e.event.type === 'BftResultSubmitted' ? [e.event.slot] : []))
        .join(',')}]`,
    ]
    for (const [i, p] of this.startedDirectors()) {
      try {
        const s = await fetchStatus(p)
        const slots = (s.director?.recentSlots ?? [])
          .slice(-4)
          .map(
            (r) =>
              `${r.slot}:${r.stage}${r.failed ? `(${r.failed.stage}/${r.failed.code}/${r.failed.causeCode})` : ''}`,
          )
        parts.push(`director-${i} ${s.director?.stateText} peers=${s.p2p.peers} ${slots.join(' ')}`)
      } catch (err) {
        parts.push(`director-${i} unreachable (${(err as Error).message})`)
      }
    }
    if (this.observer !== null) parts.push(`observer: ${this.observer.describe()}`)
    parts.push(await this.problems())
    return parts.join('\n  ')
  }

  private startedDirectors(): [number, string][] {
    const out: [number, string][] = []
    for (let i = 0; i < 32; i++) {
      const p = this.devnet.directorProc(i)
      if (p !== null) out.push([i, p.ready.http])
    }
    return out
  }

  /** The last warn/error lines of every process log. */
  async problems(): Promise<string> {
    const dir = join(this.dataDir, 'logs')
    const files = await readdir(dir).catch(() => [] as string[])
    const out: string[] = []
    for (const f of files.sort()) {
      const lines = await logProblems(join(dir, f), 3)
      if (lines.length > 0) out.push(`${f}:\n    ${lines.join('\n    ')}`)
    }
    return out.join('\n  ')
  }

  /**
   * Stop the observer, the chain client and every process (reverse start order), then check that no
   * process of this network remains; any that does is killed by its pid and reported as an error.
   */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await this.observer?.stop().catch(() => {})
    await this.chain?.close().catch(() => {})
    await this.devnet.stop()
    const procs = [
      ...this.devnet.directorProcs,
      ...(this.devnet.viewerProc ? [this.devnet.viewerProc] : []),
      ...(this.devnet.chainProc ? [this.devnet.chainProc] : []),
    ]
    const running = procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null)
    // Plugin processes end with their task (at most the Vortex timeout); give them a moment.
    let stray = await strayProcesses(this.dataDir)
    for (let i = 0; i < 25 && stray.length > 0; i++) {
      await sleep(200)
      stray = await strayProcesses(this.dataDir)
    }
    for (const s of stray) {
      try {
        process.kill(s.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    if (process.env.KEEP_NETWORK_TEST_DATA !== '1') await rm(this.dataDir, { recursive: true, force: true })
    if (running.length > 0 || stray.length > 0) {
      throw new Error(
        `processes left after stop: ${[...running.map((p) => p.name), ...stray.map((s) => `${s.pid} ${s.cmd}`)].join('; ')}`,
      )
    }
  }
}

// -----------------------------------------------------------------------------------------------
// The observer: a viewer in the test process

export interface ObservedChunkSource {
  signer: string
  contentId: string
  total: number
  indexes: Set<number>
  firstAtMs: number
  lastAtMs: number
}

export interface ObservedSlot {
  slot: bigint
  /** Every proposal seen, by signer (hex protobuf key); two entries mean equivocation. */
  proposals: Map<string, { proposal: Proposal; atMs: number }[]>
  commits: Map<string, number>
  /** The first certificate that verified against the chain's elected set. */
  certificate: { certificate: Certificate; canonicalHash: Uint8Array; atMs: number } | null
  /** Canonical hashes (hex) of every certificate that verified: more than one is a safety failure. */
  validCertificates: Set<string>
  /** Chunks seen on the video topic, by `${signer}|${contentId}`. */
  chunks: Map<string, ObservedChunkSource>
  complete: (CompletedSlot & { atMs: number }) | null
}

export interface SlotObserverInit {
  /** Director multiaddrs to dial. */
  bootstrap: string[]
  networkId: Uint8Array
  quorum: number
  slotsPerEpoch: number
  /** The chain's elected set (protobuf keys) of an epoch, or null when not known yet. */
  elected: (epoch: bigint) => readonly Uint8Array[] | null
  /** Hex raw keys allowed to sign recipes. */
  recipeAuthors: string[]
  /** @default a fresh key */
  key?: NodeKey
}

/**
 * A libp2p node in the test process that joins every topic and trusts only what a viewer may: a
 * certificate is used only once it verifies against the chain's elected set (members, commit
 * signatures), and video goes through the viewer's CertifiedSlots (member signer, content_id equal to
 * the member's content hash, BLAKE3 of the reassembled video). It records what it saw, with times.
 */
export class SlotObserver {
  readonly slots = new Map<bigint, ObservedSlot>()
  readonly recipes = new Map<bigint, { recipe: Recipe; recipeHash: Uint8Array; atMs: number }>()
  readonly evidence: { evidence: EquivocationEvidence; atMs: number }[] = []
  readonly commitEvidence: { evidence: CommitEquivocationEvidence; atMs: number }[] = []
  readonly rejectedCertificates: { slot: bigint; code: string; atMs: number }[] = []
  /** Chunks the assembler refused, with why. */
  readonly rejectedChunks: { slot: bigint; signer: string; contentId: string; code: string }[] = []
  readonly assembler: CertifiedSlots
  readonly p2p: P2PNode

  /** Build with a fresh key unless `init.key` is given; call start() next. */
  static async create(init: SlotObserverInit): Promise<SlotObserver> {
    return new SlotObserver(init, init.key ?? (await NodeKey.generate()))
  }

  private constructor(
    private readonly init: SlotObserverInit,
    key: NodeKey,
  ) {
    this.assembler = new CertifiedSlots({ slotsPerEpoch: init.slotsPerEpoch }, { maxSlots: 8 })
    const electedForSlot = (slot: bigint) => init.elected(slot / BigInt(init.slotsPerEpoch))
    this.p2p = new P2PNode(
      {
        key,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: init.bootstrap,
        rateLimit: false,
        electedForSlot,
        recipes: { authorisedAuthors: () => new Set(init.recipeAuthors) },
      },
      { logger: pino({ level: 'silent' }) },
    )
  }

  async start(): Promise<void> {
    // BFT and challenge messages are recorded in the validator and never relayed ('ignore'): an
    // instrument must not change the network, and relaying a forged certificate that directors
    // reject would get it graylisted (GossipSub P4) and cut off from the honest traffic it measures.
    this.p2p.subscribe('bft', () => {})
    this.p2p.setValidator('bft', (data) => {
      try {
        const signal = decodeBftSignal(data)
        if (signal.kind === 'Proposal') this.onProposal(signal.value)
        else if (signal.kind === 'Commit') {
          const s = this.slot(signal.value.slot)
          s.commits.set(bytesToHex(signal.value.signer), Date.now())
        } else this.onCertificate(signal.value)
      } catch {
        // undecodable: nothing to record
      }
      return 'ignore'
    })
    this.p2p.subscribe('challenges', () => {})
    this.p2p.setValidator('challenges', (data) => {
      try {
        const ev = decodeChallenge(data)
        if (ev.kind === 'Proposal') this.evidence.push({ evidence: ev.value, atMs: Date.now() })
        else this.commitEvidence.push({ evidence: ev.value, atMs: Date.now() })
      } catch {
        // undecodable: nothing to record
      }
      return 'ignore'
    })
    this.p2p.subscribeDecoded('video', (chunk) => this.onChunk(chunk))
    this.p2p.subscribeDecoded('recipes', (recipe) => {
      const slot = recipe.slot_params.slot_number
      if (!this.recipes.has(slot))
        this.recipes.set(slot, { recipe, recipeHash: blake3(encodeRecipe(recipe)), atMs: Date.now() })
    })
    await this.p2p.start()
  }

  async stop(): Promise<void> {
    await this.p2p.stop()
  }

  slot(slot: bigint): ObservedSlot {
    let s = this.slots.get(slot)
    if (s === undefined) {
      s = {
        slot,
        proposals: new Map(),
        commits: new Map(),
        certificate: null,
        validCertificates: new Set(),
        chunks: new Map(),
        complete: null,
      }
      this.slots.set(slot, s)
    }
    return s
  }

  private onProposal(p: Proposal): void {
    const s = this.slot(p.slot)
    const k = bytesToHex(p.signer)
    const list = s.proposals.get(k) ?? []
    if (list.some((x) => equalBytes(x.proposal.signature, p.signature))) return
    list.push({ proposal: p, atMs: Date.now() })
    s.proposals.set(k, list)
  }

  private onCertificate(cert: Certificate): void {
    const atMs = Date.now()
    const s = this.slot(cert.slot)
    // Every certificate is checked (not only the first), so forged ones are seen being refused.
    const elected = this.init.elected(cert.epoch)
    let canonicalHash: Uint8Array
    try {
      // A viewer's trust anchor is the chain's elected set, never the sender.
      canonicalHash = checkCertificate(cert, this.init, elected)
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err
      this.rejectedCertificates.push({ slot: cert.slot, code: err.code, atMs })
      return
    }
    s.validCertificates.add(bytesToHex(canonicalHash))
    if (s.certificate !== null) return
    s.certificate = { certificate: cert, canonicalHash, atMs }
    for (const { chunk, outcome } of this.assembler.addCertificate(cert)) this.after(chunk, outcome, atMs)
  }

  private onChunk(chunk: VideoChunk): void {
    const atMs = Date.now()
    const h = chunk.header
    const s = this.slot(h.slot)
    const key = `${bytesToHex(chunk.signer)}|${h.content_id}`
    let src = s.chunks.get(key)
    if (src === undefined) {
      src = {
        signer: bytesToHex(chunk.signer),
        contentId: h.content_id,
        total: h.total_chunks,
        indexes: new Set(),
        firstAtMs: atMs,
        lastAtMs: atMs,
      }
      s.chunks.set(key, src)
    }
    src.indexes.add(h.chunk_index)
    src.lastAtMs = atMs
    const epoch = h.slot / BigInt(this.init.slotsPerEpoch)
    const elected = this.init.elected(epoch)
    if (elected !== null) this.assembler.setElected(epoch, elected)
    this.after(chunk, this.assembler.addChunk(chunk), atMs)
  }

  private after(chunk: VideoChunk, r: ChunkOutcome, atMs: number): void {
    const slot = chunk.header.slot
    if (r.status === 'refused') {
      this.rejectedChunks.push({
        slot,
        signer: bytesToHex(chunk.signer),
        contentId: chunk.header.content_id,
        code: r.code,
      })
    } else if (r.status === 'complete') this.slot(slot).complete = { ...r.completed, atMs }
  }

  /** Wait until `slot`'s certified video is reassembled here. */
  waitForComplete(slot: bigint, timeoutMs: number): Promise<CompletedSlot & { atMs: number }> {
    return waitFor(`slot ${slot} reassembled at the observer`, () => this.slots.get(slot)?.complete, {
      timeoutMs,
      intervalMs: 100,
      seen: () => this.describe(),
    })
  }

  describe(): string {
    const slots = [...this.slots.values()].slice(-4).map((s) => {
      const chunks = [...s.chunks.values()].map((c) => `${c.signer.slice(-6)}:${c.indexes.size}/${c.total}`)
      return `slot ${s.slot}: proposals ${s.proposals.size}, commits ${s.commits.size}, cert ${s.certificate ? 'yes' : 'no'}, chunks [${chunks.join(' ')}], complete ${s.complete ? 'yes' : 'no'}`
    })
    return `${slots.join('; ')}; rejected certs ${this.rejectedCertificates.length}, rejected chunks ${this.rejectedChunks.length}, evidence ${this.evidence.length} + ${this.commitEvidence.length} commit, peers ${this.p2p.status().peers}`
  }
}

// -----------------------------------------------------------------------------------------------
// A chain proxy that can hold calls

export type ProxyAction =
  /** Forward the call and its answer. */
  | 'pass'
  /** Never forward the call (it is dropped with the connection). */
  | 'hold'
  /** Forward the call, drop its answer (the chain acts; the caller never learns it). */
  | 'lose-answer'

export interface ProxiedCall {
  method: string
  params: Record<string, unknown>
  action: ProxyAction
  atMs: number
}

/**
 * A WebSocket proxy in front of the dev chain for one client. `rule` decides per JSON-RPC call;
 * `calls` records every call with what was done to it. Upstream is connected per client connection.
 */
export class ChainProxy {
  readonly calls: ProxiedCall[] = []
  rule: (method: string, params: Record<string, unknown>) => ProxyAction = () => 'pass'
  upstream = ''
  private readonly wss: WebSocketServer
  private readonly sockets = new Set<WebSocket>()

  private constructor(wss: WebSocketServer) {
    this.wss = wss
    wss.on('connection', (client) => this.onClient(client))
  }

  static async start(): Promise<ChainProxy> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise<void>((res, rej) => {
      wss.once('listening', () => res())
      wss.once('error', rej)
    })
    return new ChainProxy(wss)
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`
  }

  /** Calls of `method` (e.g. chain_submitBftResult) for `slot` that reached the chain. */
  forwarded(method: string, slot?: bigint): ProxiedCall[] {
    return this.calls.filter(
      (c) =>
        c.method === method &&
        c.action !== 'hold' &&
        (slot === undefined || c.params.slot === slot.toString()),
    )
  }

  private onClient(client: WebSocket): void {
    const up = new WebSocket(this.upstream)
    this.sockets.add(client)
    this.sockets.add(up)
    const queue: RawData[] = []
    const dropAnswers = new Set<unknown>()
    const close = () => {
      client.terminate()
      up.terminate()
      this.sockets.delete(client)
      this.sockets.delete(up)
    }
    client.on('close', close)
    client.on('error', close)
    up.on('close', close)
    up.on('error', close)
    up.on('open', () => {
      for (const m of queue.splice(0)) up.send(m.toString())
    })
    client.on('message', (data) => {
      let msg: { id?: unknown; method?: string; params?: Record<string, unknown> } = {}
      try {
        msg = JSON.parse(data.toString())
      } catch {
        // not ours to judge: forwarded as is
      }
      const action = typeof msg.method === 'string' ? this.rule(msg.method, msg.params ?? {}) : 'pass'
      if (typeof msg.method === 'string')
        this.calls.push({ method: msg.method, params: msg.params ?? {}, action, atMs: Date.now() })
      if (action === 'hold') return
      if (action === 'lose-answer') dropAnswers.add(msg.id)
      if (up.readyState === WebSocket.OPEN) up.send(data.toString())
      else queue.push(data)
    })
    up.on('message', (data) => {
      if (dropAnswers.size > 0) {
        try {
          const msg = JSON.parse(data.toString()) as { id?: unknown }
          if (msg.id !== undefined && dropAnswers.delete(msg.id)) return
        } catch {
          // forwarded as is
        }
      }
      if (client.readyState === WebSocket.OPEN) client.send(data.toString())
    })
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.terminate()
    await new Promise<void>((res) => this.wss.close(() => res()))
  }
}
