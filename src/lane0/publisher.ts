// Publication of certified video (docs/protocol.md §6): the canonical member publishes its video as signed
// chunks with content_id = hex(content_hash); every other member waits its turn in rank order
// (`publish_grace_ms` each, a hard deadline) and stands down only once a higher-ranked member's video
// has been reassembled here and its BLAKE3 equals that member's certified content hash. The publisher
// reassembles chunks from /nsn/video/1.0.0 only for the slots its director is working on (expect()),
// one content id per signer, so no other signer can evict or stretch what it waits for.
import { blake3, type NodeKey } from '../crypto/index.ts'
import {
  buildVideoChunks,
  type Gossip,
  P2PError,
  type PublishVideoReport,
  type VideoGossip,
} from '../p2p/index.ts'
import { abortReason, type Clock, raceAbort, sleep, systemClock } from '../scheduler/index.ts'
import {
  bytesToHex,
  type CertificateMember,
  decodeVideoChunk,
  encodeVideoChunk,
  equalBytes,
  type VideoChunk,
} from '../types/index.ts'
import { LANE0_DEFAULTS } from './constants.ts'
import { PublishError } from './errors.ts'
import { type Logger, silentLogger } from './log.ts'
import type { Lane0Metrics } from './metrics.ts'

export type PublisherRole = 'canonical' | 'fallback'

export interface PublishReport {
  role: PublisherRole
  slot: bigint
  contentId: string
  total: number
  published: number
  failed: number
  bytes: number
  durationMs: number
}

export type PublishOutcome =
  | { action: 'published'; report: PublishReport }
  /** A higher-ranked member's video was reassembled and matched its certified content hash. */
  | { action: 'stood-down'; contentId: string; rank: number }
  | { action: 'not-member' }
  /** No peer is subscribed to the video topic (a lone director): there is no one to publish to. */
  | { action: 'no-peers'; role: PublisherRole }

export interface ContentProgress {
  signer: string
  contentId: string
  total: number
  received: number
  bytes: number
  lastChunkAtMs: number
}

export interface ChunkPublisherComponents {
  gossip: Gossip
  key: NodeKey
  clock?: Clock
  logger?: Logger
  metrics?: Lane0Metrics | null
}

export interface ChunkPublisherInit {
  /** @default LANE0_DEFAULTS.chunkSize */
  chunkSize?: number
  /** @default LANE0_DEFAULTS.publishGraceMs */
  publishGraceMs?: number
  /** Bytes reassembled per signer and slot at most (docs/protocol.md §2: bounds in bytes). @default LANE0_DEFAULTS.maxVideoBytes */
  maxVideoBytes?: number
  /** Slots reassembled at once (expect()); the oldest is dropped beyond it. @default LANE0_DEFAULTS.maxInflightSlots + 1 */
  trackedSlots?: number
}

/** What publishing one video's chunks came to. */
interface ChunkTally {
  published: number
  failed: number
  bytes: number
  lastErr: unknown
  /** Every failure so far was "no peer subscribed". */
  onlyNoPeers: boolean
}

/** One signer's video in one slot, as reassembled here. */
interface Assembly {
  contentId: string
  total: number
  parts: Map<number, Uint8Array>
  bytes: number
  lastChunkAtMs: number
  /** BLAKE3 of the reassembled video once complete (computed once). */
  hash: Uint8Array | null
}

export class ChunkPublisher {
  private readonly gossip: Gossip
  private readonly key: NodeKey
  private readonly clock: Clock
  private readonly log: Logger
  private readonly metrics: Lane0Metrics | null
  readonly chunkSize: number
  readonly publishGraceMs: number
  private readonly maxVideoBytes: number
  private readonly trackedSlots: number
  /** expected slot → signer (hex) → its video. Only slots this director works on. */
  private readonly slots = new Map<bigint, Map<string, Assembly>>()
  private readonly listeners = new Set<() => void>()
  private unsubscribe: (() => void) | null = null

  constructor(components: ChunkPublisherComponents, init: ChunkPublisherInit = {}) {
    this.gossip = components.gossip
    this.key = components.key
    this.clock = components.clock ?? systemClock
    this.log = (components.logger ?? silentLogger).child({ module: 'lane0.publisher' })
    this.metrics = components.metrics ?? null
    this.chunkSize = init.chunkSize ?? LANE0_DEFAULTS.chunkSize
    this.publishGraceMs = init.publishGraceMs ?? LANE0_DEFAULTS.publishGraceMs
    this.maxVideoBytes = init.maxVideoBytes ?? LANE0_DEFAULTS.maxVideoBytes
    this.trackedSlots = init.trackedSlots ?? LANE0_DEFAULTS.maxInflightSlots + 1
  }

  /** Watch the video topic (chunks there already passed the p2p layer's hash/signature/policy checks). */
  start(): void {
    if (this.unsubscribe !== null) return
    this.unsubscribe = this.gossip.subscribe('video', (msg) => {
      try {
        this.observe(decodeVideoChunk(msg.data))
      } catch {
        // Not ours to judge: the p2p validator decides what is forwarded; we only track progress.
      }
    })
  }

  stop(): void {
    this.unsubscribe?.()
    this.unsubscribe = null
  }

  /**
   * Start reassembling chunks of `slot` (its director is working on it): called when the slot's
   * round begins, so that chunks arriving before the certificate are kept. Bounded to
   * `trackedSlots` slots, the oldest dropped first.
   */
  expect(slot: bigint): void {
    if (this.slots.has(slot)) return
    if (this.slots.size >= this.trackedSlots) this.slots.delete(minSlot(this.slots.keys()))
    this.slots.set(slot, new Map())
  }

  /** Forget `slot`'s reassembly (its publication is decided). */
  release(slot: bigint): void {
    this.slots.delete(slot)
  }

  /**
   * Take in a chunk that passed the p2p layer's checks (hash, signature, elected signer). Kept only
   * for an expected slot, for the first content id each signer sent, up to max_video_bytes.
   */
  observe(chunk: VideoChunk): void {
    const h = chunk.header
    const slot = this.slots.get(h.slot)
    if (slot === undefined) return
    if (h.total_chunks === 0 || h.chunk_index >= h.total_chunks) return
    const signer = bytesToHex(chunk.signer)
    let a = slot.get(signer)
    if (a === undefined) {
      a = {
        contentId: h.content_id,
        total: h.total_chunks,
        parts: new Map(),
        bytes: 0,
        lastChunkAtMs: 0,
        hash: null,
      }
      slot.set(signer, a)
    }
    // A second content id or a different total from the same signer is that signer's own lie: it
    // only makes its own video unverifiable, which counts as not published.
    if (a.contentId !== h.content_id || a.total !== h.total_chunks || a.parts.has(h.chunk_index)) return
    if (a.bytes + chunk.payload.length > this.maxVideoBytes) return
    a.parts.set(h.chunk_index, chunk.payload)
    a.bytes += chunk.payload.length
    a.lastChunkAtMs = this.clock.now()
    for (const l of [...this.listeners]) l()
  }

  /** Progress of `contentId` by `signer` (protobuf key) in an expected `slot`, if any chunk was kept. */
  progress(slot: bigint, contentId: string, signer: Uint8Array): ContentProgress | undefined {
    const a = this.slots.get(slot)?.get(bytesToHex(signer))
    if (a === undefined || a.contentId !== contentId) return undefined
    return {
      signer: bytesToHex(signer),
      contentId,
      total: a.total,
      received: a.parts.size,
      bytes: a.bytes,
      lastChunkAtMs: a.lastChunkAtMs,
    }
  }

  /** Whether `member`'s video of `slot` was reassembled here and BLAKE3 equals its content hash. */
  verified(slot: bigint, member: CertificateMember): boolean {
    const a = this.slots.get(slot)?.get(bytesToHex(member.signer))
    if (a === undefined || a.contentId !== bytesToHex(member.content_hash) || a.parts.size < a.total)
      return false
    if (a.hash === null) {
      const video = new Uint8Array(a.bytes)
      let off = 0
      for (let i = 0; i < a.total; i++) {
        const part = a.parts.get(i)!
        video.set(part, off)
        off += part.length
      }
      a.hash = blake3(video)
    }
    return equalBytes(a.hash, member.content_hash)
  }

  /** Chunk and publish `video` as this node; throws PublishError when no chunk could be sent. */
  async publishVideo(
    slot: bigint,
    contentHash: Uint8Array,
    video: Uint8Array,
    role: PublisherRole,
    signal?: AbortSignal,
  ): Promise<PublishReport> {
    const t0 = this.clock.now()
    const contentId = bytesToHex(contentHash)
    const chunks = buildVideoChunks(contentId, slot, video, this.key, {
      chunkSize: this.chunkSize,
      timestampMs: BigInt(this.clock.now()),
    })
    const tally: ChunkTally = { published: 0, failed: 0, bytes: 0, lastErr: undefined, onlyNoPeers: true }
    const aborted = (err?: unknown) =>
      new PublishError(
        'ABORTED',
        `slot ${slot}: publication aborted after ${tally.published} of ${chunks.length} chunks`,
        { published: tally.published, total: chunks.length },
        err ?? (signal === undefined ? undefined : abortReason(signal)),
      )
    const vg = this.gossip as Partial<VideoGossip>
    if (typeof vg.publishVideo === 'function')
      await this.sendViaVideoGossip(vg as VideoGossip, chunks, tally, aborted, signal)
    else await this.sendOneByOne(chunks, tally, aborted, signal)
    const { published, failed, bytes } = tally
    this.metrics?.chunksPublished.inc({ role }, published)
    this.metrics?.publishBytes.inc({ role }, bytes)
    const report: PublishReport = {
      role,
      slot,
      contentId,
      total: chunks.length,
      published,
      failed,
      bytes,
      durationMs: this.clock.now() - t0,
    }
    if (published === 0) {
      // Every failure was "no peer subscribed": nobody to publish to, not a broken publication.
      const noPeers = tally.onlyNoPeers && chunks.length > 0
      throw new PublishError(
        noPeers ? 'NO_PEERS' : 'PUBLISH_FAILED',
        noPeers
          ? `slot ${slot}: no peer is subscribed to the video topic`
          : `slot ${slot}: none of ${chunks.length} chunks could be published`,
        { published, total: chunks.length },
        tally.lastErr,
      )
    }
    if (failed > 0)
      this.log.warn({ slot, role, failed, total: chunks.length }, 'some chunks failed to publish')
    return report
  }

  /** The p2p layer's own video path (ordered, with per-chunk acknowledgement timings). */
  private async sendViaVideoGossip(
    vg: VideoGossip,
    chunks: readonly VideoChunk[],
    tally: ChunkTally,
    aborted: (err?: unknown) => PublishError,
    signal?: AbortSignal,
  ): Promise<void> {
    let report: PublishVideoReport
    try {
      report = await raceAbort(vg.publishVideo.call(this.gossip, chunks), signal)
    } catch (err) {
      if (signal?.aborted) throw aborted(err)
      report = { total: chunks.length, published: 0, failed: chunks.length, maxAckMs: 0, avgAckMs: 0 }
      tally.lastErr = err
      tally.onlyNoPeers = false
    }
    const failedIdx = new Set((report.errors ?? []).map((e) => e.index))
    tally.published = report.published
    tally.failed = report.failed
    for (const [i, chunk] of chunks.entries()) {
      if (failedIdx.has(i) || report.published === 0) continue
      tally.bytes += chunk.payload.length
    }
    if (report.errors?.length) {
      tally.lastErr = new Error(`chunk errors: ${report.errors.map((e) => e.code).join(', ')}`)
      if (report.errors.some((e) => e.code !== 'NO_PEERS')) tally.onlyNoPeers = false
    }
  }

  /** One `publish` per chunk, in order. */
  private async sendOneByOne(
    chunks: readonly VideoChunk[],
    tally: ChunkTally,
    aborted: (err?: unknown) => PublishError,
    signal?: AbortSignal,
  ): Promise<void> {
    for (const chunk of chunks) {
      if (signal?.aborted) throw aborted()
      try {
        // Sequential on purpose: gossipsub queues per peer, and yamux aborts a stream whose unread
        // data passes 4 MiB (yamux read-buffer cap) — bursts of parallel 1 MiB messages risk that.
        await raceAbort(this.gossip.publish('video', encodeVideoChunk(chunk)), signal)
        tally.published++
        tally.bytes += chunk.payload.length
      } catch (err) {
        if (signal?.aborted) throw aborted(err)
        tally.failed++
        tally.lastErr = err
        if (!(err instanceof P2PError && err.code === 'NO_PEERS')) tally.onlyNoPeers = false
      }
    }
  }

  /**
   * docs/protocol.md §6 for one certified slot. `members` are the certificate's members in rank order.
   * The canonical member publishes at once. Member k waits until k × grace after this call (a hard
   * deadline: trickled chunks do not extend it) and stands down as soon as a higher-ranked member's
   * video is reassembled and verified against its certified content hash, else publishes its own.
   */
  async publishCertified(
    args: {
      slot: bigint
      members: readonly CertificateMember[]
      video: Uint8Array | null
      /** BLAKE3 of `video`: when the certified hash differs (a proposal re-sent after a restart by a generator that is not bit-exact), this video is not the certified one and is not published. */
      contentHash?: Uint8Array
    },
    signal?: AbortSignal,
  ): Promise<PublishOutcome> {
    const me = bytesToHex(this.key.publicKeyProto)
    const rank = args.members.findIndex((m) => bytesToHex(m.signer) === me)
    if (rank < 0 || args.video === null) return { action: 'not-member' }
    const own = args.members[rank]!
    if (args.contentHash !== undefined && !equalBytes(args.contentHash, own.content_hash)) {
      this.log.warn({ slot: args.slot }, 'our certified content hash is not this video: not publishing it')
      return { action: 'not-member' }
    }
    if (rank === 0) {
      this.release(args.slot)
      return this.publishOwn(args.slot, own, args.video, 'canonical', signal)
    }
    this.expect(args.slot)
    const higher = args.members.slice(0, rank)
    const verifiedMember = (): { contentId: string; rank: number } | null => {
      for (const [i, m] of higher.entries()) {
        if (this.verified(args.slot, m)) return { contentId: bytesToHex(m.content_hash), rank: i }
      }
      return null
    }
    try {
      await this.waitUntil(
        this.clock.now() + rank * this.publishGraceMs,
        () => verifiedMember() !== null,
        signal,
      )
      const done = verifiedMember()
      if (done !== null) return { action: 'stood-down', ...done }
    } finally {
      this.release(args.slot)
    }
    this.log.info(
      { slot: args.slot, rank },
      'no higher-ranked video verified within the grace: publishing as fallback',
    )
    return this.publishOwn(args.slot, own, args.video, 'fallback', signal)
  }

  /** Publish our certified video; with no peer on the video topic there is no one to publish to. */
  private async publishOwn(
    slot: bigint,
    own: CertificateMember,
    video: Uint8Array,
    role: PublisherRole,
    signal?: AbortSignal,
  ): Promise<PublishOutcome> {
    try {
      return {
        action: 'published',
        report: await this.publishVideo(slot, own.content_hash, video, role, signal),
      }
    } catch (err) {
      if (!(err instanceof PublishError && err.code === 'NO_PEERS')) throw err
      this.log.warn({ slot, role }, 'no peer is subscribed to the video topic: nothing published')
      return { action: 'no-peers', role }
    }
  }

  /** Wait until `deadlineMs` on the clock, or until `done()` after a chunk is observed. */
  private async waitUntil(deadlineMs: number, done: () => boolean, signal?: AbortSignal): Promise<void> {
    if (done()) return
    const ctrl = new AbortController()
    const onAbort = () => ctrl.abort(abortReason(signal!))
    signal?.addEventListener('abort', onAbort, { once: true })
    const listener = () => {
      if (done()) ctrl.abort('done')
    }
    this.listeners.add(listener)
    try {
      await sleep(this.clock, Math.max(0, deadlineMs - this.clock.now()), ctrl.signal)
    } catch (err) {
      if (signal?.aborted) {
        throw new PublishError('ABORTED', 'publication aborted while waiting for the rank turn', {}, err)
      }
    } finally {
      this.listeners.delete(listener)
      signal?.removeEventListener('abort', onAbort)
    }
  }
}

/** The smallest slot (bigint: Math.min does not apply). */
function minSlot(slots: Iterable<bigint>): bigint {
  let min: bigint | undefined
  for (const s of slots) if (min === undefined || s < min) min = s
  return min ?? 0n
}
