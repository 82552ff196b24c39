import '../src/polyfill.ts'
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { blake3, NodeKey } from '../src/crypto/index.ts'
import { buildVideoChunks, P2PNode, staticElection } from '../src/p2p/index.ts'
import { bytesToHex } from '../src/types/index.ts'

const MiB = 1 << 20
const N = Number(process.argv[2] ?? 60)
const ks = await Promise.all([1, 2].map((i) => NodeKey.fromSeed(new Uint8Array(32).fill(i + 200))))
const pair = ks.map(
  (key) =>
    new P2PNode({
      key,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      electedForSlot: staticElection([ks[0]!.publicKeyProto]),
    }),
)
await Promise.all(pair.map((n) => n.start()))
await pair[1]!.dial(pair[0]!.multiaddrs()[0]!)
let last = 0,
  count = 0
pair[1]!.subscribe('video', () => {
  last = performance.now()
  count++
})
while (pair[0]!.meshPeers('video').length < 1) await new Promise((r) => setTimeout(r, 10))
const v = new Uint8Array(randomBytes(N * MiB))
const out: number[] = []
const cpu0 = process.cpuUsage()
for (const c of buildVideoChunks(bytesToHex(blake3(v)), 1n, v, ks[0]!)) {
  const t = performance.now()
  const before = count
  await pair[0]!.publishVideo([c])
  while (count === before) await new Promise((r) => setImmediate(r))
  out.push(last - t)
}
const cpu = process.cpuUsage(cpu0)
out.sort((a, b) => a - b)
console.log(
  `p50 ${out[Math.floor(N / 2)]!.toFixed(1)} p99 ${out[Math.floor(N * 0.99)]!.toFixed(1)} cpu ms/MiB (both nodes) ${((cpu.user + cpu.system) / 1000 / N).toFixed(1)}`,
)
await Promise.all(pair.map((n) => n.stop()))
