// How the NSN runtime's pallets (reference nsn-chain: NsnStake index 50, NsnDirector index 52) map
// onto the ChainClient seam, as pure functions over the values polkadot-api's unsafe API takes and
// returns (u64 → bigint, u32 → number, AccountId32 → SS58 string, H256 → 0x-hex, enums → {type}).
// Kept apart from the client so the mapping is tested against SCALE fixtures without a node.
import { AccountId, getSs58AddressInfo, type HexString, type SS58String } from 'polkadot-api'
import { publicKeyFromProto, publicKeyToProto } from '../crypto/index.ts'
import type { Certificate } from '../types/index.ts'
import { bytesToHex, hexToBytes } from '../types/index.ts'
import type { ChainEvent } from './client.ts'
import type { Region } from './config.ts'

/** Facts of the reference runtime that are not in its metadata constants (nsn-director types.rs). */
export const NSN_RUNTIME = {
  palletIndex: { NsnStake: 50, NsnDirector: 52 },
  callIndex: { NsnDirector: { submit_bft_result: 0 }, NsnStake: { deposit_stake: 0 } },
  /** Variant order of `pallet_nsn_director::Event`. */
  directorEvents: [
    'SlotStarted',
    'DirectorsElected',
    'BftResultPending',
    'BftChallenged',
    'ChallengeUpheld',
    'ChallengeRejected',
    'BftConsensusFinalized',
    'SlotFailed',
    'OnDeckElection',
    'EpochStarted',
    'EpochCompleted',
  ] as const,
  blocksPerSlot: 8,
  bftThreshold: 3,
  challengePeriodBlocks: 50,
  /** Substrate's generic SS58 prefix; the NSN runtime's own prefix is not known here. */
  ss58Format: 42,
} as const

/** `pallet_nsn_stake::Region` variant names. */
export const REGION_VARIANT: Record<Region, string> = {
  'na-west': 'NaWest',
  'na-east': 'NaEast',
  'eu-west': 'EuWest',
  'eu-east': 'EuEast',
  apac: 'Apac',
  latam: 'Latam',
  mena: 'Mena',
}

/**
 * A node key as an AccountId32. With the runtime's MultiSignature, an Ed25519 signer's account id
 * is its raw 32-byte public key, so the node key is the account and the PeerId binding is implicit.
 */
export function accountIdFromProtoKey(
  proto: Uint8Array,
  ss58Format: number = NSN_RUNTIME.ss58Format,
): SS58String {
  const raw = publicKeyFromProto(proto)
  if (raw === null) throw new TypeError('not a libp2p protobuf Ed25519 public key')
  // A copy: scale-ts decoders read the view's underlying buffer from offset 0.
  return AccountId(ss58Format).dec(new Uint8Array(raw))
}

/** The node key (libp2p protobuf) of an AccountId32, assuming it is an Ed25519 account. */
export function protoKeyFromAccountId(id: SS58String): Uint8Array {
  const info = getSs58AddressInfo(id)
  if (!info.isValid) throw new TypeError(`not an SS58 address: ${id}`)
  return publicKeyToProto(info.publicKey)
}

export const toHex = (b: Uint8Array): HexString => `0x${bytesToHex(b)}`

export interface SubmitBftResultArgs {
  slot: bigint
  agreeing_directors: SS58String[]
  embeddings_hash: HexString
}

/**
 * `NsnDirector.submit_bft_result(slot, agreeing_directors, embeddings_hash)`: the agreeing set is the
 * certificate's commit signers (in certificate order) and `embeddings_hash` the canonical hash.
 * The pallet checks neither the signatures nor the hash; the client verifies before submitting.
 */
export function submitBftResultArgs(
  slot: bigint,
  cert: Certificate,
  canonicalHash: Uint8Array,
  ss58Format: number = NSN_RUNTIME.ss58Format,
): SubmitBftResultArgs {
  return {
    slot,
    agreeing_directors: cert.commits.map((c) => accountIdFromProtoKey(c.signer, ss58Format)),
    embeddings_hash: toHex(canonicalHash),
  }
}

export interface DepositStakeArgs {
  amount: bigint
  lock_blocks: number
  region: { type: string; value: undefined }
}

/** `NsnStake.deposit_stake(amount, lock_blocks, region)`; the runtime derives the role from the total stake. */
export function depositStakeArgs(amount: bigint, lockBlocks: number, region: Region): DepositStakeArgs {
  return { amount, lock_blocks: lockBlocks, region: { type: REGION_VARIANT[region], value: undefined } }
}

/** `BftConsensusResult` as stored in `NsnDirector.BftResults`. */
export interface BftResultValue {
  slot: bigint
  success: boolean
  canonical_hash: HexString
  submitter: SS58String
  submitted_at_block: bigint
}

/** One `NsnDirector` event as polkadot-api decodes it: `{type: variant, value: fields}`. */
export interface DirectorEventValue {
  type: string
  value: Record<string, unknown>
}

/**
 * Map one NsnDirector event of block `block` to a ChainEvent. BftResultPending and
 * BftConsensusFinalized carry no hash: `result` is `BftResults(slot)` read at that block.
 * Other variants (slot-based election, challenges) have no ChainEvent and map to null.
 */
export function mapDirectorEvent(
  ev: DirectorEventValue,
  block: bigint,
  result?: BftResultValue,
): ChainEvent | null {
  const v = ev.value
  switch (ev.type) {
    case 'OnDeckElection':
      return {
        type: 'OnDeckElection',
        block,
        epoch: v.epoch_id as bigint,
        directors: (v.directors as SS58String[]).map(protoKeyFromAccountId),
        startBlock: BigInt(v.start_block as number),
      }
    case 'EpochStarted':
      return {
        type: 'EpochStarted',
        block,
        epoch: v.epoch_id as bigint,
        directors: (v.directors as SS58String[]).map(protoKeyFromAccountId),
        endBlock: BigInt(v.end_block as number),
      }
    case 'EpochCompleted':
      return { type: 'EpochCompleted', block, epoch: v.epoch_id as bigint }
    case 'BftResultPending':
      if (result === undefined) return null
      return {
        type: 'BftResultSubmitted',
        block,
        slot: v.slot as bigint,
        canonicalHash: hexToBytes(result.canonical_hash),
        submitter: protoKeyFromAccountId(v.canonical_director as SS58String),
      }
    case 'BftConsensusFinalized':
      if (result === undefined) return null
      return {
        type: 'BftResultFinalized',
        block,
        slot: v.slot as bigint,
        canonicalHash: hexToBytes(result.canonical_hash),
      }
    default:
      return null
  }
}

/** `pallet_nsn_director::Error` variants mapped to submission reject codes. */
export const DIRECTOR_ERROR_CODES = {
  NotElectedDirector: 'NOT_ELECTED',
  InsufficientAgreement: 'BAD_CERTIFICATE',
  ResultAlreadySubmitted: 'ALREADY_SUBMITTED',
  TooManyDirectors: 'MALFORMED',
} as const
