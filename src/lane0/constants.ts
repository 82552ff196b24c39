// Every Lane 0 default in one place: the config schema, CLI help and docs read them from
// here. Values cite docs/protocol.md; the rest are operational choices written down in docs/lane0.md.
import { DEFAULT_CHUNK_SIZE, EMBEDDING_NORM_TOLERANCE, MAX_CHUNK_PAYLOAD_BYTES } from '../types/index.ts'
import { Lane0ConfigError } from './errors.ts'

export const LANE0_DEFAULTS = {
  /** Directors elected per epoch, n (docs/protocol.md §5). */
  directors: 5,
  /**
   * Quorum q: agreeing set size and commits for a certificate (docs/protocol.md §5). It is a chain
   * parameter (§7): 0 reads it from the chain; any other value must equal the chain's, or the
   * director refuses to start.
   */
  quorum: 0,
  /** Cosine threshold τ every pair of the agreeing set must reach (docs/protocol.md §5). */
  similarityThreshold: 0.85,
  /** Proposal collection window, ms (docs/protocol.md §5 `bft_timeout_ms`). */
  bftTimeoutMs: 5000,
  /** Commit collection window after the decision, ms (docs/protocol.md §5: = bft_timeout_ms). */
  commitTimeoutMs: 5000,
  /** Embedding L2 norm must be within this of 1 (docs/protocol.md §5 step 2). */
  embeddingNormTolerance: EMBEDDING_NORM_TOLERANCE,
  /** BFT messages for up to this many slots before the current one are still accepted (late). */
  bftLateSlots: 1,
  /** At most this many slots of BFT state are kept (early messages are buffered in them). */
  bftMaxRounds: 6,
  /** Sidecar plugin that generates Lane 0 video (docs/protocol.md §9). */
  vortexPlugin: 'vortex-lane0',
  /** Sidecar lane number for Lane 0 tasks. */
  vortexLane: 0,
  /** Vortex call timeout, ms (docs/protocol.md §9). */
  vortexTimeoutMs: 45_000,
  /** Retries after a retryable sidecar failure (docs/protocol.md §9). */
  vortexRetries: 1,
  /** Largest video accepted from the generator and bound for relays (45 s at ~10 Mbit/s ≈ 56 MiB). */
  maxVideoBytes: 64 * 1024 * 1024,
  /** Delay before the next member in rank order publishes its own video, ms (docs/protocol.md §6). */
  publishGraceMs: 3000,
  /** Video chunk payload size (docs/protocol.md §2, §6). */
  chunkSize: DEFAULT_CHUNK_SIZE,
  /** On-Deck lead time before the epoch's first block, ms (docs/protocol.md §8). */
  onDeckLeadMs: 120_000,
  /** Pending recipe slots kept (docs/protocol.md §4). */
  recipeQueueMax: 10,
  /** Recipes for slots further ahead than this are ignored (bounds what an author can queue). */
  recipeMaxSlotsAhead: 64,
  /** Recipe cut-off: ms after the slot's first block at which its recipe is frozen (docs/protocol.md §4). */
  recipeCutoffMs: 0,
  /** Delay between submitters in rank order, ms (docs/lane0.md "who submits"). */
  submitGraceMs: 3000,
  /** First retry delay after an unanswered submission, ms (doubles up to submitRetryMaxMs). */
  submitRetryBaseMs: 1000,
  submitRetryMaxMs: 30_000,
  /** How long stop() waits for an in-flight slot before abandoning it, ms. */
  shutdownGraceMs: 15_000,
  /** Journal entries kept after finality (older ones are deleted). */
  journalRetainSlots: 256,
  /** Slots in flight at once (generation of slot s+1 may overlap the publication of slot s). */
  maxInflightSlots: 3,
} as const

/** The reference quorum (docs/protocol.md §5): what a component uses when nobody passed the chain's. */
export const REFERENCE_QUORUM = 3

/**
 * The one quorum (docs/protocol.md §7): the chain's. A configured value (non-zero) that differs is a
 * configuration error naming both values.
 */
export function resolveQuorum(configured: number, chainQuorum: number): number {
  if (configured === 0 || configured === chainQuorum) return chainQuorum
  throw new Lane0ConfigError(
    'INVALID_VALUE',
    'quorum',
    `quorum: configured ${configured} differs from the chain's quorum ${chainQuorum}; set it to ${chainQuorum} or 0 (read from the chain)`,
  )
}

export type Lane0Defaults = typeof LANE0_DEFAULTS

/** Resolved Lane 0 configuration: the defaults with numbers widened. */
export type Lane0Config = {
  -readonly [K in keyof Lane0Defaults]: Lane0Defaults[K] extends number
    ? number
    : Lane0Defaults[K] extends string
      ? string
      : Lane0Defaults[K]
} & {
  /**
   * Extra authorised recipe authors (hex raw Ed25519 keys or PeerIds) besides, when
   * `epochDirectorsAreAuthors`, the directors of the recipe's epoch (docs/protocol.md §1, §4).
   */
  recipeAuthors: readonly string[]
  /** @default true */
  epochDirectorsAreAuthors: boolean
}

export function resolveLane0Config(overrides: Partial<Lane0Config> = {}): Lane0Config {
  const cfg: Lane0Config = { ...LANE0_DEFAULTS, recipeAuthors: [], epochDirectorsAreAuthors: true }
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue
    if (!(k in cfg)) throw new Lane0ConfigError('INVALID_VALUE', k, `${k}: unknown Lane 0 setting`)
    ;(cfg as Record<string, unknown>)[k] = v
  }
  validateLane0Config(cfg)
  return cfg
}

function bound(field: string, v: number, min: number, max: number, integer = true): void {
  if (
    typeof v !== 'number' ||
    !Number.isFinite(v) ||
    v < min ||
    v > max ||
    (integer && !Number.isInteger(v))
  ) {
    throw new Lane0ConfigError(
      'OUT_OF_BOUNDS',
      field,
      `${field}: ${v} must be ${integer ? 'an integer ' : ''}in ${min}..${max}`,
    )
  }
}

/** Throws Lane0ConfigError naming the field and bound of the first bad value. */
export function validateLane0Config(c: Lane0Config): void {
  const day = 86_400_000
  bound('directors', c.directors, 1, 32)
  bound('quorum', c.quorum, 0, c.directors)
  bound('similarityThreshold', c.similarityThreshold, -1, 1, false)
  bound('embeddingNormTolerance', c.embeddingNormTolerance, 0, 1, false)
  for (const f of [
    'bftTimeoutMs',
    'commitTimeoutMs',
    'vortexTimeoutMs',
    'publishGraceMs',
    'onDeckLeadMs',
    'recipeCutoffMs',
    'submitGraceMs',
    'submitRetryBaseMs',
    'submitRetryMaxMs',
    'shutdownGraceMs',
  ] as const) {
    bound(f, c[f], 0, day)
  }
  bound('bftLateSlots', c.bftLateSlots, 0, 16)
  bound('bftMaxRounds', c.bftMaxRounds, 2, 64)
  bound('vortexRetries', c.vortexRetries, 0, 10)
  bound('vortexLane', c.vortexLane, 0, 255)
  bound('maxVideoBytes', c.maxVideoBytes, 1, 2 ** 31)
  bound('chunkSize', c.chunkSize, 1, MAX_CHUNK_PAYLOAD_BYTES)
  bound('recipeQueueMax', c.recipeQueueMax, 1, 1000)
  bound('recipeMaxSlotsAhead', c.recipeMaxSlotsAhead, 1, 100_000)
  bound('journalRetainSlots', c.journalRetainSlots, 1, 1_000_000)
  bound('maxInflightSlots', c.maxInflightSlots, 1, 16)
  if (typeof c.vortexPlugin !== 'string' || c.vortexPlugin.length === 0)
    throw new Lane0ConfigError('INVALID_VALUE', 'vortexPlugin', 'vortexPlugin: must be a non-empty string')
}
