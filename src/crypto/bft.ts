// The signed bytes and hashes of docs/protocol.md §5, and certificate verification. Shared by the BFT
// participant (lane0), the dev chain (submit_bft_result) and the viewer, so they cannot disagree.
import {
  bytesToHex,
  type Certificate,
  type CertificateMember,
  type Commit,
  concatBytes,
  type Proposal,
} from '../types/index.ts'
import { blake3 } from './blake3.ts'
import { DOMAIN, domainMessage } from './domain.ts'
import type { NodeKey } from './keys.ts'
import { verifyWithProtoKey } from './proto-key.ts'

function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, v, true)
  return b
}

/** BLAKE3 of the embedding as f32 little-endian. */
export function embeddingHash(embedding: Float32Array): Uint8Array {
  return blake3(new Uint8Array(embedding.buffer, embedding.byteOffset, embedding.byteLength))
}

/** Bytes a proposal signs: tag ‖ network_id ‖ epoch ‖ slot ‖ recipe_hash ‖ content_hash ‖ BLAKE3(embedding). */
export function proposalSigningBytes(
  networkId: Uint8Array,
  p: Omit<Proposal, 'signature' | 'signer'>,
): Uint8Array {
  return domainMessage(DOMAIN.bftProposal, [
    networkId,
    u64le(p.epoch),
    u64le(p.slot),
    p.recipe_hash,
    p.content_hash,
    embeddingHash(p.embedding),
  ])
}

/** Bytes a commit signs: tag ‖ network_id ‖ epoch ‖ slot ‖ canonical_hash. */
export function commitSigningBytes(
  networkId: Uint8Array,
  c: { epoch: bigint; slot: bigint; canonical_hash: Uint8Array },
): Uint8Array {
  return domainMessage(DOMAIN.bftCommit, [networkId, u64le(c.epoch), u64le(c.slot), c.canonical_hash])
}

export function signProposal(
  key: NodeKey,
  networkId: Uint8Array,
  p: Omit<Proposal, 'signature' | 'signer'>,
): Proposal {
  return { ...p, signer: key.publicKeyProto, signature: key.sign(proposalSigningBytes(networkId, p)) }
}

export function verifyProposalSignature(networkId: Uint8Array, p: Proposal): boolean {
  return verifyWithProtoKey(p.signer, proposalSigningBytes(networkId, p), p.signature)
}

export function signCommit(
  key: NodeKey,
  networkId: Uint8Array,
  c: { epoch: bigint; slot: bigint; canonical_hash: Uint8Array },
): Commit {
  return { ...c, signer: key.publicKeyProto, signature: key.sign(commitSigningBytes(networkId, c)) }
}

export function verifyCommitSignature(networkId: Uint8Array, c: Commit): boolean {
  return verifyWithProtoKey(c.signer, commitSigningBytes(networkId, c), c.signature)
}

/** Rotation rank of a signer in a slot: BLAKE3(slot u64 LE ‖ signer protobuf key); lower ranks first. */
export function rankKey(slot: bigint, signer: Uint8Array): Uint8Array {
  return blake3(concatBytes([u64le(slot), signer]))
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** Sort members into rank order (a copy). */
export function rankMembers<T extends { signer: Uint8Array }>(slot: bigint, members: readonly T[]): T[] {
  return members
    .map((m) => ({ m, k: rankKey(slot, m.signer) }))
    .sort((a, b) => compareBytes(a.k, b.k))
    .map((x) => x.m)
}

/**
 * canonical_hash = BLAKE3("NSN-BFT-RESULT-v1" ‖ network_id ‖ epoch ‖ slot ‖ recipe_hash ‖ for each
 * member in rank order: signer (protobuf key) ‖ content_hash ‖ embedding_hash).
 */
export function canonicalHash(
  networkId: Uint8Array,
  epoch: bigint,
  slot: bigint,
  recipeHash: Uint8Array,
  rankedMembers: readonly CertificateMember[],
): Uint8Array {
  const parts: Uint8Array[] = [networkId, u64le(epoch), u64le(slot), recipeHash]
  for (const m of rankedMembers) parts.push(m.signer, m.content_hash, m.embedding_hash)
  return blake3(domainMessage(DOMAIN.bftResult, parts))
}

export type CertificateErrorCode =
  | 'TOO_FEW_MEMBERS'
  | 'DUPLICATE_MEMBER'
  | 'UNELECTED_MEMBER'
  | 'MEMBER_ORDER'
  | 'TOO_FEW_COMMITS'
  | 'DUPLICATE_SIGNER'
  | 'UNELECTED_SIGNER'
  | 'BAD_SIGNATURE'

export class CertificateError extends Error {
  override readonly name = 'CertificateError'
  constructor(
    readonly code: CertificateErrorCode,
    message: string,
  ) {
    super(message)
  }
}

export interface CertificateContext {
  networkId: Uint8Array
  /** Protobuf public keys of the directors elected for the certificate's epoch. */
  elected: readonly Uint8Array[]
  /** Quorum q (docs/protocol.md §5, default 3). */
  quorum: number
}

/**
 * Verify a certificate from the elected set alone (docs/protocol.md §5 step 5): ≥ q distinct elected
 * members in rank order, ≥ q distinct elected committers, every commit signature valid over the
 * canonical hash recomputed from the members. Returns the canonical hash.
 */
export function verifyCertificate(cert: Certificate, ctx: CertificateContext): Uint8Array {
  const elected = new Set(ctx.elected.map(bytesToHex))
  if (cert.members.length < ctx.quorum) {
    throw new CertificateError(
      'TOO_FEW_MEMBERS',
      `members: ${cert.members.length} is below the quorum ${ctx.quorum}`,
    )
  }
  const seenMembers = new Set<string>()
  let prevRank: Uint8Array | null = null
  for (const [i, m] of cert.members.entries()) {
    const id = bytesToHex(m.signer)
    if (seenMembers.has(id))
      throw new CertificateError('DUPLICATE_MEMBER', `members[${i}]: signer appears twice`)
    seenMembers.add(id)
    if (!elected.has(id))
      throw new CertificateError(
        'UNELECTED_MEMBER',
        `members[${i}]: signer is not elected for epoch ${cert.epoch}`,
      )
    const rank = rankKey(cert.slot, m.signer)
    if (prevRank !== null && compareBytes(prevRank, rank) >= 0) {
      throw new CertificateError('MEMBER_ORDER', `members[${i}]: members are not in rank order`)
    }
    prevRank = rank
  }
  const canonical = canonicalHash(ctx.networkId, cert.epoch, cert.slot, cert.recipe_hash, cert.members)
  if (cert.commits.length < ctx.quorum) {
    throw new CertificateError(
      'TOO_FEW_COMMITS',
      `commits: ${cert.commits.length} is below the quorum ${ctx.quorum}`,
    )
  }
  const seenSigners = new Set<string>()
  for (const [i, c] of cert.commits.entries()) {
    const id = bytesToHex(c.signer)
    if (seenSigners.has(id))
      throw new CertificateError('DUPLICATE_SIGNER', `commits[${i}]: signer appears twice`)
    seenSigners.add(id)
    if (!elected.has(id))
      throw new CertificateError(
        'UNELECTED_SIGNER',
        `commits[${i}]: signer is not elected for epoch ${cert.epoch}`,
      )
    const commit = {
      epoch: cert.epoch,
      slot: cert.slot,
      canonical_hash: canonical,
      signer: c.signer,
      signature: c.signature,
    }
    if (!verifyCommitSignature(ctx.networkId, commit)) {
      throw new CertificateError(
        'BAD_SIGNATURE',
        `commits[${i}]: signature does not verify over the canonical hash`,
      )
    }
  }
  return canonical
}
