// Attack: viewers that connect to /viewer/ws and never read. Each would be handed the feed's whole
// history and every live frame, held in this process's socket buffers without bound. The feed must
// respect backpressure with a bounded queue per client (slow clients dropped, others unaffected),
// cap its connections, and keep its memory bounded with 50 such clients.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import { after, describe, test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { WebSocket } from 'ws'
import { ViewerFeed } from '../../../src/node/viewer-feed.ts'
import { FEED_TAG, VIEWER_WS_PATH } from '../../../src/node/viewer-protocol.ts'
import type { Gossip, GossipHandler, TopicName } from '../../../src/p2p/index.ts'
import { waitFor } from '../../helpers/network.ts'

const MiB = 1024 * 1024
const LIVE_FRAMES = 96

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
/** Resident memory after a full collection, MiB: what is still referenced, not garbage not yet freed. */
function liveRss(): number {
  gc()
  gc()
  return process.memoryUsage().rss / MiB
}

/** The gossip seam: what the feed subscribes to, with a way to deliver messages. */
class LocalGossip {
  private readonly handlers = new Map<TopicName, GossipHandler[]>()
  subscribe(topic: TopicName, h: GossipHandler): () => void {
    this.handlers.set(topic, [...(this.handlers.get(topic) ?? []), h])
    return () => {}
  }
  deliver(topic: TopicName, data: Uint8Array): void {
    for (const h of this.handlers.get(topic) ?? []) void h({ topic, data, from: 'peer' } as never)
  }
}

function frame(i: number, size = MiB): Uint8Array {
  const b = new Uint8Array(size)
  b.fill(i & 0xff)
  return b
}

async function startFeed(
  init: Record<string, number>,
): Promise<{ feed: ViewerFeed; gossip: LocalGossip; server: Server; port: number }> {
  const gossip = new LocalGossip()
  const feed = new ViewerFeed(
    { gossip: gossip as unknown as Gossip },
    { networkId: new Uint8Array(32), quorum: 3, slotsPerEpoch: 20, nodeId: 'test', ...init },
  )
  feed.start()
  const server = createServer((_req, res) => res.writeHead(404).end())
  feed.attach(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { feed, gossip, server, port: (server.address() as AddressInfo).port }
}

/** A client that completes the WebSocket handshake and then never reads another byte. */
function stalledClient(port: number): Promise<{ socket: Socket; status: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('error', reject)
    socket.on('connect', () => {
      socket.write(
        `GET ${VIEWER_WS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      )
    })
    socket.once('data', (d) => {
      socket.pause() // never read again
      resolve({ socket, status: Number(/^HTTP\/1\.1 (\d+)/.exec(d.toString('latin1'))?.[1] ?? 0) })
    })
  })
}

describe('attack: viewer feed clients that never read', () => {
  const cleanup: (() => Promise<void> | void)[] = []
  after(async () => {
    for (const c of cleanup.reverse()) await c()
  })

  test('50 stalled clients: memory stays bounded, they are dropped, a reading client gets every frame', async () => {
    const { feed, gossip, server, port } = await startFeed({
      historyBytes: 9 * MiB,
      maxQueueBytes: 6 * MiB,
      maxClients: 64,
    })
    cleanup.push(async () => {
      await feed.stop()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    })
    for (let i = 0; i < 8; i++) gossip.deliver('video', frame(i))
    const rss0 = liveRss()

    const stalled: Socket[] = []
    cleanup.push(() => {
      for (const s of stalled) s.destroy()
    })
    for (let i = 0; i < 50; i++) {
      const c = await stalledClient(port)
      assert.equal(c.status, 101, `stalled client ${i}: handshake`)
      stalled.push(c.socket)
    }

    const received: number[] = []
    const fast = new WebSocket(`ws://127.0.0.1:${port}${VIEWER_WS_PATH}`)
    cleanup.push(() => fast.terminate())
    fast.on('message', (d: Buffer) => {
      if (d[0] !== FEED_TAG.info) received.push(d.length)
    })
    await waitFor(
      'the reading client to get the 8 frames of history',
      () => received.length >= 8 || undefined,
      {
        timeoutMs: 30_000,
        seen: () => `${received.length} frames`,
      },
    )
    // Live frames, far beyond what a stalled client may have queued; the history keeps only 9 MiB of
    // them, so whatever a stalled client still references is memory the feed cannot free.
    for (let i = 0; i < LIVE_FRAMES; i++) {
      gossip.deliver('video', frame(100 + i))
      if (i % 4 === 3)
        await waitFor(
          `the reading client to get ${9 + i} frames`,
          () => received.length >= 9 + i || undefined,
          {
            timeoutMs: 30_000,
            seen: () => `${received.length} frames`,
          },
        )
    }
    const grown = liveRss() - rss0
    // Without bounded queues every stalled client pins every live frame: 96 MiB and growing.
    assert.ok(grown < 48, `RSS grew ${grown.toFixed(0)} MiB with 50 stalled clients`)
    await waitFor('the stalled clients to be dropped', () => feed.stats().clients <= 1 || undefined, {
      timeoutMs: 30_000,
      seen: () => JSON.stringify(feed.stats()),
    })
    assert.equal(feed.stats().clients, 1, 'only the reading client is left')
    assert.ok(feed.stats().dropped >= 50, `dropped ${feed.stats().dropped}`)
    assert.equal(received.length, 8 + LIVE_FRAMES, 'every frame reached the reading client exactly once')
  })

  test('connections beyond the cap are refused before the handshake', async () => {
    const { feed, server, port } = await startFeed({ maxClients: 2 })
    const sockets: Socket[] = []
    cleanup.push(async () => {
      for (const s of sockets) s.destroy()
      await feed.stop()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    })
    for (let i = 0; i < 2; i++) {
      const c = await stalledClient(port)
      sockets.push(c.socket)
      assert.equal(c.status, 101)
    }
    const third = await stalledClient(port)
    sockets.push(third.socket)
    assert.equal(third.status, 503, 'the third client is refused')
    assert.equal(feed.stats().clients, 2)
    assert.equal(feed.stats().refused, 1)
  })
})
