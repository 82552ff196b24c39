// Six real libp2p nodes on 127.0.0.1 (one process; five on TCP in a ring, one joined over
// WebSockets only) plus a forger: 20 signed 1 MiB chunks reach every node exactly once and intact,
// and forged chunks are rejected by the first hop, delivered nowhere, and cost the forger score.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { blake3 } from '../../../src/crypto/index.ts'
import { buildVideoChunks, staticElection, TOPICS, type TopicName } from '../../../src/p2p/index.ts'
import { bytesToHex, encodeVideoChunk, equalBytes, type VideoChunk } from '../../../src/types/index.ts'
import { testKey, testKeys } from '../../fixtures/index.ts'
import {
  addrOf,
  startNode,
  stopAll,
  type TestNode,
  until,
  validationCount,
  waitForFullMesh,
} from './helpers.ts'

const MiB = 1024 * 1024
const VIDEO_RECEIVE_LIMIT = 2 * MiB
const SLOT = 7n
const UNKNOWN_SLOT = 99n

describe('6-node mesh: video chunks and forgeries', { timeout: 60_000 }, () => {
  const started: TestNode[] = []
  let nodes: TestNode[] = []
  let forger: TestNode
  /** Per node: `${content_id}:${index}` → deliveries. */
  const deliveries: Array<Map<string, number>> = []
  const delivered: Array<VideoChunk[]> = []
  let honestContentId = ''

  before(async () => {
    const keys = await testKeys(6)
    const forgerKey = await testKey(9)
    const elected = staticElection([keys[0]!.publicKeyProto])
    // Node 0 is the (only) elected director; chunks from any other signer are unauthorised.
    const init = {
      // Slot 99's election is "not known yet" everywhere: its chunks must be ignored, not relayed.
      electedForSlot: (slot: bigint) => (slot === UNKNOWN_SLOT ? null : elected(slot)),
      // The receive limit is configurable; 2 MiB here so that an over-size chunk can still be sent
      // (GossipSub 17.1 cannot send 4 MiB, the 16 MiB protocol limit is unreachable by sending).
      maxBytes: { video: VIDEO_RECEIVE_LIMIT },
    }
    nodes = []
    for (const k of keys) nodes.push(await startNode(started, k, init))
    forger = await startNode(started, forgerKey, init)
    // Ring 0-1-2-3-4-0 over TCP; node 5 joins node 2 over WebSockets only; the forger joins node 3.
    for (let i = 0; i < 5; i++) await nodes[i]!.node.dial(addrOf(nodes[(i + 1) % 5]!.node, 'tcp'))
    await nodes[5]!.node.dial(addrOf(nodes[2]!.node, 'ws'))
    await forger.node.dial(addrOf(nodes[3]!.node, 'tcp'))
    for (const [i, t] of nodes.entries()) {
      deliveries[i] = new Map()
      delivered[i] = []
      t.node.subscribeDecoded('video', (chunk) => {
        const id = `${chunk.header.content_id}:${chunk.header.chunk_index}`
        deliveries[i]!.set(id, (deliveries[i]!.get(id) ?? 0) + 1)
        delivered[i]!.push(chunk)
      })
    }
    const meshed = await waitForFullMesh([...nodes.map((t) => t.node), forger.node], 'video', 10_000)
    assert.ok(meshed, 'video mesh did not form within 10 s')
  })

  after(() => stopAll(started))

  it('node 5 is connected over WebSockets only', () => {
    const conns = nodes[5]!.node.status().connections
    assert.equal(conns.length, 1)
    assert.equal(conns[0]!.transport, 'ws')
    assert.equal(conns[0]!.peer, nodes[2]!.node.peerId)
  })

  it('20 signed 1 MiB chunks from node 0 reach every other node exactly once, intact', async () => {
    const video = new Uint8Array(randomBytes(20 * MiB))
    const contentId = bytesToHex(blake3(video))
    honestContentId = contentId
    const key = await testKey(0)
    const chunks = buildVideoChunks(contentId, SLOT, video, key)
    assert.equal(chunks.length, 20)

    const report = await nodes[0]!.node.publishVideo(chunks)
    assert.equal(report.total, 20)
    assert.equal(report.published, 20, `failed: ${JSON.stringify(report.errors)}`)
    assert.equal(report.failed, 0)
    assert.ok(report.maxAckMs >= report.avgAckMs && report.avgAckMs > 0, JSON.stringify(report))

    const all = await until(
      () =>
        nodes
          .slice(1)
          .every(
            (_, i) => [...deliveries[i + 1]!.keys()].filter((k) => k.startsWith(contentId)).length === 20,
          ),
      20_000,
    )
    assert.ok(all, `not all delivered: ${nodes.map((_, i) => deliveries[i]!.size).join(',')}`)
    // Let any late duplicate arrive before counting.
    await new Promise((r) => setTimeout(r, 300))
    for (let i = 1; i < 6; i++) {
      for (let c = 0; c < 20; c++) {
        assert.equal(deliveries[i]!.get(`${contentId}:${c}`), 1, `node ${i} chunk ${c} delivery count`)
      }
      const got = delivered[i]!.filter((ch) => ch.header.content_id === contentId)
      got.sort((a, b) => a.header.chunk_index - b.header.chunk_index)
      for (const ch of got) {
        const start = ch.header.chunk_index * MiB
        assert.ok(
          equalBytes(ch.payload, video.subarray(start, start + MiB)),
          `node ${i} chunk payload intact`,
        )
      }
    }
    assert.equal(deliveries[0]!.size, 0, 'the publisher does not deliver its own chunks to itself')
  })

  it('forged chunks are rejected by the first hop, delivered nowhere, and lower the forger score', async () => {
    const director = await testKey(0)
    const forgerKey = await testKey(9)
    const video = new Uint8Array(randomBytes(MiB))
    const honest = buildVideoChunks('ab'.repeat(32), SLOT, video, director)[0]!

    const badSignature: VideoChunk = {
      ...honest,
      signature: honest.signature.map((b, i) => (i === 0 ? b ^ 1 : b)),
    }
    const wrongHash: VideoChunk = { ...honest, payload: honest.payload.map((b, i) => (i === 0 ? b ^ 1 : b)) }
    const unauthorised = buildVideoChunks('cd'.repeat(32), SLOT, video, forgerKey)[0]!
    const bigVideo = new Uint8Array(randomBytes(3 * MiB))
    const overSize = buildVideoChunks('ef'.repeat(32), SLOT, bigVideo, director, { chunkSize: 3 * MiB })[0]!
    const forged: Array<[string, VideoChunk]> = [
      ['BAD_SIGNATURE', badSignature],
      ['BAD_HASH', wrongHash],
      ['UNAUTHORISED_SIGNER', unauthorised],
      ['OVERSIZE', overSize],
    ]
    const firstHop = nodes[3]!
    // The forger bypasses its own publish checks: it talks to GossipSub directly.
    const pubsub = forger.node.libp2p!.services.pubsub as {
      publish(topic: string, data: Uint8Array): Promise<{ recipients: unknown[] }>
    }
    for (const [code, chunk] of forged) {
      const res = await pubsub.publish(TOPICS.video, encodeVideoChunk(chunk))
      assert.equal(res.recipients.length, 1, `${code}: forger reached its one peer`)
    }
    const topic: TopicName = 'video'
    const rejectedAll = await until(() => (firstHop.node.status().validation.video?.reject ?? 0) >= 4, 5000)
    assert.ok(rejectedAll, `first hop rejected ${firstHop.node.status().validation.video?.reject}`)
    for (const [code] of forged) {
      assert.equal(
        await validationCount(firstHop.registry, { topic, result: 'reject', code }),
        1,
        `${code} at first hop`,
      )
    }
    const scoreDropped = await until(() => firstHop.node.scoreOf(forger.node.peerId) < 0, 3000)
    assert.ok(scoreDropped, `forger score at first hop: ${firstHop.node.scoreOf(forger.node.peerId)}`)

    await new Promise((r) => setTimeout(r, 300))
    for (const [i, t] of nodes.entries()) {
      const forgedIds = [...deliveries[i]!.keys()].filter((k) => !k.startsWith(honestContentId))
      assert.deepEqual(forgedIds, [], `node ${i} delivered a forged chunk`)
      if (t !== firstHop) {
        // Not forwarded: no other node ever saw (and so never had to reject) a forged chunk.
        assert.equal(
          await validationCount(t.registry, { topic, result: 'reject' }),
          0,
          `node ${i} saw a forgery`,
        )
      }
    }
  })

  it('a chunk that cannot be decided yet is ignored by the first hops: not relayed, not delivered, no penalty', async () => {
    const director = await testKey(0)
    const chunk = buildVideoChunks(
      '99'.repeat(32),
      UNKNOWN_SLOT,
      new Uint8Array(randomBytes(4096)),
      director,
    )[0]!
    const before = nodes.map((t) => t.node.status().validation.video?.ignore ?? 0)
    const report = await nodes[0]!.node.publishVideo([chunk])
    assert.equal(report.published, 1)
    // Node 0's ring neighbours are the first hops.
    const firstHops = [1, 4]
    const ignored = await until(
      () =>
        firstHops.every((i) => (nodes[i]!.node.status().validation.video?.ignore ?? 0) === before[i]! + 1),
      5000,
    )
    assert.ok(ignored, 'first hops ignored the chunk')
    await new Promise((r) => setTimeout(r, 300))
    for (const [i, t] of nodes.entries()) {
      assert.ok(![...deliveries[i]!.keys()].some((k) => k.startsWith('99')), `node ${i} delivered it`)
      if (!firstHops.includes(i)) {
        assert.equal(
          t.node.status().validation.video?.ignore ?? 0,
          before[i],
          `node ${i} saw it: it was relayed`,
        )
      }
    }
    for (const i of firstHops) {
      assert.equal(
        await validationCount(nodes[i]!.registry, {
          topic: 'video',
          result: 'ignore',
          code: 'ELECTION_UNKNOWN',
        }),
        1,
      )
      assert.ok(nodes[i]!.node.scoreOf(nodes[0]!.node.peerId) >= 0, 'ignore does not penalise the sender')
    }
  })
})
