// A viewer's slot table (docs/protocol.md §6): verified chunks wait for their slot's certificate in
// a buffer bounded per signer (items and bytes, so one signer never evicts another's), certified
// content is reassembled and checked against BLAKE3 = content_hash, and only a window of slots
// around the chain's current slot is tracked, so attacker-chosen slot numbers cannot grow it.
// DOM-free and free of `node:` imports: the browser page, the node's viewer role and the tests use it.
import { blake3 } from '../crypto/blake3.ts'
import { VideoChunkError, verifyVideoChunk } from '../p2p/video.ts'
import { bytesToHex, type Certificate, equalBytes, type VideoChunk } from '../types/index.ts'
import { ContentAssembly } from './assembly.ts'
import { certifiedMember } from './certificate.ts'
import type { RefusalCode } from './refusal.ts'

export interface CertifiedSlotsInit {
  /** Slots kept behind the current slot. @default 4 */
  slotsBehind?: number
  /** Slots accepted ahead of the current slot. @default 2 */
  slotsAhead?: number
  /** Slots kept while the current slot is unknown (the oldest is forgotten). @default 8 */
  maxSlots?: number
  /** Chunks one signer may have waiting for certificates. @default 64 */
  maxPendingChunksPerSigner?: number
  /** Payload bytes one signer may have waiting for certificates. @default 16 MiB */
  maxPendingBytesPerSigner?: number
  /** Largest total_chunks accepted for one content. @default 256 */
  maxChunksPerContent?: number
  /** Epochs whose elected sets are remembered. @default 4 */
  maxEpochs?: number
}

/** A slot whose certified video was reassembled and hashed to its content_hash. */
export interface CompletedSlot {
  slot: bigint
  contentHash: Uint8Array
  /** Protobuf key of the member whose video this is. */
  signer: Uint8Array
  /** Rank of that member in the certificate (0 = canonical). */
  rank: number
  video: Uint8Array
  /** The member's signed chunks in index order. */
  chunks: VideoChunk[]
  certificate: Certificate
}

export type ChunkOutcome =
  | { status: 'buffered' | 'accepted' | 'duplicate' }
  | { status: 'complete'; completed: CompletedSlot }
  | { status: 'refused'; code: RefusalCode }

interface Pending {
  chunk: VideoChunk
  /** Budget the chunk is charged to: the signer's hex key, or the shared pool of unknown signers. */
  pool: string
}

interface SlotState {
  certificate: Certificate | null
  pending: Map<string, Pending>
  /** signer hex | content id → that member's video being reassembled. */
  assemblies: Map<string, ContentAssembly>
  complete: { completed: CompletedSlot; assembly: ContentAssembly } | null
  /** A certified content was reassembled but did not hash to its content_hash. */
  contentFailed: boolean
}

/** The budget of chunks whose epoch's elected set is not known yet (one pool, never a signer's). */
const UNVETTED = 'unvetted'

export class CertifiedSlots {
  private readonly slots = new Map<bigint, SlotState>()
  private readonly elected = new Map<bigint, Set<string>>()
  private readonly budgets = new Map<string, { chunks: number; bytes: number }>()
  private current: bigint | null = null
  private readonly slotsBehind: bigint
  private readonly slotsAhead: bigint
  private readonly maxSlots: number
  private readonly maxPendingChunks: number
  private readonly maxPendingBytes: number
  private readonly maxChunksPerContent: number
  private readonly maxEpochs: number

  constructor(
    private readonly anchor: { slotsPerEpoch: number },
    init: CertifiedSlotsInit = {},
  ) {
    this.slotsBehind = BigInt(init.slotsBehind ?? 4)
    this.slotsAhead = BigInt(init.slotsAhead ?? 2)
    this.maxSlots = init.maxSlots ?? 8
    this.maxPendingChunks = init.maxPendingChunksPerSigner ?? 64
    this.maxPendingBytes = init.maxPendingBytesPerSigner ?? 16 * 1024 * 1024
    this.maxChunksPerContent = init.maxChunksPerContent ?? 256
    this.maxEpochs = init.maxEpochs ?? 4
  }

  /** The chain's current slot: slots outside the window around it are forgotten and refused. */
  setCurrentSlot(slot: bigint): void {
    if (this.current !== null && slot <= this.current) return
    this.current = slot
    for (const s of [...this.slots.keys()]) if (!this.inWindow(s)) this.drop(s)
  }

  get currentSlot(): bigint | null {
    return this.current
  }

  /** The chain's elected directors of `epoch`; chunks of other signers are refused (NOT_ELECTED). */
  setElected(epoch: bigint, directors: readonly Uint8Array[]): void {
    this.elected.set(epoch, new Set(directors.map(bytesToHex)))
    while (this.elected.size > this.maxEpochs) this.elected.delete(minOf(this.elected.keys()))
  }

  /** True when `slot` is inside the tracked window (always, while the current slot is unknown). */
  inWindow(slot: bigint): boolean {
    if (this.current === null) return true
    return slot >= this.current - this.slotsBehind && slot <= this.current + this.slotsAhead
  }

  /** The completed video of `slot`, if any. */
  completed(slot: bigint): CompletedSlot | null {
    return this.slots.get(slot)?.complete?.completed ?? null
  }

  /** The certificate of `slot` (as given to addCertificate), if any. */
  certificate(slot: bigint): Certificate | null {
    return this.slots.get(slot)?.certificate ?? null
  }

  /** Progress of `slot`: the most advanced assembly and how many chunks wait for the certificate. */
  progress(slot: bigint): { received: number; total: number; pending: number; failed: boolean } | null {
    const s = this.slots.get(slot)
    if (s === undefined) return null
    if (s.complete !== null) {
      const t = s.complete.assembly.total
      return { received: t, total: t, pending: 0, failed: s.contentFailed }
    }
    let best: ContentAssembly | undefined
    for (const a of s.assemblies.values()) if (best === undefined || a.received > best.received) best = a
    return {
      received: best?.received ?? 0,
      total: best?.total ?? 0,
      pending: s.pending.size,
      failed: s.contentFailed,
    }
  }

  /**
   * The slot's certificate, already checked against the elected set (checkCertificate). The chunks
   * that waited for it are placed now; each comes back with its outcome. A second certificate of the
   * same slot is ignored (the first valid one is the slot's).
   */
  addCertificate(certificate: Certificate): { chunk: VideoChunk; outcome: ChunkOutcome }[] {
    const s = this.state(certificate.slot)
    if (s === null || s.certificate !== null) return []
    return this.placeCertificate(s, certificate)
  }

  private placeCertificate(
    s: SlotState,
    certificate: Certificate,
  ): { chunk: VideoChunk; outcome: ChunkOutcome }[] {
    s.certificate = certificate
    const waiting = [...s.pending.values()]
    for (const p of waiting) this.release(p)
    s.pending.clear()
    return waiting.map((p) => ({ chunk: p.chunk, outcome: this.place(certificate.slot, s, p.chunk) }))
  }

  /**
   * The chain's accepted certificate of its slot (docs/protocol.md §7: where two valid certificates
   * exist for one slot, which only commit equivocation makes possible, viewers follow the chain's).
   * Checked against the elected set by the caller, like addCertificate. When the slot held another
   * certificate, its content is forgotten (also a completed one) and the chain's takes its place; no
   * later certificate replaces the chain's. Returns what addCertificate returns.
   */
  adoptChainCertificate(certificate: Certificate): { chunk: VideoChunk; outcome: ChunkOutcome }[] {
    const s = this.state(certificate.slot)
    if (s === null) return []
    if (s.certificate !== null && sameCertifiedContent(s.certificate, certificate)) return []
    s.certificate = null
    s.assemblies.clear()
    s.complete = null
    s.contentFailed = false
    return this.placeCertificate(s, certificate)
  }

  /** A decoded chunk from the network: its hash and signature are verified here. */
  addChunk(chunk: VideoChunk): ChunkOutcome {
    try {
      verifyVideoChunk(chunk)
    } catch (err) {
      if (err instanceof VideoChunkError) return { status: 'refused', code: err.code }
      throw err
    }
    const slot = chunk.header.slot
    const electedSet = this.elected.get(slot / BigInt(this.anchor.slotsPerEpoch))
    const signer = bytesToHex(chunk.signer)
    if (electedSet !== undefined && !electedSet.has(signer)) return { status: 'refused', code: 'NOT_ELECTED' }
    const s = this.state(slot)
    if (s === null) return { status: 'refused', code: 'STALE_SLOT' }
    if (s.certificate !== null) return this.place(slot, s, chunk)
    const key = `${signer}|${chunk.header.content_id}|${chunk.header.chunk_index}`
    const held = s.pending.get(key)
    if (held !== undefined)
      return equalBytes(held.chunk.payload, chunk.payload)
        ? { status: 'duplicate' }
        : { status: 'refused', code: 'CONFLICT' }
    const pool = electedSet === undefined ? UNVETTED : signer
    const budget = this.budgets.get(pool) ?? { chunks: 0, bytes: 0 }
    if (
      budget.chunks + 1 > this.maxPendingChunks ||
      budget.bytes + chunk.payload.length > this.maxPendingBytes
    )
      return { status: 'refused', code: 'BUFFER_FULL' }
    budget.chunks++
    budget.bytes += chunk.payload.length
    this.budgets.set(pool, budget)
    s.pending.set(key, { chunk: { ...chunk, payload: chunk.payload.slice() }, pool })
    return { status: 'buffered' }
  }

  private state(slot: bigint): SlotState | null {
    const existing = this.slots.get(slot)
    if (existing !== undefined) return existing
    if (!this.inWindow(slot)) return null
    if (this.current === null && this.slots.size >= this.maxSlots) {
      const oldest = minOf(this.slots.keys())
      if (slot < oldest) return null
      this.drop(oldest)
    }
    const s: SlotState = {
      certificate: null,
      pending: new Map(),
      assemblies: new Map(),
      complete: null,
      contentFailed: false,
    }
    this.slots.set(slot, s)
    return s
  }

  private release(p: Pending): void {
    const b = this.budgets.get(p.pool)
    if (b === undefined) return
    b.chunks--
    b.bytes -= p.chunk.payload.length
    if (b.chunks <= 0) this.budgets.delete(p.pool)
  }

  private drop(slot: bigint): void {
    const s = this.slots.get(slot)
    if (s === undefined) return
    for (const p of s.pending.values()) this.release(p)
    this.slots.delete(slot)
  }

  private place(slot: bigint, s: SlotState, chunk: VideoChunk): ChunkOutcome {
    const check = certifiedMember(s.certificate!, chunk)
    if ('refusal' in check) return { status: 'refused', code: check.refusal }
    const h = chunk.header
    if (s.complete !== null) {
      // Already complete: another member's certified content is not needed; a chunk of the played
      // content is checked against what played (add() on a complete assembly never replaces).
      if (!equalBytes(check.member.content_hash, s.complete.completed.contentHash))
        return { status: 'duplicate' }
      const r = s.complete.assembly.add(chunk)
      return r === 'CONFLICT' || r === 'TOTAL_MISMATCH'
        ? { status: 'refused', code: r }
        : { status: 'duplicate' }
    }
    if (h.total_chunks > this.maxChunksPerContent) return { status: 'refused', code: 'TOTAL_MISMATCH' }
    const key = `${bytesToHex(chunk.signer)}|${h.content_id}`
    let a = s.assemblies.get(key)
    if (a === undefined) {
      a = new ContentAssembly(check.member.content_hash, h.total_chunks)
      s.assemblies.set(key, a)
    }
    const r = a.add(chunk)
    if (r === 'CONFLICT' || r === 'TOTAL_MISMATCH') return { status: 'refused', code: r }
    if (r === 'duplicate') return { status: 'duplicate' }
    if (!a.complete) return { status: 'accepted' }
    const video = a.bytes()
    // BLAKE3(video) = content_hash before the slot counts as complete (docs/protocol.md §6).
    if (!equalBytes(blake3(video), a.contentHash)) {
      s.assemblies.delete(key)
      s.contentFailed = true
      return { status: 'refused', code: 'CONTENT_HASH' }
    }
    const completed: CompletedSlot = {
      slot,
      contentHash: a.contentHash,
      signer: check.member.signer,
      rank: check.rank,
      video,
      chunks: a.chunks(),
      certificate: s.certificate!,
    }
    s.complete = { completed, assembly: a }
    s.assemblies.clear()
    return { status: 'complete', completed }
  }
}

/** Same agreeing set and recipe: the two certificates vouch for the same content in the same ranks. */
function sameCertifiedContent(a: Certificate, b: Certificate): boolean {
  return (
    equalBytes(a.recipe_hash, b.recipe_hash) &&
    a.members.length === b.members.length &&
    a.members.every(
      (m, i) =>
        equalBytes(m.signer, b.members[i]!.signer) &&
        equalBytes(m.content_hash, b.members[i]!.content_hash) &&
        equalBytes(m.embedding_hash, b.members[i]!.embedding_hash),
    )
  )
}

/** The smallest of some bigints (Math.min does not apply). */
function minOf(values: Iterable<bigint>): bigint {
  let min: bigint | undefined
  for (const v of values) if (min === undefined || v < min) min = v
  return min ?? 0n
}
