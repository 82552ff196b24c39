// One P2P node in a lab host (run by test/helpers/lab.ts with `ip netns exec`). Its settings come
// as one JSON argument; the test drives it over the IPC channel: status, publish a video, report
// what arrived, stop.
import '../../src/polyfill.ts'
import { randomBytes } from 'node:crypto'
import { blake3, initBlake3, NodeKey } from '../../src/crypto/index.ts'
import { buildVideoChunks, P2PNode, type P2PNodeInit, staticElection } from '../../src/p2p/index.ts'
import { bytesToHex } from '../../src/types/index.ts'

export interface LabNodeConfig {
  seed: number
  listen: string[]
  bootstrap: string[]
  /** Seeds of the directors (protected links); the first one may publish video. */
  directorSeeds: number[]
  reachability: P2PNodeInit['reachability']
  videoPublishPeers?: number
}

export type LabToNode = { cmd: 'status' } | { cmd: 'publish'; mib: number; slot: number } | { cmd: 'stop' }
export type LabFromNode =
  | { ev: 'ready'; peerId: string; addrs: string[] }
  | { ev: 'status'; status: ReturnType<P2PNode['status']> }
  | { ev: 'published'; contentId: string; chunks: number; ms: number }
  | { ev: 'video'; slot: number; contentId: string; complete: boolean; at: number }

const cfg = JSON.parse(process.argv[2]!) as LabNodeConfig
await initBlake3()
const keyOf = (seed: number) => NodeKey.fromSeed(new Uint8Array(32).fill(seed))
const key = await keyOf(cfg.seed)
const directors = await Promise.all(cfg.directorSeeds.map(keyOf))
const node = new P2PNode({
  key,
  listen: cfg.listen,
  bootstrap: cfg.bootstrap,
  reachability: cfg.reachability,
  videoPublishPeers: cfg.videoPublishPeers,
  electedForSlot: staticElection(directors.map((d) => d.publicKeyProto)),
  directorPeers: () => directors.map((d) => d.peerId),
  // The lab's hosts share no IP; colocation scoring stays as on a real network.
  ipColocationWhitelist: [],
})
const send = (m: LabFromNode) => process.send?.(m)
const received = new Map<string, Set<number>>()
node.subscribeDecoded('video', (c) => {
  const id = c.header.content_id
  let got = received.get(id)
  if (got === undefined) {
    got = new Set()
    received.set(id, got)
  }
  got.add(c.header.chunk_index)
  if (got.size === c.header.total_chunks) {
    send({ ev: 'video', slot: Number(c.header.slot), contentId: id, complete: true, at: Date.now() })
  }
})
await node.start()
process.on('message', async (m: LabToNode) => {
  if (m.cmd === 'status') send({ ev: 'status', status: node.status() })
  else if (m.cmd === 'publish') {
    const v = new Uint8Array(randomBytes(m.mib * 1024 * 1024))
    const chunks = buildVideoChunks(bytesToHex(blake3(v)), BigInt(m.slot), v, key)
    const t = Date.now()
    await node.publishVideo(chunks)
    send({
      ev: 'published',
      contentId: chunks[0]!.header.content_id,
      chunks: chunks.length,
      ms: Date.now() - t,
    })
  } else if (m.cmd === 'stop') {
    await node.stop()
    process.exit(0)
  }
})
process.on('SIGTERM', () => void node.stop().finally(() => process.exit(0)))
send({ ev: 'ready', peerId: node.peerId, addrs: node.multiaddrs() })
