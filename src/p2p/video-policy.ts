// Who may publish video chunks, and how much (PROTOCOL.md §6). The relay policy: the signer is a
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
  /** @default VIDEO_BOUNDS_DEFAULTS.maxVideoBytes (128 MiB) */
  maxVideoBytes?: number
  /** @default VIDEO_BOUNDS_DEFAULTS.chunkSize (1 MiB) */
  chunkSize?: number
  /** q of PROTOCOL.md §5. @default 3 */
  maxContentIdsPerSlot?: number
  /** @default 16 */
  maxTrackedSlots?: number
}

const CONTENT_ID = /^[0-9a-f]{64}$/

/** An election source that names the same keys for every slot (tests, fixed devnets). */
export function staticElection(keys: readonly Uint8Array[]): ElectedForSlot {
  const copy = [...keys]
  return () => copy
}

/** Relay rule of PROTOCOL.md §6 with its per-slot bounds. */
export class RelayVideoPolicy implements VideoChunkPolicy {
  /** ceil(max_video_bytes / chunk_size): the most chunks one content id may have. */
  readonly maxChunksPerContent: number
  readonly maxContentIdsPerSlot: number
  private readonly maxTrackedSlots: number
  private readonly electedForSlot: ElectedForSlot
  /** slot → signer (hex) → content id → chunk indexes seen. */
  private readonly slots = new Map<bigint, Map<string, Map<string, Set<number>>>>()

  constructor(opts: RelayVideoPolicyOptions) {
    const maxVideoBytes = opts.maxVideoBytes ?? VIDEO_BOUNDS_DEFAULTS.maxVideoBytes
    const chunkSize = opts.chunkSize ?? VIDEO_BOUNDS_DEFAULTS.chunkSize
    this.maxContentIdsPerSlot = opts.maxContentIdsPerSlot ?? VIDEO_BOUNDS_DEFAULTS.maxContentIdsPerSlot
    this.maxTrackedSlots = opts.maxTrackedSlots ?? VIDEO_BOUNDS_DEFAULTS.maxTrackedSlots
    for (const [k, v] of Object.entries({
      maxVideoBytes,
      chunkSize,
      maxContentIdsPerSlot: this.maxContentIdsPerSlot,
      maxTrackedSlots: this.maxTrackedSlots,
    })) {
      if (!Number.isInteger(v) || v < 1) {
        throw new P2PError('INVALID_CONFIG', `video.${k}: ${v} must be a positive integer`)
      }
    }
    this.maxChunksPerContent = Math.ceil(maxVideoBytes / chunkSize)
    this.electedForSlot = opts.electedForSlot
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
    // §6: at most ceil(max_video_bytes / chunk_size) chunks per content id. total_chunks is signed,
    // so a larger value is the director's own claim of breaking the bound: every relay agrees.
    // Since chunk_index < total_chunks (checked in verifyVideoChunk), the distinct indexes of one
    // content id then stay below the bound too, whatever total_chunks each chunk claims.
    if (h.total_chunks > this.maxChunksPerContent) {
      rejectWith(
        'TOO_MANY_CHUNKS',
        `header.total_chunks: ${h.total_chunks} exceeds <= ${this.maxChunksPerContent} (max_video_bytes / chunk_size)`,
      )
    }
    const bySigner = this.slotTable(h.slot)
    let byContent = bySigner.get(signer)
    if (byContent === undefined) {
      byContent = new Map()
      bySigner.set(signer, byContent)
    }
    let indexes = byContent.get(h.content_id)
    if (indexes === undefined) {
      // §6: at most q content ids per director per slot. Which one is the (q+1)-th depends on
      // arrival order, so an honest relay may have forwarded it: ignore, do not penalise.
      if (byContent.size >= this.maxContentIdsPerSlot) {
        ignoreWith(
          'TOO_MANY_CONTENT_IDS',
          `header.content_id: signer already has ${byContent.size} content ids in slot ${h.slot} (<= ${this.maxContentIdsPerSlot})`,
        )
      }
      indexes = new Set()
      byContent.set(h.content_id, indexes)
    }
    // §2: a duplicate (same director, slot, content, index; e.g. republished) is ignored.
    if (indexes.has(h.chunk_index)) {
      ignoreWith(
        'DUPLICATE',
        `header.chunk_index: chunk ${h.chunk_index} of this content was already relayed`,
      )
    }
    indexes.add(h.chunk_index)
  }

  /** Per-director counters of `slot`; ignores (STALE) a slot older than every tracked one once full. */
  private slotTable(slot: bigint): Map<string, Map<string, Set<number>>> {
    let table = this.slots.get(slot)
    if (table !== undefined) return table
    if (this.slots.size >= this.maxTrackedSlots) {
      let oldest = slot
      for (const s of this.slots.keys()) if (s < oldest) oldest = s
      if (oldest === slot) {
        ignoreWith('STALE', `header.slot: ${slot} is older than the ${this.maxTrackedSlots} slots tracked`)
      }
      this.slots.delete(oldest)
    }
    table = new Map()
    this.slots.set(slot, table)
    return table
  }
}
