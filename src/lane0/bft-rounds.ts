// The BFT round store (docs/protocol.md §5): what this director holds per slot — proposals, commits,
// equivocators, the certificate, its own round — and the elected sets of the newest epochs. Bounded
// as §2 asks of state keyed by attacker-chosen values: at most `maxRounds` rounds, only slots in a
// window around the chain's slot (rounds older than `lateSlots` are dropped as the slot moves), an
// idle round evicted before a new one opens, never a round this director is still running.

import { abortReason, type Clock } from '../scheduler/index.ts'
import type {
  Certificate,
  CertificateMember,
  Commit,
  EquivocationEvidence,
  Proposal,
} from '../types/index.ts'
import { bytesToHex, equalBytes } from '../types/index.ts'
import { BftError, type BftFailureDetails } from './errors.ts'

/** The §5 step 4 decision of this director for a slot. */
export interface Decision {
  members: CertificateMember[]
  canonicalHash: Uint8Array
  similarity: number
  matchingRecipe: number
}

/** This director's own round in a slot. */
export interface LocalRound {
  recipeHash: Uint8Array
  active: boolean
  /** The decision step ran (whether or not it found a quorum). */
  decided: boolean
  decision: Decision | null
  /** Size of the best agreeing set found, even when below the quorum. */
  bestSize: number
  matchingRecipe: number
}

export interface Round {
  epoch: bigint
  slot: bigint
  /** Signer (hex protobuf key) → its proposal; an equivocator's is removed. */
  proposals: Map<string, Proposal>
  equivocators: Set<string>
  evidence: Map<string, EquivocationEvidence>
  commits: Map<string, Commit>
  commitEquivocators: Set<string>
  certificate: Certificate | null
  certificateHash: Uint8Array | null
  certificateSource: 'local' | 'network' | null
  local: LocalRound | null
  proposalsAtDecision: number
  /** Woken on every change (the driver's waits). */
  waiters: Set<() => void>
}

/** Epochs whose elected sets are kept (the newest ones). */
const ELECTED_EPOCHS_KEPT = 4

export class RoundStore {
  private readonly elected = new Map<bigint, Set<string>>()
  private readonly rounds = new Map<bigint, Round>()
  private slot: bigint | null = null

  constructor(
    /** Rounds held at most. */
    readonly maxRounds: number,
    /** Slots behind the current one still taken in. */
    readonly lateSlots: bigint,
  ) {}

  /** Who is elected for `epoch` (protobuf keys). Keeps the newest few epochs. */
  setElected(epoch: bigint, directors: readonly Uint8Array[]): void {
    this.elected.set(epoch, new Set(directors.map(bytesToHex)))
    const keep = [...this.elected.keys()]
      .sort((a, b) => (a < b ? 1 : a > b ? -1 : 0))
      .slice(0, ELECTED_EPOCHS_KEPT)
    for (const e of this.elected.keys()) if (!keep.includes(e)) this.elected.delete(e)
  }

  electedOf(epoch: bigint): Set<string> | undefined {
    return this.elected.get(epoch)
  }

  get currentSlot(): bigint | null {
    return this.slot
  }

  /** Move the slot window forward and drop the rounds that left it (never an active one). */
  setCurrentSlot(slot: bigint): void {
    if (this.slot !== null && slot <= this.slot) return
    this.slot = slot
    for (const [s, r] of this.rounds) {
      if (s + this.lateSlots < slot && !r.local?.active) this.rounds.delete(s)
    }
  }

  get(slot: bigint): Round | undefined {
    return this.rounds.get(slot)
  }

  /** Whether this director runs its own round of `slot` right now. */
  isActive(slot: bigint): boolean {
    return this.rounds.get(slot)?.local?.active === true
  }

  /**
   * The slot whose round would be evicted to open one for `slot`: null when there is room (or the
   * round exists), undefined when no idle round older than `slot` can make room.
   */
  evictionFor(slot: bigint): bigint | null | undefined {
    if (this.rounds.has(slot) || this.rounds.size < this.maxRounds) return null
    let oldest: bigint | undefined
    for (const [s, r] of this.rounds) {
      if (!r.local?.active && (oldest === undefined || s < oldest)) oldest = s
    }
    return oldest === undefined || oldest > slot ? undefined : oldest
  }

  /** The round of `slot`, opened (evicting the oldest idle one) if needed; undefined when full. */
  open(slot: bigint, epoch: bigint): Round | undefined {
    const existing = this.rounds.get(slot)
    if (existing !== undefined) return existing
    const victim = this.evictionFor(slot)
    if (victim === undefined) return undefined
    if (victim !== null) this.rounds.delete(victim)
    const r: Round = {
      epoch,
      slot,
      proposals: new Map(),
      equivocators: new Set(),
      evidence: new Map(),
      commits: new Map(),
      commitEquivocators: new Set(),
      certificate: null,
      certificateHash: null,
      certificateSource: null,
      local: null,
      proposalsAtDecision: 0,
      waiters: new Set(),
    }
    this.rounds.set(slot, r)
    return r
  }
}

/** Distinct elected signers heard in the round (equivocators included). */
export function heard(r: Round): number {
  let n = r.proposals.size
  for (const e of r.equivocators) if (!r.proposals.has(e)) n++
  return n
}

export function notify(r: Round): void {
  for (const w of [...r.waiters]) w()
}

/** Wait until `pred` holds after a change to `r`, or `ms` passed on the clock (then: `pred()`). */
export function waitForRound(
  clock: Clock,
  r: Round,
  pred: () => boolean,
  ms: number,
  signal?: AbortSignal,
): Promise<boolean> {
  if (pred()) return Promise.resolve(true)
  return new Promise((resolve, rejectP) => {
    const cleanup = () => {
      clock.clearTimeout(timer)
      r.waiters.delete(check)
      signal?.removeEventListener('abort', onAbort)
    }
    const check = () => {
      if (pred()) {
        cleanup()
        resolve(true)
      }
    }
    const onAbort = () => {
      cleanup()
      rejectP(new BftError('ABORTED', `slot ${r.slot}: round aborted`, undefined, abortReason(signal!)))
    }
    const timer = clock.setTimeout(() => {
      cleanup()
      resolve(pred())
    }, ms)
    r.waiters.add(check)
    signal?.addEventListener('abort', onAbort, { once: true })
    if (signal?.aborted) onAbort()
  })
}

/** What a failed round was missing (docs/protocol.md §5 step 6). */
export function failureDetails(r: Round, elected: Set<string>, quorum: number): BftFailureDetails {
  const heard = new Set([...r.proposals.keys(), ...r.equivocators])
  const d = r.local?.decision
  return {
    epoch: r.epoch,
    slot: r.slot,
    proposalsReceived: heard.size,
    expected: elected.size,
    quorum,
    missingSigners: [...elected].filter((s) => !heard.has(s)).sort(),
    equivocators: [...r.equivocators].sort(),
    matchingRecipe: r.local?.matchingRecipe ?? 0,
    bestAgreeingSetSize: r.local?.bestSize ?? 0,
    commitsForCanonical:
      d == null
        ? 0
        : [...r.commits.values()].filter((c) => equalBytes(c.canonical_hash, d.canonicalHash)).length,
  }
}

export function describeFailure(code: 'NO_QUORUM' | 'COMMIT_TIMEOUT', d: BftFailureDetails): string {
  const missing =
    d.missingSigners.length === 0 ? 'none' : d.missingSigners.map((s) => s.slice(8, 20)).join(', ')
  const head =
    code === 'NO_QUORUM'
      ? `largest agreeing set has ${d.bestAgreeingSetSize} members, quorum is ${d.quorum}`
      : `${d.commitsForCanonical} of ${d.quorum} commits for our canonical hash before the commit timeout`
  return (
    `slot ${d.slot}: ${head}; proposals ${d.proposalsReceived}/${d.expected} ` +
    `(${d.matchingRecipe} with our recipe), missing signers: ${missing}` +
    (d.equivocators.length > 0 ? `, equivocators: ${d.equivocators.length}` : '')
  )
}
