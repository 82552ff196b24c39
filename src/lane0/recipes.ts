// Recipe intake (docs/protocol.md §4): recipes from /nsn/recipes/1.0.0 in SCALE, JSON
// or CBOR are decoded, validated, authenticated against the authorised authors (by default the
// directors of the recipe's epoch), and queued by slot (bounded). §4 fix: of two valid recipes for a
// slot, the smallest (timestamp, BLAKE3(SCALE(recipe))) received before the slot's cut-off wins on
// every honest director; the loser is logged with both hashes.
import {
  blake3,
  compareBytes,
  publicKeyFromId,
  publicKeyFromProto,
  verifyRecipeSignature,
} from '../crypto/index.ts'
import type { Gossip, ValidationResult } from '../p2p/index.ts'
import { abortReason, type Clock, type SlotClock, systemClock, TypedEmitter } from '../scheduler/index.ts'
import {
  bytesToHex,
  DEFAULT_RECIPE_BOUNDS,
  DecodeError,
  decodeRecipeAny,
  encodeRecipe,
  type Recipe,
  type RecipeBounds,
  RecipeError,
  type RecipeFormat,
  validateRecipe,
} from '../types/index.ts'
import { LANE0_DEFAULTS } from './constants.ts'
import { Lane0ConfigError, RecipeQueueError } from './errors.ts'
import { type Logger, silentLogger } from './log.ts'
import type { Lane0Metrics } from './metrics.ts'

export interface QueuedRecipe {
  recipe: Recipe
  slot: bigint
  /** BLAKE3(SCALE(recipe)): the BFT recipe_hash and the conflict tie-breaker. */
  recipeHash: Uint8Array
  /** Hex raw Ed25519 key of the author. */
  author: string
  format: RecipeFormat
  receivedAtMs: number
}

export interface RecipeEvents {
  queued: { slot: bigint; recipeId: string; recipeHash: string; author: string; replaced: string | null }
  conflict: { slot: bigint; winner: string; loser: string }
}

export interface RecipeProcessorComponents {
  gossip: Gossip
  clock?: Clock
  logger?: Logger
  metrics?: Lane0Metrics | null
}

export interface RecipeProcessorInit {
  slotClock: SlotClock
  /** @default DEFAULT_RECIPE_BOUNDS (src/types) */
  bounds?: RecipeBounds
  /** @default LANE0_DEFAULTS.recipeQueueMax */
  queueMax?: number
  /** @default LANE0_DEFAULTS.recipeMaxSlotsAhead */
  maxSlotsAhead?: number
  /** Authorised authors besides the epoch's directors: hex raw keys or PeerIds. @default [] */
  authors?: readonly string[]
  /** @default true */
  epochDirectorsAreAuthors?: boolean
  /** Install `validate` as the recipes topic validator on start. @default true */
  installValidator?: boolean
}

/** (timestamp, hash) ascending: the §4 conflict order. */
function beats(a: QueuedRecipe, b: QueuedRecipe): boolean {
  const ta = a.recipe.security.timestamp
  const tb = b.recipe.security.timestamp
  if (ta !== tb) return ta < tb
  return compareBytes(a.recipeHash, b.recipeHash) < 0
}

/** Slots whose cut-off is remembered (late recipes for them are ignored, not re-queued). */
const CLOSED_KEPT = 64
const SEEN_PER_SLOT = 32

export class RecipeProcessor {
  readonly events = new TypedEmitter<RecipeEvents>()
  private readonly gossip: Gossip
  private readonly clock: Clock
  private readonly log: Logger
  private readonly metrics: Lane0Metrics | null
  private readonly slotClock: SlotClock
  private readonly bounds: RecipeBounds
  private readonly queueMax: number
  private readonly maxSlotsAhead: bigint
  private readonly authors: ReadonlySet<string>
  private readonly epochDirectorsAreAuthors: boolean
  private readonly installValidator: boolean
  private readonly queue = new Map<bigint, QueuedRecipe>()
  /** Slots past their cut-off → the hash taken (or null while awaiting a first recipe). */
  private readonly closed = new Map<bigint, string | null>()
  private readonly waiters = new Map<bigint, Set<(r: QueuedRecipe) => void>>()
  private readonly electedAuthors = new Map<bigint, Set<string>>()
  /** Recipe hashes already taken in, per slot (duplicates are ignored without re-judging them). */
  private readonly seen = new Map<bigint, Set<string>>()
  private currentSlot: bigint | null = null
  private unsubscribe: (() => void) | null = null

  constructor(components: RecipeProcessorComponents, init: RecipeProcessorInit) {
    this.gossip = components.gossip
    this.clock = components.clock ?? systemClock
    this.log = (components.logger ?? silentLogger).child({ module: 'lane0.recipes' })
    this.metrics = components.metrics ?? null
    this.slotClock = init.slotClock
    this.bounds = init.bounds ?? DEFAULT_RECIPE_BOUNDS
    this.queueMax = init.queueMax ?? LANE0_DEFAULTS.recipeQueueMax
    this.maxSlotsAhead = BigInt(init.maxSlotsAhead ?? LANE0_DEFAULTS.recipeMaxSlotsAhead)
    this.epochDirectorsAreAuthors = init.epochDirectorsAreAuthors ?? true
    this.installValidator = init.installValidator ?? true
    const authors = new Set<string>()
    for (const [i, id] of (init.authors ?? []).entries()) {
      const raw = publicKeyFromId(id)
      if (raw === null) {
        throw new Lane0ConfigError(
          'INVALID_VALUE',
          `recipeAuthors[${i}]`,
          `recipeAuthors[${i}]: "${id.slice(0, 80)}" names no Ed25519 key (64 hex characters or a PeerId)`,
        )
      }
      authors.add(bytesToHex(raw))
    }
    this.authors = authors
  }

  start(): void {
    if (this.unsubscribe !== null) return
    if (this.installValidator) this.gossip.setValidator('recipes', (data) => this.validate(data))
    this.unsubscribe = this.gossip.subscribe('recipes', (msg) => {
      this.validate(msg.data, false)
    })
  }

  stop(): void {
    this.unsubscribe?.()
    this.unsubscribe = null
  }

  /** Directors of `epoch` (protobuf keys): authorised authors for its slots by default. */
  setElected(epoch: bigint, directors: readonly Uint8Array[]): void {
    const set = new Set<string>()
    for (const d of directors) {
      const raw = publicKeyFromProto(d)
      if (raw !== null) set.add(bytesToHex(raw))
    }
    this.electedAuthors.set(epoch, set)
    for (const e of this.electedAuthors.keys()) if (e + 2n < epoch) this.electedAuthors.delete(e)
  }

  /** Advance the current slot: recipes for earlier slots expire. */
  setCurrentSlot(slot: bigint): void {
    if (this.currentSlot !== null && slot <= this.currentSlot) return
    this.currentSlot = slot
    for (const s of this.queue.keys()) {
      if (s < slot) {
        this.queue.delete(s)
        this.metrics?.recipes.inc({ result: 'expired' })
      }
    }
    for (const s of this.closed.keys()) if (s + BigInt(CLOSED_KEPT) < slot) this.closed.delete(s)
    for (const s of this.seen.keys()) if (s < slot) this.seen.delete(s)
  }

  /** Slots with a pending recipe, ascending. */
  pendingSlots(): bigint[] {
    return [...this.queue.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  }

  /** The pending winner for `slot` without taking it. */
  peek(slot: bigint): QueuedRecipe | undefined {
    return this.queue.get(slot)
  }

  /**
   * The gossip validator (and the subscription handler): decode, validate, authenticate and queue.
   * Accepts every valid recipe — also one that loses the conflict here — so that every director
   * sees every candidate and picks the same winner.
   */
  validate(data: Uint8Array, count = true): ValidationResult {
    try {
      this.ingest(data)
      if (count) this.metrics?.recipes.inc({ result: 'accepted' })
      return 'accept'
    } catch (err) {
      const result = classify(err)
      if (count) {
        this.metrics?.recipes.inc({ result: result === 'reject' ? 'rejected' : 'ignored' })
        if (result === 'reject')
          this.log.debug(
            { code: (err as { code?: string }).code, err: (err as Error).message },
            'recipe rejected',
          )
      }
      return result
    }
  }

  /** Take in one recipe (wire bytes or a decoded recipe); throws the typed reason it was not queued. */
  ingest(input: Uint8Array | Recipe, format?: RecipeFormat): QueuedRecipe {
    let recipe: Recipe
    let fmt: RecipeFormat
    if (input instanceof Uint8Array) {
      const decoded = decodeRecipeAny(input, format)
      recipe = decoded.recipe
      fmt = decoded.format
    } else {
      recipe = input
      fmt = format ?? 'scale'
    }
    const nowMs = this.clock.now()
    validateRecipe(recipe, { nowMs, currentSlot: this.currentSlot ?? undefined }, this.bounds)
    const slot = recipe.slot_params.slot_number
    if (this.currentSlot !== null && slot > this.currentSlot + this.maxSlotsAhead) {
      throw new RecipeQueueError(
        'TOO_FAR_AHEAD',
        `slot_params.slot_number: ${slot} is more than ${this.maxSlotsAhead} slots ahead of ${this.currentSlot}`,
      )
    }
    const authorised = new Set(this.authors)
    let epochKnown = true
    if (this.epochDirectorsAreAuthors) {
      const directors = this.electedAuthors.get(this.slotClock.epochOfSlot(slot))
      if (directors === undefined) epochKnown = false
      else for (const d of directors) authorised.add(d)
    }
    if (authorised.size === 0) {
      throw new RecipeQueueError('NO_AUTHORS', `slot ${slot}: no authorised authors known yet for its epoch`)
    }
    let authorRaw: Uint8Array
    try {
      authorRaw = verifyRecipeSignature(recipe, authorised)
    } catch (err) {
      // Not decidable yet: the author may be a director of an epoch we have not heard about.
      if (err instanceof RecipeError && err.code === 'UNAUTHORISED_AUTHOR' && !epochKnown) {
        throw new RecipeQueueError('NO_AUTHORS', `slot ${slot}: author not known as authorised yet`)
      }
      throw err
    }
    const q: QueuedRecipe = {
      recipe,
      slot,
      recipeHash: blake3(encodeRecipe(recipe)),
      author: bytesToHex(authorRaw),
      format: fmt,
      receivedAtMs: nowMs,
    }
    const hashHex = bytesToHex(q.recipeHash)
    let seen = this.seen.get(slot)
    if (seen?.has(hashHex)) throw new RecipeQueueError('DUPLICATE', `slot ${slot}: recipe already received`)
    if (seen === undefined) {
      seen = new Set()
      this.seen.set(slot, seen)
    }
    // Bounded: an author flooding one slot with variants only ever costs this many entries.
    if (seen.size < SEEN_PER_SLOT) seen.add(hashHex)
    const closed = this.closed.get(slot)
    if (closed !== undefined && closed !== null) {
      if (closed === hashHex) throw new RecipeQueueError('DUPLICATE', `slot ${slot}: recipe already taken`)
      this.log.info({ slot, winner: closed, loser: hashHex }, 'recipe after the cut-off: ignored')
      throw new RecipeQueueError('SLOT_CLOSED', `slot ${slot}: past its recipe cut-off`)
    }
    if (closed === null) {
      // The cut-off passed with no recipe: the first valid one to arrive is taken at once.
      this.closed.set(slot, hashHex)
      this.log.info({ slot, recipeHash: hashHex, recipeId: recipe.recipe_id }, 'late recipe taken')
      for (const w of this.waiters.get(slot) ?? []) w(q)
      this.waiters.delete(slot)
      return q
    }
    const existing = this.queue.get(slot)
    if (existing !== undefined) {
      const existingHex = bytesToHex(existing.recipeHash)
      if (existingHex === hashHex)
        throw new RecipeQueueError('DUPLICATE', `slot ${slot}: recipe already queued`)
      const winner = beats(q, existing) ? q : existing
      const loser = winner === q ? existing : q
      const winnerHex = bytesToHex(winner.recipeHash)
      const loserHex = bytesToHex(loser.recipeHash)
      this.log.warn({ slot, winner: winnerHex, loser: loserHex }, 'recipe conflict settled')
      this.metrics?.recipes.inc({ result: 'superseded' })
      this.events.emit('conflict', { slot, winner: winnerHex, loser: loserHex })
      if (winner === q) {
        this.queue.set(slot, q)
        this.events.emit('queued', {
          slot,
          recipeId: recipe.recipe_id,
          recipeHash: hashHex,
          author: q.author,
          replaced: existingHex,
        })
      }
      return winner
    }
    if (this.queue.size >= this.queueMax) {
      const furthest = this.pendingSlots().at(-1)!
      if (slot > furthest) throw new RecipeQueueError('QUEUE_FULL', `queue: ${this.queueMax} slots pending`)
      this.queue.delete(furthest)
      this.log.info({ slot: furthest }, 'recipe queue full: dropped the furthest slot')
    }
    this.queue.set(slot, q)
    this.events.emit('queued', {
      slot,
      recipeId: recipe.recipe_id,
      recipeHash: hashHex,
      author: q.author,
      replaced: null,
    })
    this.log.info({ slot, recipeId: recipe.recipe_id, recipeHash: hashHex }, 'recipe queued')
    return q
  }

  /**
   * The slot's cut-off: freeze and return its winner. When none is queued the slot waits for the
   * first valid recipe (see `waitFor`).
   */
  take(slot: bigint): QueuedRecipe | null {
    const q = this.queue.get(slot)
    if (q !== undefined) {
      this.queue.delete(slot)
      this.closed.set(slot, bytesToHex(q.recipeHash))
      return q
    }
    if (!this.closed.has(slot)) this.closed.set(slot, null)
    return null
  }

  /** Resolve with the first recipe that arrives for `slot` after an empty `take`. */
  waitFor(slot: bigint, signal?: AbortSignal): Promise<QueuedRecipe> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal))
        return
      }
      let set = this.waiters.get(slot)
      if (set === undefined) {
        set = new Set()
        this.waiters.set(slot, set)
      }
      const onAbort = () => {
        set.delete(done)
        reject(abortReason(signal!))
      }
      const done = (r: QueuedRecipe) => {
        signal?.removeEventListener('abort', onAbort)
        resolve(r)
      }
      set.add(done)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

/** One place that maps intake errors to gossip answers. */
function classify(err: unknown): ValidationResult {
  if (err instanceof DecodeError) return 'reject'
  if (err instanceof RecipeQueueError) return 'ignore'
  if (err instanceof RecipeError) {
    // Only a signature that does not verify under the recipe's own director_id follows from the
    // bytes alone. Bounds and the author set are this node's settings, a past slot or a future
    // timestamp its clock: ignore, so differently configured honest nodes never penalise each other.
    return err.code === 'BAD_SIGNATURE' ? 'reject' : 'ignore'
  }
  return 'ignore'
}
