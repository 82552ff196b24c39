// Slot fetch across a running devnet (docs/protocol.md §12). A viewer R follows the network from the
// start; its only link to node N runs through a TCP proxy in this process (R announces the proxy's
// address, N has no DHT, so the proxy is N's one path to the network). N starts after three slots
// were certified and fills its archive from peers; then the proxy cuts the link during a slot and
// N fetches what it missed once the link is back. A peer T in this process serves tampered chunks:
// N refuses them, counts the refusal, and does not ask T again.
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { Stream } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { SlotArchive } from '../../../src/archive/index.ts'
import { NodeKey } from '../../../src/crypto/index.ts'
import { type NodeReady, type NsnProcess, startNsn } from '../../../src/node/processes.ts'
import { archivedFrames } from '../../../src/p2p/slot-fetch.ts'
import {
  decodeSlotRequest,
  encodeSlotResponse,
  SLOT_FETCH_PROTOCOL,
} from '../../../src/p2p/slot-fetch-wire.ts'
import { encodeVideoChunk } from '../../../src/types/index.ts'
import { fetchMetric, TestNetwork, waitFor } from '../../helpers/network.ts'
import { startNode, stopAll, type TestNode } from '../p2p/helpers.ts'

/** A TCP proxy whose link can be cut (every connection destroyed, new ones refused) and restored. */
class CuttableProxy {
  target = 0
  cut = false
  private readonly sockets = new Set<Socket>()
  private constructor(readonly server: Server) {}

  static async start(): Promise<CuttableProxy> {
    const p = new CuttableProxy(createServer())
    p.server.on('connection', (client) => p.accept(client))
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r))
    return p
  }

  get port(): number {
    return (this.server.address() as { port: number }).port
  }

  private accept(client: Socket): void {
    if (this.cut || this.target === 0) {
      client.destroy()
      return
    }
    const upstream = new (client.constructor as typeof Socket)()
    upstream.connect(this.target, '127.0.0.1')
    for (const s of [client, upstream]) {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
      s.on('error', () => {})
    }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  }

  sever(): void {
    this.cut = true
    for (const s of this.sockets) s.destroy()
  }

  async stop(): Promise<void> {
    this.sever()
    await new Promise<void>((r) => this.server.close(() => r()))
  }
}

/** A TCP port free right now on 127.0.0.1. */
async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

interface SlotsJson {
  slots: { slot: string; contentHash: string }[]
}

async function archived(http: string): Promise<Map<string, string>> {
  const res = await fetch(`${http}/api/slots?limit=50`, { signal: AbortSignal.timeout(2000) })
  const body = (await res.json()) as SlotsJson
  return new Map(body.slots.map((s) => [s.slot, s.contentHash]))
}

let net: TestNetwork
let proxy: CuttableProxy
const procs: NsnProcess<NodeReady>[] = []
const started: TestNode[] = []

before(async () => {
  net = await TestNetwork.start({ name: 'slot-fetch', observer: false })
  proxy = await CuttableProxy.start()
})

after(async () => {
  await stopAll(started)
  for (const p of procs.reverse()) await p.stop()
  await proxy?.stop()
  await net?.stop()
})

test('a late node and a node whose link was cut fill their archives from peers; a tampering peer is refused', async () => {
  const author = await NodeKey.load(join(net.dataDir, 'author', 'node.key'))
  const chainUrl = net.devnet.chainProc!.ready.url
  const nodeArgs = (name: string, extra: string[]) => [
    'node',
    '--profile',
    'devnet',
    '--role',
    'viewer',
    '--data-dir',
    join(net.dataDir, name),
    '--chain-url',
    chainUrl,
    '--set',
    `lane0.recipeAuthors=${author.publicKeyHex}`,
    '--set',
    'slotFetch.sweepIntervalMs=1000',
    ...extra,
  ]
  // R announces only the proxy, so its real port is picked here (as the devnet picks its ports).
  const rPort = await freePort()
  // A busy machine (other suites, five plugin processes) can take a while to start a node.
  const logFile = (name: string) => ({
    logFile: join(net.dataDir, 'logs', `${name}.log`),
    readyTimeoutMs: 120_000,
  })
  const r = await startNsn<NodeReady>(
    'viewer-r',
    nodeArgs('viewer-r', [
      '--listen',
      `/ip4/127.0.0.1/tcp/${rPort}`,
      '--set',
      `p2p.announce=/ip4/127.0.0.1/tcp/${proxy.port}`,
      ...[...net.devnet.directorAddrs.values()].flatMap((a) => ['--bootstrap', a]),
    ]),
    logFile('viewer-r'),
  )
  procs.push(r)
  proxy.target = rPort

  const first = await waitFor(
    'three certified slots in viewer R’s archive',
    async () => {
      const held = await archived(r.ready.http)
      return held.size >= 3 ? held : null
    },
    { timeoutMs: 150_000, intervalMs: 500, seen: () => net.describe() },
  )

  // The tamperer serves R's archived slots with one payload byte flipped.
  let tampererAsked = 0
  const tamperer = await startNode(started, await NodeKey.generate(), { topics: [] })
  await tamperer.node.libp2p!.handle(SLOT_FETCH_PROTOCOL, async (stream: Stream) => {
    tampererAsked++
    let req = null
    for await (const f of lp.decode(stream)) req = decodeSlotRequest(f.subarray())
    const rArchive = await SlotArchive.open(
      {},
      { dir: join(net.dataDir, 'viewer-r', 'archive'), maxBytes: 1 << 30, readOnly: true },
    )
    const found = req === null ? null : await archivedFrames(rArchive, req.slot, req.content_hash)
    if (found === null) {
      stream.send(lp.encode.single(encodeSlotResponse({ kind: 'NotFound', value: null })))
    } else {
      stream.send(lp.encode.single(encodeSlotResponse({ kind: 'Found', value: found.header })))
      for (const [i, c] of found.chunks.entries()) {
        const payload = i === 0 ? c.payload.map((b, j) => (j === 100 ? b ^ 0xff : b)) : c.payload
        stream.send(lp.encode.single(encodeVideoChunk({ ...c, payload })))
      }
    }
    await stream.close()
  })

  // N: late, and reachable from the network only through the proxy.
  const n = await startNsn<NodeReady>(
    'viewer-n',
    nodeArgs('viewer-n', [
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--set',
      'p2p.dht=false',
      '--set',
      'p2p.autonat=false',
      '--set',
      'p2p.relayReserve=false',
      '--bootstrap',
      `/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${r.ready.peerId}`,
    ]),
    logFile('viewer-n'),
  )
  procs.push(n)
  const nTcp = n.ready.listen.find((a) => a.includes('/tcp/') && !a.includes('/ws'))!
  await tamperer.node.dial(nTcp.includes('/p2p/') ? nTcp : `${nTcp}/p2p/${n.ready.peerId}`)
  const stored = () => fetchMetric(n.ready.http, 'nsn_slot_fetch_requests_total', { result: 'stored' })
  const seen = async () =>
    `N holds [${[...(await archived(n.ready.http)).keys()]}], R holds [${[...(await archived(r.ready.http)).keys()]}], tamperer asked ${tampererAsked}, N stored-from-peers ${await stored()}`

  await waitFor(
    'the late node N holding the three slots certified before it started',
    async () => {
      const held = await archived(n.ready.http)
      return [...first].every(([slot, hash]) => held.get(slot) === hash)
    },
    { timeoutMs: 60_000, intervalMs: 500, seen },
  )
  assert.ok((await stored()) >= 3, 'the three earlier slots came from peers (gossip cannot replay them)')

  // Cut N's link during a slot, until N has noticed a certified slot it lacks.
  const storedBeforeCut = await stored()
  const askedBeforeCut = tampererAsked
  const noPeer = () => fetchMetric(n.ready.http, 'nsn_slot_fetch_requests_total', { result: 'no_peer' })
  const noPeerBeforeCut = await noPeer()
  proxy.sever()
  await waitFor(
    'N looking for a certified slot it missed while cut off',
    async () => tampererAsked > askedBeforeCut || (await noPeer()) > noPeerBeforeCut,
    { timeoutMs: 60_000, intervalMs: 250, seen },
  )
  const rAtRestore = await archived(r.ready.http)
  proxy.cut = false

  await waitFor(
    'N holding every slot R held when the link came back',
    async () => {
      const held = await archived(n.ready.http)
      return (
        [...rAtRestore].every(([slot, hash]) => held.get(slot) === hash) && (await stored()) > storedBeforeCut
      )
    },
    { timeoutMs: 60_000, intervalMs: 500, seen },
  )

  // The tamperer was asked (it was N's only peer while cut, if not before), refused, and not asked again.
  assert.ok(tampererAsked >= 1, 'the tamperer was asked')
  assert.equal(tampererAsked, 1, 'a refused peer is not asked again')
  assert.equal(await fetchMetric(n.ready.http, 'nsn_slot_fetch_refused_total', { reason: 'CHUNK' }), 1)
})
