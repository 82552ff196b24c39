// BFT wire messages (docs/protocol.md §5) on /nsn/bft/1.0.0, and equivocation evidence on
// /nsn/challenges/1.0.0. This project's own SCALE enum: variant indices start at 16 so that a
// message can never be mistaken for the reference implementation's variants 0 and 1.
import {
  bytes,
  type Codec,
  type CodecValue,
  decodeScale,
  encodeScale,
  enumOf,
  f32Array,
  fixedBytes,
  struct,
  u64,
  vec,
} from './codec.ts'
import { DecodeError } from './errors.ts'
import { EMBEDDING_DIM, TOPIC_MAX_BYTES } from './limits.ts'

/** A director's signed claim about its output for a slot. */
export interface Proposal {
  epoch: bigint
  slot: bigint
  /** BLAKE3(SCALE(recipe)). */
  recipe_hash: Uint8Array
  /** BLAKE3(video bytes). */
  content_hash: Uint8Array
  /** L2-normalised content embedding. */
  embedding: Float32Array
  /** libp2p protobuf public key (36 bytes). */
  signer: Uint8Array
  signature: Uint8Array
}

/** A director's signed vote for the decided canonical_hash. */
export interface Commit {
  epoch: bigint
  slot: bigint
  canonical_hash: Uint8Array
  signer: Uint8Array
  signature: Uint8Array
}

/** One member of the agreeing set, in rank order. */
export interface CertificateMember {
  signer: Uint8Array
  content_hash: Uint8Array
  /** BLAKE3(embedding as f32 LE). */
  embedding_hash: Uint8Array
}

export interface CommitSignature {
  signer: Uint8Array
  signature: Uint8Array
}

/** q commits over one canonical_hash: verifiable from the elected set alone. */
export interface Certificate {
  epoch: bigint
  slot: bigint
  recipe_hash: Uint8Array
  /** The agreeing set A, ordered by rank (BLAKE3(slot ‖ signer) ascending); the first is canonical. */
  members: CertificateMember[]
  commits: CommitSignature[]
}

/** Two different proposals signed by one director for one slot. */
export interface EquivocationEvidence {
  first: Proposal
  second: Proposal
}

/** Two commits for different canonical hashes signed by one director for one slot (commit equivocation). */
export interface CommitEquivocationEvidence {
  first: Commit
  second: Commit
}

/** Everything carried on /nsn/challenges/1.0.0 (docs/protocol.md §3, "Evidence"). */
export type ChallengeEvidence =
  | { kind: 'Proposal'; value: EquivocationEvidence }
  | { kind: 'Commit'; value: CommitEquivocationEvidence }

const hash32 = fixedBytes(32)
const signerKey = bytes(64)
const signature = bytes(64)
/** At most this many directors per epoch: bounds list lengths when decoding (docs/protocol.md §5: n ≤ 7 checked exhaustively; the chain may elect more). */
export const MAX_DIRECTORS = 32

export const ProposalCodec: Codec<Proposal> = struct('Proposal', {
  epoch: u64,
  slot: u64,
  recipe_hash: hash32,
  content_hash: hash32,
  embedding: f32Array(EMBEDDING_DIM),
  signer: signerKey,
  signature,
})

export const CommitCodec: Codec<Commit> = struct('Commit', {
  epoch: u64,
  slot: u64,
  canonical_hash: hash32,
  signer: signerKey,
  signature,
})

export const CertificateMemberCodec: Codec<CertificateMember> = struct('CertificateMember', {
  signer: signerKey,
  content_hash: hash32,
  embedding_hash: hash32,
})

export const CommitSignatureCodec: Codec<CommitSignature> = struct('CommitSignature', {
  signer: signerKey,
  signature,
})

export const CertificateCodec: Codec<Certificate> = struct('Certificate', {
  epoch: u64,
  slot: u64,
  recipe_hash: hash32,
  members: vec(CertificateMemberCodec, MAX_DIRECTORS, 65),
  commits: vec(CommitSignatureCodec, MAX_DIRECTORS, 2),
})

export const EquivocationEvidenceCodec: Codec<EquivocationEvidence> = struct('EquivocationEvidence', {
  first: ProposalCodec,
  second: ProposalCodec,
})

/**
 * Commit evidence is `COMMIT_EVIDENCE_TAG ‖ first Commit ‖ second Commit`; proposal evidence keeps its
 * untagged form. The two cannot be confused: proposal evidence carries two 2 048-byte embeddings and
 * is never shorter than PROPOSAL_EVIDENCE_MIN_BYTES, commit evidence is at most COMMIT_EVIDENCE_MAX_BYTES.
 */
export const COMMIT_EVIDENCE_TAG = 0x11
/** Two proposals with empty signer and signature: 2 × (8 + 8 + 32 + 32 + 2048 + 1 + 1). */
export const PROPOSAL_EVIDENCE_MIN_BYTES = 4260
/** The tag and two commits with 64-byte signer and signature: 1 + 2 × (8 + 8 + 32 + 2 + 64 + 2 + 64). */
export const COMMIT_EVIDENCE_MAX_BYTES = 361

export const CommitEquivocationEvidenceCodec: Codec<CommitEquivocationEvidence> = struct(
  'CommitEquivocationEvidence',
  { first: CommitCodec, second: CommitCodec },
)

/**
 * The reference implementation's BftSignal variant indices (0 `Embedding`, 1 `Vote`): they share
 * the topic, so a node meets them; docs/protocol.md §2 says ignore and count them, never reject.
 */
export const REFERENCE_BFT_VARIANTS: readonly number[] = Object.freeze([0, 1])

export function isReferenceBftVariant(firstByte: number): boolean {
  return REFERENCE_BFT_VARIANTS.includes(firstByte)
}

/** Everything carried on /nsn/bft/1.0.0. */
export const BftSignalCodec = enumOf('BftSignal', [
  { kind: 'Proposal', index: 16, codec: ProposalCodec },
  { kind: 'Commit', index: 17, codec: CommitCodec },
  { kind: 'Certificate', index: 18, codec: CertificateCodec },
])
export type BftSignal = CodecValue<typeof BftSignalCodec>

export function encodeBftSignal(signal: BftSignal): Uint8Array {
  return encodeScale(BftSignalCodec, signal, 2400)
}

export function decodeBftSignal(input: Uint8Array, maxBytes: number = TOPIC_MAX_BYTES.bft): BftSignal {
  return decodeScale(BftSignalCodec, input, maxBytes)
}

export function encodeCertificate(cert: Certificate): Uint8Array {
  return encodeScale(CertificateCodec, cert, 1024)
}

export function decodeCertificate(input: Uint8Array, maxBytes: number = TOPIC_MAX_BYTES.bft): Certificate {
  return decodeScale(CertificateCodec, input, maxBytes)
}

export function encodeEquivocationEvidence(e: EquivocationEvidence): Uint8Array {
  return encodeScale(EquivocationEvidenceCodec, e, 4400)
}

export function decodeEquivocationEvidence(
  input: Uint8Array,
  maxBytes: number = TOPIC_MAX_BYTES.challenges,
): EquivocationEvidence {
  return decodeScale(EquivocationEvidenceCodec, input, maxBytes)
}

export function encodeCommitEvidence(e: CommitEquivocationEvidence): Uint8Array {
  const body = encodeScale(CommitEquivocationEvidenceCodec, e, COMMIT_EVIDENCE_MAX_BYTES)
  const out = new Uint8Array(body.length + 1)
  out[0] = COMMIT_EVIDENCE_TAG
  out.set(body, 1)
  return out
}

/** Either evidence variant as sent on /nsn/challenges/1.0.0. */
export function encodeChallenge(e: ChallengeEvidence): Uint8Array {
  return e.kind === 'Proposal' ? encodeEquivocationEvidence(e.value) : encodeCommitEvidence(e.value)
}

/** Decode a /nsn/challenges/1.0.0 message: commit evidence when shorter than any proposal evidence. */
export function decodeChallenge(
  input: Uint8Array,
  maxBytes: number = TOPIC_MAX_BYTES.challenges,
): ChallengeEvidence {
  if (input.length >= PROPOSAL_EVIDENCE_MIN_BYTES) {
    return { kind: 'Proposal', value: decodeEquivocationEvidence(input, maxBytes) }
  }
  if (input[0] !== COMMIT_EVIDENCE_TAG) {
    throw new DecodeError(
      'INVALID_ENUM',
      'ChallengeEvidence',
      `ChallengeEvidence: ${input.length} bytes is shorter than proposal evidence (${PROPOSAL_EVIDENCE_MIN_BYTES}) and does not start with the commit evidence tag 0x11`,
    )
  }
  return {
    kind: 'Commit',
    value: decodeScale(CommitEquivocationEvidenceCodec, input.subarray(1), COMMIT_EVIDENCE_MAX_BYTES - 1),
  }
}
