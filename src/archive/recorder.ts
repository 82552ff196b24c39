// The node's viewer role feeding the archive: it follows the gossip as a viewer does (certificates
// checked against the chain's elected set, chunks through the trust rules of docs/protocol.md §6),
// and stores a slot once its video, certificate and recipe all verified.
import type { Logger } from 'pino'
import { blake3 } from '../crypto/blake3.ts'
import type { Gossip } from '../p2p/index.ts'
import { CertifiedSlots, type CompletedSlot, checkCertificate, type TrustAnchor } from '../trust/index.ts'
import {
  type Certificate,
  decodeBftSignal,
  decodeRecipeAny,
  decodeVideoChunk,
  encodeRecipe,
  equalBytes,
  type Recipe,
} from '../types/index.ts'
import type { SlotArchive } from './store.ts'

export interface ArchiveRecorderComponents {
  gossip: Gossip
  archive: SlotArchive
  /** The chain's elected set (protobuf keys) of an epoch, or null when not known yet. */
  electedFor: (epoch: bigint) => readonly Uint8Array[] | null
  logger?: Logger
}

/** Recipes remembered per slot (one author may replace its recipe; a few are enough). */
const MAX_RECIPES_PER_SLOT = 4

export class ArchiveRecorder {
  private readonly trust: CertifiedSlots
  private readonly recipes = new Map<bigint, Recipe[]>()
  /** Completed slots waiting for the recipe their certificate names. */
  private readonly waiting = new Map<bigint, CompletedSlot>()
  private readonly unsubscribe: (() => void)[] = []
  private readonly electedSet = new Set<bigint>()
  /** Slots stored since start (for status and tests). */
  stored = 0

  constructor(
    private readonly components: ArchiveRecorderComponents,
    private readonly anchor: TrustAnchor,
  ) {
    this.trust = new CertifiedSlots(anchor)
  }

  start(): void {
    const { gossip } = this.components
    this.unsubscribe.push(
      gossip.subscribe('bft', (m) => {
        const s = safe(() => decodeBftSignal(m.data))
        if (s?.kind === 'Certificate') this.onCertificate(s.value)
      }),
      gossip.subscribe('video', (m) => {
        const c = safe(() => decodeVideoChunk(m.data))
        if (c === null) return
        this.knowElected(c.header.slot / BigInt(this.anchor.slotsPerEpoch))
        const r = this.trust.addChunk(c)
        if (r.status === 'complete') this.onComplete(r.completed)
      }),
      gossip.subscribe('recipes', (m) => {
        const r = safe(() => decodeRecipeAny(m.data).recipe)
        if (r !== null) this.onRecipe(r)
      }),
    )
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u()
  }

  /** The chain's current slot: the window of slots followed moves with it. */
  setCurrentSlot(slot: bigint): void {
    this.trust.setCurrentSlot(slot)
    for (const s of [...this.recipes.keys()]) if (!this.trust.inWindow(s)) this.recipes.delete(s)
    for (const s of [...this.waiting.keys()]) if (!this.trust.inWindow(s)) this.waiting.delete(s)
  }

  /** The slot's certificate as verified from gossip (null when none, or outside the window). */
  certificate(slot: bigint): Certificate | null {
    return this.trust.certificate(slot)
  }

  private knowElected(epoch: bigint): void {
    if (this.electedSet.has(epoch)) return
    const e = this.components.electedFor(epoch)
    if (e === null) return
    this.trust.setElected(epoch, e)
    this.electedSet.add(epoch)
    if (this.electedSet.size > 8) this.electedSet.delete(this.electedSet.values().next().value!)
  }

  private onCertificate(cert: Certificate): void {
    if (this.trust.certificate(cert.slot) !== null || !this.trust.inWindow(cert.slot)) return
    try {
      checkCertificate(cert, this.anchor, this.components.electedFor(cert.epoch))
    } catch {
      return // refused; a valid certificate of the slot may still come
    }
    this.knowElected(cert.epoch)
    for (const { outcome } of this.trust.addCertificate(cert))
      if (outcome.status === 'complete') this.onComplete(outcome.completed)
  }

  /**
   * The chain's accepted certificate of a slot (docs/protocol.md §7): where two valid certificates
   * exist for one slot the archive records the chain's content, whichever certificate came first.
   */
  followChain(cert: Certificate): void {
    if (!this.trust.inWindow(cert.slot) || cert.members.length === 0) return
    try {
      checkCertificate(cert, this.anchor, this.components.electedFor(cert.epoch))
    } catch {
      return // the Substrate client may not hold the certificate; a refused one changes nothing
    }
    this.knowElected(cert.epoch)
    const before = this.trust.certificate(cert.slot)
    const placed = this.trust.adoptChainCertificate(cert)
    if (this.trust.certificate(cert.slot) !== before) this.waiting.delete(cert.slot)
    for (const { outcome } of placed) if (outcome.status === 'complete') this.onComplete(outcome.completed)
  }

  private onRecipe(recipe: Recipe): void {
    const slot = recipe.slot_params.slot_number
    if (!this.trust.inWindow(slot)) return
    const list = this.recipes.get(slot) ?? []
    if (list.length >= MAX_RECIPES_PER_SLOT) return
    list.push(recipe)
    this.recipes.set(slot, list)
    const done = this.waiting.get(slot)
    if (done !== undefined) this.onComplete(done)
  }

  private onComplete(done: CompletedSlot): void {
    const recipe = this.recipes
      .get(done.slot)
      ?.find((r) => equalBytes(blake3(encodeRecipe(r)), done.certificate.recipe_hash))
    if (recipe === undefined) {
      this.waiting.set(done.slot, done)
      return
    }
    this.waiting.delete(done.slot)
    const elected = this.components.electedFor(done.certificate.epoch)
    if (elected === null) return
    this.components.archive
      .put({ completed: done, recipe, elected, anchor: this.anchor })
      .then((stored) => {
        if (stored) this.stored++
      })
      .catch((err: unknown) => {
        this.components.logger?.warn({ slot: done.slot, err: (err as Error).message }, 'archive write failed')
      })
  }
}

function safe<T>(fn: () => T): T | null {
  try {
    return fn()
  } catch {
    return null
  }
}
