// The dev chain's rules (src/chain/state.ts) without any I/O: epochs and On-Deck, registration and
// PeerId binding, submit_bft_result checks, finality, bounded pruning, determinism, snapshots.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import {
  type ChainEvent,
  ChainState,
  genesisHashOf,
  NSN_UNIT,
  peerBindingBytes,
  RegisterError,
  registrationSigningBytes,
  resolveChainParams,
  type SubmitOutcome,
  submitSigningBytes,
} from '../../../src/chain/index.ts'
import type { RegisterTx, SubmitTx } from '../../../src/chain/rpc.ts'
import { initBlake3, type NodeKey } from '../../../src/crypto/index.ts'
import { bytesToHex, type Certificate, encodeCertificate } from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { expectCode } from '../../helpers.ts'
import { certificateFor, DIRECTOR_STAKE, genesisDirectors } from './chain-fixtures.ts'

await initBlake3()

let keys: NodeKey[]
let outsiders: NodeKey[]
before(async () => {
  keys = await testKeys(5)
  outsiders = await testKeys(3, 10)
})

const OPTS = { eventRetentionBlocks: 1000 }

function makeChain(extra: Parameters<typeof resolveChainParams>[0] = {}) {
  const params = resolveChainParams({
    seed: 'unit',
    epochLengthBlocks: 8,
    lookaheadBlocks: 2,
    blocksPerSlot: 2,
    challengePeriodBlocks: 3,
    genesisAccounts: genesisDirectors(keys),
    ...extra,
  })
  return ChainState.genesis(params, OPTS)
}

function sealTo(s: ChainState, block: bigint): ChainEvent[] {
  const out: ChainEvent[] = []
  while (s.best < block) out.push(...s.sealBlock().events.map((e) => e.event))
  return out
}

function submitTx(s: ChainState, slot: bigint, cert: Certificate, submitter: NodeKey): SubmitTx {
  const certificateScale = encodeCertificate(cert)
  return {
    slot,
    certificateScale,
    certificate: cert,
    submitter: submitter.publicKeyProto,
    signature: submitter.sign(submitSigningBytes(s.genesisHash, slot, certificateScale)),
  }
}

function submit(
  s: ChainState,
  slot: bigint,
  cert: Certificate,
  submitter: NodeKey = keys[0]!,
): SubmitOutcome {
  return s.applySubmit(submitTx(s, slot, cert, submitter)).outcome
}

function registerTx(
  s: ChainState,
  k: NodeKey,
  over: Partial<RegisterTx> = {},
  signer: NodeKey = k,
): RegisterTx {
  const base = {
    account: k.publicKeyProto,
    peer: k.publicKeyProto,
    role: 'director' as const,
    region: 'eu-west' as const,
    stake: DIRECTOR_STAKE,
    nonce: s.account(over.account ?? k.publicKeyProto)?.nonce ?? 0,
    ...over,
  }
  return {
    ...base,
    signature: signer.sign(registrationSigningBytes(s.genesisHash, base)),
    peerBinding: over.peerBinding ?? null,
  }
}

const hexSet = (ks: Uint8Array[]) => new Set(ks.map(bytesToHex))

describe('epochs', () => {
  it('genesis elects and starts epoch 0 at block 0', () => {
    const { state, block } = makeChain()
    assert.equal(block.number, 0n)
    assert.deepEqual(
      block.events.map((e) => e.event.type),
      ['OnDeckElection', 'EpochStarted', 'NewBlock'],
    )
    assert.deepEqual(hexSet(state.epoch(0n)!.directors), hexSet(keys.map((k) => k.publicKeyProto)))
  })

  it('On-Deck election lookahead blocks before the switch, the same directors again (consecutive)', () => {
    const { state } = makeChain()
    const events = sealTo(state, 16n)
    const onDeck = events.filter((e) => e.type === 'OnDeckElection')
    const started = events.filter((e) => e.type === 'EpochStarted')
    const completed = events.filter((e) => e.type === 'EpochCompleted')
    assert.deepEqual(
      onDeck.map((e) => [e.block, e.type === 'OnDeckElection' && e.startBlock]),
      [
        [6n, 8n],
        [14n, 16n],
      ],
    )
    assert.deepEqual(
      started.map((e) => [e.block, e.type === 'EpochStarted' && e.endBlock]),
      [
        [8n, 16n],
        [16n, 24n],
      ],
    )
    assert.deepEqual(
      completed.map((e) => e.block),
      [8n, 16n],
    )
    for (const e of started) {
      assert.ok(e.type === 'EpochStarted')
      assert.deepEqual(hexSet(e.directors), hexSet(keys.map((k) => k.publicKeyProto)), 'all 5 every epoch')
    }
    // Within a block: switch first, the NewBlock last.
    const b8 = events.filter((e) => e.block === 8n).map((e) => e.type)
    assert.deepEqual(b8, ['EpochCompleted', 'EpochStarted', 'NewBlock'])
  })

  it('equal parameters and inputs give equal block hashes; another seed another genesis', () => {
    const a = makeChain().state
    const b = makeChain().state
    sealTo(a, 20n)
    sealTo(b, 20n)
    assert.equal(bytesToHex(a.bestHash), bytesToHex(b.bestHash))
    const p = resolveChainParams({ seed: 'other' })
    assert.notEqual(
      bytesToHex(genesisHashOf(p)),
      bytesToHex(genesisHashOf(resolveChainParams({ seed: 'unit' }))),
    )
  })
})

describe('registration', () => {
  it('registers, updates with the next nonce, and refuses a wrong nonce or a bad signature', () => {
    const { state } = makeChain({ genesisAccounts: [] })
    const k = outsiders[0]!
    assert.equal(state.applyRegister(registerTx(state, k)).block, 1n)
    assert.equal(state.account(k.publicKeyProto)!.nonce, 1)
    state.applyRegister(registerTx(state, k, { stake: 2n * DIRECTOR_STAKE }))
    assert.equal(state.account(k.publicKeyProto)!.stake, 2n * DIRECTOR_STAKE)
    expectCode(() => state.applyRegister(registerTx(state, k, { nonce: 0 })), RegisterError, 'BAD_NONCE')
    expectCode(
      () => state.applyRegister(registerTx(state, k, {}, outsiders[1]!)),
      RegisterError,
      'BAD_SIGNATURE',
    )
    expectCode(
      () => state.applyRegister(registerTx(state, k, { stake: NSN_UNIT })),
      RegisterError,
      'STAKE_TOO_LOW',
    )
  })

  it('binds one PeerId per account and one account per PeerId', () => {
    const { state } = makeChain({ genesisAccounts: [] })
    const [acctA, acctB, peer] = outsiders as [NodeKey, NodeKey, NodeKey]
    const bind = (acct: NodeKey) => ({
      account: acct.publicKeyProto,
      peer: peer.publicKeyProto,
      peerBinding: peer.sign(peerBindingBytes(state.genesisHash, acct.publicKeyProto)),
    })
    // Without the node key's consent an account cannot claim a PeerId.
    expectCode(
      () => state.applyRegister(registerTx(state, peer, { account: acctA.publicKeyProto }, acctA)),
      RegisterError,
      'BAD_PEER_BINDING',
    )
    state.applyRegister(registerTx(state, peer, bind(acctA), acctA))
    assert.equal(
      bytesToHex(state.accountOfPeer(peer.publicKeyProto)!.account),
      bytesToHex(acctA.publicKeyProto),
    )
    expectCode(
      () => state.applyRegister(registerTx(state, peer, bind(acctB), acctB)),
      RegisterError,
      'PEER_TAKEN',
    )
    // The node key itself as an account: the PeerId is taken too.
    expectCode(() => state.applyRegister(registerTx(state, peer)), RegisterError, 'PEER_TAKEN')
    // Account A cannot move to another PeerId.
    expectCode(
      () => state.applyRegister(registerTx(state, acctA, { account: acctA.publicKeyProto }, acctA)),
      RegisterError,
      'ACCOUNT_BOUND',
    )
  })

  it('a registered director is a candidate from the next election on', () => {
    const { state } = makeChain({ genesisAccounts: [] })
    assert.deepEqual(state.epoch(0n)!.directors, [])
    state.applyRegister(registerTx(state, outsiders[0]!))
    sealTo(state, 8n)
    assert.deepEqual(hexSet(state.epoch(1n)!.directors), hexSet([outsiders[0]!.publicKeyProto]))
  })
})

describe('submit_bft_result', () => {
  it('accepts a valid certificate once; an identical retry is accepted with the original block', () => {
    const { state } = makeChain()
    sealTo(state, 3n)
    const { certificate, canonicalHash } = certificateFor(state.genesisHash, 0n, 1n, keys.slice(0, 3))
    const first = submit(state, 1n, certificate)
    assert.deepEqual(first, { status: 'accepted', block: 4n })
    assert.deepEqual(submit(state, 1n, certificate, keys[1]!), {
      status: 'accepted',
      block: 4n,
      duplicate: true,
    })
    const r = state.result(1n)!
    assert.equal(bytesToHex(r.canonicalHash), bytesToHex(canonicalHash))
    const other = certificateFor(state.genesisHash, 0n, 1n, keys.slice(1, 4)).certificate
    const second = submit(state, 1n, other)
    assert.equal(second.status === 'rejected' && second.code, 'ALREADY_SUBMITTED')
  })

  it('rejects forged certificates with the reason', () => {
    const { state } = makeChain()
    sealTo(state, 5n)
    const g = state.genesisHash
    const [a, b, c, d] = keys as [NodeKey, NodeKey, NodeKey, NodeKey]
    const cases: [string, Certificate, string][] = []
    const badSig = certificateFor(g, 0n, 1n, [a, b, c]).certificate
    badSig.commits[1] = {
      ...badSig.commits[1]!,
      signature: badSig.commits[1]!.signature.map((x, i) => (i === 0 ? x ^ 1 : x)),
    }
    cases.push(['bad signature', badSig, 'BAD_SIGNATURE'])
    cases.push([
      'unelected signer',
      certificateFor(g, 0n, 1n, [a, b, c], [a, b, outsiders[0]!]).certificate,
      'UNELECTED_SIGNER',
    ])
    cases.push([
      'unelected member',
      certificateFor(g, 0n, 1n, [a, b, outsiders[0]!], [a, b, c]).certificate,
      'UNELECTED_MEMBER',
    ])
    cases.push([
      'duplicate signer',
      certificateFor(g, 0n, 1n, [a, b, c], [a, b, b]).certificate,
      'DUPLICATE_SIGNER',
    ])
    cases.push([
      'too few commits',
      certificateFor(g, 0n, 1n, [a, b, c], [a, b]).certificate,
      'TOO_FEW_COMMITS',
    ])
    cases.push([
      'too few members',
      certificateFor(g, 0n, 1n, [a, b], [a, b, c]).certificate,
      'TOO_FEW_MEMBERS',
    ])
    cases.push([
      'other network',
      certificateFor(new Uint8Array(32).fill(9), 0n, 1n, [a, b, d]).certificate,
      'BAD_SIGNATURE',
    ])
    for (const [name, cert, code] of cases) {
      const o = submit(state, 1n, cert)
      assert.equal(o.status, 'rejected', name)
      assert.ok(o.status === 'rejected')
      assert.equal(o.code, 'BAD_CERTIFICATE', name)
      assert.equal(o.certificateCode, code, `${name}: ${o.reason}`)
    }
    assert.equal(state.result(1n), undefined, 'nothing recorded')
  })

  it('checks the submitter, the slot and the epoch', () => {
    const { state } = makeChain()
    sealTo(state, 5n)
    const g = state.genesisHash
    const cert = certificateFor(g, 0n, 1n, keys.slice(0, 3)).certificate
    const code = (o: SubmitOutcome) => (o.status === 'rejected' ? o.code : o.status)
    assert.equal(code(submit(state, 1n, cert, outsiders[0]!)), 'NOT_ELECTED')
    assert.equal(code(submit(state, 2n, cert)), 'SLOT_MISMATCH', 'cert.slot ≠ slot')
    assert.equal(
      code(submit(state, 1n, { ...cert, epoch: 1n })),
      'SLOT_MISMATCH',
      'cert.epoch ≠ epoch of slot',
    )
    const early = makeChain().state
    sealTo(early, 4n)
    const future = certificateFor(g, 0n, 3n, keys.slice(0, 3)).certificate
    assert.equal(
      code(submit(early, 3n, future)),
      'SLOT_MISMATCH',
      'slot 3 starts at block 6, the chain builds block 5',
    )
    sealTo(early, 5n)
    assert.equal(code(submit(early, 3n, future)), 'accepted', 'slot 3 starts in the block being built')
    const farEpoch = certificateFor(g, 9n, 36n, keys.slice(0, 3)).certificate
    assert.equal(code(submit(state, 36n, farEpoch)), 'UNKNOWN_EPOCH')
    const tx = submitTx(state, 1n, cert, keys[0]!)
    tx.signature = keys[1]!.sign(submitSigningBytes(g, 1n, tx.certificateScale))
    assert.equal(code(state.applySubmit(tx).outcome), 'MALFORMED', 'call signed by another key')
  })

  it('finalizes after the challenge period and credits the signers reputation', () => {
    const { state } = makeChain()
    sealTo(state, 3n)
    const cert = certificateFor(state.genesisHash, 0n, 1n, keys.slice(0, 3)).certificate
    assert.deepEqual(submit(state, 1n, cert), { status: 'accepted', block: 4n })
    const b4 = sealTo(state, 4n)
    assert.deepEqual(
      b4.map((e) => e.type),
      ['BftResultSubmitted', 'NewBlock'],
    )
    assert.equal(sealTo(state, 6n).filter((e) => e.type === 'BftResultFinalized').length, 0)
    assert.equal(state.result(1n)!.finalizedBlock, null)
    const b7 = sealTo(state, 7n)
    const fin = b7.find((e) => e.type === 'BftResultFinalized')
    assert.ok(fin && fin.block === 7n, 'final at submitted block 4 + challenge period 3')
    assert.equal(state.result(1n)!.finalizedBlock, 7n)
    for (const k of keys.slice(0, 3)) assert.equal(state.accountOfPeer(k.publicKeyProto)!.reputation, 100n)
    assert.equal(state.accountOfPeer(keys[4]!.publicKeyProto)!.reputation, 0n)
  })

  it('keeps results and elections bounded over many epochs and finalizes every one of them', () => {
    const { state } = makeChain({ epochRetention: 3 })
    let submitted = 0
    let finalized = 0
    const EPOCHS = 40n
    for (let b = 1n; b <= EPOCHS * 8n; b++) {
      // Submit each slot in its second block.
      if (b % 2n === 1n) {
        const slot = (b - 1n) / 2n
        const epoch = slot / 4n
        const cert = certificateFor(state.genesisHash, epoch, slot, keys.slice(0, 3)).certificate
        const o = submit(state, slot, cert)
        assert.equal(o.status, 'accepted', `slot ${slot}`)
        submitted++
      }
      finalized += state.sealBlock().events.filter((e) => e.event.type === 'BftResultFinalized').length
      const sizes = state.sizes()
      assert.ok(sizes.epochs <= 5, `epochs kept: ${sizes.epochs}`)
      assert.ok(sizes.results <= 4 * 5, `results kept: ${sizes.results}`)
      assert.ok(sizes.pendingFinality <= 3, `pending finality: ${sizes.pendingFinality}`)
    }
    assert.ok(submitted - finalized <= 2, `finalized ${finalized} of ${submitted}`)
    assert.equal(state.epoch(0n), undefined, 'old elections pruned')
    assert.equal(state.result(0n), undefined, 'old results pruned')
  })
})

describe('snapshots', () => {
  it('a state restored from its snapshot continues exactly like the original', () => {
    const { state } = makeChain()
    sealTo(state, 5n)
    submit(state, 1n, certificateFor(state.genesisHash, 0n, 1n, keys.slice(0, 3)).certificate)
    state.applyRegister(registerTx(state, outsiders[0]!))
    const copy = ChainState.fromSnapshot(state.params, OPTS, JSON.parse(JSON.stringify(state.toSnapshot())))
    const a = sealTo(state, 30n)
    const b = sealTo(copy, 30n)
    assert.equal(bytesToHex(copy.bestHash), bytesToHex(state.bestHash))
    assert.deepEqual(
      b.map((e) => `${e.block}:${e.type}`),
      a.map((e) => `${e.block}:${e.type}`),
    )
    assert.deepEqual([...copy.eventsRange(0n, 30n)].length, [...state.eventsRange(0n, 30n)].length)
  })
})
