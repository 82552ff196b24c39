// Gossip validation of /nsn/bft/1.0.0 and /nsn/challenges/1.0.0 (docs/protocol.md §2, §5): pure
// functions over the bytes, the chain's elected sets and what the round store holds. Each refusal
// throws GossipValidationError(reject|ignore, code); src/p2p's adapter maps it and counts it. Reject
// only what every honest node concludes from the bytes and the chain; otherwise ignore. What a valid
// message changes is applied by the caller (bft.ts), never here.
import {
  CertificateError,
  verifyCertificate,
  verifyCommitSignature,
  verifyProposalSignature,
} from '../crypto/index.ts'
import { GossipAction, type GossipErrorCode, GossipValidationError } from '../p2p/index.ts'
import type { SlotClock } from '../scheduler/index.ts'
import {
  type BftSignal,
  bytesToHex,
  type Certificate,
  type Commit,
  DecodeError,
  decodeBftSignal,
  decodeEquivocationEvidence,
  EMBEDDING_DIM,
  type EquivocationEvidence,
  equalBytes,
  hexToBytes,
  type Proposal,
} from '../types/index.ts'
import { embeddingProblem } from './agreement.ts'
import type { RoundStore } from './bft-rounds.ts'

/** Why a BFT or challenge message is rejected (invalid for every honest node). */
export type BftRejectCode = Extract<
  GossipErrorCode,
  | 'MALFORMED'
  | 'EPOCH_MISMATCH'
  | 'UNELECTED_SIGNER'
  | 'BAD_SIGNATURE'
  | 'BAD_EMBEDDING'
  | 'BAD_CERTIFICATE'
  | 'BAD_EVIDENCE'
>
/** Why a BFT or challenge message is ignored (depends on this node's view or settings). */
export type BftIgnoreCode = Extract<
  GossipErrorCode,
  | 'UNKNOWN_EPOCH'
  | 'STALE_SLOT'
  | 'FUTURE_SLOT'
  | 'TOO_MANY_ROUNDS'
  | 'DUPLICATE'
  | 'EQUIVOCATION'
  | 'EQUIVOCATOR'
  | 'CONFLICTING_COMMIT'
  | 'ROUND_CLOSED'
  /** L2 norm outside this node's configured tolerance (a local setting). */
  | 'EMBEDDING_NORM'
>

export const rejectBft = (code: BftRejectCode, message: string): GossipValidationError =>
  new GossipValidationError(GossipAction.REJECT, code, message)
export const ignoreBft = (code: BftIgnoreCode, message: string): GossipValidationError =>
  new GossipValidationError(GossipAction.IGNORE, code, message)

/** What validation reads besides the message and the round store. */
export interface BftValidationDeps {
  networkId: Uint8Array
  slotClock: SlotClock
  quorum: number
  /** L2 norm tolerance of embeddings (this node's setting). */
  tolerance: number
}

/** A valid proposal: new, or a second different one from its signer (equivocation evidence). */
export type ProposalVerdict = { kind: 'new' } | { kind: 'equivocation'; evidence: EquivocationEvidence }

/** A valid commit: new, or a second one for another result from its signer. */
export type CommitVerdict = { kind: 'new' } | { kind: 'conflicting'; first: Commit }

export function decodeBft(data: Uint8Array): BftSignal {
  try {
    return decodeBftSignal(data)
  } catch (err) {
    if (err instanceof DecodeError) throw rejectBft('MALFORMED', `${err.field}: ${err.message}`)
    throw err
  }
}

export function decodeEvidence(data: Uint8Array): EquivocationEvidence {
  try {
    return decodeEquivocationEvidence(data)
  } catch (err) {
    if (err instanceof DecodeError) throw rejectBft('MALFORMED', `${err.field}: ${err.message}`)
    throw err
  }
}

/**
 * Checks shared by every message: slot in the window, epoch known and consistent, signer elected,
 * room for the slot's round. Returns the epoch's elected set (hex keys).
 */
export function checkSlotAndSigner(
  deps: BftValidationDeps,
  store: RoundStore,
  epoch: bigint,
  slot: bigint,
  signer: Uint8Array | null,
): Set<string> {
  // §5 step 2: the slot is current or the next one (plus `bftLateSlots` behind, and any slot whose
  // round this director is still running).
  const current = store.currentSlot
  if (current !== null && !store.isActive(slot)) {
    if (slot + store.lateSlots < current)
      throw ignoreBft('STALE_SLOT', `slot: ${slot} is before the window ending at ${current}`)
    if (slot > current + 1n)
      throw ignoreBft('FUTURE_SLOT', `slot: ${slot} is beyond the next slot ${current + 1n}`)
  }
  const elected = store.electedOf(epoch)
  if (elected === undefined) throw ignoreBft('UNKNOWN_EPOCH', `epoch: ${epoch} has no known elected set`)
  const slotEpoch = deps.slotClock.epochOfSlot(slot)
  if (slotEpoch !== epoch)
    throw rejectBft('EPOCH_MISMATCH', `epoch: slot ${slot} belongs to epoch ${slotEpoch}`)
  // §1: only a key elected for the epoch counts as a director.
  if (signer !== null && !elected.has(bytesToHex(signer)))
    throw rejectBft('UNELECTED_SIGNER', `signer: not elected for epoch ${epoch}`)
  if (store.evictionFor(slot) === undefined)
    throw ignoreBft('TOO_MANY_ROUNDS', `slot: ${store.maxRounds} rounds already buffered`)
  return elected
}

export function sameProposalContent(a: Proposal, b: Proposal): boolean {
  return (
    a.epoch === b.epoch &&
    equalBytes(a.recipe_hash, b.recipe_hash) &&
    equalBytes(a.content_hash, b.content_hash) &&
    equalBytes(
      new Uint8Array(a.embedding.buffer, a.embedding.byteOffset, a.embedding.byteLength),
      new Uint8Array(b.embedding.buffer, b.embedding.byteOffset, b.embedding.byteLength),
    )
  )
}

/** §5 step 2 for a proposal. */
export function validateProposal(deps: BftValidationDeps, store: RoundStore, p: Proposal): ProposalVerdict {
  checkSlotAndSigner(deps, store, p.epoch, p.slot, p.signer)
  const signer = bytesToHex(p.signer)
  const r = store.get(p.slot)
  if (r?.equivocators.has(signer)) throw ignoreBft('EQUIVOCATOR', 'signer: equivocated in this slot')
  const existing = r?.proposals.get(signer)
  if (existing !== undefined && sameProposalContent(existing, p))
    throw ignoreBft('DUPLICATE', 'proposal: already received')
  // §5 step 2: 512 finite values (from the bytes: reject), L2 norm within the tolerance of 1
  // (the tolerance is this node's setting: ignore, docs/protocol.md §2).
  const shape = embeddingProblem(p.embedding, EMBEDDING_DIM, Number.POSITIVE_INFINITY)
  if (shape !== null) throw rejectBft('BAD_EMBEDDING', `embedding: ${shape}`)
  const norm = embeddingProblem(p.embedding, EMBEDDING_DIM, deps.tolerance)
  if (norm !== null) throw ignoreBft('EMBEDDING_NORM', `embedding: ${norm}`)
  if (!verifyProposalSignature(deps.networkId, p))
    throw rejectBft('BAD_SIGNATURE', 'signature: does not verify')
  if (existing !== undefined) return { kind: 'equivocation', evidence: { first: existing, second: p } }
  if (r?.local?.decided === true || (r !== undefined && r.certificate !== null))
    throw ignoreBft('ROUND_CLOSED', `slot: ${p.slot} already decided here`)
  return { kind: 'new' }
}

/** §5 step 5 for a commit. */
export function validateCommit(deps: BftValidationDeps, store: RoundStore, c: Commit): CommitVerdict {
  checkSlotAndSigner(deps, store, c.epoch, c.slot, c.signer)
  const signer = bytesToHex(c.signer)
  const r = store.get(c.slot)
  if (r?.commitEquivocators.has(signer)) throw ignoreBft('EQUIVOCATOR', 'signer: sent conflicting commits')
  const existing = r?.commits.get(signer)
  if (existing !== undefined && equalBytes(existing.canonical_hash, c.canonical_hash))
    throw ignoreBft('DUPLICATE', 'commit: already received')
  if (!verifyCommitSignature(deps.networkId, c))
    throw rejectBft('BAD_SIGNATURE', 'signature: does not verify')
  if (existing !== undefined) return { kind: 'conflicting', first: existing }
  if (r !== undefined && r.certificate !== null)
    throw ignoreBft('ROUND_CLOSED', `slot: ${c.slot} already certified`)
  return { kind: 'new' }
}

/** §5 step 6 for a certificate received from the network; returns its canonical hash. */
export function validateCertificate(
  deps: BftValidationDeps,
  store: RoundStore,
  cert: Certificate,
): Uint8Array {
  const elected = checkSlotAndSigner(deps, store, cert.epoch, cert.slot, null)
  if (store.get(cert.slot)?.certificate != null)
    throw ignoreBft('DUPLICATE', `slot: ${cert.slot} already has a certificate`)
  try {
    return verifyCertificate(cert, {
      networkId: deps.networkId,
      elected: [...elected].map(hexToBytes),
      quorum: deps.quorum,
    })
  } catch (err) {
    if (err instanceof CertificateError) throw rejectBft('BAD_CERTIFICATE', `certificate: ${err.code}`)
    throw err
  }
}

/** Equivocation evidence (/nsn/challenges/1.0.0): two different signed proposals, one signer, one slot. */
export function validateEvidence(deps: BftValidationDeps, store: RoundStore, ev: EquivocationEvidence): void {
  const { first, second } = ev
  if (!equalBytes(first.signer, second.signer) || first.epoch !== second.epoch || first.slot !== second.slot)
    throw rejectBft('BAD_EVIDENCE', 'evidence: the two proposals are not by one signer for one slot')
  if (sameProposalContent(first, second))
    throw rejectBft('BAD_EVIDENCE', 'evidence: the two proposals are equal')
  checkSlotAndSigner(deps, store, first.epoch, first.slot, first.signer)
  if (store.get(first.slot)?.equivocators.has(bytesToHex(first.signer)))
    throw ignoreBft('DUPLICATE', 'evidence: signer already known to equivocate')
  if (!verifyProposalSignature(deps.networkId, first) || !verifyProposalSignature(deps.networkId, second))
    throw rejectBft('BAD_SIGNATURE', 'evidence: a proposal signature does not verify')
}
