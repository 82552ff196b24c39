// Lane 0's typed errors: one class per concern with a `code` union, and
// `SlotError`, which wraps the stage error of a failed slot with its slot and stage.

export type DirectorStateErrorCode = 'INVALID_TRANSITION'

/** A director state transition that is not allowed from the current state (state unchanged). */
export class DirectorStateError extends Error {
  override readonly name = 'DirectorStateError'
  constructor(
    readonly code: DirectorStateErrorCode,
    readonly from: string,
    readonly input: string,
    message: string,
  ) {
    super(message)
  }
}

export type Lane0ConfigErrorCode = 'OUT_OF_BOUNDS' | 'INVALID_VALUE'

export class Lane0ConfigError extends Error {
  override readonly name = 'Lane0ConfigError'
  constructor(
    readonly code: Lane0ConfigErrorCode,
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}

export type VortexErrorCode = 'TIMEOUT' | 'SIDECAR_ERROR' | 'PLUGIN_FAILED' | 'BAD_OUTPUT' | 'ABORTED'

/** Generation failed: the sidecar call, the plugin, or the plugin's output. */
export class VortexError extends Error {
  override readonly name = 'VortexError'
  constructor(
    readonly code: VortexErrorCode,
    message: string,
    readonly details: {
      /** Output field at fault for BAD_OUTPUT (e.g. `clip_embedding`). */
      field?: string
      /** SidecarError code behind SIDECAR_ERROR / TIMEOUT. */
      sidecarCode?: string
      /** Finer BAD_OUTPUT cause: `EMBEDDING_ZERO`, `EMBEDDING_NOT_FINITE`, `REMUX_FAILED`. */
      reason?: string
      attempts?: number
    } = {},
    override readonly cause?: unknown,
  ) {
    super(message)
  }
}

export type BftErrorCode =
  | 'NOT_ELECTED'
  | 'UNKNOWN_EPOCH'
  | 'ROUND_IN_PROGRESS'
  | 'NO_QUORUM'
  | 'COMMIT_TIMEOUT'
  | 'ABORTED'

/** What a failed BFT round was missing (docs/protocol.md §5 step 6). */
export interface BftFailureDetails {
  epoch: bigint
  slot: bigint
  /** Distinct elected signers whose proposals arrived (equivocators included). */
  proposalsReceived: number
  expected: number
  quorum: number
  /** Hex protobuf keys of elected directors we heard no proposal from. */
  missingSigners: string[]
  /** Hex protobuf keys of directors caught equivocating this slot. */
  equivocators: string[]
  /** Proposals (excluding equivocators) carrying the local recipe_hash. */
  matchingRecipe: number
  /** Size of the largest pairwise-agreeing set found (0 if no decision was made). */
  bestAgreeingSetSize: number
  /** Commits seen for the locally decided canonical hash. */
  commitsForCanonical: number
}

export class BftError extends Error {
  override readonly name = 'BftError'
  constructor(
    readonly code: BftErrorCode,
    message: string,
    readonly details?: BftFailureDetails,
    override readonly cause?: unknown,
  ) {
    super(message)
  }
}

/** `NO_PEERS`: no peer is subscribed to the video topic (nobody to publish to). */
export type PublishErrorCode = 'PUBLISH_FAILED' | 'NO_PEERS' | 'ABORTED' | 'NOT_MEMBER'

export class PublishError extends Error {
  override readonly name = 'PublishError'
  constructor(
    readonly code: PublishErrorCode,
    message: string,
    readonly details: { published?: number; total?: number } = {},
    override readonly cause?: unknown,
  ) {
    super(message)
  }
}

export type SubmitErrorCode =
  | 'REJECTED'
  | 'CONFLICT'
  | 'NOT_ELECTED'
  | 'BAD_CERTIFICATE'
  | 'UNKNOWN_EPOCH'
  | 'SLOT_MISMATCH'
  | 'MALFORMED'

/** The chain definitively refused a result (an unanswered submission is retried, not an error). */
export class SubmitError extends Error {
  override readonly name = 'SubmitError'
  constructor(
    readonly code: SubmitErrorCode,
    message: string,
    readonly slot: bigint,
  ) {
    super(message)
  }
}

export type JournalErrorCode = 'IO' | 'CORRUPT'

export class JournalError extends Error {
  override readonly name = 'JournalError'
  constructor(
    readonly code: JournalErrorCode,
    readonly path: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message)
  }
}

export type RecipeQueueErrorCode = 'QUEUE_FULL' | 'TOO_FAR_AHEAD' | 'SLOT_CLOSED' | 'DUPLICATE' | 'NO_AUTHORS'

/** A valid recipe the queue cannot take (gossip answer: ignore). */
export class RecipeQueueError extends Error {
  override readonly name = 'RecipeQueueError'
  constructor(
    readonly code: RecipeQueueErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/** The stages of one slot (docs/protocol.md §5–§7), in order. */
export const SLOT_STAGES = ['recipe', 'generate', 'bft', 'publish', 'submit'] as const
export type SlotStage = (typeof SLOT_STAGES)[number]

export type SlotErrorCode =
  | 'NO_RECIPE'
  | 'GENERATION_FAILED'
  | 'BFT_FAILED'
  | 'PUBLISH_FAILED'
  | 'SUBMIT_FAILED'
  | 'ABANDONED'
  | 'JOURNAL_FAILED'

/** A slot that failed: which slot, at which stage, and the stage's own typed error as `cause`. */
export class SlotError extends Error {
  override readonly name = 'SlotError'
  constructor(
    readonly code: SlotErrorCode,
    readonly slot: bigint,
    readonly stage: SlotStage,
    override readonly cause: unknown,
  ) {
    super(
      `slot ${slot}: ${stage} failed (${code})${cause instanceof Error ? `: ${cause.message}` : cause === undefined ? '' : `: ${String(cause)}`}`,
    )
  }

  /** The code of the wrapped stage error, when it has one. */
  get causeCode(): string | undefined {
    const c = this.cause as { code?: unknown } | undefined
    return typeof c?.code === 'string' ? c.code : undefined
  }
}
