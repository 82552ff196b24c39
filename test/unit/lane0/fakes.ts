// In-process fakes at Lane 0's seams: a gossip hub that connects several nodes, a
// chain that verifies certificates like the real one, a scriptable sidecar, and polling helpers.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type {
  ChainClient,
  ChainEvent,
  ChainInfo,
  NodeRegistration,
  SlotResult,
  SubmitOutcome,
} from '../../../src/chain/client.ts'
import { type NodeKey, verifyCertificate } from '../../../src/crypto/index.ts'
import {
  type Gossip,
  type GossipHandler,
  GossipValidationError,
  type GossipValidatorFn,
  P2PError,
  type PublishResult,
  type TopicName,
  type TopicValidator,
  type ValidationResult,
} from '../../../src/p2p/index.ts'
import { type Clock, type ManualClock, sleep } from '../../../src/scheduler/index.ts'
import type {
  ExecuteTaskRequest,
  ExecuteTaskResponse,
  SidecarTaskRunner,
} from '../../../src/sidecar/types.ts'
import { SidecarError } from '../../../src/sidecar/types.ts'
import { bytesToHex, type Certificate } from '../../../src/types/index.ts'
import { TEST_NETWORK_ID, unitEmbedding } from '../../fixtures/index.ts'

// ---------------------------------------------------------------------------------------------- gossip

export interface HubMessage {
  from: string
  topic: TopicName
  data: Uint8Array
}

/** A full mesh of in-process nodes: publish runs every other subscriber's validator, then its handlers. */
export class FakeGossipHub {
  readonly nodes = new Map<string, FakeGossip>()
  readonly published: HubMessage[] = []
  /** Nodes whose outgoing messages are dropped (a partition or a dead node). */
  readonly muted = new Set<string>()
  /** `${node}|${topic}`: publish never returns (a stuck stream), nothing is sent. */
  readonly stalled = new Set<string>()
  private inFlight = 0

  join(id: string): FakeGossip {
    const g = new FakeGossip(this, id)
    this.nodes.set(id, g)
    return g
  }

  leave(id: string): void {
    this.nodes.delete(id)
  }

  get pending(): number {
    return this.inFlight
  }

  /** Deliver `data` from `from` to every other subscribed node (asynchronously, like a network). */
  deliver(from: string, topic: TopicName, data: Uint8Array): number {
    this.published.push({ from, topic, data })
    if (this.muted.has(from)) return 0
    let n = 0
    for (const [id, node] of this.nodes) {
      if (id === from || !node.subscribed(topic)) continue
      n++
      this.inFlight++
      void Promise.resolve()
        .then(() => node.receive(topic, data, from))
        .finally(() => {
          this.inFlight--
        })
    }
    return n
  }

  count(topic: TopicName, from?: string): number {
    return this.published.filter((m) => m.topic === topic && (from === undefined || m.from === from)).length
  }
}

export class FakeGossip implements Gossip {
  private readonly handlers = new Map<TopicName, Set<GossipHandler>>()
  private readonly validators = new Map<TopicName, TopicValidator | GossipValidatorFn<unknown>>()
  readonly results: { topic: TopicName; result: ValidationResult }[] = []

  constructor(
    private readonly hub: FakeGossipHub,
    readonly id: string,
  ) {}

  subscribed(topic: TopicName): boolean {
    return (this.handlers.get(topic)?.size ?? 0) > 0
  }

  async publish(topic: TopicName, data: Uint8Array): Promise<PublishResult> {
    if (this.hub.stalled.has(`${this.id}|${topic}`)) return new Promise(() => {})
    const recipients = this.hub.deliver(this.id, topic, data)
    if (recipients === 0) throw new P2PError('NO_PEERS', `publish ${topic}: no peers`)
    return { recipients }
  }

  subscribe(topic: TopicName, handler: GossipHandler): () => void {
    let set = this.handlers.get(topic)
    if (set === undefined) {
      set = new Set()
      this.handlers.set(topic, set)
    }
    set.add(handler)
    return () => set.delete(handler)
  }

  setValidator(topic: TopicName, validator: TopicValidator | GossipValidatorFn<unknown>): void {
    this.validators.set(topic, validator)
  }

  /** The installed validator as a bare-result one (as src/p2p's adapter maps it). */
  validator(topic: TopicName): TopicValidator | undefined {
    const v = this.validators.get(topic)
    return v === undefined ? undefined : (data, from) => runValidator(v, data, from)
  }

  /** Receive as from a peer: validator first, then handlers on accept. Returns the validation result. */
  async receive(topic: TopicName, data: Uint8Array, from = 'peer'): Promise<ValidationResult> {
    const v = this.validators.get(topic)
    const result = v === undefined ? 'accept' : await runValidator(v, data, from)
    this.results.push({ topic, result })
    if (result === 'accept') for (const h of [...(this.handlers.get(topic) ?? [])]) h({ topic, data, from })
    return result
  }
}

/** src/p2p's adapter in short: a bare result as it is, a GossipValidationError as its action, any other throw ignored. */
async function runValidator(
  v: TopicValidator | GossipValidatorFn<unknown>,
  data: Uint8Array,
  from: string,
): Promise<ValidationResult> {
  try {
    const out = await v(data, from)
    return out === 'reject' || out === 'ignore' ? out : 'accept'
  } catch (err) {
    return err instanceof GossipValidationError ? err.action : 'ignore'
  }
}

// ----------------------------------------------------------------------------------------------- chain

export type ScriptedSubmit = 'hang' | 'hang-after-record' | 'unknown' | 'unknown-after-record' | 'throw'

/** A chain that elects, announces and checks certificates as docs/protocol.md §7 says. */
export class FakeChain implements ChainClient {
  readonly elected = new Map<bigint, Uint8Array[]>()
  readonly results = new Map<bigint, SlotResult>()
  readonly submissions: { slot: bigint; submitter: string; outcome: SubmitOutcome['status'] | 'hang' }[] = []
  readonly script: ScriptedSubmit[] = []
  private readonly handlers = new Set<(ev: ChainEvent) => void>()
  readonly chainInfo: ChainInfo

  constructor(info: Partial<ChainInfo> = {}) {
    this.chainInfo = {
      genesisHash: TEST_NETWORK_ID,
      bestBlock: 0n,
      currentEpoch: 0n,
      epochLengthBlocks: 8,
      lookaheadBlocks: 2,
      challengePeriodBlocks: 4,
      blockTimeMs: 1000,
      blocksPerSlot: 2,
      slotsPerEpoch: 4,
      quorum: 3,
      ...info,
    }
  }

  async info(): Promise<ChainInfo> {
    return { ...this.chainInfo }
  }

  async register(_reg: NodeRegistration): Promise<void> {}

  async electedDirectors(epoch: bigint): Promise<Uint8Array[]> {
    return this.elected.get(epoch) ?? []
  }

  subscribe(handler: (event: ChainEvent) => void): () => void {
    this.handlers.add(handler)
    return () => this.handlers.delete(handler)
  }

  get subscribers(): number {
    return this.handlers.size
  }

  /** Emit an event to every subscriber (synchronously, in order). */
  emit(ev: ChainEvent): void {
    if (ev.block > this.chainInfo.bestBlock) this.chainInfo.bestBlock = ev.block
    for (const h of [...this.handlers]) h(ev)
  }

  newBlock(block: bigint): void {
    this.emit({ type: 'NewBlock', block })
  }

  onDeck(epoch: bigint, directors: Uint8Array[], block: bigint): void {
    this.elected.set(epoch, directors)
    this.emit({
      type: 'OnDeckElection',
      block,
      epoch,
      directors,
      startBlock: epoch * BigInt(this.chainInfo.epochLengthBlocks),
    })
  }

  startEpoch(epoch: bigint, block: bigint = epoch * BigInt(this.chainInfo.epochLengthBlocks)): void {
    this.chainInfo.currentEpoch = epoch
    this.emit({
      type: 'EpochStarted',
      block,
      epoch,
      directors: this.elected.get(epoch) ?? [],
      endBlock: (epoch + 1n) * BigInt(this.chainInfo.epochLengthBlocks),
    })
  }

  endEpoch(epoch: bigint, block: bigint): void {
    this.emit({ type: 'EpochCompleted', block, epoch })
  }

  finalize(slot: bigint): void {
    const r = this.results.get(slot)
    if (r === undefined) throw new Error(`no result for slot ${slot}`)
    r.finalized = true
    this.emit({
      type: 'BftResultFinalized',
      block: this.chainInfo.bestBlock,
      slot,
      canonicalHash: r.canonicalHash,
    })
  }

  private record(slot: bigint, cert: Certificate, canonical: Uint8Array, submitter: Uint8Array): bigint {
    const block = this.chainInfo.bestBlock + 1n
    this.results.set(slot, {
      slot,
      epoch: cert.epoch,
      canonicalHash: canonical,
      submitter,
      submittedBlock: block,
      finalized: false,
      certificate: cert,
    })
    queueMicrotask(() =>
      this.emit({ type: 'BftResultSubmitted', block, slot, canonicalHash: canonical, submitter }),
    )
    return block
  }

  async submitBftResult(
    slot: bigint,
    certificate: Certificate,
    signer: { publicKeyProto: Uint8Array },
  ): Promise<SubmitOutcome> {
    const submitter = bytesToHex(signer.publicKeyProto)
    const scripted = this.script.shift()
    if (scripted === 'hang') {
      this.submissions.push({ slot, submitter, outcome: 'hang' })
      return new Promise(() => {})
    }
    if (scripted === 'throw') {
      this.submissions.push({ slot, submitter, outcome: 'unknown' })
      throw new Error('connection reset')
    }
    if (scripted === 'unknown') {
      this.submissions.push({ slot, submitter, outcome: 'unknown' })
      return { status: 'unknown', reason: 'timeout' }
    }
    const elected = this.elected.get(certificate.epoch)
    let outcome: SubmitOutcome
    if (elected === undefined)
      outcome = { status: 'rejected', code: 'UNKNOWN_EPOCH', reason: 'unknown epoch' }
    else if (!elected.some((k) => bytesToHex(k) === submitter))
      outcome = { status: 'rejected', code: 'NOT_ELECTED', reason: 'submitter not elected' }
    else if (certificate.slot !== slot)
      outcome = { status: 'rejected', code: 'SLOT_MISMATCH', reason: 'slot' }
    else if (this.results.has(slot))
      outcome = { status: 'rejected', code: 'ALREADY_SUBMITTED', reason: 'slot has a result' }
    else {
      try {
        const canonical = verifyCertificate(certificate, {
          networkId: this.chainInfo.genesisHash,
          elected,
          quorum: this.chainInfo.quorum,
        })
        const block = this.record(slot, certificate, canonical, signer.publicKeyProto)
        outcome = { status: 'accepted', block }
      } catch (err) {
        outcome = { status: 'rejected', code: 'BAD_CERTIFICATE', reason: (err as Error).message }
      }
    }
    this.submissions.push({ slot, submitter, outcome: outcome.status })
    if (scripted === 'hang-after-record' && outcome.status === 'accepted') return new Promise(() => {})
    if (scripted === 'unknown-after-record' && outcome.status === 'accepted') {
      return { status: 'unknown', reason: 'response lost' }
    }
    return outcome
  }

  async slotResult(slot: bigint): Promise<SlotResult | null> {
    return this.results.get(slot) ?? null
  }

  async close(): Promise<void> {
    this.handlers.clear()
  }

  /** One node's connection to this chain; `kill()` simulates the node dying (SIGKILL). */
  client(): ChainClient & { kill(): void } {
    let dead = false
    const subs = new Set<() => void>()
    const never = new Promise<never>(() => {})
    const live = <T>(p: () => Promise<T>): Promise<T> => (dead ? never : p())
    return {
      info: () => live(() => this.info()),
      register: (reg) => live(() => this.register(reg)),
      electedDirectors: (e) => live(() => this.electedDirectors(e)),
      subscribe: (handler) => {
        const un = this.subscribe((ev) => {
          if (!dead) handler(ev)
        })
        subs.add(un)
        return () => {
          un()
          subs.delete(un)
        }
      },
      submitBftResult: (slot, cert, signer) => live(() => this.submitBftResult(slot, cert, signer)),
      slotResult: (slot) => live(() => this.slotResult(slot)),
      close: async () => {},
      kill: () => {
        dead = true
        for (const un of subs) un()
        subs.clear()
      },
    }
  }
}

// --------------------------------------------------------------------------------------------- sidecar

export interface PluginOutputOptions {
  video: Uint8Array
  embedding: Float32Array | number[]
  /** Inline base64 (`video_data`) or a file (`video_path`). */
  videoPath?: string
  generationTimeMs?: number
  extra?: Record<string, unknown>
}

/** The vortex-lane0 output object as the sidecar returns it in result_metadata. */
export function pluginOutput(o: PluginOutputOptions): Uint8Array {
  const out: Record<string, unknown> = {
    output_cid: 'bafy-test',
    clip_embedding: Array.from(o.embedding),
    determinism_proof: 'ab'.repeat(32),
    generation_time_ms: o.generationTimeMs ?? 1234,
  }
  // As the reference plugin does: file mode names files, inline mode carries base64.
  if (o.videoPath !== undefined) out.video_path = o.videoPath
  else {
    out.video_data = Buffer.from(o.video).toString('base64')
    out.audio_data = Buffer.from([1, 2, 3, 4]).toString('base64')
  }
  Object.assign(out, o.extra)
  return new TextEncoder().encode(JSON.stringify(out))
}

export type SidecarBehaviour =
  | { kind: 'ok' }
  | { kind: 'hang' }
  | { kind: 'error'; code: ConstructorParameters<typeof SidecarError>[0]; retryable: boolean }
  | { kind: 'fail'; message: string }
  | { kind: 'raw'; metadata: Uint8Array }
  /** Answer normally after `ms` on the sidecar's clock. */
  | { kind: 'delay'; ms: number }

export class FakeSidecar implements SidecarTaskRunner {
  readonly calls: ExecuteTaskRequest[] = []
  /** Behaviours for successive calls; the last one repeats. */
  behaviours: SidecarBehaviour[] = [{ kind: 'ok' }]
  healthy = true
  plugins = ['vortex-lane0']
  healthThrows = false
  clock: Clock | null = null

  constructor(
    public video: Uint8Array,
    public embedding: Float32Array,
  ) {}

  async healthCheck(): Promise<{ healthy: boolean; plugins: string[] }> {
    if (this.healthThrows) throw new SidecarError('UNAVAILABLE', 'connection refused', true)
    return { healthy: this.healthy, plugins: this.plugins }
  }

  async executeTask(req: ExecuteTaskRequest, opts?: { signal?: AbortSignal }): Promise<ExecuteTaskResponse> {
    this.calls.push(req)
    const b = this.behaviours.length > 1 ? this.behaviours.shift()! : this.behaviours[0]!
    switch (b.kind) {
      case 'hang':
        return new Promise((_, reject) => {
          opts?.signal?.addEventListener('abort', () => reject(new SidecarError('CANCELLED', 'cancelled')), {
            once: true,
          })
        })
      case 'error':
        throw new SidecarError(b.code, `sidecar says ${b.code}`, b.retryable)
      case 'fail':
        return {
          success: false,
          errorMessage: b.message,
          outputCid: '',
          executionTimeMs: 5,
          resultMetadata: new Uint8Array(),
        }
      case 'raw':
        return {
          success: true,
          errorMessage: '',
          outputCid: '',
          executionTimeMs: 5,
          resultMetadata: b.metadata,
        }
      case 'delay':
        try {
          await sleep(this.clock!, b.ms, opts?.signal)
        } catch {
          throw new SidecarError('CANCELLED', 'cancelled')
        }
        return this.ok()
      default:
        return this.ok()
    }
  }

  private ok(): ExecuteTaskResponse {
    return {
      success: true,
      errorMessage: '',
      outputCid: 'bafy-test',
      executionTimeMs: 1234,
      resultMetadata: pluginOutput({ video: this.video, embedding: this.embedding }),
    }
  }
}

// --------------------------------------------------------------------------------------------- helpers

/** A unit vector close to `base`: base + noise·(another unit vector), renormalised. */
export function nearEmbedding(base: Float32Array, seed: number, noise: number): Float32Array {
  const other = unitEmbedding(seed)
  const v = new Float32Array(base.length)
  let norm = 0
  for (let i = 0; i < v.length; i++) {
    v[i] = base[i]! + noise * other[i]!
    norm += v[i]! * v[i]!
  }
  norm = Math.sqrt(norm)
  for (let i = 0; i < v.length; i++) v[i]! /= norm
  return v
}

/** Deterministic pseudo-video bytes. */
export function fakeVideo(size: number, seed = 1): Uint8Array {
  const v = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    v[i] = x >>> 24
  }
  return v
}

/** Poll (real time) until `pred` holds; fails the test with `what` after `timeoutMs`. */
export async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 1))
  }
}

/** Advance the manual clock in steps (yielding between) until `pred` holds or `maxMs` passed. */
export async function driveUntil(
  clock: ManualClock,
  pred: () => boolean,
  what: string,
  { stepMs = 100, maxMs = 120_000 } = {},
): Promise<void> {
  const start = clock.now()
  while (!pred()) {
    if (clock.now() - start > maxMs) assert.fail(`clock ran ${maxMs} ms without ${what}`)
    await clock.tick(stepMs)
  }
}

export async function tempDir(prefix = 'lane0-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) }
}

export function protoKeys(keys: readonly NodeKey[]): Uint8Array[] {
  return keys.map((k) => k.publicKeyProto)
}
