// Slot fetch on /nsn/slot/1.0.0 (docs/protocol.md §12) between real libp2p nodes in this process: a
// node fetches a certified slot from a peer's archive and verifies it as a viewer; a peer serving
// tampered chunks is refused, counted and no longer asked; the server's bounds answer Busy and
// BadRequest; a response beyond maxResponseBytes is refused.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Stream } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { Registry } from 'prom-client'
import { SlotArchive } from '../../../src/archive/index.ts'
import { blake3, initBlake3 } from '../../../src/crypto/index.ts'
import {
  archivedFrames,
  createSlotFetchMetrics,
  SLOT_FETCH_DEFAULTS,
  type SlotFetchConfig,
  SlotFetcher,
  SlotFetchServer,
} from '../../../src/p2p/slot-fetch.ts'
import {
  decodeSlotResponse,
  encodeSlotResponse,
  SLOT_FETCH_PROTOCOL,
} from '../../../src/p2p/slot-fetch-wire.ts'
import { encodeVideoChunk } from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { ARCHIVE_ANCHOR, certifiedSlot } from '../../helpers/archive.ts'
import { waitFor } from '../../helpers/network.ts'
import { fakeVideo } from '../../unit/lane0/fakes.ts'
import { addrOf, startNode, stopAll, type TestNode } from './helpers.ts'

await initBlake3()

const SLOT = 21n
const config: SlotFetchConfig = { ...SLOT_FETCH_DEFAULTS, fetchDelayMs: 0, sweepIntervalMs: 60_000 }

describe('slot fetch /nsn/slot/1.0.0', async () => {
  const keys = await testKeys(8)
  const started: TestNode[] = []
  let dir = ''
  const video = fakeVideo(30_000, 7)
  const slot = certifiedSlot(keys, SLOT, video)
  const contentHash = blake3(video)
  let honest: TestNode
  let tamperer: TestNode
  let client: TestNode
  let clientArchive: SlotArchive
  let fetcher: SlotFetcher
  const clientRegistry = new Registry()
  const clientMetrics = createSlotFetchMetrics(clientRegistry)
  const serverRegistry = new Registry()
  const serverMetrics = createSlotFetchMetrics(serverRegistry)
  let server: SlotFetchServer
  /** Requests the tamperer received. */
  let tampererAsked = 0

  const metric = async (r: Registry, name: string, label: string, value: string) =>
    ((await r.getSingleMetric(name)?.get())?.values ?? []).find((v) => v.labels[label] === value)?.value ?? 0

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsn-slot-fetch-'))
    const honestArchive = await SlotArchive.open({}, { dir: join(dir, 'honest'), maxBytes: 1 << 24 })
    assert.equal(await honestArchive.put(slot), true)
    honest = await startNode(started, keys[5]!)
    server = new SlotFetchServer(
      { libp2p: honest.node.libp2p!, archive: honestArchive, metrics: serverMetrics },
      { ...config, requestsPerMinutePerPeer: 3 },
    )
    await server.start()

    // The tamperer holds the same slot and serves its frames with one payload byte flipped.
    const tampererArchive = await SlotArchive.open({}, { dir: join(dir, 'tamperer'), maxBytes: 1 << 24 })
    await tampererArchive.put(slot)
    tamperer = await startNode(started, keys[6]!)
    await tamperer.node.libp2p!.handle(SLOT_FETCH_PROTOCOL, async (stream: Stream) => {
      tampererAsked++
      for await (const _ of lp.decode(stream)) break
      const found = (await archivedFrames(tampererArchive, SLOT, contentHash))!
      const chunks = found.chunks.map((c, i) =>
        i === 1 ? { ...c, payload: c.payload.map((b, j) => (j === 10 ? b ^ 0xff : b)) } : c,
      )
      stream.send(lp.encode.single(encodeSlotResponse({ kind: 'Found', value: found.header })))
      for (const c of chunks) stream.send(lp.encode.single(encodeVideoChunk(c)))
      await stream.close()
    })

    clientArchive = await SlotArchive.open({}, { dir: join(dir, 'client'), maxBytes: 1 << 24 })
    client = await startNode(started, keys[7]!)
    fetcher = new SlotFetcher(
      {
        libp2p: client.node.libp2p!,
        archive: clientArchive,
        certificate: async (s) => (s === SLOT ? slot.completed.certificate : null),
        electedFor: () => keys.map((k) => k.publicKeyProto),
        currentSlot: () => SLOT + 1n,
        metrics: clientMetrics,
      },
      ARCHIVE_ANCHOR,
      config,
    )
    await client.node.dial(addrOf(honest.node, 'tcp'))
    await client.node.dial(addrOf(tamperer.node, 'tcp'))
    // identify tells the client which peers speak the protocol
    await waitFor(
      'both peers known to speak /nsn/slot/1.0.0',
      async () => {
        let n = 0
        for (const p of [honest, tamperer]) {
          const peer = await client.node.libp2p!.peerStore.get(p.node.libp2p!.peerId)
          if (peer.protocols.includes(SLOT_FETCH_PROTOCOL)) n++
        }
        return n === 2
      },
      { timeoutMs: 10_000 },
    )
  })

  after(async () => {
    await fetcher?.stop()
    await server?.stop()
    await stopAll(started)
    await rm(dir, { recursive: true, force: true })
  })

  test('a tampered response is refused, counted, and its peer is no longer asked', async () => {
    const outcome = await fetcher.ask(tamperer.node.libp2p!.peerId, SLOT, contentHash)
    assert.equal(outcome, 'refused')
    assert.equal(tampererAsked, 1)
    assert.equal(await metric(clientRegistry, 'nsn_slot_fetch_refused_total', 'reason', 'CHUNK'), 1)
    assert.deepEqual(fetcher.penalisedPeers(), [tamperer.node.peerId.toString()])
    assert.equal(clientArchive.has(SLOT), false, 'nothing stored from the tamperer')
  })

  test('a sweep fetches the missing certified slot from the honest peer and stores it verified', async () => {
    fetcher.noteResult(SLOT, true)
    await fetcher.sweep()
    assert.equal(clientArchive.has(SLOT), true, 'slot stored from the honest peer')
    assert.equal(tampererAsked, 1, 'the penalised tamperer was not asked again')
    const read = await clientArchive.read(SLOT)
    assert.deepEqual(blake3(read!.video), contentHash, 'stored video hashes to the certified content hash')
    assert.equal(await metric(clientRegistry, 'nsn_slot_fetch_requests_total', 'result', 'stored'), 1)
    assert.equal(await metric(serverRegistry, 'nsn_slot_fetch_served_total', 'result', 'found'), 1)
  })

  test('unknown content is NotFound; a malformed request is BadRequest; over the rate, Busy', async () => {
    const peer = honest.node.libp2p!.peerId
    assert.equal(await fetcher.ask(peer, SLOT, new Uint8Array(32)), 'not_found')
    const raw = await client.node.libp2p!.dialProtocol(peer, SLOT_FETCH_PROTOCOL)
    raw.send(lp.encode.single(new Uint8Array(41)))
    await raw.close()
    const frames: Uint8Array[] = []
    for await (const f of lp.decode(raw)) frames.push(f.subarray())
    assert.equal(decodeSlotResponse(frames[0]!).kind, 'BadRequest')
    // Three requests per minute: the fourth within the minute is answered Busy (not penalised).
    assert.equal(await fetcher.ask(peer, SLOT, contentHash), 'busy')
    assert.equal(fetcher.penalisedPeers().includes(peer.toString()), false)
    assert.equal(await metric(serverRegistry, 'nsn_slot_fetch_served_total', 'result', 'busy'), 1)
  })

  test('a response beyond maxResponseBytes is refused as TOO_LARGE', async () => {
    const small = new SlotFetcher(
      {
        libp2p: client.node.libp2p!,
        archive: clientArchive,
        certificate: async () => null,
        electedFor: () => keys.map((k) => k.publicKeyProto),
        currentSlot: () => SLOT + 1n,
        metrics: clientMetrics,
      },
      ARCHIVE_ANCHOR,
      { ...config, maxResponseBytes: 10_000 },
    )
    // A fresh server without the rate already spent.
    const other = await startNode(started, keys[4]!)
    const otherArchive = await SlotArchive.open({}, { dir: join(dir, 'other'), maxBytes: 1 << 24 })
    await otherArchive.put(slot)
    const s = new SlotFetchServer({ libp2p: other.node.libp2p!, archive: otherArchive }, config)
    await s.start()
    await client.node.dial(addrOf(other.node, 'tcp'))
    assert.equal(await small.ask(other.node.libp2p!.peerId, SLOT, contentHash), 'refused')
    assert.equal(await metric(clientRegistry, 'nsn_slot_fetch_refused_total', 'reason', 'TOO_LARGE'), 1)
    await s.stop()
    await small.stop()
  })
})
