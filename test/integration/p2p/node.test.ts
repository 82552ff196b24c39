// The P2PNode API on real libp2p nodes (127.0.0.1, one process): typed publish errors, per-message
// flood publish for BFT, installed validators, decoded delivery, status, and the rate limit and
// graylist over a real connection.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { signCommit } from '../../../src/crypto/index.ts'
import {
  GossipAction,
  GossipValidationError,
  MAX_PUBLISH_BYTES,
  P2PError,
  P2PNode,
} from '../../../src/p2p/index.ts'
import {
  type BftSignal,
  decodeBftSignal,
  encodeBftSignal,
  TOPIC_MAX_BYTES,
} from '../../../src/types/index.ts'
import { TEST_NETWORK_ID, testKey, testKeys } from '../../fixtures/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { addrOf, startNode, stopAll, type TestNode, until, validationCount } from './helpers.ts'

async function commitBytes(slot: bigint): Promise<Uint8Array> {
  const commit = signCommit(await testKey(0), TEST_NETWORK_ID, {
    epoch: 1n,
    slot,
    canonical_hash: new Uint8Array(32).fill(Number(slot % 256n)),
  })
  return encodeBftSignal({ kind: 'Commit', value: commit })
}

describe('publish errors', { timeout: 30_000 }, () => {
  const started: TestNode[] = []
  after(() => stopAll(started))

  it('refuses before start, with no peers, over-size, and after stop', async () => {
    const key = await testKey(20)
    const idle = new P2PNode({ key, listen: ['/ip4/127.0.0.1/tcp/0'] })
    await expectRejectedWithCode(
      idle.publish('tasks', new Uint8Array(1)),
      P2PError,
      'NOT_STARTED',
      'before start',
    )
    await expectRejectedWithCode(idle.publishVideo([]), P2PError, 'NOT_STARTED', 'video before start')

    const { node } = await startNode(started, key)
    await expectRejectedWithCode(node.publish('tasks', new Uint8Array(1)), P2PError, 'NO_PEERS', 'no peers')
    await expectRejectedWithCode(
      node.publish('bft', new Uint8Array(TOPIC_MAX_BYTES.bft + 1)),
      P2PError,
      'OVERSIZE',
      'bft over its topic limit',
    )
    await expectRejectedWithCode(
      node.publish('video', new Uint8Array(MAX_PUBLISH_BYTES + 1)),
      P2PError,
      'OVERSIZE',
      'video over the GossipSub send cap',
    )
    // A second node on the same TCP port cannot start, and is left stopped (nothing leaks).
    const port = addrOf(node, 'tcp').split('/')[4]
    const clash = new P2PNode({ key: await testKey(21), listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    await assert.rejects(clash.start())
    assert.equal(clash.started, false)
    await node.stop()
    await expectRejectedWithCode(
      node.publish('tasks', new Uint8Array(1)),
      P2PError,
      'NOT_STARTED',
      'after stop',
    )
  })
})

describe('flood publish, validators, status', { timeout: 30_000 }, () => {
  const started: TestNode[] = []
  let hub: TestNode
  let b: TestNode
  let c: TestNode
  const bftAtB: BftSignal[] = []
  const bftAtC: BftSignal[] = []

  before(async () => {
    const [kh, kb, kc] = await testKeys(3, 30)
    // The hub keeps a mesh of one peer (D = 1), so only flood publishing reaches both others.
    // No DHT: b and c would find and dial each other through the hub, and this test needs the star.
    const star = { reachability: { dht: false } }
    hub = await startNode(started, kh!, { mesh: { D: 1, Dlo: 1, Dhi: 1 }, ...star })
    b = await startNode(started, kb!, star)
    c = await startNode(started, kc!, star)
    // Inbound connections at the hub: GossipSub's outbound quota (Dout) will not re-graft them.
    await b.node.dial(addrOf(hub.node, 'tcp'))
    await c.node.dial(addrOf(hub.node, 'tcp'))
    b.node.subscribeDecoded('bft', (s) => bftAtB.push(s))
    c.node.subscribeDecoded('bft', (s) => bftAtC.push(s))
    // The hub knowing b's and c's subscriptions only says that THEIR streams to the hub are open.
    // Flood publishing writes on the hub's own outbound stream to each peer, which opens
    // separately; b and c seeing the hub's subscription proves that stream is up.
    const settled = await until(
      () =>
        hub.node.meshPeers('tasks').length === 1 &&
        hub.node.meshPeers('bft').length === 1 &&
        hub.node.status().topics.bft.subscribers === 2 &&
        b.node.status().topics.bft.subscribers === 1 &&
        c.node.status().topics.bft.subscribers === 1,
      10_000,
    )
    assert.ok(
      settled,
      `hub: ${JSON.stringify(hub.node.status().topics.bft)}, b: ${JSON.stringify(b.node.status().topics.bft)}, ` +
        `c: ${JSON.stringify(c.node.status().topics.bft)}`,
    )
  })
  after(() => stopAll(started))

  it('bft is flood-published to every subscriber; other topics go to the mesh only', async () => {
    const bft = await hub.node.publish('bft', await commitBytes(1n))
    assert.equal(bft.recipients, 2)
    const tasks = await hub.node.publish('tasks', new Uint8Array([1, 2, 3]))
    assert.equal(tasks.recipients, 1)
    assert.ok(await until(() => bftAtB.length === 1 && bftAtC.length === 1, 5000), 'bft delivered to both')
    assert.equal(bftAtB[0]!.kind, 'Commit')
    assert.equal(bftAtB[0]!.value.slot, 1n)
  })

  it('an installed validator replaces the default and its refusals are counted by code', async () => {
    // Lane 0 style: return the decoded message, throw a coded GossipValidationError to refuse.
    b.node.setValidator('bft', (data) => {
      const signal = decodeBftSignal(data)
      if (signal.value.slot === 666n) {
        throw new GossipValidationError(GossipAction.REJECT, 'BAD_SIGNATURE', 'test: slot 666 refused')
      }
      return signal
    })
    // A bare-result validator (the Gossip seam's TopicValidator shape).
    c.node.setValidator('bft', () => 'ignore')
    await hub.node.publish('bft', await commitBytes(666n))
    await hub.node.publish('bft', await commitBytes(2n))
    assert.ok(await until(() => bftAtB.length === 2, 5000), 'slot 2 delivered at b')
    await new Promise((r) => setTimeout(r, 200))
    assert.deepEqual(
      bftAtB.map((s) => s.value.slot),
      [1n, 2n],
    )
    assert.equal(bftAtC.length, 1, 'c ignores everything now')
    assert.equal(
      await validationCount(b.registry, { topic: 'bft', result: 'reject', code: 'BAD_SIGNATURE' }),
      1,
    )
    assert.equal(await validationCount(c.registry, { topic: 'bft', result: 'ignore', code: 'APP_IGNORE' }), 2)
  })

  it('status reports peers, transports, mesh, subscribers and scores', () => {
    const s = hub.node.status()
    assert.equal(s.peerId, hub.node.peerId)
    assert.equal(s.started, true)
    assert.equal(s.peers, 2)
    assert.deepEqual(new Set(s.connections.map((x) => x.peer)), new Set([b.node.peerId, c.node.peerId]))
    assert.ok(s.connections.every((x) => x.transport === 'tcp' && x.direction === 'inbound'))
    assert.equal(s.topics.video.meshPeers.length, 1)
    assert.equal(s.topics.video.subscribers, 2)
    assert.deepEqual(Object.keys(s.scores).sort(), [b.node.peerId, c.node.peerId].sort())
    assert.ok(
      s.listen.some((a) => a.includes('/ws/')),
      'listens on WebSockets',
    )
    assert.doesNotThrow(() => JSON.stringify(s))
  })
})

describe('rate limit over a real connection', { timeout: 30_000 }, () => {
  const started: TestNode[] = []
  after(() => stopAll(started))

  it('delivers the budget, ignores the excess, then graylists the peer', async () => {
    const [kp, kq] = await testKeys(2, 40)
    const sender = await startNode(started, kp!)
    const receiver = await startNode(started, kq!, {
      rateLimit: { messagesPerMinute: 5, graylistAfterViolations: 3 },
    })
    await sender.node.dial(addrOf(receiver.node, 'tcp'))
    assert.equal(await sender.node.waitForMesh('tasks', 1, 10_000), 1, 'mesh')
    let delivered = 0
    receiver.node.subscribe('tasks', () => delivered++)
    for (let i = 0; i < 12; i++) await sender.node.publish('tasks', new Uint8Array([i, 1, 2, 3]))
    assert.ok(await until(() => delivered >= 5, 5000))
    const graylisted = await until(() => receiver.node.status().graylisted.includes(sender.node.peerId), 5000)
    assert.ok(graylisted, 'sender graylisted')
    assert.equal(delivered, 5, 'exactly the budget was delivered')
    assert.equal(
      await validationCount(receiver.registry, { topic: 'tasks', result: 'ignore', code: 'RATE_LIMITED' }),
      2,
    )
    // The graylist feeds GossipSub's application score: the peer drops under the graylist threshold.
    const dropped = await until(() => receiver.node.scoreOf(sender.node.peerId) <= -80, 3000)
    assert.ok(dropped, `score ${receiver.node.scoreOf(sender.node.peerId)}`)
  })
})
