// The two error kinds of the mesh: P2PError for what our own node could not do
// (publish, config), GossipValidationError for a remote message a validator refuses. Both carry a
// bounded `code` so that metrics can label by it and tests can check it.
import type { VideoChunkErrorCode } from './video.ts'

export type P2PErrorCode =
  /** The message is larger than the topic's limit or than what GossipSub can send (its outbound frame cap). */
  | 'OVERSIZE'
  /** No peer is subscribed to the topic (or none above the publish score threshold). */
  | 'NO_PEERS'
  /** Peers were selected but the message could not be written to any of them. */
  | 'NOT_SENT'
  /** publish/subscribe before start() or after stop(). */
  | 'NOT_STARTED'
  /** Refused configuration value (the message names the key and the bound). */
  | 'INVALID_CONFIG'
  /** Any other failure of the underlying GossipSub publish. */
  | 'PUBLISH_FAILED'

/** A local mesh operation failed. */
export class P2PError extends Error {
  override readonly name = 'P2PError'
  constructor(
    readonly code: P2PErrorCode,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message)
  }
  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message }
  }
}

/**
 * What a validator does with a refused message (docs/protocol.md §2): `reject` = invalid, lowers the
 * sender's peer score (GossipSub P4); `ignore` = not forwarded, not delivered, no penalty
 * (duplicate, stale, not yet decidable, over our local rate budget).
 */
export const GossipAction = { REJECT: 'reject', IGNORE: 'ignore' } as const
export type GossipAction = (typeof GossipAction)[keyof typeof GossipAction]

/** Why a message was refused. A bounded set: it is a metrics label. */
export type GossipErrorCode =
  // any topic: the gate in front of every validator
  | 'OVERSIZE'
  | 'EMPTY'
  | 'RATE_LIMITED'
  | 'GRAYLISTED'
  | 'DUPLICATE'
  // a reference-implementation BftSignal (variants 0 Embedding, 1 Vote): ignored and counted (§2)
  | 'REFERENCE_MESSAGE'
  // the topic's full validator is not installed yet (start-up window), or the topic carries no
  // authenticated wire type and is not relayed (attestations, tasks)
  | 'VALIDATOR_PENDING'
  | 'NOT_RELAYED'
  // decoding / structure: a chunk's own verification codes (src/p2p/video.ts), also used for other topics
  | Exclude<VideoChunkErrorCode, 'CHUNK_SIZE'>
  // authorisation and per-slot bounds (docs/protocol.md §6)
  | 'UNAUTHORISED_SIGNER'
  | 'ELECTION_UNKNOWN'
  | 'TOO_MANY_CHUNKS'
  | 'TOO_MANY_CONTENT_IDS'
  | 'STALE'
  | 'OUT_OF_WINDOW'
  | 'CHUNK_TOO_LARGE'
  | 'CONTENT_TOO_LARGE'
  // recipes (docs/protocol.md §4)
  | 'INVALID_RECIPE'
  | 'UNAUTHORISED_AUTHOR'
  | 'AUTHORS_UNKNOWN'
  | 'NOT_YET_VALID'
  // BFT and challenges (docs/protocol.md §5), thrown by Lane 0's validators (src/lane0/bft-validate.ts)
  | 'EPOCH_MISMATCH'
  | 'UNELECTED_SIGNER'
  | 'BAD_EMBEDDING'
  | 'BAD_CERTIFICATE'
  | 'BAD_EVIDENCE'
  | 'UNKNOWN_EPOCH'
  | 'STALE_SLOT'
  | 'FUTURE_SLOT'
  | 'TOO_MANY_ROUNDS'
  | 'EQUIVOCATION'
  | 'EQUIVOCATOR'
  | 'CONFLICTING_COMMIT'
  | 'ROUND_CLOSED'
  | 'EMBEDDING_NORM'
  // validators installed with setValidator that answer with a bare result, or that threw
  | 'APP_REJECT'
  | 'APP_IGNORE'
  | 'VALIDATOR_ERROR'

/** Thrown by a `validateX` function; the one adapter maps it to reject/ignore and counts it. */
export class GossipValidationError extends Error {
  override readonly name = 'GossipValidationError'
  constructor(
    readonly action: GossipAction,
    readonly code: GossipErrorCode,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message)
  }
  toJSON(): { action: string; code: string; message: string } {
    return { action: this.action, code: this.code, message: this.message }
  }
}

export function rejectWith(code: GossipErrorCode, message: string, cause?: unknown): never {
  throw new GossipValidationError(GossipAction.REJECT, code, message, cause)
}

export function ignoreWith(code: GossipErrorCode, message: string, cause?: unknown): never {
  throw new GossipValidationError(GossipAction.IGNORE, code, message, cause)
}
