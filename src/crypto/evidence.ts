// Equivocation evidence checks (docs/protocol.md §5 steps 2 and 5): what every honest node concludes
// from the evidence bytes alone. Shared by the BFT participant's challenges validator and the dev
// chain, so that what one accepts the other records. Whether the signer was elected for the epoch
// is the caller's check (it needs the chain's elected set).
import { type ChallengeEvidence, equalBytes, type Proposal } from '../types/index.ts'
import { verifyCommitSignature, verifyProposalSignature } from './bft.ts'

export type EvidenceErrorCode = 'BAD_EVIDENCE' | 'BAD_SIGNATURE'

export class EvidenceError extends Error {
  override readonly name = 'EvidenceError'
  constructor(
    readonly code: EvidenceErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/** Who equivocated where, as the evidence proves it. */
export interface EvidenceSubject {
  kind: ChallengeEvidence['kind']
  epoch: bigint
  slot: bigint
  /** Protobuf public key of the equivocating director. */
  signer: Uint8Array
}

function sameSignedProposal(a: Proposal, b: Proposal): boolean {
  const f32 = (e: Float32Array) => new Uint8Array(e.buffer, e.byteOffset, e.byteLength)
  return (
    equalBytes(a.recipe_hash, b.recipe_hash) &&
    equalBytes(a.content_hash, b.content_hash) &&
    equalBytes(f32(a.embedding), f32(b.embedding))
  )
}

/** The signer, epoch and slot the evidence proves an equivocation of, or an EvidenceError. */
export function evidenceSubject(ev: ChallengeEvidence): EvidenceSubject {
  const { first, second } = ev.value
  const what = ev.kind === 'Proposal' ? 'proposals' : 'commits'
  if (
    !equalBytes(first.signer, second.signer) ||
    first.epoch !== second.epoch ||
    first.slot !== second.slot
  ) {
    throw new EvidenceError('BAD_EVIDENCE', `evidence: the two ${what} are not by one signer for one slot`)
  }
  const same =
    ev.kind === 'Proposal'
      ? sameSignedProposal(ev.value.first, ev.value.second)
      : equalBytes(ev.value.first.canonical_hash, ev.value.second.canonical_hash)
  if (same) throw new EvidenceError('BAD_EVIDENCE', `evidence: the two ${what} sign the same content`)
  return { kind: ev.kind, epoch: first.epoch, slot: first.slot, signer: first.signer }
}

/** evidenceSubject, then both signatures under `networkId`. */
export function verifyEvidence(ev: ChallengeEvidence, networkId: Uint8Array): EvidenceSubject {
  const subject = evidenceSubject(ev)
  const ok =
    ev.kind === 'Proposal'
      ? verifyProposalSignature(networkId, ev.value.first) &&
        verifyProposalSignature(networkId, ev.value.second)
      : verifyCommitSignature(networkId, ev.value.first) && verifyCommitSignature(networkId, ev.value.second)
  if (!ok) throw new EvidenceError('BAD_SIGNATURE', 'evidence: a signature does not verify')
  return subject
}
