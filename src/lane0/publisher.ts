// Publication of certified video (PROTOCOL.md §6): the canonical member publishes its video as signed
// chunks with content_id = hex(content_hash); every other member waits its turn in rank order
// (`publish_grace_ms` each) and publishes its own video only if no higher-ranked member's chunks are
// seen making progress. The publisher watches /nsn/video/1.0.0 to know what has been seen.
import type { NodeKey } from '../crypto/index.ts'
import { buildVideoChunks, type Gossip, type PublishVideoReport, type VideoGossip } from '../p2p/index.ts'
import { abortReason, type Clock, raceAbort, sleep, systemClock } from '../scheduler/index.ts'
import {
  bytesToHex,
  type CertificateMember,
  decodeVideoChunk,
  encodeVideoChunk,
  type VideoChunkHeader,
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
  /** A higher-ranked member's video was seen complete (or still progressing when we gave up waiting). */
  | { action: 'stood-down'; contentId: string; rank: number }
  | { action: 'not-member' }

export interface ContentProgress {
  signer: string
  contentId: string
  total: number
  received: number
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
  /** @default LANE0_DEFAULTS.publishMaxExtensions */
  publishMaxExtensions?: number
  /** Slots whose chunk progress is remembered. @default 8 */
  trackedSlots?: number
  /** Progress entries (content by signer) kept per slot. @default 64 */
  maxContentsPerSlot?: number
}

interface Progress {
  total: number
  indexes: Set<number>
  lastChunkAtMs: number
}

/** Upper bound on total_chunks tracked per content (4 GiB at 64 KiB chunks is far beyond any slot). */
const MAX_TRACKED_CHUNKS = 65_536

export class ChunkPublisher {
  private readonly gossip: Gossip
  private readonly key: NodeKey
  private readonly clock: Clock
  private readonly log: Logger
  private readonly metrics: Lane0Metrics | null
  readonly chunkSize: number
  readonly publishGraceMs: number
  private readonly maxExtensions: number
  private readonly trackedSlots: number
  private readonly maxContents: number
  /** slot → `${contentId}|${signerHex}` → progress */
  private readonly seen = new Map<bigint, Map<string, Progress>>()
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
    this.maxExtensions = init.publishMaxExtensions ?? LANE0_DEFAULTS.publishMaxExtensions
    this.trackedSlots = init.trackedSlots ?? 8
    this.maxContents = init.maxContentsPerSlot ?? 64
  }

  /** Watch the video topic (chunks there already passed the p2p layer's hash/signature/policy checks). */
  start(): void {
    if (this.unsubscribe !== null) return
    this.unsubscribe = this.gossip.subscribe('video', (msg) => {
      try {
        const chunk = decodeVideoChunk(msg.data)
        this.observe(chunk.header, chunk.signer)
      } catch {
        // Not ours to judge: the p2p validator decides what is forwarded; we only track progress.
      }
    })
  }

  stop(): void {
    this.unsubscribe?.()
    this.unsubscribe = null
  }

  /** Record that a chunk of (slot, content_id, signer) was seen. */
  observe(header: VideoChunkHeader, signer: Uint8Array): void {
    if (header.total_chunks === 0 || header.total_chunks > MAX_TRACKED_CHUNKS) return
    if (header.chunk_index >= header.total_chunks) return
    let slot = this.seen.get(header.slot)
    if (slot === undefined) {
      if (this.seen.size >= this.trackedSlots) {
        const oldest = minSlot(this.seen.keys())
        if (header.slot < oldest) return // older than everything tracked: nothing waits on it
        this.seen.delete(oldest)
      }
      slot = new Map()
      this.seen.set(header.slot, slot)
    }
    const id = `${header.content_id}|${bytesToHex(signer)}`
    let p = slot.get(id)
    if (p === undefined) {
      if (slot.size >= this.maxContents) return
      p = { total: header.total_chunks, indexes: new Set(), lastChunkAtMs: 0 }
      slot.set(id, p)
    }
    if (header.total_chunks !== p.total) return
    if (!p.indexes.has(header.chunk_index)) {
      p.indexes.add(header.chunk_index)
      p.lastChunkAtMs = this.clock.now()
      for (const l of [...this.listeners]) l()
    }
  }

  /** Progress of `contentId` by `signer` (protobuf key) in `slot`, if any chunk was seen. */
  progress(slot: bigint, contentId: string, signer: Uint8Array): ContentProgress | undefined {
    const p = this.seen.get(slot)?.get(`${contentId}|${bytesToHex(signer)}`)
    if (p === undefined) return undefined
    return {
      signer: bytesToHex(signer),
      contentId,
      total: p.total,
      received: p.indexes.size,
      lastChunkAtMs: p.lastChunkAtMs,
    }
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
    let published = 0
    let failed = 0
    let bytes = 0
    let lastErr: unknown
    const aborted = (err?: unknown) =>
      new PublishError(
        'ABORTED',
        `slot ${slot}: publication aborted after ${published} of ${chunks.length} chunks`,
        { published, total: chunks.length },
        err ?? (signal === undefined ? undefined : abortReason(signal)),
      )
    const vg = this.gossip as Partial<VideoGossip>
    if (typeof vg.publishVideo === 'function') {
      // The p2p layer's own video path (ordered, with per-chunk acknowledgement timings).
      let report: PublishVideoReport
      try {
        report = await raceAbort(vg.publishVideo.call(this.gossip, chunks), signal)
      } catch (err) {
        if (signal?.aborted) throw aborted(err)
        report = { total: chunks.length, published: 0, failed: chunks.length, maxAckMs: 0, avgAckMs: 0 }
        lastErr = err
      }
      const failedIdx = new Set((report.errors ?? []).map((e) => e.index))
      published = report.published
      failed = report.failed
      for (const [i, chunk] of chunks.entries()) {
        if (failedIdx.has(i) || report.published === 0) continue
        bytes += chunk.payload.length
        this.observe(chunk.header, chunk.signer)
      }
      if (report.errors?.length)
        lastErr = new Error(`chunk errors: ${report.errors.map((e) => e.code).join(', ')}`)
    } else {
      for (const chunk of chunks) {
        if (signal?.aborted) throw aborted()
        try {
          // Sequential on purpose: gossipsub queues per peer, and yamux aborts a stream whose unread
          // data passes 4 MiB (ECOSYSTEM.md trap 5) — bursts of parallel 1 MiB messages risk that.
          await raceAbort(this.gossip.publish('video', encodeVideoChunk(chunk)), signal)
          published++
          bytes += chunk.payload.length
          this.observe(chunk.header, chunk.signer)
        } catch (err) {
          if (signal?.aborted) throw aborted(err)
          failed++
          lastErr = err
        }
      }
    }
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
      throw new PublishError(
        'PUBLISH_FAILED',
        `slot ${slot}: none of ${chunks.length} chunks could be published`,
        { published, total: chunks.length },
        lastErr,
      )
    }
    if (failed > 0)
      this.log.warn({ slot, role, failed, total: chunks.length }, 'some chunks failed to publish')
    return report
  }

  /**
   * PROTOCOL.md §6 for one certified slot. `members` are the certificate's members in rank order.
   * The canonical member publishes at once. Member k waits k × grace after this call; it stands down
   * as soon as a higher-ranked member's content is seen complete, keeps waiting (one more grace, at
   * most `publishMaxExtensions` times) while such content is still arriving, else publishes its own.
   */
  async publishCertified(
    args: { slot: bigint; members: readonly CertificateMember[]; video: Uint8Array | null },
    signal?: AbortSignal,
  ): Promise<PublishOutcome> {
    const me = bytesToHex(this.key.publicKeyProto)
    const rank = args.members.findIndex((m) => bytesToHex(m.signer) === me)
    if (rank < 0 || args.video === null) return { action: 'not-member' }
    const own = args.members[rank]!
    if (rank === 0) {
      return {
        action: 'published',
        report: await this.publishVideo(args.slot, own.content_hash, args.video, 'canonical', signal),
      }
    }
    const higher = args.members.slice(0, rank)
    const status = () => {
      let complete: { contentId: string; rank: number } | null = null
      let lastProgress = 0
      higher.forEach((m, i) => {
        const p = this.progress(args.slot, bytesToHex(m.content_hash), m.signer)
        if (p === undefined) return
        if (p.received >= p.total && complete === null) complete = { contentId: p.contentId, rank: i }
        lastProgress = Math.max(lastProgress, p.lastChunkAtMs)
      })
      return { complete: complete as { contentId: string; rank: number } | null, lastProgress }
    }
    let deadline = this.clock.now() + rank * this.publishGraceMs
    for (let extensions = 0; ; extensions++) {
      await this.waitUntil(deadline, () => status().complete !== null, signal)
      const s = status()
      if (s.complete !== null) return { action: 'stood-down', ...s.complete }
      const now = this.clock.now()
      if (
        s.lastProgress > 0 &&
        now - s.lastProgress < this.publishGraceMs &&
        extensions < this.maxExtensions
      ) {
        deadline = now + this.publishGraceMs
        continue
      }
      break
    }
    this.log.info({ slot: args.slot, rank }, 'higher-ranked video not seen: publishing as fallback')
    return {
      action: 'published',
      report: await this.publishVideo(args.slot, own.content_hash, args.video, 'fallback', signal),
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
