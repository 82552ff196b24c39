// The viewer's certificate rule and reassembly (PROTOCOL.md §6), free of DOM and MSE so that it is
// unit-tested in Node: which certificate member vouches for a verified chunk, and the per-content
// reassembly that keeps the first payload of an index and reports any different one as a conflict.
import type { VideoChunkErrorCode } from '../../src/p2p/video.ts'
import {
  bytesToHex,
  type Certificate,
  type CertificateMember,
  equalBytes,
  type VideoChunk,
} from '../../src/types/index.ts'

/** Why the page refused a chunk; shown on the chunk's slot and exposed to tests. */
export type RefusalCode =
  /** Signature, hash or structure (VideoChunkError codes): forged or damaged. */
  | VideoChunkErrorCode
  /** The signer is not elected for the slot's epoch. */
  | 'NOT_ELECTED'
  /** The signer is not a member of the slot's certificate. */
  | 'NOT_MEMBER'
  /** A member signed it, but its content_id is not that member's certified content_hash. */
  | 'NOT_CERTIFIED'
  /** Same index as a chunk already held (or played) with a different payload: the first is kept. */
  | 'CONFLICT'
  /** total_chunks differs from the first chunk of the same content. */
  | 'TOTAL_MISMATCH'
  /** The reassembled video does not hash to the certified content_hash. */
  | 'CONTENT_HASH'
  /** More chunks before the certificate than the page buffers. */
  | 'BUFFER_FULL'

/** What the page says about each refusal, next to its code. */
export const REFUSAL_TEXT: Record<RefusalCode, string> = {
  MALFORMED: 'malformed',
  UNSUPPORTED_VERSION: 'unsupported version',
  BAD_INDEX: 'bad index',
  BAD_CONTENT_ID: 'bad content id',
  BAD_SIGNER: 'bad signer key',
  BAD_HASH: 'payload hash mismatch',
  BAD_SIGNATURE: 'bad signature',
  CHUNK_SIZE: 'bad chunk size',
  NOT_ELECTED: 'signer not elected',
  NOT_MEMBER: 'signer not in the certificate',
  NOT_CERTIFIED: 'content not certified',
  CONFLICT: 'differs from the certified bytes',
  TOTAL_MISMATCH: 'inconsistent chunk count',
  CONTENT_HASH: 'video hash mismatch',
  BUFFER_FULL: 'buffer full',
}

export type MemberCheck = { member: CertificateMember } | { refusal: 'NOT_MEMBER' | 'NOT_CERTIFIED' }

/** The certificate member that vouches for `chunk` (signer is a member, content_id = hex(its content_hash)). */
export function certifiedMember(cert: Certificate, chunk: VideoChunk): MemberCheck {
  const member = cert.members.find((m) => equalBytes(m.signer, chunk.signer))
  if (member === undefined) return { refusal: 'NOT_MEMBER' }
  if (chunk.header.content_id !== bytesToHex(member.content_hash)) return { refusal: 'NOT_CERTIFIED' }
  return { member }
}

export type AddResult = 'added' | 'duplicate' | 'CONFLICT' | 'TOTAL_MISMATCH'

/** One member's certified video being put back together by chunk_index. */
export class ContentAssembly {
  private readonly parts = new Map<number, Uint8Array>()

  constructor(
    readonly contentHash: Uint8Array,
    readonly total: number,
  ) {}

  /** Keeps the first payload of an index: a later different one is a conflict, never a replacement. */
  add(chunk: VideoChunk): AddResult {
    const { chunk_index: index, total_chunks: total } = chunk.header
    if (total !== this.total || index >= this.total) return 'TOTAL_MISMATCH'
    const held = this.parts.get(index)
    if (held !== undefined) return equalBytes(held, chunk.payload) ? 'duplicate' : 'CONFLICT'
    this.parts.set(index, chunk.payload)
    return 'added'
  }

  get received(): number {
    return this.parts.size
  }

  get complete(): boolean {
    return this.parts.size === this.total
  }

  /** The video in index order; only when complete. */
  bytes(): Uint8Array {
    if (!this.complete) throw new Error(`content incomplete: ${this.parts.size}/${this.total} chunks`)
    let size = 0
    for (const p of this.parts.values()) size += p.length
    const out = new Uint8Array(size)
    let o = 0
    for (let i = 0; i < this.total; i++) {
      const p = this.parts.get(i)!
      out.set(p, o)
      o += p.length
    }
    return out
  }
}
