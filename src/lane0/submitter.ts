// Chain submission of certified results (docs/protocol.md §7), driven by the slot journal. Who submits:
// every director holding the certificate, in turn — the certificate's members in rank order, then the
// other elected directors by rank key — each `submitGraceMs` after the previous one, and only if the
// chain does not already hold the slot's result. Unanswered calls are retried with backoff until
// accepted or definitively rejected; a call that may have been sent is never repeated without first
// asking the chain (`slotResult`), so a slot is never submitted twice by one director.
import type { ChainClient, SubmitOutcome } from '../chain/client.ts'
import { compareBytes, type NodeKey, rankKey } from '../crypto/index.ts'
import { type Clock, systemClock, TypedEmitter } from '../scheduler/index.ts'
import { bytesToHex, type Certificate, equalBytes } from '../types/index.ts'
import { LANE0_DEFAULTS } from './constants.ts'
import type { SubmitErrorCode } from './errors.ts'
import {
  type JournalEntry,
  newJournalEntry,
  type SlotJournal,
  type SubmissionState,
  TERMINAL_SUBMISSION_STATES,
} from './journal.ts'
import { type Logger, silentLogger } from './log.ts'
import type { Lane0Metrics } from './metrics.ts'

export interface SubmissionEvent {
  epoch: bigint
  slot: bigint
  state: SubmissionState
  attempts: number
  block: bigint | null
  detail: string | null
}

/**
 * What a submission came to: its state; the code when the chain refused it for good (`CONFLICT`: it
 * holds a different result for the slot); the chain's detail. `code` is null unless refused.
 */
export interface SubmissionResult {
  state: SubmissionState
  code: SubmitErrorCode | null
  detail: string | null
}

export interface SubmitterEvents {
  submission: SubmissionEvent
  finalized: { epoch: bigint; slot: bigint; block: bigint; canonicalHash: Uint8Array }
}

export interface ResultSubmitterComponents {
  chain: ChainClient
  key: NodeKey
  journal: SlotJournal
  clock?: Clock
  logger?: Logger
  metrics?: Lane0Metrics | null
}

export interface ResultSubmitterInit {
  /** @default LANE0_DEFAULTS.submitGraceMs */
  submitGraceMs?: number
  /** @default LANE0_DEFAULTS.submitRetryBaseMs */
  retryBaseMs?: number
  /** @default LANE0_DEFAULTS.submitRetryMaxMs */
  retryMaxMs?: number
}

/**
 * The order in which directors submit a slot's certificate: members in rank order (the canonical
 * first), then every other elected director by rank key BLAKE3(slot ‖ key).
 */
export function submitterOrder(
  slot: bigint,
  certificate: Certificate,
  elected: readonly Uint8Array[],
): Uint8Array[] {
  const members = certificate.members.map((m) => m.signer)
  const memberSet = new Set(members.map(bytesToHex))
  const others = elected
    .filter((k) => !memberSet.has(bytesToHex(k)))
    .map((k) => ({ k, r: rankKey(slot, k) }))
    .sort((a, b) => compareBytes(a.r, b.r))
    .map((x) => x.k)
  return [...members, ...others]
}

export class ResultSubmitter {
  readonly events = new TypedEmitter<SubmitterEvents>()
  private readonly chain: ChainClient
  private readonly key: NodeKey
  private readonly journal: SlotJournal
  private readonly clock: Clock
  private readonly log: Logger
  private readonly metrics: Lane0Metrics | null
  readonly submitGraceMs: number
  private readonly retryBaseMs: number
  private readonly retryMaxMs: number
  private readonly timers = new Map<bigint, unknown>()
  private readonly running = new Map<bigint, Promise<SubmissionResult>>()
  private stopped = false

  constructor(components: ResultSubmitterComponents, init: ResultSubmitterInit = {}) {
    this.chain = components.chain
    this.key = components.key
    this.journal = components.journal
    this.clock = components.clock ?? systemClock
    this.log = (components.logger ?? silentLogger).child({ module: 'lane0.submitter' })
    this.metrics = components.metrics ?? null
    this.submitGraceMs = init.submitGraceMs ?? LANE0_DEFAULTS.submitGraceMs
    this.retryBaseMs = init.retryBaseMs ?? LANE0_DEFAULTS.submitRetryBaseMs
    this.retryMaxMs = init.retryMaxMs ?? LANE0_DEFAULTS.submitRetryMaxMs
  }

  /** Resume every submission the journal still owes the chain (after a restart). */
  resume(): number {
    this.stopped = false
    let n = 0
    for (const e of this.journal.list()) {
      if (e.certificate === null || e.submission.state === 'none') continue
      if (TERMINAL_SUBMISSION_STATES.has(e.submission.state)) continue
      const delay = Math.max(0, (e.submission.notBeforeMs ?? 0) - this.clock.now())
      this.log.info({ epoch: e.epoch, slot: e.slot, state: e.submission.state }, 'resuming submission')
      // Ask the chain before sending: the call may have gone out before the restart.
      if (delay === 0) void this.run(e.slot, true)
      else this.schedule(e.slot, delay)
      n++
    }
    return n
  }

  /**
   * Cancel pending timers. A call in flight is not awaited (a chain that never answers must not
   * block shutdown); its outcome is still journalled if it comes, and the journal says `inflight`
   * otherwise, which the next start resolves by asking the chain first.
   */
  stop(): void {
    this.stopped = true
    for (const t of this.timers.values()) this.clock.clearTimeout(t)
    this.timers.clear()
  }

  /**
   * Take charge of submitting a certified slot: journal it as scheduled, then attempt after
   * `delayMs` (0: now, and the returned promise resolves with the first attempt's result).
   */
  async submit(args: {
    epoch: bigint
    slot: bigint
    certificate: Certificate
    canonicalHash: Uint8Array
    delayMs: number
  }): Promise<SubmissionResult> {
    const notBeforeMs = this.clock.now() + args.delayMs
    const entry = await this.journal.update(
      args.slot,
      (e) => {
        // Already past scheduling (e.g. resumed and running): keep its state.
        if (e.submission.state !== 'none' && e.submission.state !== 'scheduled') return e
        return {
          ...e,
          certificate: args.certificate,
          canonicalHash: args.canonicalHash,
          submission: { ...e.submission, state: 'scheduled', notBeforeMs },
          updatedAtMs: this.clock.now(),
        }
      },
      () => newJournalEntry(args.epoch, args.slot, this.clock.now()),
    )
    if (entry.submission.state !== 'scheduled') return settledResult(entry)
    this.emit(entry)
    if (args.delayMs <= 0) return this.run(args.slot, false)
    this.schedule(args.slot, args.delayMs)
    return { state: 'scheduled', code: null, detail: null }
  }

  /** Chain events that settle submissions without a call: someone's result recorded, finality. */
  onChainEvent(ev: { type: string; slot?: bigint; canonicalHash?: Uint8Array; block: bigint }): void {
    if (ev.slot === undefined || ev.canonicalHash === undefined) return
    const e = this.journal.get(ev.slot)
    if (e === undefined || e.canonicalHash === null) return
    const ours = equalBytes(e.canonicalHash, ev.canonicalHash)
    if (ev.type === 'BftResultSubmitted') {
      if (TERMINAL_SUBMISSION_STATES.has(e.submission.state) || e.submission.state === 'none') return
      // Only settle when no call of ours is in flight: its own answer will say accepted or already-submitted.
      if (this.running.has(ev.slot)) return
      this.cancel(ev.slot)
      // A journal that cannot be written (a full disk) must not end the process: logged, retried later.
      this.settle(
        e.slot,
        ours ? 'observed' : 'conflict',
        ev.block,
        ours ? null : 'different canonical hash',
      ).catch((err) => this.log.error({ err, slot: ev.slot }, 'journal write failed'))
    } else if (ev.type === 'BftResultFinalized') {
      if (!ours || e.finalized) return
      void this.journal
        .update(ev.slot, (x) => ({ ...x, finalized: true, updatedAtMs: this.clock.now() }))
        .then((x) =>
          this.events.emit('finalized', {
            epoch: x.epoch,
            slot: x.slot,
            block: ev.block,
            canonicalHash: ev.canonicalHash!,
          }),
        )
        .catch((err) => this.log.error({ err, slot: ev.slot }, 'journal write failed'))
    }
  }

  private cancel(slot: bigint): void {
    const t = this.timers.get(slot)
    if (t !== undefined) this.clock.clearTimeout(t)
    this.timers.delete(slot)
  }

  private schedule(slot: bigint, delayMs: number): void {
    if (this.stopped) return
    this.cancel(slot)
    this.timers.set(
      slot,
      this.clock.setTimeout(() => {
        this.timers.delete(slot)
        void this.run(slot, true)
      }, delayMs),
    )
  }

  /** One attempt at a time per slot. */
  private run(slot: bigint, precheck: boolean): Promise<SubmissionResult> {
    const existing = this.running.get(slot)
    if (existing !== undefined) return existing
    const p = this.attempt(slot, precheck)
      .catch((err): SubmissionResult => {
        this.log.error({ err, slot }, 'submission attempt failed')
        return { state: 'retrying', code: null, detail: null }
      })
      .finally(() => this.running.delete(slot))
    this.running.set(slot, p)
    return p
  }

  private emit(e: JournalEntry): void {
    this.events.emit('submission', {
      epoch: e.epoch,
      slot: e.slot,
      state: e.submission.state,
      attempts: e.submission.attempts,
      block: e.submission.block,
      detail: e.submission.detail,
    })
  }

  private async settle(
    slot: bigint,
    state: SubmissionState,
    block: bigint | null,
    detail: string | null,
    code: SubmitErrorCode | null = state === 'conflict' ? 'CONFLICT' : null,
  ): Promise<SubmissionResult> {
    const e = await this.journal.update(slot, (x) => ({
      ...x,
      stage: x.stage === 'failed' || x.stage === 'abandoned' ? x.stage : 'submitted',
      submission: { ...x.submission, state, block, detail, notBeforeMs: null },
      updatedAtMs: this.clock.now(),
    }))
    const outcome = state === 'accepted' || state === 'observed' || state === 'conflict' ? state : 'rejected'
    if (state !== 'accepted') this.metrics?.chainSubmissions.inc({ outcome })
    const log = this.log.child({ epoch: e.epoch, slot, stage: 'submit' })
    if (state === 'conflict') log.error({ detail }, 'chain holds a different result for this slot')
    else log.info({ state, block: block?.toString() ?? null, detail }, 'submission settled')
    this.emit(e)
    return { state, code, detail }
  }

  /** Ask the chain whether it already holds the slot's result; null when it does not (or cannot say). */
  private async recorded(e: JournalEntry): Promise<{ ours: boolean; block: bigint } | null | 'unreachable'> {
    try {
      const r = await this.chain.slotResult(e.slot)
      if (r === null) return null
      return {
        ours: e.canonicalHash !== null && equalBytes(r.canonicalHash, e.canonicalHash),
        block: r.submittedBlock,
      }
    } catch (err) {
      this.log.warn({ err, slot: e.slot }, 'slotResult failed')
      return 'unreachable'
    }
  }

  private backoff(attempts: number): number {
    return Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.max(0, attempts - 1))
  }

  private async retryLater(e: JournalEntry, reason: string): Promise<SubmissionResult> {
    const delay = this.backoff(e.submission.attempts)
    const updated = await this.journal.update(e.slot, (x) => ({
      ...x,
      submission: {
        ...x.submission,
        state: 'retrying',
        notBeforeMs: this.clock.now() + delay,
        detail: reason,
      },
      updatedAtMs: this.clock.now(),
    }))
    this.emit(updated)
    this.schedule(e.slot, delay)
    return { state: 'retrying', code: null, detail: reason }
  }

  private async attempt(slot: bigint, precheck: boolean): Promise<SubmissionResult> {
    const e = this.journal.get(slot)
    if (e === undefined) return { state: 'none', code: null, detail: null }
    if (e.certificate === null || this.stopped || TERMINAL_SUBMISSION_STATES.has(e.submission.state))
      return settledResult(e)
    // A delayed submitter, a retry, or a resumed "maybe sent" call: ask before sending (again).
    if (precheck || e.submission.state === 'inflight' || e.submission.state === 'retrying') {
      const r = await this.recorded(e)
      if (r === 'unreachable') return this.retryLater(e, 'chain unreachable')
      if (r !== null)
        return this.settle(
          slot,
          r.ours ? 'observed' : 'conflict',
          r.block,
          r.ours ? null : 'different canonical hash',
        )
    }
    const inflight = await this.journal.update(slot, (x) => ({
      ...x,
      submission: {
        ...x.submission,
        state: 'inflight',
        attempts: x.submission.attempts + 1,
        notBeforeMs: null,
      },
      updatedAtMs: this.clock.now(),
    }))
    this.emit(inflight)
    let outcome: SubmitOutcome
    try {
      outcome = await this.chain.submitBftResult(slot, e.certificate, this.key)
    } catch (err) {
      outcome = { status: 'unknown', reason: (err as Error).message ?? String(err) }
    }
    if (outcome.status === 'accepted') {
      this.metrics?.chainSubmissions.inc({ outcome: 'accepted' })
      return this.settle(slot, 'accepted', outcome.block, null)
    }
    if (outcome.status === 'unknown') {
      this.metrics?.chainSubmissions.inc({ outcome: 'unknown' })
      this.log.warn({ epoch: e.epoch, slot, reason: outcome.reason }, 'submission unanswered: will retry')
      return this.retryLater(inflight, outcome.reason)
    }
    if (outcome.code === 'ALREADY_SUBMITTED') {
      const r = await this.recorded(inflight)
      if (r === 'unreachable' || r === null)
        return this.retryLater(inflight, 'already submitted, result not readable')
      return this.settle(
        slot,
        r.ours ? 'observed' : 'conflict',
        r.block,
        r.ours ? null : 'different canonical hash',
      )
    }
    return this.settle(
      slot,
      'rejected',
      null,
      `${outcome.code}: ${outcome.reason}`.slice(0, 300),
      outcome.code,
    )
  }
}

/**
 * The result of a submission settled earlier (read back from the journal, which keeps the state and
 * the detail, not the chain's code): a refusal is then the generic `REJECTED`.
 */
function settledResult(e: JournalEntry): SubmissionResult {
  const { state, detail } = e.submission
  const code = state === 'conflict' ? 'CONFLICT' : state === 'rejected' ? 'REJECTED' : null
  return { state, code, detail }
}
