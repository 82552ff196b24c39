// Two Byzantine directors on a real network: the chain elects five directors,
// three honest director processes run, and the keys of the other two are held by adversaries in this
// process (test/integration/network/adversary.ts). In each attacked slot one adversary equivocates
// (two different signed proposals, then two commits for different results) and the other proposes a video of its own, publishes its chunks
// (also under the honest content id), gossips forged certificates and submits one to the chain. The
// honest three must still certify, both kinds of equivocation evidence must appear on
// /nsn/challenges/1.0.0 and the chain must record the commit equivocator with a reputation penalty,
// and nothing forged may be accepted by the viewer-side rules or the chain.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { SubmitOutcome } from '../../../src/chain/index.ts'
import { EQUIVOCATION_PENALTY } from '../../../src/chain/state.ts'
import {
  blake3,
  NodeKey,
  signCommit,
  verifyCommitSignature,
  verifyProposalSignature,
} from '../../../src/crypto/index.ts'
import {
  bytesToHex,
  type Certificate,
  type Commit,
  encodeBftSignal,
  equalBytes,
  type Proposal,
} from '../../../src/types/index.ts'
import { fetchMetric, fetchStatus, TestNetwork, waitFor } from '../../helpers/network.ts'
import { ByzantineDirector, forgeCertificates, otherVideo, randomEmbedding } from './adversary.ts'

/** The viewer's refusals of a chunk no certificate member vouches for (src/trust): an outsider's, or a member's under another content id. */
const NOT_VOUCHED = new Set(['NOT_MEMBER', 'NOT_CERTIFIED'])

const HONEST = [0, 1, 2]
const EQUIVOCATOR = 3
const OTHER_VIDEO = 4
const ATTACKED_SLOTS = 2

interface Attack {
  slot: bigint
  equivocation: [Proposal, Proposal]
  commitEquivocation: [Commit, Commit]
  otherProposal: Proposal
  otherContentId: string
  forged: { badSignature: Certificate; tooFewCommits: Certificate }
  chainVerdict: SubmitOutcome | null
  /** Content id of an honest proposal, reused for the adversary's own chunks. */
  honestContentId: string | null
  errors: string[]
}

describe('network: two Byzantine directors, three honest', () => {
  let net: TestNetwork | null = null
  const adversaries: ByzantineDirector[] = []
  const attacks = new Map<bigint, Attack>()
  let timer: NodeJS.Timeout | null = null
  let honestKeys: NodeKey[] = []
  let eqKey: NodeKey
  let otherKey: NodeKey

  async function attack(n: TestNetwork, slot: bigint, recipeHash: Uint8Array): Promise<void> {
    const [eq, other] = adversaries as [ByzantineDirector, ByzantineDirector]
    const epoch = slot / BigInt(n.info!.slotsPerEpoch)
    const errors: string[] = []
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn()
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message}`)
      }
    }
    const a1 = eq.proposal(epoch, slot, recipeHash, otherVideo(1000).contentHash, randomEmbedding())
    const a2 = eq.proposal(epoch, slot, recipeHash, otherVideo(1000).contentHash, randomEmbedding())
    const [c1, c2] = [a1, a2].map((p) =>
      signCommit(eqKey, n.networkId, { epoch, slot, canonical_hash: blake3(p.content_hash) }),
    ) as [Commit, Commit]
    const fake = otherVideo()
    const b = other.proposal(epoch, slot, recipeHash, fake.contentHash, randomEmbedding())
    const forged = forgeCertificates({
      networkId: n.networkId,
      epoch,
      slot,
      recipeHash,
      contentHash: fake.contentHash,
      signers: [eqKey, otherKey],
      honestName: honestKeys[0]!.publicKeyProto,
    })
    const record: Attack = {
      slot,
      equivocation: [a1, a2],
      commitEquivocation: [c1, c2],
      otherProposal: b,
      otherContentId: bytesToHex(fake.contentHash),
      forged,
      chainVerdict: null,
      honestContentId: null,
      errors,
    }
    attacks.set(slot, record)
    // Early in the slot, before any honest director has generated: these wait in honest buffers.
    await attempt('equivocation', async () => {
      await eq.publishProposal(a1)
      await eq.publishProposal(a2)
    })
    await attempt('commit equivocation', async () => {
      for (const c of [c1, c2]) await eq.p2p.publish('bft', encodeBftSignal({ kind: 'Commit', value: c }))
    })
    await attempt('other proposal', () => other.publishProposal(b))
    await attempt('other video', () => other.publishVideo(slot, record.otherContentId, fake.video))
    await attempt('forged certificates', async () => {
      await other.publishCertificate(forged.badSignature)
      await eq.publishCertificate(forged.tooFewCommits)
    })
    await attempt('chain', async () => {
      record.chainVerdict = await n.chain!.submitBftResult(slot, forged.badSignature, otherKey)
    })
    // Once an honest proposal shows the honest content id: chunks of the fake video under it.
    const honest = await other.waitHonestProposal(slot, 10_000)
    if (honest !== null) {
      record.honestContentId = bytesToHex(honest.content_hash)
      await attempt('chunks under the honest id', () =>
        other.publishVideo(slot, record.honestContentId!, fake.video),
      )
    }
  }

  before(async () => {
    const n = await TestNetwork.start({ name: 'byzantine', skipDirectors: [EQUIVOCATOR, OTHER_VIDEO] })
    net = n
    honestKeys = await Promise.all(HONEST.map((i) => n.directorKey(i)))
    eqKey = await n.directorKey(EQUIVOCATOR)
    otherKey = await n.directorKey(OTHER_VIDEO)
    const authorKey = await NodeKey.load(join(n.dataDir, 'author', 'node.key'))
    const authors = [bytesToHex(authorKey.publicKey)]
    for (const key of [eqKey, otherKey]) {
      const adv = new ByzantineDirector({
        key,
        networkId: n.networkId,
        // Directly connected to the observer too: forged certificates that honest directors refuse
        // to forward still reach the viewer, which must refuse them itself.
        // And to the devnet's viewer node, a relay that is not a director: it must refuse forged BFT
        // messages itself rather than forward them (and be graylisted by the directors for it).
        bootstrap: [
          ...n.devnet.directorAddrs.values(),
          ...n.observer!.p2p.multiaddrs(),
          ...n.devnet.viewerProc!.ready.listen.filter((a) => !a.includes('/ws')),
        ],
        slotsPerEpoch: n.info!.slotsPerEpoch,
        elected: (epoch) => n.elected.get(epoch) ?? null,
        recipeAuthors: authors,
      })
      adversaries.push(adv)
      await adv.start()
    }
    // Attack each new slot, with its recipe, as soon as it starts.
    let busy = false
    timer = setInterval(() => {
      if (busy || attacks.size >= ATTACKED_SLOTS) return
      const slot = n.currentSlot
      const recipe = n.observer!.recipes.get(slot)
      // Only from a slot's first blocks: generation takes over a second, so the forged proposals are
      // in every honest buffer before the honest ones (a proposal after the decision is ignored).
      const early = n.bestBlock % BigInt(n.info!.blocksPerSlot) <= 1n
      if (!early || attacks.has(slot) || recipe === undefined || [...attacks.keys()].some((s) => s > slot))
        return
      busy = true
      void attack(n, slot, recipe.recipeHash).finally(() => {
        busy = false
      })
    }, 100)
  })

  after(async () => {
    if (timer) clearInterval(timer)
    for (const a of adversaries) await a.stop().catch(() => {})
    await net?.stop()
  })

  test('the honest three certify every attacked slot; nothing forged is accepted', {
    timeout: 120_000,
  }, async () => {
    const n = net!
    const honestHex = new Set(honestKeys.map((k) => bytesToHex(k.publicKeyProto)))
    const byzHex = new Set([eqKey, otherKey].map((k) => bytesToHex(k.publicKeyProto)))
    const slots = await waitFor(
      `${ATTACKED_SLOTS} attacked slots final on chain`,
      () => {
        const s = [...attacks.keys()].sort()
        return s.length >= ATTACKED_SLOTS && s.every((x) => n.finalizedSlots().includes(x)) ? s : null
      },
      {
        timeoutMs: 100_000,
        intervalMs: 250,
        seen: async () => `attacks [${[...attacks.keys()].join(',')}]; ${await n.describe()}`,
      },
    )
    for (const slot of slots) {
      const a = attacks.get(slot)!
      assert.deepEqual(a.errors, [], `slot ${slot}: the adversaries could send everything`)
      const obs = n.observer!
      const complete = await obs.waitForComplete(slot, 15_000)
      const seen = obs.slots.get(slot)!
      const cert = seen.certificate!.certificate
      // The forged messages really were on the network.
      assert.equal(
        seen.proposals.get(bytesToHex(eqKey.publicKeyProto))?.length,
        2,
        `slot ${slot}: both equivocating proposals seen`,
      )
      assert.ok(
        seen.proposals.has(bytesToHex(otherKey.publicKeyProto)),
        `slot ${slot}: other-video proposal seen`,
      )
      assert.ok(
        seen.chunks.has(`${bytesToHex(otherKey.publicKeyProto)}|${a.otherContentId}`),
        `slot ${slot}: fake chunks seen`,
      )
      // Certified by exactly the honest three; no Byzantine member or commit.
      assert.deepEqual(
        new Set(cert.members.map((m) => bytesToHex(m.signer))),
        honestHex,
        `slot ${slot}: members are the honest three`,
      )
      assert.ok(
        cert.commits.every((c) => honestHex.has(bytesToHex(c.signer))),
        `slot ${slot}: honest commits only`,
      )
      assert.equal(seen.validCertificates.size, 1, `slot ${slot}: one valid certificate, no conflicting one`)
      // The forged certificates were refused by the viewer rules, each for its own reason.
      const codes = new Set(obs.rejectedCertificates.filter((r) => r.slot === slot).map((r) => r.code))
      assert.ok(codes.has('BAD_SIGNATURE'), `slot ${slot}: forged commit refused (${[...codes]})`)
      assert.ok(
        codes.has('TOO_FEW_COMMITS'),
        `slot ${slot}: Byzantine-only certificate refused (${[...codes]})`,
      )
      // The viewer played the honest canonical video, never the Byzantine chunks.
      assert.equal(complete.rank, 0, `slot ${slot}: canonical video`)
      assert.ok(
        equalBytes(blake3(complete.video), cert.members[0]!.content_hash),
        `slot ${slot}: BLAKE3(video)`,
      )
      assert.ok(honestHex.has(bytesToHex(complete.signer)), `slot ${slot}: played an honest member's chunks`)
      const refused = obs.rejectedChunks.filter((r) => r.slot === slot && byzHex.has(r.signer))
      assert.ok(
        refused.some((r) => r.contentId === a.otherContentId && NOT_VOUCHED.has(r.code)),
        `slot ${slot}: fake video refused as not certified (${refused.map((r) => `${r.contentId.slice(0, 8)}:${r.code}`).join(' ')})`,
      )
      if (a.honestContentId !== null) {
        assert.ok(
          refused.some((r) => r.contentId === a.honestContentId && NOT_VOUCHED.has(r.code)),
          `slot ${slot}: fake chunks under the honest content id refused`,
        )
      }
      // The chain refused the forged certificate and holds exactly the honest result, once.
      assert.equal(a.chainVerdict?.status, 'rejected', `slot ${slot}: forged submission`)
      if (a.chainVerdict?.status === 'rejected') {
        assert.equal(a.chainVerdict.code, 'BAD_CERTIFICATE')
        assert.equal(a.chainVerdict.certificateCode, 'BAD_SIGNATURE')
      }
      const result = await n.chain!.slotResult(slot)
      assert.ok(result?.finalized, `slot ${slot}: final`)
      assert.ok(
        equalBytes(result.canonicalHash, seen.certificate!.canonicalHash),
        `slot ${slot}: honest result`,
      )
      assert.ok(honestHex.has(bytesToHex(result.submitter)), `slot ${slot}: submitted by an honest director`)
      assert.equal(n.submittedEvents(slot).length, 1, `slot ${slot}: one result recorded`)
    }
  })

  test('the viewer node refuses forged BFT messages and keeps receiving honest ones', {
    timeout: 30_000,
  }, async () => {
    const n = net!
    const viewer = n.devnet.viewerProc!.ready.http
    const before = await fetchStatus(viewer)
    const bft = before.p2p.validation.bft
    assert.ok(
      (bft?.reject ?? 0) >= 1,
      `the viewer node rejected forged BFT messages (${JSON.stringify(bft)})`,
    )
    const accepted = bft?.accept ?? 0
    assert.ok(accepted >= 1, 'it accepted honest BFT messages')
    await waitFor(
      'the viewer node to accept more honest BFT messages',
      async () => {
        const now = (await fetchStatus(viewer)).p2p.validation.bft?.accept ?? 0
        return now > accepted ? now : undefined
      },
      { timeoutMs: 20_000 },
    )
  })

  test('the equivocation evidence is published on /nsn/challenges/1.0.0', { timeout: 30_000 }, async () => {
    const n = net!
    const first = [...attacks.keys()].sort()[0]
    assert.ok(first !== undefined, 'an attacked slot')
    const a = attacks.get(first)!
    const eqHex = bytesToHex(eqKey.publicKeyProto)
    const evidence = await waitFor(
      `evidence of slot ${first}`,
      () =>
        n.observer!.evidence.find(
          (e) => e.evidence.first.slot === first && bytesToHex(e.evidence.first.signer) === eqHex,
        ),
      { timeoutMs: 10_000, seen: () => `${n.observer!.evidence.length} evidence messages` },
    )
    const { first: p1, second: p2 } = evidence.evidence
    assert.ok(
      verifyProposalSignature(n.networkId, p1) && verifyProposalSignature(n.networkId, p2),
      'both signed by the equivocator',
    )
    assert.ok(equalBytes(p1.signer, p2.signer))
    const sent = new Set(a.equivocation.map((p) => bytesToHex(p.content_hash)))
    assert.deepEqual(
      new Set([bytesToHex(p1.content_hash), bytesToHex(p2.content_hash)]),
      sent,
      'the two conflicting proposals',
    )
    // Every honest director counted it.
    for (const i of HONEST) {
      const count = await fetchMetric(n.directorHttp(i), 'nsn_lane0_bft_equivocations_total')
      assert.ok(count >= 1, `director-${i} recorded the equivocation (${count})`)
    }
  })

  test('the commit equivocator is caught: evidence published and recorded by the chain with a penalty', {
    timeout: 30_000,
  }, async () => {
    const n = net!
    const first = [...attacks.keys()].sort()[0]
    assert.ok(first !== undefined, 'an attacked slot')
    const a = attacks.get(first)!
    const eqHex = bytesToHex(eqKey.publicKeyProto)
    const evidence = await waitFor(
      `commit evidence of slot ${first}`,
      () =>
        n.observer!.commitEvidence.find(
          (e) => e.evidence.first.slot === first && bytesToHex(e.evidence.first.signer) === eqHex,
        ),
      { timeoutMs: 10_000, seen: () => `${n.observer!.commitEvidence.length} commit evidence messages` },
    )
    const { first: c1, second: c2 } = evidence.evidence
    assert.ok(verifyCommitSignature(n.networkId, c1) && verifyCommitSignature(n.networkId, c2), 'both signed')
    assert.deepEqual(
      new Set([bytesToHex(c1.canonical_hash), bytesToHex(c2.canonical_hash)]),
      new Set(a.commitEquivocation.map((c) => bytesToHex(c.canonical_hash))),
      'the two conflicting commits',
    )
    // An honest director reported it; the chain recorded the equivocator once for the slot (from
    // whichever evidence came first) and took reputation.
    const recorded = await waitFor(
      `the chain's evidence record of slot ${first}`,
      async () => {
        const r = await n.chain!.evidence(first)
        return r.length > 0 ? r : undefined
      },
      { timeoutMs: 10_000 },
    )
    assert.deepEqual(
      recorded.map((r) => bytesToHex(r.signer)),
      [eqHex],
      'one record, for the equivocator only',
    )
    assert.equal(recorded[0]!.penalty, EQUIVOCATION_PENALTY)
    const account = await n.chain!.getAccount({ peer: eqKey.publicKeyProto })
    assert.ok(
      account !== null && account.reputation <= -EQUIVOCATION_PENALTY,
      `penalised (${account?.reputation})`,
    )
    for (const k of honestKeys) {
      const honest = await n.chain!.getAccount({ peer: k.publicKeyProto })
      assert.ok(honest !== null && honest.reputation >= 0n, 'honest directors are not penalised')
    }
  })
})
