// What a viewer trusts (PROTOCOL.md §6): a chunk is played only when its signer is a member of the
// slot's certificate and its content_id is that member's content_hash; chunks that arrive before the
// certificate wait in a bounded buffer; a slot is complete only when BLAKE3(video) = content_hash.
// Pure TypeScript with no `node:` imports: the browser viewer reuses it, injecting BLAKE3 and the
// chunk verifier (hash + signature) it has.
import { TypedEmitter } from '../scheduler/index.ts'
import { bytesToHex, type Certificate, equalBytes, type VideoChunk } from '../types/index.ts'

export interface AssemblerDeps {
  blake3(data: Uint8Array): Uint8Array
  /** True when the chunk's payload hash and signature verify (src/p2p verifyVideoChunk or a port). */
  verifyChunk(chunk: VideoChunk): boolean
}

export interface AssemblerInit {
  /** Chunks held while their slot has no certificate. @default 256 */
  maxBufferedChunks?: number
  /** Payload bytes held while their slot has no certificate. @default 64 MiB */
  maxBufferedBytes?: number
  /** Slots kept (older ones are forgotten). @default 4 */
  maxSlots?: number
  /** Largest total_chunks accepted for one content. @default 256 */
  maxChunksPerContent?: number
}

export type AssemblerRejectCode =
  | 'BAD_CHUNK'
  | 'NOT_CERTIFIED'
  | 'BUFFER_FULL'
  | 'STALE_SLOT'
  | 'TOO_MANY_CHUNKS'
  | 'INCONSISTENT_TOTAL'
  | 'HASH_MISMATCH'

export type AddChunkResult =
  | { status: 'buffered' | 'accepted' | 'duplicate' | 'complete' }
  | { status: 'rejected'; code: AssemblerRejectCode }

export interface CompletedSlot {
  slot: bigint
  contentHash: Uint8Array
  /** Protobuf key of the member whose video this is. */
  signer: Uint8Array
  /** Rank of that member in the certificate (0 = canonical). */
  rank: number
  video: Uint8Array
  certificate: Certificate
}

export interface AssemblerEvents {
  complete: CompletedSlot
  rejected: { slot: bigint; code: AssemblerRejectCode }
}

interface Assembly {
  total: number
  parts: (Uint8Array | undefined)[]
  received: number
  rank: number
  contentHash: Uint8Array
  signer: Uint8Array
}

interface SlotState {
  certificate: Certificate | null
  buffered: VideoChunk[]
  assemblies: Map<string, Assembly>
  complete: CompletedSlot | null
}

export class CertifiedSlotAssembler {
  readonly events = new TypedEmitter<AssemblerEvents>()
  private readonly slots = new Map<bigint, SlotState>()
  private bufferedChunks = 0
  private bufferedBytes = 0
  private readonly maxBufferedChunks: number
  private readonly maxBufferedBytes: number
  private readonly maxSlots: number
  private readonly maxChunksPerContent: number

  constructor(
    private readonly deps: AssemblerDeps,
    init: AssemblerInit = {},
  ) {
    this.maxBufferedChunks = init.maxBufferedChunks ?? 256
    this.maxBufferedBytes = init.maxBufferedBytes ?? 64 * 1024 * 1024
    this.maxSlots = init.maxSlots ?? 4
    this.maxChunksPerContent = init.maxChunksPerContent ?? 256
  }

  /** The completed video of `slot`, if any. */
  completed(slot: bigint): CompletedSlot | null {
    return this.slots.get(slot)?.complete ?? null
  }

  private state(slot: bigint): SlotState | null {
    let s = this.slots.get(slot)
    if (s !== undefined) return s
    if (this.slots.size >= this.maxSlots) {
      const oldest = minSlot(this.slots.keys())
      if (slot < oldest) return null
      this.drop(oldest)
    }
    s = { certificate: null, buffered: [], assemblies: new Map(), complete: null }
    this.slots.set(slot, s)
    return s
  }

  private drop(slot: bigint): void {
    const s = this.slots.get(slot)
    if (s === undefined) return
    for (const c of s.buffered) {
      this.bufferedChunks--
      this.bufferedBytes -= c.payload.length
    }
    this.slots.delete(slot)
  }

  /**
   * The slot's certificate, already verified against the elected set by the caller (verifyCertificate
   * in src/crypto, or the viewer's port of it). Buffered chunks of the slot are processed now.
   */
  addCertificate(certificate: Certificate): AddChunkResult[] {
    const s = this.state(certificate.slot)
    if (s === null || s.certificate !== null) return []
    s.certificate = certificate
    const waiting = s.buffered
    s.buffered = []
    for (const c of waiting) {
      this.bufferedChunks--
      this.bufferedBytes -= c.payload.length
    }
    return waiting.map((c) => this.place(s, c))
  }

  addChunk(chunk: VideoChunk): AddChunkResult {
    if (!this.deps.verifyChunk(chunk)) return this.rejected(chunk.header.slot, 'BAD_CHUNK')
    const s = this.state(chunk.header.slot)
    if (s === null) return this.rejected(chunk.header.slot, 'STALE_SLOT')
    if (s.complete !== null) return { status: 'duplicate' }
    if (s.certificate === null) {
      if (
        this.bufferedChunks + 1 > this.maxBufferedChunks ||
        this.bufferedBytes + chunk.payload.length > this.maxBufferedBytes
      ) {
        return this.rejected(chunk.header.slot, 'BUFFER_FULL')
      }
      // Keep our own copy: the caller's buffer may be reused once this returns.
      s.buffered.push({ ...chunk, payload: chunk.payload.slice() })
      this.bufferedChunks++
      this.bufferedBytes += chunk.payload.length
      return { status: 'buffered' }
    }
    return this.place(s, chunk)
  }

  private rejected(slot: bigint, code: AssemblerRejectCode): AddChunkResult {
    this.events.emit('rejected', { slot, code })
    return { status: 'rejected', code }
  }

  private place(s: SlotState, chunk: VideoChunk): AddChunkResult {
    const cert = s.certificate!
    const h = chunk.header
    if (s.complete !== null) return { status: 'duplicate' }
    const rank = cert.members.findIndex(
      (m) => equalBytes(m.signer, chunk.signer) && bytesToHex(m.content_hash) === h.content_id,
    )
    if (rank < 0) return this.rejected(h.slot, 'NOT_CERTIFIED')
    if (h.total_chunks > this.maxChunksPerContent) return this.rejected(h.slot, 'TOO_MANY_CHUNKS')
    const key = `${h.content_id}|${bytesToHex(chunk.signer)}`
    let a = s.assemblies.get(key)
    if (a === undefined) {
      const member = cert.members[rank]!
      a = {
        total: h.total_chunks,
        parts: new Array(h.total_chunks),
        received: 0,
        rank,
        contentHash: member.content_hash,
        signer: member.signer,
      }
      s.assemblies.set(key, a)
    }
    if (a.total !== h.total_chunks) return this.rejected(h.slot, 'INCONSISTENT_TOTAL')
    if (a.parts[h.chunk_index] !== undefined) return { status: 'duplicate' }
    a.parts[h.chunk_index] = chunk.payload.slice()
    a.received++
    if (a.received < a.total) return { status: 'accepted' }
    let size = 0
    for (const p of a.parts) size += p!.length
    const video = new Uint8Array(size)
    let o = 0
    for (const p of a.parts) {
      video.set(p!, o)
      o += p!.length
    }
    if (!equalBytes(this.deps.blake3(video), a.contentHash)) {
      s.assemblies.delete(key)
      return this.rejected(h.slot, 'HASH_MISMATCH')
    }
    s.complete = {
      slot: h.slot,
      contentHash: a.contentHash,
      signer: a.signer,
      rank: a.rank,
      video,
      certificate: cert,
    }
    s.assemblies.clear()
    this.events.emit('complete', s.complete)
    return { status: 'complete' }
  }
}

/** The smallest slot (bigint: Math.min does not apply). */
function minSlot(slots: Iterable<bigint>): bigint {
  let min: bigint | undefined
  for (const s of slots) if (min === undefined || s < min) min = s
  return min ?? 0n
}
