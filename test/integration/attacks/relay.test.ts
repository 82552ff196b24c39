// Hostile peers against honest relays, on a real network: a dev chain process, four honest director
// processes and the devnet's viewer, with director-4's elected key held by an attacker in this
// process (its real process is not started), plus two attackers under keys of their own.
//  - Graylisting an honest relay (docs/protocol.md §2): the two outsiders each stay under their own
//    budget while pushing junk attestations into director-0. Honest neighbours must never graylist
//    or penalise director-0, and director-0's BFT messages must keep counting.
//  - Blacking out video (§2, §6): the elected attacker sends one tiny valid chunk for each of the
//    next 16 slots. Honest chunks of the current slot must still be relayed and played.
//  - Fallback stand-down on a lie (§6): the elected attacker joins a slot's agreeing set (an honest
//    embedding, a content hash of its own) in a slot where it ranks first, so it is the canonical
//    member, then publishes one valid 1-byte chunk claiming to be its whole video. The fallbacks must
//    not stand down on it: the viewer plays a member's video whose BLAKE3 is its certified content hash.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { blake3, NodeKey, rankMembers } from '../../../src/crypto/index.ts'
import { buildVideoChunks } from '../../../src/p2p/index.ts'
import { bytesToHex, encodeVideoChunk, equalBytes } from '../../../src/types/index.ts'
import { Attacker } from '../../helpers/attacker.ts'
import { fetchMetric, fetchStatus, TestNetwork, waitFor } from '../../helpers/network.ts'
import { ByzantineDirector, otherVideo } from '../network/adversary.ts'

const HONEST = [0, 1, 2, 3]
const ELECTED_ATTACKER = 4

describe('attacks on honest relays', { timeout: 480_000 }, () => {
  let net: TestNetwork | null = null
  const attackers: Attacker[] = []
  let byz: ByzantineDirector | null = null

  before(async () => {
    net = await TestNetwork.start({ name: 'attack-relay', skipDirectors: [ELECTED_ATTACKER] })
  })
  after(async () => {
    await Promise.allSettled([...attackers.map((a) => a.stop()), byz?.stop()])
    await net?.stop()
  })

  /** Certificate members (hex protobuf keys) of the first slot after `from` the observer played. */
  async function nextPlayedSlot(n: TestNetwork, from: bigint): Promise<{ slot: bigint; members: string[] }> {
    const obs = n.observer!
    const slot = await waitFor(
      `a slot after ${from} played by the observer`,
      () => {
        for (const [s, seen] of obs.slots) if (s > from && seen.complete !== null) return s
        return null
      },
      { timeoutMs: 90_000, intervalMs: 250, seen: () => n.describe() },
    )
    const cert = obs.slots.get(slot)!.certificate!.certificate
    return { slot, members: cert.members.map((m) => bytesToHex(m.signer)) }
  }

  test('junk relayed by an honest director never graylists it, and its BFT messages still count', async () => {
    const n = net!
    await n.waitForFinalized(1, 120_000)
    const victim = await n.directorKey(0)
    const victimHttp = n.directorHttp(0)
    for (let i = 0; i < 2; i++) {
      const a = new Attacker({ key: await NodeKey.generate(), bootstrap: [n.devnet.directorAddrs.get(0)!] })
      attackers.push(a)
      await a.start()
    }
    // Each attacker stays under its own budget (100 control messages per minute): 90 each.
    await Promise.all(attackers.slice(0, 2).map((a) => a.p2p.waitForMesh('attestations', 1, 5_000)))
    const tallies = await Promise.all(attackers.slice(0, 2).map((a) => a.flood('attestations', 90)))
    const fromSlot = n.currentSlot
    // What the honest neighbours think of director-0, then and after the next slots.
    const victimId = victim.peerId.toString()
    const verdicts = async () => {
      const out: string[] = []
      for (const i of HONEST.slice(1)) {
        const s = (await fetchStatus(n.directorHttp(i))) as unknown as {
          p2p: { graylisted: string[]; scores: Record<string, number> }
        }
        if (s.p2p.graylisted.includes(victimId)) out.push(`director-${i} graylisted director-0`)
        const score = s.p2p.scores[victimId]
        if (score !== undefined && score < 0) out.push(`director-${i} scores director-0 at ${score}`)
      }
      return out
    }
    const played = await nextPlayedSlot(n, fromSlot + 1n)
    assert.deepEqual(await verdicts(), [], `attack tallies ${JSON.stringify(tallies)}`)
    assert.equal(await fetchMetric(victimHttp, 'nsn_p2p_graylisted_total'), 0, 'director-0 graylisted nobody')
    assert.ok(
      played.members.includes(bytesToHex(victim.publicKeyProto)),
      `slot ${played.slot}: director-0 is a certificate member (members ${played.members.map((m) => m.slice(-8))})`,
    )
  })

  async function elected(n: TestNetwork): Promise<ByzantineDirector> {
    if (byz !== null) return byz
    const key = await n.directorKey(ELECTED_ATTACKER)
    const authorKey = await NodeKey.load(`${n.dataDir}/author/node.key`)
    byz = new ByzantineDirector({
      key,
      networkId: n.networkId,
      bootstrap: HONEST.map((i) => n.devnet.directorAddrs.get(i)!),
      slotsPerEpoch: n.info!.slotsPerEpoch,
      elected: (epoch) => n.elected.get(epoch) ?? null,
      recipeAuthors: [bytesToHex(authorKey.publicKey)],
    })
    await byz.start()
    await byz.p2p.waitForMesh('video', 1, 10_000)
    return byz
  }

  test('one elected director sending chunks for the next 16 slots does not black out the current one', async () => {
    const n = net!
    const a = await elected(n)
    const key = await n.directorKey(ELECTED_ATTACKER)
    // Right after a slot starts, before its video exists: one tiny chunk for each of the next 16.
    const start = n.currentSlot
    const slot = await waitFor('a new slot to start', () => (n.currentSlot > start ? n.currentSlot : null), {
      timeoutMs: 30_000,
      intervalMs: 50,
    })
    let sent = 0
    const errors: string[] = []
    for (let i = 1n; i <= 16n; i++) {
      const chunk = buildVideoChunks(
        bytesToHex(otherVideo(16).contentHash),
        slot + i,
        new Uint8Array(16),
        key,
      )[0]!
      try {
        await a.p2p.publish('video', encodeVideoChunk(chunk))
        sent++
      } catch (err) {
        errors.push((err as Error).message)
      }
    }
    const complete = await n.observer!.waitForComplete(slot, 60_000)
    assert.ok(
      complete.video.length > 0,
      `slot ${slot} played (attacker sent ${sent}, refused ${errors.length})`,
    )
    let stale = 0
    for (const i of HONEST) {
      stale += await fetchMetric(n.directorHttp(i), 'nsn_p2p_validations_total', {
        topic: 'video',
        code: 'STALE',
      })
    }
    assert.equal(stale, 0, 'no honest relay ignored a chunk as stale')
  })

  test('a canonical member claiming a 1-byte chunk is its whole video: the fallbacks publish, the viewer plays', async () => {
    const n = net!
    const a = await elected(n)
    const key = await n.directorKey(ELECTED_ATTACKER)
    const me = bytesToHex(key.publicKeyProto)
    const spe = BigInt(n.info!.slotsPerEpoch)
    // The next slots (far enough ahead to propose in) where the attacker ranks first of all five.
    const from = n.currentSlot + 2n
    const candidates: bigint[] = []
    for (let s = from; s < from + 40n && candidates.length < 2; s++) {
      const set = n.elected.get(s / spe)
      if (set === undefined) break
      if (
        bytesToHex(
          rankMembers(
            s,
            set.map((signer) => ({ signer })),
          )[0]!.signer,
        ) === me
      )
        candidates.push(s)
    }
    assert.ok(candidates.length > 0, `no slot from ${from} where director-${ELECTED_ATTACKER} ranks first`)
    const tried: string[] = []
    for (const slot of candidates) {
      const wait = Number(slot - n.currentSlot + 2n) * n.info!.blocksPerSlot * 500
      const honest = await a.waitHonestProposal(slot, wait)
      if (honest === null) {
        tried.push(`${slot}: no honest proposal`)
        continue
      }
      // An honest embedding (so it agrees) over a content hash no video has.
      const lie = new Uint8Array(randomBytes(32))
      await a.publishProposal(a.proposal(honest.epoch, slot, honest.recipe_hash, lie, honest.embedding))
      const chunk = buildVideoChunks(bytesToHex(lie), slot, new Uint8Array([0x42]), key)[0]!
      assert.equal(chunk.header.total_chunks, 1)
      await a.p2p.publish('video', encodeVideoChunk(chunk))
      const obs = n.observer!
      const cert = await waitFor(
        `slot ${slot} certified at the observer`,
        () => obs.slots.get(slot)?.certificate,
        {
          timeoutMs: 30_000,
          intervalMs: 50,
          seen: () => n.describe(),
        },
      )
      const members = cert.certificate.members
      if (bytesToHex(members[0]!.signer) !== me || !equalBytes(members[0]!.content_hash, lie)) {
        tried.push(`${slot}: the attacker is not the canonical member`)
        continue
      }
      // The lie reached the honest relays (the observer hears only them) …
      await waitFor(
        `the 1-byte chunk of slot ${slot} relayed`,
        () => obs.slots.get(slot)?.chunks.has(`${me}|${bytesToHex(lie)}`),
        {
          timeoutMs: 10_000,
          intervalMs: 50,
          seen: () => obs.describe(),
        },
      )
      // … and within a hard deadline (every fallback's grace plus publication) the viewer plays a
      // certified member's video whose BLAKE3 is that member's content hash.
      const complete = await obs.waitForComplete(slot, 30_000)
      assert.notEqual(bytesToHex(complete.signer), me, 'not the liar')
      assert.ok(complete.rank > 0, `a fallback's video (rank ${complete.rank})`)
      assert.ok(equalBytes(blake3(complete.video), members[complete.rank]!.content_hash))
      return
    }
    assert.fail(`no slot where the attack could be made: ${tried.join('; ')}`)
  })
})
