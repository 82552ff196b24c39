// Commit equivocation evidence (docs/protocol.md §5 step 5) over an in-process gossip hub: the
// director that sees two different commits from one elected director publishes the evidence once,
// the others accept it and stop counting that director's commits; the challenges validator rejects
// only what every honest node concludes from the bytes and the chain, ignores the rest; every
// equivocation learnt is reported to the chain once per (slot, director).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type NodeKey, signCommit } from '../../../src/crypto/index.ts'
import { reportEvidenceToChain } from '../../../src/lane0/evidence.ts'
import { BftParticipant } from '../../../src/lane0/index.ts'
import { silentLogger } from '../../../src/lane0/log.ts'
import { ManualClock, SlotClock, TypedEmitter } from '../../../src/scheduler/index.ts'
import {
  bytesToHex,
  type Commit,
  type CommitEquivocationEvidence,
  decodeChallenge,
  type EquivocationEvidence,
  encodeBftSignal,
  encodeCommitEvidence,
} from '../../../src/types/index.ts'
import { TEST_NETWORK_ID, testKeys } from '../../fixtures/index.ts'
import { FakeGossipHub, protoKeys } from './fakes.ts'

const EPOCH = 1n
const SLOT = 5n // epoch 1 with 4 slots per epoch

async function setup(n = 4) {
  const keys = await testKeys(7)
  const elected = keys.slice(0, 5)
  const hub = new FakeGossipHub()
  const clock = new ManualClock()
  const slotClock = new SlotClock(2, 4)
  const nodes = elected.slice(0, n).map((key, i) => {
    const gossip = hub.join(`n${i}`)
    const bft = new BftParticipant({ gossip, key, clock }, { networkId: TEST_NETWORK_ID, slotClock })
    bft.start()
    bft.setElected(EPOCH, protoKeys(elected))
    bft.setCurrentSlot(SLOT)
    return { key, gossip, bft }
  })
  return { elected, outsider: keys[6]!, hub, nodes }
}

const commit = (key: NodeKey, fill: number, slot = SLOT): Commit =>
  signCommit(key, TEST_NETWORK_ID, { epoch: slot / 4n, slot, canonical_hash: new Uint8Array(32).fill(fill) })
const commitBytes = (c: Commit) => encodeBftSignal({ kind: 'Commit', value: c })
const flush = () => new Promise((r) => setTimeout(r, 5))

describe('commit equivocation evidence', () => {
  it('the director that sees two commits publishes the evidence once; the others learn it from it', async () => {
    const { nodes, hub, elected } = await setup()
    const byz = elected[4]!
    const seen: string[] = []
    for (const n of nodes) n.bft.events.on('commitEquivocation', (e) => seen.push(e.signer))
    const c1 = commit(byz, 0xa1)
    const c2 = commit(byz, 0xa2)
    for (let i = 0; i < 4; i++)
      assert.equal(await hub.nodes.get(`n${i}`)!.receive('bft', commitBytes(c1)), 'accept')
    assert.equal(await hub.nodes.get('n0')!.receive('bft', commitBytes(c2)), 'ignore', 'not forwarded')
    await flush()
    const published = hub.published.filter((m) => m.topic === 'challenges')
    assert.equal(published.length, 1, 'node 0 published the evidence, and nobody else re-published it')
    const ev = decodeChallenge(published[0]!.data)
    assert.equal(ev.kind, 'Commit')
    assert.deepEqual(ev.value, { first: c1, second: c2 })
    assert.deepEqual(seen, Array(4).fill(bytesToHex(byz.publicKeyProto)), 'all four marked the signer')
    // Its commits count for nothing in the slot any more, on every node.
    for (let i = 1; i < 4; i++)
      assert.equal(await hub.nodes.get(`n${i}`)!.receive('bft', commitBytes(c2)), 'ignore', `n${i}`)
    // A third commit does not produce more evidence.
    assert.equal(await hub.nodes.get('n0')!.receive('bft', commitBytes(commit(byz, 0xa3))), 'ignore')
    await flush()
    assert.equal(hub.count('challenges'), 1)
  })

  it('rejects only what the bytes and the chain prove wrong, ignores the rest', async () => {
    const { nodes, elected, outsider } = await setup(1)
    const g = nodes[0]!.gossip
    const byz = elected[4]!
    const ev = (first: Commit, second: Commit) => encodeCommitEvidence({ first, second })
    const forged = { ...commit(byz, 2), signature: new Uint8Array(64) }
    const cases: [string, Uint8Array, 'reject' | 'ignore'][] = [
      ['forged second signature', ev(commit(byz, 1), forged), 'reject'],
      ['the same hash twice', ev(commit(byz, 1), commit(byz, 1)), 'reject'],
      ['two signers', ev(commit(byz, 1), commit(elected[3]!, 2)), 'reject'],
      ['two slots', ev(commit(byz, 1), commit(byz, 2, SLOT + 1n)), 'reject'],
      ['unelected signer', ev(commit(outsider, 1), commit(outsider, 2)), 'reject'],
      ['no tag', ev(commit(byz, 1), commit(byz, 2)).subarray(1), 'reject'],
      ['truncated', ev(commit(byz, 1), commit(byz, 2)).subarray(0, 200), 'reject'],
      ['a slot outside the window', ev(commit(byz, 1, SLOT + 8n), commit(byz, 2, SLOT + 8n)), 'ignore'],
      ['an epoch with no known elected set', ev(commit(byz, 1, 40n), commit(byz, 2, 40n)), 'ignore'],
    ]
    for (const [what, data, want] of cases) assert.equal(await g.receive('challenges', data), want, what)
    const real = ev(commit(byz, 1), commit(byz, 2))
    assert.equal(await g.receive('challenges', real), 'accept')
    assert.equal(await g.receive('challenges', real), 'ignore', 'already known')
    assert.equal(
      await g.receive('challenges', ev(commit(byz, 3), commit(byz, 4))),
      'ignore',
      'one per signer',
    )
  })

  it('reports every equivocation to the chain once per (slot, director)', async () => {
    const { elected } = await setup(0)
    const byz = elected[4]!
    const events = new TypedEmitter<{
      equivocation: { slot: bigint; signer: string; evidence: EquivocationEvidence }
      commitEquivocation: { slot: bigint; signer: string; evidence: CommitEquivocationEvidence }
    }>()
    const sent: Uint8Array[] = []
    reportEvidenceToChain(
      events,
      {
        submitEvidence: async (e) => {
          sent.push(e)
          return { status: 'accepted', block: 1n }
        },
      },
      silentLogger,
    )
    const evidence = { first: commit(byz, 1), second: commit(byz, 2) }
    const signer = bytesToHex(byz.publicKeyProto)
    events.emit('commitEquivocation', { slot: SLOT, signer, evidence })
    events.emit('commitEquivocation', { slot: SLOT, signer, evidence })
    events.emit('commitEquivocation', { slot: SLOT + 1n, signer, evidence })
    assert.equal(sent.length, 2)
    assert.deepEqual(sent[0], encodeCommitEvidence(evidence))
  })
})
