// What a relaying node forwards on /nsn/video/1.0.0 (PROTOCOL.md §6), for the p2p layer's pluggable
// chunk policy: the signer must be a director elected for the chunk's epoch, and one director may push
// at most ceil(max_video_bytes / chunk_size) distinct chunks per content id and at most q content ids
// per slot. A chunk is never held back for want of its certificate (gossip does not order topics).
// Hash and signature are checked before this (src/p2p verifyVideoChunk). No `node:` imports.
import { bytesToHex, type VideoChunkHeader } from '../types/index.ts'

export type RelayChunkCode =
  | 'UNKNOWN_EPOCH'
  | 'UNELECTED_SIGNER'
  | 'BAD_CONTENT_ID'
  | 'TOO_MANY_CHUNKS'
  | 'TOO_MANY_CONTENT_IDS'
  | 'INCONSISTENT_TOTAL'
  | 'DUPLICATE_INDEX'
  | 'STALE_SLOT'

export type RelayDecision =
  | { result: 'accept' }
  | { result: 'reject' | 'ignore'; code: RelayChunkCode; message: string }

export interface RelayPolicyInit {
  /** Elected directors (protobuf keys) of an epoch, or undefined when not known yet. */
  electedFor(epoch: bigint): readonly Uint8Array[] | undefined
  epochOfSlot(slot: bigint): bigint
  /** Quorum q: content ids one director may publish per slot (its own plus fallbacks it is part of). */
  quorum: number
  chunkSize: number
  maxVideoBytes: number
  /** Slots of per-signer counters kept (older chunks are ignored as stale). @default 8 */
  trackedSlots?: number
}

const CONTENT_ID = /^[0-9a-f]{64}$/

/** The stateless checks: epoch known, signer elected, content_id shape, chunk count bound. */
export function checkRelayChunk(
  header: VideoChunkHeader,
  signer: Uint8Array,
  init: Pick<RelayPolicyInit, 'electedFor' | 'epochOfSlot' | 'chunkSize' | 'maxVideoBytes'>,
  electedHex?: ReadonlySet<string>,
): RelayDecision {
  const epoch = init.epochOfSlot(header.slot)
  let elected = electedHex
  if (elected === undefined) {
    const list = init.electedFor(epoch)
    if (list === undefined)
      return {
        result: 'ignore',
        code: 'UNKNOWN_EPOCH',
        message: `slot ${header.slot}: epoch ${epoch} not known`,
      }
    elected = new Set(list.map(bytesToHex))
  }
  if (!elected.has(bytesToHex(signer))) {
    return { result: 'reject', code: 'UNELECTED_SIGNER', message: `signer: not elected for epoch ${epoch}` }
  }
  if (!CONTENT_ID.test(header.content_id)) {
    return {
      result: 'reject',
      code: 'BAD_CONTENT_ID',
      message: 'header.content_id: must be 64 lowercase hex',
    }
  }
  const maxChunks = Math.ceil(init.maxVideoBytes / init.chunkSize)
  if (header.total_chunks > maxChunks) {
    return {
      result: 'reject',
      code: 'TOO_MANY_CHUNKS',
      message: `header.total_chunks: ${header.total_chunks} exceeds ${maxChunks}`,
    }
  }
  return { result: 'accept' }
}

interface ContentState {
  total: number
  indexes: Set<number>
}

/** The stateful relay policy: static checks plus the per-slot bounds. */
export class VideoRelayPolicy {
  private readonly trackedSlots: number
  /** slot → signer hex → content id → state */
  private readonly slots = new Map<bigint, Map<string, Map<string, ContentState>>>()
  private electedCache = new Map<bigint, { list: readonly Uint8Array[]; hex: Set<string> }>()

  constructor(private readonly init: RelayPolicyInit) {
    this.trackedSlots = init.trackedSlots ?? 8
  }

  private electedHex(epoch: bigint): Set<string> | undefined {
    const list = this.init.electedFor(epoch)
    if (list === undefined) return undefined
    const cached = this.electedCache.get(epoch)
    if (cached !== undefined && cached.list === list) return cached.hex
    const hex = new Set(list.map(bytesToHex))
    if (this.electedCache.size > 8) this.electedCache = new Map()
    this.electedCache.set(epoch, { list, hex })
    return hex
  }

  /** Decide for one verified chunk and, on accept, count it against the signer's bounds. */
  check(header: VideoChunkHeader, signer: Uint8Array): RelayDecision {
    const epoch = this.init.epochOfSlot(header.slot)
    const elected = this.electedHex(epoch)
    if (elected === undefined)
      return {
        result: 'ignore',
        code: 'UNKNOWN_EPOCH',
        message: `slot ${header.slot}: epoch ${epoch} not known`,
      }
    const basic = checkRelayChunk(header, signer, this.init, elected)
    if (basic.result !== 'accept') return basic

    let slot = this.slots.get(header.slot)
    if (slot === undefined) {
      if (this.slots.size >= this.trackedSlots) {
        const oldest = minSlot(this.slots.keys())
        if (header.slot < oldest)
          return {
            result: 'ignore',
            code: 'STALE_SLOT',
            message: `slot ${header.slot}: older than tracked slots`,
          }
        this.slots.delete(oldest)
      }
      slot = new Map()
      this.slots.set(header.slot, slot)
    }
    const signerHex = bytesToHex(signer)
    let contents = slot.get(signerHex)
    if (contents === undefined) {
      contents = new Map()
      slot.set(signerHex, contents)
    }
    let content = contents.get(header.content_id)
    if (content === undefined) {
      if (contents.size >= this.init.quorum) {
        return {
          result: 'reject',
          code: 'TOO_MANY_CONTENT_IDS',
          message: `signer: already published ${contents.size} content ids in slot ${header.slot} (max ${this.init.quorum})`,
        }
      }
      content = { total: header.total_chunks, indexes: new Set() }
      contents.set(header.content_id, content)
    }
    if (content.total !== header.total_chunks) {
      return {
        result: 'reject',
        code: 'INCONSISTENT_TOTAL',
        message: `header.total_chunks: ${header.total_chunks} differs from ${content.total} for this content`,
      }
    }
    if (content.indexes.has(header.chunk_index)) {
      // A re-signed copy of a chunk already relayed: nothing new for anyone.
      return {
        result: 'ignore',
        code: 'DUPLICATE_INDEX',
        message: `header.chunk_index: ${header.chunk_index} seen`,
      }
    }
    content.indexes.add(header.chunk_index)
    return { result: 'accept' }
  }
}

/** The smallest slot (bigint: Math.min does not apply). */
function minSlot(slots: Iterable<bigint>): bigint {
  let min: bigint | undefined
  for (const s of slots) if (min === undefined || s < min) min = s
  return min ?? 0n
}
