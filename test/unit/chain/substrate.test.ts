// The Substrate mapping (src/chain/substrate-mapping.ts) against SCALE fixtures written out by hand
// from the reference runtime's Rust types (nsn-chain: NsnDirector = pallet 52, NsnStake = 50). The
// codecs below are @polkadot-api/substrate-bindings', the ones polkadot-api builds from metadata at
// run time; src/types' own SCALE codec is a second, independent encoder. No node runs here.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import {
  _void,
  AccountId,
  SizedBytes,
  Struct,
  u32,
  u64,
  u128,
  Variant,
  Vector,
} from '@polkadot-api/substrate-bindings'
import {
  accountIdFromProtoKey,
  DIRECTOR_ERROR_CODES,
  depositStakeArgs,
  dispatchErrorName,
  mapDirectorEvent,
  NSN_RUNTIME,
  protoKeyFromAccountId,
  REGION_VARIANT,
  SubstrateChainClient,
  submitBftResultArgs,
} from '../../../src/chain/index.ts'
import { initBlake3, type NodeKey } from '../../../src/crypto/index.ts'
import {
  bytesToHex,
  concatBytes,
  encodeScale,
  fixedBytes,
  hexToBytes,
  u64 as ownU64,
  struct,
  vec,
} from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { certificateFor } from './chain-fixtures.ts'

await initBlake3()

let keys: NodeKey[]
before(async () => {
  keys = await testKeys(3)
})

const ss58 = AccountId(NSN_RUNTIME.ss58Format)
const SubmitArgs = Struct({ slot: u64, agreeing_directors: Vector(ss58), embeddings_hash: SizedBytes(32) })
// pallet_nsn_stake::Region, variants in declaration order.
const RegionCodec = Variant({
  NaWest: _void,
  NaEast: _void,
  EuWest: _void,
  EuEast: _void,
  Apac: _void,
  Latam: _void,
  Mena: _void,
})
const DepositArgs = Struct({ amount: u128, lock_blocks: u32, region: RegionCodec })
const OnDeck = Struct({ epoch_id: u64, directors: Vector(ss58), start_block: u32 })
const EpochStartedCodec = Struct({ epoch_id: u64, directors: Vector(ss58), end_block: u32 })
const EpochCompletedCodec = Struct({ epoch_id: u64 })
const BftResultPending = Struct({ slot: u64, canonical_director: ss58, deadline: u64 })
const BftConsensusFinalized = Struct({ slot: u64 })

const raw = (k: NodeKey) => k.publicKey
const h = (parts: (string | Uint8Array)[]) =>
  bytesToHex(concatBytes(parts.map((p) => (typeof p === 'string' ? hexToBytes(p) : p))))

describe('NsnDirector.submit_bft_result call data', () => {
  it('encodes slot u64 LE, Vec<AccountId32> of the commit signers, H256 canonical hash', () => {
    const slot = 0x0102030405n
    const { certificate, canonicalHash } = certificateFor(new Uint8Array(32).fill(1), 0n, slot, keys)
    const args = submitBftResultArgs(slot, certificate, canonicalHash)
    const call = concatBytes([
      new Uint8Array([
        NSN_RUNTIME.palletIndex.NsnDirector,
        NSN_RUNTIME.callIndex.NsnDirector.submit_bft_result,
      ]),
      SubmitArgs.enc(args),
    ])
    const signers = certificate.commits.map((c) => c.signer.subarray(4))
    const fixture = h(['3400', '0504030201000000', '0c', ...signers, canonicalHash])
    assert.equal(bytesToHex(call), fixture)
    // An independent SCALE encoder agrees on the argument bytes.
    const own = struct('submit_bft_result', {
      slot: ownU64,
      agreeing_directors: vec(fixedBytes(32)),
      embeddings_hash: fixedBytes(32),
    })
    assert.equal(
      bytesToHex(encodeScale(own, { slot, agreeing_directors: signers, embeddings_hash: canonicalHash })),
      fixture.slice(4),
    )
    // And the arguments decode back to the same accounts.
    const back = SubmitArgs.dec(call.slice(2))
    assert.deepEqual(
      back.agreeing_directors.map(protoKeyFromAccountId).map(bytesToHex),
      certificate.commits.map((c) => bytesToHex(c.signer)),
    )
  })
})

describe('NsnStake.deposit_stake call data', () => {
  it('encodes amount u128 LE, lock_blocks u32, the Region variant index', () => {
    const amount = 100n * 10n ** 18n
    const call = concatBytes([
      new Uint8Array([50, 0]),
      DepositArgs.enc(depositStakeArgs(amount, 7, 'eu-west') as never),
    ])
    // 100 NSN = 0x56bc75e2d63100000; region EuWest is variant 2.
    assert.equal(bytesToHex(call), h(['3200', '000010632d5ec76b0500000000000000', '07000000', '02']))
    // Every dev chain region names a runtime variant, at the index of REGIONS (the same order).
    for (const [i, v] of Object.values(REGION_VARIANT).entries()) {
      assert.equal(RegionCodec.enc({ type: v, value: undefined } as never)[0], i, v)
    }
  })
})

describe('NsnDirector events', () => {
  it('OnDeckElection / EpochStarted / EpochCompleted map to ChainEvents with node keys', () => {
    const ids = keys.map((k) => accountIdFromProtoKey(k.publicKeyProto))
    // RuntimeEvent::NsnDirector (52) :: OnDeckElection (8) { epoch_id: 3, directors, start_block: 1800 }
    const onDeckBytes = hexToBytes(h(['3408', '0300000000000000', '0c', ...keys.map(raw), '08070000']))
    assert.equal(onDeckBytes[0], NSN_RUNTIME.palletIndex.NsnDirector)
    assert.equal(NSN_RUNTIME.directorEvents[onDeckBytes[1]!], 'OnDeckElection')
    const onDeck = mapDirectorEvent(
      { type: 'OnDeckElection', value: OnDeck.dec(onDeckBytes.slice(2)) },
      1780n,
    )
    assert.deepEqual(onDeck, {
      type: 'OnDeckElection',
      block: 1780n,
      epoch: 3n,
      directors: keys.map((k) => k.publicKeyProto),
      startBlock: 1800n,
    })
    assert.deepEqual(OnDeck.dec(onDeckBytes.slice(2)).directors, ids)

    const startedBytes = hexToBytes(h(['3409', '0300000000000000', '0c', ...keys.map(raw), 'b0090000']))
    assert.equal(NSN_RUNTIME.directorEvents[startedBytes[1]!], 'EpochStarted')
    assert.deepEqual(
      mapDirectorEvent({ type: 'EpochStarted', value: EpochStartedCodec.dec(startedBytes.slice(2)) }, 1800n),
      {
        type: 'EpochStarted',
        block: 1800n,
        epoch: 3n,
        directors: keys.map((k) => k.publicKeyProto),
        endBlock: 2480n,
      },
    )
    const completedBytes = hexToBytes('340a0200000000000000')
    assert.equal(NSN_RUNTIME.directorEvents[completedBytes[1]!], 'EpochCompleted')
    assert.deepEqual(
      mapDirectorEvent(
        { type: 'EpochCompleted', value: EpochCompletedCodec.dec(completedBytes.slice(2)) },
        1800n,
      ),
      {
        type: 'EpochCompleted',
        block: 1800n,
        epoch: 2n,
      },
    )
  })

  it('BftResultPending / BftConsensusFinalized take the hash from BftResults', () => {
    const hash = new Uint8Array(32).fill(0xab)
    const result = {
      slot: 42n,
      success: true,
      canonical_hash: `0x${bytesToHex(hash)}`,
      submitter: accountIdFromProtoKey(keys[0]!.publicKeyProto),
      submitted_at_block: 340n,
    }
    const pendingBytes = hexToBytes(h(['3402', '2a00000000000000', raw(keys[0]!), '8601000000000000']))
    assert.equal(NSN_RUNTIME.directorEvents[pendingBytes[1]!], 'BftResultPending')
    const pending = { type: 'BftResultPending', value: BftResultPending.dec(pendingBytes.slice(2)) }
    assert.equal(mapDirectorEvent(pending, 340n), null, 'no hash without the storage read')
    assert.deepEqual(mapDirectorEvent(pending, 340n, result), {
      type: 'BftResultSubmitted',
      block: 340n,
      slot: 42n,
      canonicalHash: hash,
      submitter: keys[0]!.publicKeyProto,
    })
    const finBytes = hexToBytes('34062a00000000000000')
    assert.equal(NSN_RUNTIME.directorEvents[finBytes[1]!], 'BftConsensusFinalized')
    assert.deepEqual(
      mapDirectorEvent(
        { type: 'BftConsensusFinalized', value: BftConsensusFinalized.dec(finBytes.slice(2)) },
        390n,
        result,
      ),
      { type: 'BftResultFinalized', block: 390n, slot: 42n, canonicalHash: hash },
    )
    assert.equal(mapDirectorEvent({ type: 'SlotStarted', value: { slot: 1n } }, 1n), null)
  })
})

describe('dispatch errors', () => {
  it('maps NsnDirector module errors to reject codes', () => {
    const e = { type: 'Module', value: { type: 'NsnDirector', value: { type: 'NotElectedDirector' } } }
    assert.equal(dispatchErrorName(e), 'NotElectedDirector')
    assert.equal(DIRECTOR_ERROR_CODES.NotElectedDirector, 'NOT_ELECTED')
    assert.equal(DIRECTOR_ERROR_CODES.ResultAlreadySubmitted, 'ALREADY_SUBMITTED')
    assert.equal(
      dispatchErrorName({ type: 'Module', value: { type: 'Balances', value: { type: 'X' } } }),
      null,
    )
    assert.equal(dispatchErrorName(undefined), null)
  })
})

describe('SubstrateChainClient', () => {
  it('constructs over polkadot-api with the ws WebSocket and closes without a node', async () => {
    const client = new SubstrateChainClient({ url: 'ws://127.0.0.1:9' })
    await client.close()
  })
})
