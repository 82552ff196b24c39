// Publication (docs/protocol.md §6): the canonical member publishes signed chunks with content_id =
// hex(content_hash); fallbacks in rank order after publish_grace_ms; the relay policy's bounds. The
// viewer side is tested in test/unit/trust.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { blake3, type NodeKey, rankMembers } from '../../../src/crypto/index.ts'
import { ChunkPublisher, PublishError } from '../../../src/lane0/index.ts'
import { buildVideoChunks, verifyVideoChunk } from '../../../src/p2p/index.ts'
import { ManualClock } from '../../../src/scheduler/index.ts'
import {
  bytesToHex,
  type CertificateMember,
  decodeVideoChunk,
  encodeVideoChunk,
  type VideoChunk,
} from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { FakeGossipHub, fakeVideo } from './fakes.ts'

const SLOT = 5n
const CHUNK = 1000

async function setup(n = 3) {
  const keys = await testKeys(5)
  const hub = new FakeGossipHub()
  const clock = new ManualClock()
  const videos = keys.map((_, i) => fakeVideo(3500 + i, i + 1))
  const members: CertificateMember[] = rankMembers(
    SLOT,
    keys.slice(0, n).map((k, i) => ({
      signer: k.publicKeyProto,
      content_hash: blake3(videos[i]!),
      embedding_hash: new Uint8Array(32),
    })),
  )
  const byKey = new Map(keys.map((k, i) => [bytesToHex(k.publicKeyProto), { key: k, video: videos[i]! }]))
  const ranked = members.map((m) => byKey.get(bytesToHex(m.signer))!)
  const pubs = ranked.map(({ key }, i) => {
    const p = new ChunkPublisher(
      { gossip: hub.join(`m${i}`), key, clock },
      { chunkSize: CHUNK, publishGraceMs: 3000 },
    )
    p.start()
    return p
  })
  const viewer = hub.join('viewer')
  const received: VideoChunk[] = []
  viewer.subscribe('video', (m) => received.push(decodeVideoChunk(m.data)))
  return { keys, hub, clock, members, ranked, pubs, received }
}

const chunksBy = (received: VideoChunk[], key: NodeKey) =>
  received.filter((c) => bytesToHex(c.signer) === bytesToHex(key.publicKeyProto))

describe('ChunkPublisher', () => {
  it('the canonical member publishes at once; the others see it complete and stand down', async () => {
    const { clock, members, ranked, pubs, received } = await setup()
    const outcomes = ranked.map(({ video }, i) => pubs[i]!.publishCertified({ slot: SLOT, members, video }))
    const [first, second, third] = await Promise.all(outcomes)
    assert.equal(first?.action, 'published')
    assert.equal(first?.action === 'published' && first.report.role, 'canonical')
    assert.equal(first?.action === 'published' && first.report.total, 4)
    assert.deepEqual(second, {
      action: 'stood-down',
      contentId: bytesToHex(members[0]!.content_hash),
      rank: 0,
    })
    assert.equal(third?.action, 'stood-down')
    assert.equal(clock.now() - 1_700_000_000_000, 0, 'nobody waited for a grace period')
    const got = chunksBy(received, ranked[0]!.key)
    assert.equal(got.length, 4)
    for (const c of got) {
      assert.equal(c.header.content_id, bytesToHex(members[0]!.content_hash))
      assert.equal(c.header.slot, SLOT)
      verifyVideoChunk(c)
    }
    assert.equal(received.length, 4, 'only the canonical video went out')
  })

  it('falls back in rank order after publish_grace_ms when the canonical is silent', async () => {
    const { clock, members, ranked, pubs, received } = await setup()
    // Member 0 is dead: only members 1 and 2 run.
    const second = pubs[1]!.publishCertified({ slot: SLOT, members, video: ranked[1]!.video })
    const third = pubs[2]!.publishCertified({ slot: SLOT, members, video: ranked[2]!.video })
    await clock.tick(2999)
    assert.equal(received.length, 0)
    await clock.tick(1)
    const o2 = await second
    assert.equal(o2.action === 'published' && o2.report.role, 'fallback')
    await clock.tick(3000)
    assert.equal((await third).action, 'stood-down', 'rank 2 saw rank 1 complete')
    assert.equal(chunksBy(received, ranked[1]!.key).length, 4)
    assert.equal(chunksBy(received, ranked[2]!.key).length, 0)
  })

  it('a hard deadline: chunks trickled by a higher-ranked member do not extend the grace', async () => {
    const { clock, members, ranked, pubs } = await setup()
    const canonicalChunks = buildVideoChunks(
      bytesToHex(members[0]!.content_hash),
      SLOT,
      ranked[0]!.video,
      ranked[0]!.key,
      { chunkSize: CHUNK },
    )
    const p = pubs[1]!.publishCertified({ slot: SLOT, members, video: ranked[1]!.video })
    // A slow canonical: one chunk a second, never all four within the grace.
    for (const c of canonicalChunks.slice(0, 2)) {
      await clock.tick(1000)
      pubs[1]!.observe(c)
    }
    await clock.tick(1000)
    const o = await p
    assert.equal(o.action === 'published' && o.report.role, 'fallback', 'published at 3 s, not later')
  })

  it('stands down only for a video that reassembles to the certified content hash', async () => {
    const { clock, members, ranked, pubs, received } = await setup()
    // A Byzantine canonical: one valid chunk that claims to be the whole video (total_chunks 1).
    const lie = buildVideoChunks(
      bytesToHex(members[0]!.content_hash),
      SLOT,
      new Uint8Array([7]),
      ranked[0]!.key,
      { chunkSize: CHUNK },
    )[0]!
    assert.equal(lie.header.total_chunks, 1)
    const second = pubs[1]!.publishCertified({ slot: SLOT, members, video: ranked[1]!.video })
    pubs[1]!.observe(lie)
    assert.equal(pubs[1]!.verified(SLOT, members[0]!), false, 'the lie does not verify')
    await clock.tick(3000)
    const o = await second
    assert.equal(o.action === 'published' && o.report.role, 'fallback')
    assert.equal(chunksBy(received, ranked[1]!.key).length, 4, 'the fallback published its video')
  })

  it('tracks only expected slots, one content id per signer, bounded in bytes', async () => {
    const keys = await testKeys(2)
    const hub = new FakeGossipHub()
    const p = new ChunkPublisher(
      { gossip: hub.join('p'), key: keys[0]!, clock: new ManualClock() },
      { chunkSize: CHUNK, maxVideoBytes: 2500, trackedSlots: 2 },
    )
    const video = fakeVideo(3500)
    const chunks = (slot: bigint, id = bytesToHex(blake3(video))) =>
      buildVideoChunks(id, slot, video, keys[1]!, { chunkSize: CHUNK })
    for (const c of chunks(SLOT)) p.observe(c)
    assert.equal(
      p.progress(SLOT, bytesToHex(blake3(video)), keys[1]!.publicKeyProto),
      undefined,
      'not expected',
    )
    p.expect(SLOT)
    for (const c of chunks(SLOT)) p.observe(c)
    const got = p.progress(SLOT, bytesToHex(blake3(video)), keys[1]!.publicKeyProto)
    assert.deepEqual(
      [got?.received, got?.bytes],
      [3, 2500],
      'the 1000-byte chunk past max_video_bytes is dropped',
    )
    for (const c of chunks(SLOT, 'ab'.repeat(32))) p.observe(c)
    assert.equal(p.progress(SLOT, 'ab'.repeat(32), keys[1]!.publicKeyProto), undefined, 'second content id')
    p.expect(SLOT + 1n)
    p.expect(SLOT + 2n)
    assert.equal(
      p.progress(SLOT, bytesToHex(blake3(video)), keys[1]!.publicKeyProto),
      undefined,
      'oldest dropped',
    )
  })

  it('a non-member does not publish; a publish that reaches nobody is a PublishError', async () => {
    const { members, pubs, hub, keys, clock } = await setup(2)
    const outsider = new ChunkPublisher({ gossip: hub.join('x'), key: keys[4]!, clock })
    assert.deepEqual(await outsider.publishCertified({ slot: SLOT, members, video: fakeVideo(10) }), {
      action: 'not-member',
    })
    // No peer subscribed to the video topic: NO_PEERS, and for the certified slot nobody to publish to.
    const alone = new FakeGossipHub()
    const lonely = new ChunkPublisher({ gossip: alone.join('solo'), key: keys[0]!, clock })
    const err = await expectRejectedWithCode(
      lonely.publishVideo(SLOT, new Uint8Array(32), fakeVideo(10), 'canonical'),
      PublishError,
      'NO_PEERS',
    )
    assert.equal(err.details.total, 1)
    const video = fakeVideo(10)
    const soloMember = [{ ...members[0]!, signer: keys[0]!.publicKeyProto, content_hash: blake3(video) }]
    assert.deepEqual(await lonely.publishCertified({ slot: SLOT, members: soloMember, video }), {
      action: 'no-peers',
      role: 'canonical',
    })
    // Any other failure of every chunk is PUBLISH_FAILED.
    const broken = alone.join('broken')
    broken.publish = async () => {
      throw new Error('stream reset')
    }
    const failing = new ChunkPublisher({ gossip: broken, key: keys[0]!, clock })
    await expectRejectedWithCode(
      failing.publishVideo(SLOT, new Uint8Array(32), fakeVideo(10), 'canonical'),
      PublishError,
      'PUBLISH_FAILED',
    )
    await expectRejectedWithCode(
      failing.publishCertified({ slot: SLOT, members: soloMember, video }),
      PublishError,
      'PUBLISH_FAILED',
    )
    const ctrl = new AbortController()
    ctrl.abort()
    await expectRejectedWithCode(
      pubs[0]!.publishVideo(SLOT, new Uint8Array(32), fakeVideo(10), 'canonical', ctrl.signal),
      PublishError,
      'ABORTED',
    )
  })
})

describe('ChunkPublisher over a VideoGossip', () => {
  it('uses publishVideo when the gossip offers it, and counts its failures', async () => {
    const keys = await testKeys(1)
    const hub = new FakeGossipHub()
    const base = hub.join('pub')
    const viewer = hub.join('viewer')
    const got: VideoChunk[] = []
    viewer.subscribe('video', (m) => got.push(decodeVideoChunk(m.data)))
    let calls = 0
    const videoGossip = Object.assign(Object.create(base) as typeof base, {
      async publishVideo(chunks: readonly VideoChunk[]) {
        calls++
        for (const c of chunks.slice(1)) await base.publish('video', encodeVideoChunk(c))
        return {
          total: chunks.length,
          published: chunks.length - 1,
          failed: 1,
          maxAckMs: 3,
          avgAckMs: 2,
          errors: [{ index: 0, code: 'NO_PEERS' }],
        }
      },
    })
    const p = new ChunkPublisher(
      { gossip: videoGossip, key: keys[0]!, clock: new ManualClock() },
      { chunkSize: 1000 },
    )
    const video = fakeVideo(3500)
    const report = await p.publishVideo(SLOT, blake3(video), video, 'canonical')
    assert.equal(calls, 1)
    assert.deepEqual([report.total, report.published, report.failed, report.bytes], [4, 3, 1, 2500])
    assert.equal(got.length, 3)
  })
})
