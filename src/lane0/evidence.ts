// Commit equivocation (docs/protocol.md §5 step 5): two different signed commits from one director for
// one slot. The BFT participant lends this module its round state; here the evidence is kept,
// published on /nsn/challenges/1.0.0, checked when it arrives from others, and reported to the chain.
import type { ChainClient } from '../chain/client.ts'
import { EvidenceError, evidenceSubject, verifyEvidence } from '../crypto/evidence.ts'
import {
  bytesToHex,
  type ChallengeEvidence,
  type Commit,
  type CommitEquivocationEvidence,
  DecodeError,
  decodeChallenge,
  type EquivocationEvidence,
  encodeChallenge,
  encodeCommitEvidence,
  PROPOSAL_EVIDENCE_MIN_BYTES,
} from '../types/index.ts'
import type { Logger } from './log.ts'

/** The part of a BFT round that commit equivocation touches (bounded by the elected set). */
export interface CommitRound {
  epoch: bigint
  slot: bigint
  commits: Map<string, Commit>
  commitEquivocators: Set<string>
}

/** A gossip answer for a challenges message, in the participant's own error type. */
export type EvidenceRefusal = (action: 'reject' | 'ignore', code: string, message: string) => Error

/** What the BFT participant provides to the commit-evidence logic. */
export interface CommitEvidenceHost {
  networkId: Uint8Array
  log: Logger
  refuse: EvidenceRefusal
  /** The slot window, epoch and elected-signer checks every BFT message gets (they throw a refusal). */
  checkSlotAndSigner(epoch: bigint, slot: bigint, signer: Uint8Array): unknown
  /** The round for the slot (created within the participant's round bound). */
  round(slot: bigint, epoch: bigint): CommitRound
  emit(event: { epoch: bigint; slot: bigint; signer: string; evidence: CommitEquivocationEvidence }): void
  publish(data: Uint8Array): void
}

/** Proposal evidence is never this short; anything shorter on the challenges topic is commit evidence (§3). */
export function isCommitEvidence(data: Uint8Array): boolean {
  return data.length < PROPOSAL_EVIDENCE_MIN_BYTES
}

/**
 * The signer's commits count for nothing in the slot from now on; the evidence is announced once
 * and, when we detected it ourselves, published.
 */
export function recordCommitEquivocation(
  host: CommitEvidenceHost,
  r: CommitRound,
  evidence: CommitEquivocationEvidence,
  publish: boolean,
): void {
  const signer = bytesToHex(evidence.first.signer)
  if (r.commitEquivocators.has(signer)) return
  r.commitEquivocators.add(signer)
  r.commits.delete(signer)
  host.log.warn({ epoch: r.epoch, slot: r.slot, signer }, 'director sent conflicting commits: evidence kept')
  host.emit({ epoch: r.epoch, slot: r.slot, signer, evidence })
  if (publish) host.publish(encodeCommitEvidence(evidence))
}

/**
 * Validate commit evidence received on /nsn/challenges/1.0.0 and take it in (throws the host's
 * refusal). Rejected only for what every honest node concludes from the bytes and the chain:
 * malformed, not one signer/slot or equal hashes, unelected signer, a bad signature.
 */
export function onCommitEvidence(host: CommitEvidenceHost, data: Uint8Array): ChallengeEvidence {
  let ev: ChallengeEvidence
  try {
    ev = decodeChallenge(data)
  } catch (err) {
    if (err instanceof DecodeError) throw host.refuse('reject', 'MALFORMED', `${err.field}: ${err.message}`)
    throw err
  }
  if (ev.kind !== 'Commit') throw host.refuse('reject', 'MALFORMED', 'evidence: not commit evidence')
  try {
    evidenceSubject(ev)
  } catch (err) {
    if (err instanceof EvidenceError) throw host.refuse('reject', err.code, err.message)
    throw err
  }
  const { first } = ev.value
  host.checkSlotAndSigner(first.epoch, first.slot, first.signer)
  const r = host.round(first.slot, first.epoch)
  if (r.commitEquivocators.has(bytesToHex(first.signer)))
    throw host.refuse('ignore', 'DUPLICATE', 'evidence: signer already known to send conflicting commits')
  try {
    verifyEvidence(ev, host.networkId)
  } catch (err) {
    if (err instanceof EvidenceError) throw host.refuse('reject', err.code, err.message)
    throw err
  }
  recordCommitEquivocation(host, r, ev.value, false)
  return ev
}

/** The BFT participant's evidence events, as the reporter listens to them. */
export interface EvidenceEvents {
  equivocation: { slot: bigint; signer: string; evidence: EquivocationEvidence }
  commitEquivocation: { slot: bigint; signer: string; evidence: CommitEquivocationEvidence }
}

interface EvidenceEventSource {
  on<K extends keyof EvidenceEvents>(event: K, listener: (e: EvidenceEvents[K]) => void): () => void
}

/** At most this many (slot, director) pairs remembered as reported; the oldest slots go first. */
const REPORTED_MAX = 256

/**
 * Report every equivocation this director learns of to the chain (docs/protocol.md §5, §7), once
 * per (slot, director). The chain records it once whoever reports, so a lost answer is not retried.
 */
export function reportEvidenceToChain(
  events: EvidenceEventSource,
  chain: Pick<ChainClient, 'submitEvidence'>,
  log: Logger,
): () => void {
  const submit = chain.submitEvidence?.bind(chain)
  if (submit === undefined) return () => {}
  const reported = new Map<string, bigint>()
  const report = (slot: bigint, signer: string, ev: ChallengeEvidence) => {
    const id = `${slot}:${signer}`
    if (reported.has(id)) return
    reported.set(id, slot)
    if (reported.size > REPORTED_MAX) {
      const oldest = [...reported].sort(([, a], [, b]) => (a < b ? -1 : a > b ? 1 : 0))[0]!
      reported.delete(oldest[0])
    }
    void submit(encodeChallenge(ev)).then((o) => {
      if (o.status === 'rejected')
        log.warn({ slot, signer, code: o.code, reason: o.reason }, 'chain refused evidence')
      else if (o.status === 'unknown')
        log.warn({ slot, signer, reason: o.reason }, 'evidence report unanswered')
      else log.info({ slot, signer, block: o.block }, 'evidence recorded by the chain')
    })
  }
  const offs = [
    events.on('equivocation', (e) => report(e.slot, e.signer, { kind: 'Proposal', value: e.evidence })),
    events.on('commitEquivocation', (e) => report(e.slot, e.signer, { kind: 'Commit', value: e.evidence })),
  ]
  return () => {
    for (const off of offs) off()
  }
}
