// Who may publish video chunks, and how much (docs/protocol.md §6). The relay policy: the signer is a
// director elected for the chunk's slot, and one director pushes at most q content ids per slot
// and at most ceil(max_video_bytes / chunk_size) distinct chunks per content id. It deliberately
// knows nothing about certificates: gossip does not order topics, so a relay must not drop a
// chunk for arriving before its certificate (viewers apply the certificate rule themselves).
import { bytesToHex, type VideoChunk } from '../types/index.ts'
import { VIDEO_BOUNDS_DEFAULTS } from './constants.ts'
import { ignoreWith, P2PError, rejectWith } from './errors.ts'

/**
 * The elected directors (libp2p protobuf public keys, 36 bytes) for the epoch containing `slot`,
 * or null when this node does not know that epoch's election yet (the chunk is then ignored, not
 * rejected: a peer that knows more is not at fault).
 */
export type ElectedForSlot = (slot: bigint) => readonly Uint8Array[] | null

/**
 * Decides whether a chunk whose hash and signature already verified may be delivered and
 * relayed. Throws GossipValidationError (reject or ignore); returning means accept. A policy that
 * counts (bounds, duplicates) records the chunk when it returns.
 */
export interface VideoChunkPolicy {
  check(chunk: VideoChunk): void
}

export interface RelayVideoPolicyOptions {
  electedForSlot: ElectedForSlot
  /**
   * The chain's current slot, or undefined when not known yet. With it, only slots in
   * current−slotsBehind … current+slotsAhead are tracked (docs/protocol.md §2); chunks outside are
   * ignored. Without it (a fixed test election) only the per-signer bound applies.
   */
  currentSlot?: () => bigint | undefined
  /** @default VIDEO_BOUNDS_DEFAULTS.maxVideoBytes (128 MiB) */
  maxVideoBytes?: number
  /** @default VIDEO_BOUNDS_DEFAULTS.chunkSize (1 MiB) */
  chunkSize?: number
  /** q of docs/protocol.md §5. @default 3 */
  maxContentIdsPerSlot?: number
  /** Slots tracked per signer (its own oldest is dropped beyond it). @default 5 */
  maxTrackedSlots?: number
  /** @default VIDEO_BOUNDS_DEFAULTS.slotsBehind (2) */
  slotsBehind?: number
  /** @default VIDEO_BOUNDS_DEFAULTS.slotsAhead (2) */
  slotsAhead?: number
}

const CONTENT_ID = /^[0-9a-f]{64}$/

/** An election source that names the same keys for every slot (tests, fixed devnets). */
export function staticElection(keys: readonly Uint8Array[]): ElectedForSlot {
  const copy = [...keys]
  return () => copy
}

interface ContentState {
  indexes: Set<number>
  /** Payload bytes relayed for this content id (docs/protocol.md §2: bounds in bytes too). */
  bytes: number
}

/** One signer's counters: slot → content id → state. Only that signer's chunks touch it. */
type SignerSlots = Map<bigint, Map<string, ContentState>>

/**
 * Relay rule of docs/protocol.md §6 with its per-slot bounds, keyed per signer so that one director
 * can never evict another's state (§2), and only for slots in a window around the chain's slot.
 */
export class RelayVideoPolicy implements VideoChunkPolicy {
  /** ceil(max_video_bytes / chunk_size): the most chunks one content id may have. */
  readonly maxChunksPerContent: number
  readonly maxContentIdsPerSlot: number
  readonly maxVideoBytes: number
  readonly chunkSize: number
  private readonly maxTrackedSlots: number
  private readonly slotsBehind: bigint
  private readonly slotsAhead: bigint
  private readonly electedForSlot: ElectedForSlot
  private readonly currentSlot: (() => bigint | undefined) | undefined
  /** signer (hex) → its slots. Signers are elected keys, so this map is as small as the elected sets. */
  private readonly signers = new Map<string, SignerSlots>()

  constructor(opts: RelayVideoPolicyOptions) {
    this.maxVideoBytes = opts.maxVideoBytes ?? VIDEO_BOUNDS_DEFAULTS.maxVideoBytes
    this.chunkSize = opts.chunkSize ?? VIDEO_BOUNDS_DEFAULTS.chunkSize
    this.maxContentIdsPerSlot = opts.maxContentIdsPerSlot ?? VIDEO_BOUNDS_DEFAULTS.maxContentIdsPerSlot
    this.maxTrackedSlots = opts.maxTrackedSlots ?? VIDEO_BOUNDS_DEFAULTS.maxTrackedSlots
    const behind = opts.slotsBehind ?? VIDEO_BOUNDS_DEFAULTS.slotsBehind
    const ahead = opts.slotsAhead ?? VIDEO_BOUNDS_DEFAULTS.slotsAhead
    for (const [k, v] of Object.entries({
      maxVideoBytes: this.maxVideoBytes,
      chunkSize: this.chunkSize,
      maxContentIdsPerSlot: this.maxContentIdsPerSlot,
      maxTrackedSlots: this.maxTrackedSlots,
    })) {
      if (!Number.isInteger(v) || v < 1) {
        throw new P2PError('INVALID_CONFIG', `video.${k}: ${v} must be a positive integer`)
      }
    }
    for (const [k, v] of Object.entries({ slotsBehind: behind, slotsAhead: ahead })) {
      if (!Number.isInteger(v) || v < 0 || v > 64) {
        throw new P2PError('INVALID_CONFIG', `video.${k}: ${v} must be an integer in 0..64`)
      }
    }
    this.slotsBehind = BigInt(behind)
    this.slotsAhead = BigInt(ahead)
    this.maxChunksPerContent = Math.ceil(this.maxVideoBytes / this.chunkSize)
    this.electedForSlot = opts.electedForSlot
    this.currentSlot = opts.currentSlot
  }

  check(chunk: VideoChunk): void {
    const h = chunk.header
    // §6: the signer must be a director elected for the chunk's epoch; an unknown election is
    // "not yet decidable" (§2) and is ignored rather than rejected.
    const elected = this.electedForSlot(h.slot)
    if (elected === null) {
      ignoreWith('ELECTION_UNKNOWN', `header.slot: election for slot ${h.slot} is not known yet`)
    }
    const signer = bytesToHex(chunk.signer)
    if (!elected.some((k) => bytesToHex(k) === signer)) {
      rejectWith('UNAUTHORISED_SIGNER', `signer: not a director elected for slot ${h.slot}`)
    }
    // §6: content_id = hex(content_hash), 64 lowercase hex digits; anything else names no video.
    if (!CONTENT_ID.test(h.content_id)) {
      rejectWith(
        'BAD_CONTENT_ID',
        'header.content_id: must be 64 lowercase hex digits (hex of the BLAKE3 content hash)',
      )
    }
    // The bounds below come from this node's settings (chunk size, max video bytes, window): a
    // differently configured honest relay may have accepted the chunk, so they ignore (§2).
    if (chunk.payload.length > this.chunkSize) {
      ignoreWith(
        'CHUNK_TOO_LARGE',
        `payload: ${chunk.payload.length} bytes exceeds the chunk size of ${this.chunkSize} bytes`,
      )
    }
    if (h.total_chunks > this.maxChunksPerContent) {
      ignoreWith(
        'TOO_MANY_CHUNKS',
        `header.total_chunks: ${h.total_chunks} exceeds <= ${this.maxChunksPerContent} (max_video_bytes / chunk_size)`,
      )
    }
    const slots = this.slotsOf(signer, h.slot)
    let byContent = slots.get(h.slot)
    if (byContent === undefined) {
      byContent = new Map()
      slots.set(h.slot, byContent)
    }
    let content = byContent.get(h.content_id)
    if (content === undefined) {
      // §6: at most q content ids per director per slot. Which one is the (q+1)-th depends on
      // arrival order, so an honest relay may have forwarded it: ignore, do not penalise.
      if (byContent.size >= this.maxContentIdsPerSlot) {
        ignoreWith(
          'TOO_MANY_CONTENT_IDS',
          `header.content_id: signer already has ${byContent.size} content ids in slot ${h.slot} (<= ${this.maxContentIdsPerSlot})`,
        )
      }
      content = { indexes: new Set(), bytes: 0 }
      byContent.set(h.content_id, content)
    }
    // §2: a duplicate (same director, slot, content, index; e.g. republished) is ignored.
    if (content.indexes.has(h.chunk_index)) {
      ignoreWith(
        'DUPLICATE',
        `header.chunk_index: chunk ${h.chunk_index} of this content was already relayed`,
      )
    }
    // §2: bounds in bytes as well as items: at most max_video_bytes per content id.
    if (content.bytes + chunk.payload.length > this.maxVideoBytes) {
      ignoreWith(
        'CONTENT_TOO_LARGE',
        `payload: content id would exceed ${this.maxVideoBytes} bytes (max_video_bytes)`,
      )
    }
    content.indexes.add(h.chunk_index)
    content.bytes += chunk.payload.length
  }

  /** Slots tracked for one signer (for tests and status). */
  trackedSlots(signer: Uint8Array): bigint[] {
    return [...(this.signers.get(bytesToHex(signer))?.keys() ?? [])].sort((a, b) => (a < b ? -1 : 1))
  }

  /**
   * The signer's slot table, after the window checks: a slot outside the window around the chain's
   * current slot is ignored, old slots are dropped, and a signer over `maxTrackedSlots` loses only
   * its own oldest slot (or, if `slot` is older than all of them, the chunk is ignored as stale).
   */
  private slotsOf(signer: string, slot: bigint): SignerSlots {
    const current = this.currentSlot?.()
    if (current !== undefined) {
      const low = current > this.slotsBehind ? current - this.slotsBehind : 0n
      if (slot < low)
        ignoreWith('STALE', `header.slot: ${slot} is before the window ${low}..${current + this.slotsAhead}`)
      if (slot > current + this.slotsAhead) {
        ignoreWith(
          'OUT_OF_WINDOW',
          `header.slot: ${slot} is beyond the window ${low}..${current + this.slotsAhead}`,
        )
      }
      for (const [key, slots] of this.signers) {
        for (const s of slots.keys()) if (s < low) slots.delete(s)
        if (slots.size === 0) this.signers.delete(key)
      }
    }
    let slots = this.signers.get(signer)
    if (slots === undefined) {
      slots = new Map()
      this.signers.set(signer, slots)
    }
    if (!slots.has(slot) && slots.size >= this.maxTrackedSlots) {
      let oldest = slot
      for (const s of slots.keys()) if (s < oldest) oldest = s
      if (oldest === slot) {
        ignoreWith(
          'STALE',
          `header.slot: ${slot} is older than this signer's ${this.maxTrackedSlots} tracked slots`,
        )
      }
      slots.delete(oldest)
    }
    return slots
  }
}
