// Default application validators, one per topic (docs/protocol.md §2), in Lodestar's style:
// pure `validateX(deps, data)` functions that return the decoded message or throw a
// GossipValidationError(REJECT|IGNORE, code). Size and rate limits run before them (adapter.ts).
// The mapped registry type makes a topic without a validator a compile error.
import { publicKeyFromProto, verifyRecipeSignature } from '../crypto/index.ts'
import {
  type BftSignal,
  bytesToHex,
  type ChallengeEvidence,
  DEFAULT_RECIPE_BOUNDS,
  DecodeError,
  decodeBftSignal,
  decodeChallenge,
  decodeRecipeAny,
  type Recipe,
  type RecipeBounds,
  RecipeError,
  TOPIC_MAX_BYTES,
  type VideoChunk,
  validateRecipe,
} from '../types/index.ts'
import { GossipAction, GossipValidationError, ignoreWith, rejectWith } from './errors.ts'
import type { TopicName } from './topics.ts'
import { decodeAndVerifyVideoChunk, VideoChunkError } from './video.ts'
import type { ElectedForSlot, VideoChunkPolicy } from './video-policy.ts'

/** What each topic's default validator decodes to; subscribers of `subscribeDecoded` receive it. */
export interface TopicDecoded {
  recipes: Recipe
  video: VideoChunk
  bft: BftSignal
  attestations: Uint8Array
  challenges: ChallengeEvidence
  tasks: Uint8Array
}

/**
 * A validator in Lodestar's style: returns the decoded message (accept) or throws a
 * GossipValidationError. `from` is the propagation source (the peer that handed it to us).
 */
export type GossipValidatorFn<V> = (data: Uint8Array, from: string) => V | Promise<V>

/** One validator per topic; leaving one out does not compile. */
export type TopicValidatorRegistry = { [T in TopicName]: GossipValidatorFn<TopicDecoded[T]> }

// ---------------------------------------------------------------------------------------------
// video: /nsn/video/1.0.0

export interface VideoValidationDeps {
  policy: VideoChunkPolicy
  /** @default TOPIC_MAX_BYTES.video */
  maxBytes?: number
}

/** docs/protocol.md §3, §6: decode, BLAKE3(payload) = payload_hash, Ed25519 over SCALE(header), then the policy. */
export function validateVideoChunk(deps: VideoValidationDeps, data: Uint8Array): VideoChunk {
  let chunk: VideoChunk
  try {
    // §3: malformed, bad index/content id/signer key, payload hash and signature: all REJECT,
    // every node reaches the same verdict from the bytes alone.
    chunk = decodeAndVerifyVideoChunk(data, deps.maxBytes ?? TOPIC_MAX_BYTES.video).chunk
  } catch (err) {
    if (err instanceof VideoChunkError) {
      const code = err.code === 'CHUNK_SIZE' ? 'MALFORMED' : err.code
      rejectWith(code, err.message, err)
    }
    throw err
  }
  // §6: signer elected for the slot, per-slot bounds, duplicates (the policy throws).
  deps.policy.check(chunk)
  return chunk
}

// ---------------------------------------------------------------------------------------------
// recipes: /nsn/recipes/1.0.0

/**
 * Hex raw public keys (the `director_id` form) of the authors allowed to sign recipes for `slot`,
 * or null when not known yet (ignored, not rejected).
 */
export type AuthorisedAuthors = (slot: bigint) => ReadonlySet<string> | null

export interface RecipeValidationDeps {
  authorisedAuthors: AuthorisedAuthors
  /** Unix ms. */
  now: () => number
  /** The slot the network is in; recipes for earlier slots are stale. */
  currentSlot?: () => bigint | undefined
  bounds?: RecipeBounds
  /** @default TOPIC_MAX_BYTES.recipes */
  maxBytes?: number
}

/** By default the directors of the epoch are the authors (docs/protocol.md §1, §4). */
export function authorsFromElection(electedForSlot: ElectedForSlot): AuthorisedAuthors {
  return (slot) => {
    const elected = electedForSlot(slot)
    if (elected === null) return null
    const out = new Set<string>()
    for (const k of elected) {
      const raw = publicKeyFromProto(k)
      if (raw !== null) out.add(bytesToHex(raw))
    }
    return out
  }
}

/** docs/protocol.md §3, §4: decode (SCALE, JSON or CBOR), bounds, author authorised, signature. */
export function validateRecipeMessage(deps: RecipeValidationDeps, data: Uint8Array): Recipe {
  let recipe: Recipe
  try {
    // §3: trailing bytes, truncation, over-long lengths: REJECT.
    recipe = decodeRecipeAny(data, undefined, deps.maxBytes ?? TOPIC_MAX_BYTES.recipes).recipe
  } catch (err) {
    if (err instanceof DecodeError) rejectWith('MALFORMED', err.message, err)
    throw err
  }
  try {
    validateRecipe(
      recipe,
      { nowMs: deps.now(), currentSlot: deps.currentSlot?.() },
      deps.bounds ?? DEFAULT_RECIPE_BOUNDS,
    )
    const slot = recipe.slot_params.slot_number
    const authors = deps.authorisedAuthors(slot)
    // §4: the author set comes from config/chain; not knowing it yet is not the sender's fault.
    if (authors === null)
      ignoreWith('AUTHORS_UNKNOWN', `slot_params.slot_number: authors of slot ${slot} not known yet`)
    // §4: signature by an authorised author over "NSN-RECIPE-v1" ‖ SCALE(unsigned recipe).
    verifyRecipeSignature(recipe, authors)
  } catch (err) {
    if (err instanceof RecipeError) throw recipeErrorToGossip(err)
    throw err
  }
  return recipe
}

function recipeErrorToGossip(err: RecipeError): GossipValidationError {
  switch (err.code) {
    // §2 "stale": a recipe for a slot already past is ignored.
    case 'SLOT_PAST':
      return new GossipValidationError(GossipAction.IGNORE, 'STALE', err.message, err)
    // Clock skew between nodes differs: a timestamp ahead of our clock is "not yet decidable".
    case 'FUTURE_TIMESTAMP':
      return new GossipValidationError(GossipAction.IGNORE, 'NOT_YET_VALID', err.message, err)
    case 'BAD_SIGNATURE':
      return new GossipValidationError(GossipAction.REJECT, 'BAD_SIGNATURE', err.message, err)
    // The author set and the bounds are this node's configuration (docs/protocol.md §2: ignore).
    case 'UNAUTHORISED_AUTHOR':
      return new GossipValidationError(GossipAction.IGNORE, 'UNAUTHORISED_AUTHOR', err.message, err)
    default:
      return new GossipValidationError(GossipAction.IGNORE, 'INVALID_RECIPE', err.message, err)
  }
}

// ---------------------------------------------------------------------------------------------
// bft, challenges: decode-level checks (building blocks for full validators and tests). Lane 0
// installs the full rules (elected signer, signatures, slot window) with Gossip.setValidator.

/** docs/protocol.md §5: a BftSignal that decodes (variant 16/17/18, no trailing bytes). */
export function validateBftDecodes(data: Uint8Array, maxBytes: number = TOPIC_MAX_BYTES.bft): BftSignal {
  try {
    return decodeBftSignal(data, maxBytes)
  } catch (err) {
    if (err instanceof DecodeError) rejectWith('MALFORMED', err.message, err)
    throw err
  }
}

/** docs/protocol.md §5: equivocation evidence (two proposals, or two commits) that decodes. */
export function validateEvidenceDecodes(
  data: Uint8Array,
  maxBytes: number = TOPIC_MAX_BYTES.challenges,
): ChallengeEvidence {
  try {
    return decodeChallenge(data, maxBytes)
  } catch (err) {
    if (err instanceof DecodeError) rejectWith('MALFORMED', err.message, err)
    throw err
  }
}

/** Non-empty (size is checked before): what a test carrier topic needs, nothing more. */
export function validateNonEmpty(data: Uint8Array): Uint8Array {
  if (data.length === 0) rejectWith('EMPTY', 'data: empty message')
  return data
}

/**
 * docs/protocol.md §2 start-up window: until the full validator of `topic` is installed, its messages
 * are ignored. A decode-only check would accept (and forward) forged proposals and evidence.
 */
export function pendingValidator(topic: TopicName): () => never {
  return () => ignoreWith('VALIDATOR_PENDING', `${topic}: the full validator is not installed yet`)
}

/**
 * docs/protocol.md §2: a topic is relayed only when its messages are authenticated. `attestations` and
 * `tasks` have no signed wire type in this node, so they are not joined and anything arriving on
 * them is ignored; an application that defines one installs its own validator.
 */
export function notRelayedValidator(topic: TopicName): () => never {
  return () => ignoreWith('NOT_RELAYED', `${topic}: carries no authenticated wire type here; not relayed`)
}

// ---------------------------------------------------------------------------------------------

export interface DefaultValidatorDeps {
  video: VideoValidationDeps
  recipes: RecipeValidationDeps
  maxBytes: Readonly<Record<TopicName, number>>
}

/**
 * The default registry: full validators for recipes and video; bft and challenges wait for Lane 0's
 * (ignored until installed); attestations and tasks are not relayed.
 */
export function createDefaultValidators(deps: DefaultValidatorDeps): TopicValidatorRegistry {
  return {
    recipes: (data) => validateRecipeMessage(deps.recipes, data),
    video: (data) => validateVideoChunk(deps.video, data),
    bft: pendingValidator('bft'),
    attestations: notRelayedValidator('attestations'),
    challenges: pendingValidator('challenges'),
    tasks: notRelayedValidator('tasks'),
  }
}
