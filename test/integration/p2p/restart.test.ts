// A node restarted from the same key file keeps its PeerId and rejoins the mesh through its
// bootstrap list (real libp2p nodes on 127.0.0.1, one process).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { NodeKey } from '../../../src/crypto/index.ts'
import type { GossipMessage } from '../../../src/p2p/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { addrOf, startNode, stopAll, type TestNode, until, waitForFullMesh } from './helpers.ts'

describe('restart with the same key', { timeout: 60_000 }, () => {
  const started: TestNode[] = []
  let dir = ''
  after(async () => {
    await stopAll(started)
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('keeps its PeerId and rejoins the mesh', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsn-p2p-restart-'))
    const keyPath = join(dir, 'node.key')
    const [ka, kb] = await testKeys(2)
    const a = await startNode(started, ka!)
    const b = await startNode(started, kb!)
    await b.node.dial(addrOf(a.node, 'tcp'))
    const bootstrap = [addrOf(a.node, 'tcp'), addrOf(b.node, 'tcp')]

    const key1 = await NodeKey.loadOrCreate(keyPath)
    const r1 = await startNode(started, key1, { bootstrap, bootstrapDelayMs: 0 })
    const firstId = r1.node.peerId
    assert.ok(await waitForFullMesh([a.node, b.node, r1.node], 'tasks', 10_000), 'first mesh')
    assert.ok(a.node.meshPeers('tasks').includes(firstId))

    await r1.node.stop()
    const gone = await until(() => !a.node.status().connections.some((c) => c.peer === firstId), 5000)
    assert.ok(gone, 'a still connected to the stopped node')
    assert.ok(!a.node.meshPeers('tasks').includes(firstId), 'stopped node left the mesh')

    // A new process would do exactly this: load the key file, start, dial the bootstrap list.
    const key2 = await NodeKey.load(keyPath)
    const r2 = await startNode(started, key2, { bootstrap, bootstrapDelayMs: 0 })
    assert.equal(r2.node.peerId, firstId, 'same PeerId from the same key file')
    const received: GossipMessage[] = []
    r2.node.subscribe('tasks', (m) => received.push(m))
    const rejoined = await until(
      () => a.node.meshPeers('tasks').includes(firstId) && b.node.meshPeers('tasks').includes(firstId),
      10_000,
    )
    assert.ok(rejoined, `not back in the mesh: a=${a.node.meshPeers('tasks')} b=${b.node.meshPeers('tasks')}`)

    const res = await a.node.publish('tasks', new TextEncoder().encode('task after restart'))
    assert.ok(res.recipients >= 1)
    assert.ok(await until(() => received.length === 1, 5000), 'restarted node received the message')
    assert.equal(new TextDecoder().decode(received[0]!.data), 'task after restart')
  })
})
