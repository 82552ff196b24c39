// The ChainClient seam (docs/protocol.md §1, §7): what the node needs from a chain. Implemented by the
// dev chain client and the Substrate client in this folder; lane0 tests substitute a fake.
import type { CertificateErrorCode } from '../crypto/index.ts'
import type { Certificate } from '../types/index.ts'

export type NodeRole = 'director' | 'validator' | 'relay'

export interface NodeRegistration {
  /** libp2p protobuf public key of the node (its PeerId binding); also the account key here. */
  publicKey: Uint8Array
  role: NodeRole
  region: string
  stake: bigint
  /**
   * Account key (libp2p protobuf public key) when the account is not the node key itself; the
   * `signer` of `register` then signs as this account. Default: `publicKey`.
   */
  account?: Uint8Array
  /**
   * Required when `account` differs from `publicKey`: the node key's signature over
   * `peerBindingBytes(genesisHash, account)`, proving the PeerId consents to the binding.
   */
  peerBinding?: Uint8Array
}

/** Chain events, each with the block that emitted it (clients resume from the last seen block). */
export type ChainEvent =
  | { type: 'OnDeckElection'; block: bigint; epoch: bigint; directors: Uint8Array[]; startBlock: bigint }
  | { type: 'EpochStarted'; block: bigint; epoch: bigint; directors: Uint8Array[]; endBlock: bigint }
  | { type: 'EpochCompleted'; block: bigint; epoch: bigint }
  | {
      type: 'BftResultSubmitted'
      block: bigint
      slot: bigint
      canonicalHash: Uint8Array
      submitter: Uint8Array
    }
  | { type: 'BftResultFinalized'; block: bigint; slot: bigint; canonicalHash: Uint8Array }
  | { type: 'NewBlock'; block: bigint }

export type ChainEventType = ChainEvent['type']

/** Outcome of a submission. `unknown`: no answer (timeout, disconnect): retry, it is idempotent. */
export type SubmitOutcome =
  | {
      status: 'accepted'
      block: bigint
      /**
       * True when the chain already held this exact result (same canonical hash) for the slot:
       * a retry after `unknown` is answered `accepted` with the original block, never recorded twice.
       */
      duplicate?: boolean
    }
  | {
      status: 'rejected'
      reason: string
      code: SubmitRejectCode
      /** With `BAD_CERTIFICATE`: which check of `verifyCertificate` failed. */
      certificateCode?: CertificateErrorCode
    }
  | { status: 'unknown'; reason: string }

export type SubmitRejectCode =
  | 'NOT_ELECTED'
  | 'BAD_CERTIFICATE'
  | 'ALREADY_SUBMITTED'
  | 'UNKNOWN_EPOCH'
  | 'SLOT_MISMATCH'
  | 'MALFORMED'

/** Outcome of submitting equivocation evidence (docs/protocol.md §7). */
export type EvidenceOutcome =
  | { status: 'accepted'; block: bigint; duplicate?: boolean }
  | {
      status: 'rejected'
      reason: string
      code: 'MALFORMED' | 'BAD_EVIDENCE' | 'BAD_SIGNATURE' | 'SLOT_MISMATCH' | 'UNKNOWN_EPOCH' | 'NOT_ELECTED'
    }
  | { status: 'unknown'; reason: string }

export interface SlotResult {
  slot: bigint
  epoch: bigint
  canonicalHash: Uint8Array
  submitter: Uint8Array
  submittedBlock: bigint
  finalized: boolean
  /**
   * The certificate as submitted. The Substrate runtime does not store certificates: there it is
   * only known for results this client submitted, otherwise it has no members and no commits.
   */
  certificate: Certificate
}

export interface ChainInfo {
  /** network_id of docs/protocol.md §1: the genesis hash. */
  genesisHash: Uint8Array
  bestBlock: bigint
  currentEpoch: bigint
  /** Blocks per epoch, On-Deck lookahead, challenge period, block time, slots per epoch. */
  epochLengthBlocks: number
  lookaheadBlocks: number
  challengePeriodBlocks: number
  blockTimeMs: number
  /**
   * Slots are driven by blocks: slot s spans blocks [s * blocksPerSlot, (s + 1) * blocksPerSlot) and
   * belongs to epoch floor(s / slotsPerEpoch), where slotsPerEpoch = epochLengthBlocks / blocksPerSlot.
   */
  blocksPerSlot: number
  slotsPerEpoch: number
  quorum: number
  /**
   * Unix ms at which the best block was sealed, by the chain's clock (what `nsn doctor` measures the
   * local clock's skew against). Null or absent when not known: a dev chain that has sealed no block
   * since it started, or a chain client that does not read block timestamps.
   */
  bestBlockTimestampMs?: number | null
}

export interface ChainClient {
  info(): Promise<ChainInfo>
  register(reg: NodeRegistration, signer: { sign(msg: Uint8Array): Uint8Array }): Promise<void>
  /** Protobuf public keys of the directors elected for `epoch` (empty if not elected yet). */
  electedDirectors(epoch: bigint): Promise<Uint8Array[]>
  /**
   * Subscribe to events from `fromBlock` on (inclusive; default: the next block). Delivers each
   * event once, in block order, across reconnects. Returns an unsubscribe function.
   */
  subscribe(handler: (event: ChainEvent) => void, fromBlock?: bigint): () => void
  /** Submit a certificate for `slot`, signed by the submitting director's key. */
  submitBftResult(
    slot: bigint,
    certificate: Certificate,
    signer: { publicKeyProto: Uint8Array; sign(msg: Uint8Array): Uint8Array },
  ): Promise<SubmitOutcome>
  /**
   * Report equivocation evidence (SCALE as on /nsn/challenges/1.0.0). Never throws. Optional: a
   * chain without an evidence call (the reference pallet) leaves it out.
   */
  submitEvidence?(evidence: Uint8Array): Promise<EvidenceOutcome>
  /** A slot's recorded result, or null. */
  slotResult(slot: bigint): Promise<SlotResult | null>
  close(): Promise<void>
}
