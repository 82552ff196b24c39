// BFT (docs/protocol.md §5) over an in-process gossip hub, with a manual clock: the decision edge cases
// of the issue (5 agree; 3 + 2 outliers; 2 + 2 + 1; equivocation; unelected key; replay; late and
// early messages; ties) and the validators' accept / reject / ignore answers.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import {
  embeddingHash,
  type NodeKey,
  rankMembers,
  signCommit,
  signProposal,
  verifyCertificate,
} from '../../../src/crypto/index.ts'
import {
  agreeingMask,
  BftError,
  type BftInput,
  BftParticipant,
  type BftParticipantInit,
  type BftResult,
  cosineSimilarity,
  largestAgreeingSet,
} from '../../../src/lane0/index.ts'
import {
  createP2PMetrics,
  GossipValidation,
  TOPIC_NAMES,
  TOPIC_SPECS,
  type TopicName,
} from '../../../src/p2p/index.ts'
import { ManualClock, SlotClock } from '../../../src/scheduler/index.ts'
import {
  bytesToHex,
  type Certificate,
  decodeEquivocationEvidence,
  encodeBftSignal,
  encodeEquivocationEvidence,
  type Proposal,
} from '../../../src/types/index.ts'
import { TEST_NETWORK_ID, testKeys, unitEmbedding } from '../../fixtures/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { FakeGossipHub, nearEmbedding, protoKeys } from './fakes.ts'

const EPOCH = 1n
const SLOT = 5n // slot 5 is in epoch 1 with 4 slots per epoch
const RECIPE_HASH = new Uint8Array(32).fill(0xaa)
const BASE = unitEmbedding(7)

/** A unit vector at `deg` degrees in the plane of two (nearly orthogonal) unit vectors. */
function planar(deg: number): Float32Array {
  const a = unitEmbedding(101)
  const b = unitEmbedding(202)
  // Gram–Schmidt so that a ⟂ b exactly (up to float error).
  const dot = cosineSimilarity(a, b)
  const bb = new Float32Array(512)
  let n = 0
  for (let i = 0; i < 512; i++) {
    bb[i] = b[i]! - dot * a[i]!
    n += bb[i]! * bb[i]!
  }
  n = Math.sqrt(n)
  const r = (deg * Math.PI) / 180
  const v = new Float32Array(512)
  for (let i = 0; i < 512; i++) v[i] = Math.cos(r) * a[i]! + (Math.sin(r) * bb[i]!) / n
  return v
}

async function setup(n = 5, init: Partial<BftParticipantInit> = {}) {
  const keys = await testKeys(7)
  const elected = keys.slice(0, 5)
  const hub = new FakeGossipHub()
  const clock = new ManualClock()
  const slotClock = new SlotClock(2, 4)
  const nodes = elected.slice(0, n).map((key, i) => {
    const gossip = hub.join(`n${i}`)
    const bft = new BftParticipant({ gossip, key, clock }, { networkId: TEST_NETWORK_ID, slotClock, ...init })
    bft.start()
    bft.setElected(EPOCH, protoKeys(elected))
    bft.setCurrentSlot(SLOT)
    return { key, gossip, bft }
  })
  return { keys, elected, outsider: keys[6]!, hub, clock, nodes, slotClock }
}

function input(i: number, embedding: Float32Array, slot = SLOT): BftInput {
  return {
    epoch: EPOCH,
    slot,
    recipeHash: RECIPE_HASH,
    contentHash: new Uint8Array(32).fill(0x10 + i),
    embedding,
  }
}

/** Tick the manual clock until every promise has settled. */
async function settle<T>(
  clock: ManualClock,
  ps: Promise<T>[],
  maxMs = 30_000,
): Promise<PromiseSettledResult<T>[]> {
  let done = false
  const all = Promise.allSettled(ps).then((r) => {
    done = true
    return r
  })
  for (let t = 0; !done && t <= maxMs; t += 50) await clock.tick(50)
  assert.ok(done, `rounds still running after ${maxMs} ms of clock`)
  return all
}

function ok(r: PromiseSettledResult<BftResult>): BftResult {
  assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String((r.reason as Error).message) : '')
  return (r as PromiseFulfilledResult<BftResult>).value
}

function proposal(
  key: NodeKey,
  i: number,
  embedding: Float32Array,
  slot = SLOT,
  recipeHash = RECIPE_HASH,
): Proposal {
  return signProposal(key, TEST_NETWORK_ID, {
    epoch: slot / 4n,
    slot,
    recipe_hash: recipeHash,
    content_hash: new Uint8Array(32).fill(0x10 + i),
    embedding,
  })
}

const bftBytes = (p: Proposal) => encodeBftSignal({ kind: 'Proposal', value: p })

describe('agreement (pure)', () => {
  it('cosine similarity', () => {
    const a = unitEmbedding(1)
    assert.ok(Math.abs(cosineSimilarity(a, a) - 1) < 1e-6)
    assert.ok(Math.abs(cosineSimilarity(planar(0), planar(60)) - 0.5) < 1e-4)
    assert.equal(cosineSimilarity(new Float32Array(4), new Float32Array(4)), 0)
    assert.throws(() => cosineSimilarity(new Float32Array(3), new Float32Array(4)), RangeError)
  })

  it('exhaustive search and Bron–Kerbosch agree on 2000 random graphs (n ≤ 7)', () => {
    let seed = 12345
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    }
    for (let t = 0; t < 2000; t++) {
      const n = 1 + Math.floor(rnd() * 7)
      const adj = new Array<number>(n).fill(0)
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++)
          if (rnd() < 0.6) {
            adj[i]! |= 1 << j
            adj[j]! |= 1 << i
          }
      assert.equal(agreeingMask(n, adj, 'exhaustive'), agreeingMask(n, adj, 'bron-kerbosch'), `graph ${t}`)
    }
  })

  it('finds the largest agreeing set among up to 32 candidates (Bron–Kerbosch)', () => {
    const cands = Array.from({ length: 20 }, (_, i) => ({
      signer: new Uint8Array([i + 1]),
      embedding: i < 12 ? nearEmbedding(BASE, 1000 + i, 0.05) : unitEmbedding(500 + i),
    }))
    const a = largestAgreeingSet(cands, 0.85)
    assert.equal(a.members.length, 12)
    assert.ok(a.similarity > 0.95)
  })

  it('breaks ties by the sorted signer keys, whatever the input order', () => {
    // {0,1,2} and {2,3,4} both agree (cos 30° ≈ 0.866 ≥ 0.85), 0/1 and 3/4 do not (cos 60° = 0.5).
    const emb = [planar(0), planar(0.5), planar(30), planar(59.5), planar(60)]
    const cands = emb.map((e, i) => ({ signer: new Uint8Array([9 - i]), embedding: e })) // keys 9,8,7,6,5
    const a = largestAgreeingSet(cands, 0.85)
    const b = largestAgreeingSet([...cands].reverse(), 0.85)
    const keysOf = (x: typeof a) => x.members.map((m) => m.signer[0])
    assert.deepEqual(keysOf(a), [5, 6, 7], 'the set with the smaller sorted keys wins')
    assert.deepEqual(keysOf(b), keysOf(a))
  })
})

describe('BftParticipant decisions', () => {
  it('5 agreeing: everyone certifies the same canonical hash with all 5 members in rank order', async () => {
    const { nodes, clock, elected, hub } = await setup()
    const rs = (
      await settle(
        clock,
        nodes.map((n, i) => n.bft.runConsensus(input(i, nearEmbedding(BASE, i + 1, 0.05)))),
      )
    ).map(ok)
    const hashes = new Set(rs.map((r) => bytesToHex(r.canonicalHash)))
    assert.equal(hashes.size, 1)
    const r = rs[0]!
    assert.equal(r.success, true)
    assert.equal(r.members.length, 5)
    assert.ok(r.similarity !== null && r.similarity > 0.99)
    const ranked = rankMembers(SLOT, r.members)
    assert.deepEqual(
      r.signers.map(bytesToHex),
      ranked.map((m) => bytesToHex(m.signer)),
    )
    assert.deepEqual(
      bytesToHex(
        verifyCertificate(r.certificate, {
          networkId: TEST_NETWORK_ID,
          elected: protoKeys(elected),
          quorum: 3,
        }),
      ),
      bytesToHex(r.canonicalHash),
    )
    assert.deepEqual(new Set(rs.map((x) => x.localRank)), new Set([0, 1, 2, 3, 4]))
    assert.ok(clock.now() - 1_700_000_000_000 < 1000, 'decided as soon as all 5 were in, not at the timeout')
    assert.ok(hub.count('bft') >= 10, 'proposals and commits were gossiped')
  })

  it('3 agreeing + 2 outliers: a 3-member certificate, the outliers commit to it too', async () => {
    const { nodes, clock } = await setup()
    const embs = [0, 1, 2]
      .map((i) => nearEmbedding(BASE, i + 1, 0.05))
      .concat([unitEmbedding(300), unitEmbedding(400)])
    const rs = (
      await settle(
        clock,
        nodes.map((n, i) => n.bft.runConsensus(input(i, embs[i]!))),
      )
    ).map(ok)
    assert.equal(new Set(rs.map((r) => bytesToHex(r.canonicalHash))).size, 1)
    const members = new Set(rs[0]!.signers.map(bytesToHex))
    assert.equal(members.size, 3)
    for (const i of [0, 1, 2]) assert.ok(members.has(bytesToHex(nodes[i]!.key.publicKeyProto)))
    assert.equal(rs[3]!.localRank, -1)
    assert.equal(rs[4]!.localRank, -1)
  })

  it('2 + 2 + 1: fails with NO_QUORUM and says what was missing', async () => {
    const { nodes, clock } = await setup()
    const embs = [planar(0), planar(1), planar(90), planar(91), unitEmbedding(999)]
    const rs = await settle(
      clock,
      nodes.map((n, i) => n.bft.runConsensus(input(i, embs[i]!))),
    )
    for (const r of rs) {
      assert.equal(r.status, 'rejected')
      const err = (r as PromiseRejectedResult).reason as BftError
      assert.ok(err instanceof BftError)
      assert.equal(err.code, 'NO_QUORUM')
      assert.equal(err.details?.bestAgreeingSetSize, 2)
      assert.equal(err.details?.proposalsReceived, 5)
      assert.equal(err.details?.expected, 5)
      assert.deepEqual(err.details?.missingSigners, [])
      assert.equal(err.details?.quorum, 3)
    }
  })

  it('collects all n until the timeout: with 4 of 5 proposers it waits the full bft_timeout_ms', async () => {
    const { nodes, clock, hub } = await setup(4, { bftTimeoutMs: 5000 })
    const t0 = clock.now()
    const ps = nodes.map((n, i) => n.bft.runConsensus(input(i, nearEmbedding(BASE, i + 1, 0.05))))
    await clock.tick(4900)
    assert.equal(
      hub.published.filter((m) => m.topic === 'bft' && m.data[0] === 17).length,
      0,
      'no commit before the timeout although a quorum of proposals was in',
    )
    const rs = (await settle(clock, ps)).map(ok)
    assert.ok(clock.now() - t0 >= 5000)
    assert.equal(rs[0]!.members.length, 4)
    assert.equal(rs[0]!.proposalsReceived, 4)
  })

  it('missing proposers are named when the round fails', async () => {
    const { nodes, clock, elected } = await setup(2)
    const rs = await settle(
      clock,
      nodes.map((n, i) => n.bft.runConsensus(input(i, BASE))),
    )
    const err = (rs[0] as PromiseRejectedResult).reason as BftError
    assert.equal(err.code, 'NO_QUORUM')
    assert.equal(err.details?.proposalsReceived, 2)
    assert.deepEqual(
      err.details?.missingSigners,
      elected
        .slice(2)
        .map((k) => bytesToHex(k.publicKeyProto))
        .sort(),
    )
  })

  it('ties: every director picks the same set by the sorted signer keys', async () => {
    const { nodes, clock } = await setup()
    const embs = [planar(0), planar(0.5), planar(30), planar(59.5), planar(60)]
    const rs = (
      await settle(
        clock,
        nodes.map((n, i) => n.bft.runConsensus(input(i, embs[i]!))),
      )
    ).map(ok)
    assert.equal(new Set(rs.map((r) => bytesToHex(r.canonicalHash))).size, 1)
    const keysOfMembers = rs[0]!.signers.map(bytesToHex).sort()
    const groupA = [0, 1, 2].map((i) => bytesToHex(nodes[i]!.key.publicKeyProto)).sort()
    const groupB = [2, 3, 4].map((i) => bytesToHex(nodes[i]!.key.publicKeyProto)).sort()
    const expected = groupA.join() < groupB.join() ? groupA : groupB
    assert.deepEqual(keysOfMembers, expected)
  })

  it('an equivocating director: evidence is published, the signer counts for nobody, honest 4 certify', async () => {
    const { nodes, clock, hub, elected } = await setup(4)
    const byz = elected[4]!
    const byzGossip = hub.join('byz')
    byzGossip.subscribe('bft', () => {})
    const p1 = proposal(byz, 4, nearEmbedding(BASE, 50, 0.05))
    const p2 = proposal(byz, 4, unitEmbedding(777)) // a different video for the same slot
    const seen: string[] = []
    for (const n of nodes) n.bft.events.on('equivocation', (e) => seen.push(e.signer))
    // Everyone hears p1 early (buffered before their rounds start); only node 0 hears p2.
    for (let i = 0; i < 4; i++)
      assert.equal(await hub.nodes.get(`n${i}`)!.receive('bft', bftBytes(p1)), 'accept')
    assert.equal(
      await hub.nodes.get('n0')!.receive('bft', bftBytes(p2)),
      'ignore',
      'second proposal is not forwarded',
    )
    await new Promise((r) => setTimeout(r, 5))
    const challenges = hub.published.filter((m) => m.topic === 'challenges')
    assert.equal(challenges.length, 1, 'node 0 published the evidence')
    const ev = decodeEquivocationEvidence(challenges[0]!.data)
    assert.equal(bytesToHex(ev.first.signer), bytesToHex(byz.publicKeyProto))
    assert.equal(new Set(seen).size, 1)
    assert.equal(seen.length, 4, 'the other three learned it from the evidence')

    const rs = (
      await settle(
        clock,
        nodes.map((n, i) => n.bft.runConsensus(input(i, nearEmbedding(BASE, i + 1, 0.05)))),
      )
    ).map(ok)
    assert.equal(new Set(rs.map((r) => bytesToHex(r.canonicalHash))).size, 1)
    assert.equal(rs[0]!.members.length, 4)
    assert.ok(!rs[0]!.signers.some((s) => bytesToHex(s) === bytesToHex(byz.publicKeyProto)))
    // Its later messages are ignored.
    const c = signCommit(byz, TEST_NETWORK_ID, {
      epoch: EPOCH,
      slot: SLOT,
      canonical_hash: rs[0]!.canonicalHash,
    })
    assert.equal(
      await hub.nodes.get('n1')!.receive('bft', encodeBftSignal({ kind: 'Proposal', value: p1 })),
      'ignore',
    )
    assert.notEqual(
      await hub.nodes.get('n1')!.receive('bft', encodeBftSignal({ kind: 'Commit', value: c })),
      'reject',
    )
  })

  it('a proposal from an unelected key is rejected and never counted', async () => {
    const { nodes, clock, outsider } = await setup(4)
    const refused: string[] = []
    nodes[0]!.bft.events.on('refused', (r) => refused.push(`${r.action}:${r.code}`))
    const forged = proposal(outsider, 6, nearEmbedding(BASE, 60, 0.05))
    assert.equal(await nodes[0]!.gossip.receive('bft', bftBytes(forged)), 'reject')
    assert.deepEqual(refused, ['reject:UNELECTED_SIGNER'])
    const rs = (
      await settle(
        clock,
        nodes.map((n, i) => n.bft.runConsensus(input(i, nearEmbedding(BASE, i + 1, 0.05)))),
      )
    ).map(ok)
    assert.equal(rs[0]!.members.length, 4)
    assert.ok(!rs[0]!.signers.some((s) => bytesToHex(s) === bytesToHex(outsider.publicKeyProto)))
  })

  it("src/p2p's adapter maps the BFT validator's coded errors and counts them under their code", async () => {
    const { nodes, elected, outsider } = await setup(1)
    const prom = new Registry()
    const unused = () => {
      throw new Error('not used')
    }
    const adapter = new GossipValidation(
      {
        maxBytes: Object.fromEntries(TOPIC_NAMES.map((t) => [t, TOPIC_SPECS[t].maxBytes])) as Record<
          TopicName,
          number
        >,
        rateLimiter: null,
        scoreOf: () => 0,
        metrics: createP2PMetrics(prom),
        log: pino({ level: 'silent' }),
      },
      {
        recipes: unused,
        video: unused,
        bft: unused,
        attestations: unused,
        challenges: unused,
        tasks: unused,
      },
    )
    adapter.set('bft', (data) => nodes[0]!.bft.validateBft(data))
    const count = async (labels: Record<string, string>) => {
      const { values } = await prom.getSingleMetric('nsn_p2p_validations_total')!.get()
      return values
        .filter((x) =>
          Object.entries(labels).every(([k, v]) => (x.labels as Record<string, string>)[k] === v),
        )
        .reduce((a, x) => a + x.value, 0)
    }
    const forged = bftBytes(proposal(outsider, 6, nearEmbedding(BASE, 60, 0.05)))
    assert.equal(await adapter.validate('bft', forged, 'peerA'), 'reject')
    assert.equal(await count({ topic: 'bft', result: 'reject', code: 'UNELECTED_SIGNER' }), 1)
    const stale = bftBytes(proposal(elected[1]!, 1, BASE, 3n))
    assert.equal(await adapter.validate('bft', stale, 'peerA'), 'ignore')
    assert.equal(await count({ topic: 'bft', result: 'ignore', code: 'STALE_SLOT' }), 1)
    const honest = bftBytes(proposal(elected[1]!, 1, BASE))
    assert.equal(await adapter.validate('bft', honest, 'peerA'), 'accept')
    assert.equal((adapter.decoded(honest) as { kind: string }).kind, 'Proposal')
    assert.equal((await count({ code: 'APP_REJECT' })) + (await count({ code: 'APP_IGNORE' })), 0)
  })

  it('replays: an earlier slot counts only there (or is stale); a re-labelled one fails its signature', async () => {
    const { nodes, elected } = await setup(1)
    const g = nodes[0]!.gossip
    const refused: string[] = []
    nodes[0]!.bft.events.on('refused', (r) => refused.push(r.code))
    const old = proposal(elected[1]!, 1, BASE, 4n) // signed for slot 4
    assert.equal(await g.receive('bft', bftBytes(old)), 'accept', 'slot 4 is inside the late window (1 slot)')
    const stale = proposal(elected[1]!, 1, BASE, 3n)
    assert.equal(await g.receive('bft', bftBytes(stale)), 'ignore')
    const relabelled = { ...old, slot: SLOT }
    assert.equal(await g.receive('bft', bftBytes(relabelled)), 'reject')
    assert.deepEqual(refused, ['STALE_SLOT', 'BAD_SIGNATURE'])
    const otherNet = signProposal(elected[1]!, new Uint8Array(32).fill(1), {
      epoch: EPOCH,
      slot: SLOT,
      recipe_hash: RECIPE_HASH,
      content_hash: new Uint8Array(32),
      embedding: BASE,
    })
    assert.equal(await g.receive('bft', bftBytes(otherNet)), 'reject', 'signed for another network_id')
  })

  it('early messages are buffered; beyond the next slot they are ignored; late ones are not counted', async () => {
    const { nodes, clock, elected } = await setup(4)
    // Node 3 lags a slot: proposals for slot 5 arrive while it is still in slot 4.
    const late = nodes[3]!
    const lagging = new BftParticipant(
      { gossip: late.gossip, key: late.key, clock },
      { networkId: TEST_NETWORK_ID, slotClock: new SlotClock(2, 4) },
    )
    late.bft.stop()
    lagging.start()
    lagging.setElected(EPOCH, protoKeys(elected))
    lagging.setCurrentSlot(4n)
    const far = proposal(elected[1]!, 1, BASE, 6n)
    assert.equal(await late.gossip.receive('bft', bftBytes(far)), 'ignore', 'slot 6 is beyond the next slot')
    const ps = [0, 1, 2].map((i) => nodes[i]!.bft.runConsensus(input(i, nearEmbedding(BASE, i + 1, 0.05))))
    await clock.tick(100)
    lagging.setCurrentSlot(5n)
    ps.push(lagging.runConsensus(input(3, nearEmbedding(BASE, 4, 0.05))))
    const rs = (await settle(clock, ps)).map(ok)
    assert.equal(rs[3]!.members.length, 4, 'the lagging node used the buffered early proposals')
    assert.equal(new Set(rs.map((r) => bytesToHex(r.canonicalHash))).size, 1)
    // The fifth director shows up after everyone decided: its proposal is not counted anywhere.
    const latecomer = proposal(elected[4]!, 4, nearEmbedding(BASE, 5, 0.05))
    assert.equal(await nodes[0]!.gossip.receive('bft', bftBytes(latecomer)), 'ignore')
    assert.equal(nodes[0]!.bft.certificate(SLOT)?.members.length, 4)
  })

  it('adopts a valid certificate from the network when its own view differs', async () => {
    const { nodes, clock, hub } = await setup()
    hub.muted.add('n4') // n4 hears everyone, nobody hears n4
    const rs = await settle(
      clock,
      nodes.map((n, i) => n.bft.runConsensus(input(i, nearEmbedding(BASE, i + 1, 0.05)))),
    )
    const honest = ok(rs[0]!)
    const isolated = ok(rs[4]!)
    assert.equal(honest.members.length, 4)
    assert.equal(isolated.source, 'network')
    assert.equal(bytesToHex(isolated.canonicalHash), bytesToHex(honest.canonicalHash))
    assert.equal(isolated.localRank, -1)
    assert.ok(isolated.similarity !== null && isolated.similarity > 0.99)
  })

  it('refuses to run for an unknown epoch, when not elected, or twice for one slot', async () => {
    const { nodes, clock, outsider, hub } = await setup(1)
    const bft = nodes[0]!.bft
    await expectRejectedWithCode(
      bft.runConsensus({ ...input(0, BASE), epoch: 9n, slot: 36n }),
      BftError,
      'UNKNOWN_EPOCH',
    )
    await expectRejectedWithCode(bft.runConsensus({ ...input(0, BASE), slot: 9n }), BftError, 'UNKNOWN_EPOCH')
    const stranger = new BftParticipant(
      { gossip: hub.join('x'), key: outsider, clock },
      { networkId: TEST_NETWORK_ID, slotClock: new SlotClock(2, 4) },
    )
    stranger.setElected(EPOCH, protoKeys((await testKeys(5)).slice(0, 5)))
    await expectRejectedWithCode(stranger.runConsensus(input(0, BASE)), BftError, 'NOT_ELECTED')
    const first = bft.runConsensus(input(0, BASE))
    await expectRejectedWithCode(bft.runConsensus(input(0, BASE)), BftError, 'ROUND_IN_PROGRESS')
    await settle(clock, [first])
  })

  it('an aborted round rejects with ABORTED', async () => {
    const { nodes } = await setup(2)
    const ctrl = new AbortController()
    const p = nodes[0]!.bft.runConsensus(input(0, BASE), ctrl.signal)
    ctrl.abort()
    await expectRejectedWithCode(p, BftError, 'ABORTED')
  })
})

describe('BFT validators', async () => {
  const { nodes, elected, outsider } = await setup(1)
  const g = nodes[0]!.gossip

  it('rejects malformed bytes, bad embeddings and forged signatures', async () => {
    // (Reference variants 0 and 1 are ignored by the p2p adapter before any validator runs.)
    assert.equal(await g.receive('bft', new Uint8Array([2, 1, 2])), 'reject', 'unknown variant index 2')
    assert.equal(await g.receive('bft', new Uint8Array([16, 1])), 'reject', 'truncated')
    const nanEmb = BASE.slice()
    nanEmb[3] = Number.NaN
    assert.equal(await g.receive('bft', bftBytes(proposal(elected[1]!, 1, nanEmb))), 'reject')
    const long = BASE.map((x) => x * 1.01)
    // The norm tolerance is a local setting: outside it is ignored, not rejected (docs/protocol.md §2).
    assert.equal(await g.receive('bft', bftBytes(proposal(elected[1]!, 1, long))), 'ignore', 'norm 1.01')
    const forged = { ...proposal(elected[1]!, 1, BASE), signature: new Uint8Array(64).fill(3) }
    assert.equal(await g.receive('bft', bftBytes(forged)), 'reject')
    const wrongEpoch = signProposal(elected[1]!, TEST_NETWORK_ID, {
      epoch: 2n,
      slot: SLOT,
      recipe_hash: RECIPE_HASH,
      content_hash: new Uint8Array(32),
      embedding: BASE,
    })
    assert.equal(await g.receive('bft', bftBytes(wrongEpoch)), 'ignore', 'epoch 2 unknown here')
  })

  it('ignores a duplicate proposal', async () => {
    const p = proposal(elected[2]!, 2, BASE)
    assert.equal(await g.receive('bft', bftBytes(p)), 'accept')
    assert.equal(await g.receive('bft', bftBytes(p)), 'ignore')
  })

  it('checks commits and certificates', async () => {
    const c = signCommit(outsider, TEST_NETWORK_ID, {
      epoch: EPOCH,
      slot: SLOT,
      canonical_hash: new Uint8Array(32),
    })
    assert.equal(await g.receive('bft', encodeBftSignal({ kind: 'Commit', value: c })), 'reject')
    const c2 = signCommit(elected[3]!, TEST_NETWORK_ID, {
      epoch: EPOCH,
      slot: SLOT,
      canonical_hash: new Uint8Array(32),
    })
    assert.equal(await g.receive('bft', encodeBftSignal({ kind: 'Commit', value: c2 })), 'accept')
    const c3 = signCommit(elected[3]!, TEST_NETWORK_ID, {
      epoch: EPOCH,
      slot: SLOT,
      canonical_hash: new Uint8Array(32).fill(1),
    })
    assert.equal(
      await g.receive('bft', encodeBftSignal({ kind: 'Commit', value: c3 })),
      'ignore',
      'conflicting commit',
    )
    const cert: Certificate = {
      epoch: EPOCH,
      slot: SLOT,
      recipe_hash: RECIPE_HASH,
      members: rankMembers(
        SLOT,
        elected.slice(0, 3).map((k) => ({
          signer: k.publicKeyProto,
          content_hash: new Uint8Array(32),
          embedding_hash: embeddingHash(BASE),
        })),
      ),
      commits: [],
    }
    assert.equal(
      await g.receive('bft', encodeBftSignal({ kind: 'Certificate', value: cert })),
      'reject',
      'no commits',
    )
  })

  it('checks equivocation evidence', async () => {
    const p = proposal(elected[4]!, 4, BASE)
    const same = encodeEquivocationEvidence({ first: p, second: p })
    assert.equal(await g.receive('challenges', same), 'reject', 'two equal proposals prove nothing')
    const q = proposal(elected[4]!, 4, unitEmbedding(5))
    const forged = encodeEquivocationEvidence({ first: p, second: { ...q, signature: new Uint8Array(64) } })
    assert.equal(await g.receive('challenges', forged), 'reject')
    const mixed = encodeEquivocationEvidence({ first: p, second: proposal(elected[3]!, 3, unitEmbedding(5)) })
    assert.equal(await g.receive('challenges', mixed), 'reject', 'two different signers')
    const real = encodeEquivocationEvidence({ first: p, second: q })
    assert.equal(await g.receive('challenges', real), 'accept')
    assert.equal(await g.receive('challenges', real), 'ignore', 'already known')
    assert.equal(await g.receive('challenges', new Uint8Array(10)), 'reject')
  })
})

describe('signed messages journaled before publishing, re-sent exactly after a restart', () => {
  it('records proposal and commit before they go out; a restarted director re-sends exactly those', async () => {
    const { nodes, clock, hub } = await setup(3, { quorum: 3 })
    const sent: Uint8Array[] = []
    hub.join('spy').subscribe('bft', (m) => sent.push(m.data))
    const journal = new Map<string, Uint8Array>()
    const order: string[] = []
    const signed = {
      recorded: { proposal: null, commit: null },
      record: async (kind: 'proposal' | 'commit', bytes: Uint8Array) => {
        order.push(`record ${kind} (sent so far ${sent.length})`)
        journal.set(kind, bytes)
      },
    }
    const first = nodes.map((n, i) =>
      n.bft.runConsensus(i === 0 ? { ...input(0, BASE), signed } : input(i, nearEmbedding(BASE, i, 0.05))),
    )
    const results = await settle(clock, first)
    assert.ok(
      results.every((r) => r.status === 'fulfilled'),
      'the slot certified',
    )
    assert.deepEqual(
      order.map((o) => o.split(' ')[1]),
      ['proposal', 'commit'],
    )
    const proposal = journal.get('proposal')!
    assert.ok(
      sent.some((d) => bytesToHex(d) === bytesToHex(proposal)),
      'the journaled proposal is the one published',
    )

    // A restarted director (fresh participant, same key) with a generator that is not bit-exact.
    const again = await setup(3, { quorum: 3 })
    const resent: Uint8Array[] = []
    again.hub.join('spy').subscribe('bft', (m) => resent.push(m.data))
    const restarted = again.nodes[0]!.bft.runConsensus({
      ...input(0, nearEmbedding(BASE, 9, 0.05)),
      contentHash: new Uint8Array(32).fill(0xee),
      signed: {
        recorded: { proposal, commit: journal.get('commit')! },
        record: async (kind) => {
          throw new Error(`nothing new may be signed, got a new ${kind}`)
        },
      },
    })
    const others = again.nodes
      .slice(1)
      .map((n, i) => n.bft.runConsensus(input(i + 1, nearEmbedding(BASE, i + 1, 0.05))))
    await settle(again.clock, [restarted, ...others])
    const ownProposals = resent.filter(
      (d) => d[0] === 16 && bytesToHex(d).includes(bytesToHex(again.nodes[0]!.key.publicKeyProto)),
    )
    assert.deepEqual(
      ownProposals.map(bytesToHex),
      [bytesToHex(proposal)],
      'exactly the journaled proposal re-sent',
    )
  })
})
