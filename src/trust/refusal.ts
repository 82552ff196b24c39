// The one list of reasons a viewer refuses a chunk or a slot (docs/protocol.md §6), shared by the
// browser page, the node's viewer role, the archive and the tests.
import type { VideoChunkErrorCode } from '../p2p/video.ts'

/** Why a chunk (or a reassembled video) was refused. */
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
  /** total_chunks differs from the first chunk of the same content, or exceeds the bound. */
  | 'TOTAL_MISMATCH'
  /** The reassembled video does not hash to the certified content_hash. */
  | 'CONTENT_HASH'
  /** The signer already has as many chunks (or bytes) waiting for a certificate as it may. */
  | 'BUFFER_FULL'
  /** The slot is outside the window of slots tracked around the current one. */
  | 'STALE_SLOT'

/** A short human text for each refusal, shown next to its code. */
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
  STALE_SLOT: 'slot outside the tracked window',
}
