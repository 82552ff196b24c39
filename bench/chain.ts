// Dev chain figures: submit_bft_result calls accepted per second by the real `nsn devchain` process
// (each one certificate-verified and fsynced before its answer), and event delivery latency from
// block production to a DevChainClient handler (p50/p99). Prints numbers, asserts nothing.
import '../src/polyfill.ts' // first: Node 20 lacks Promise.withResolvers and a global WebSocket
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { DevChainClient, DevChainServer, hex, NSN_UNIT } from '../src/chain/index.ts'
import { initBlake3 } from '../src/crypto/index.ts'
import { hexToBytes } from '../src/types/index.ts'
import { buildCertificate, testKeys } from '../test/fixtures/index.ts'

await initBlake3()
const root = new URL('..', import.meta.url).pathname
const dir = await mkdtemp(join(tmpdir(), 'nsn-bench-chain-'))
const keys = await testKeys(5)
const genesisAccounts = keys.map((k, i) => ({
  peer: k.publicKeyProto,
  role: 'director' as const,
  region: (['eu-west', 'na-east', 'apac', 'latam', 'mena'] as const)[i]!,
  stake: 100n * NSN_UNIT,
}))

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

async function throughput(): Promise<void> {
  const N = 3000
  const CONCURRENCY = 64
  const genesisFile = join(dir, 'genesis.json')
  await writeFile(
    genesisFile,
    JSON.stringify({
      accounts: genesisAccounts.map((a) => ({
        peer: hex(a.peer),
        role: a.role,
        region: a.region,
        stake: a.stake.toString(),
      })),
    }),
  )
  const proc = spawn(
    process.execPath,
    [
      join(root, 'bin/nsn.js'),
      'devchain',
      '--log-level',
      'warn',
      '--data-dir',
      join(dir, 'tp'),
      '--listen',
      '127.0.0.1:0',
      '--block-ms',
      '1',
      '--epoch-blocks',
      '1000000',
      '--blocks-per-slot',
      '1',
      '--genesis',
      genesisFile,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  try {
    const { url, genesisHash } = await new Promise<{ url: string; genesisHash: string }>(
      (resolve, reject) => {
        const t = setTimeout(() => reject(new Error('devchain did not start')), 20_000)
        createInterface({ input: proc.stdout! }).on('line', (l) => {
          const o = JSON.parse(l) as { event?: string; url: string; genesisHash: string }
          if (o.event === 'listening') {
            clearTimeout(t)
            resolve(o)
          }
        })
      },
    )
    const networkId = hexToBytes(genesisHash)
    const t0 = performance.now()
    const certs = Array.from(
      { length: N },
      (_, i) =>
        buildCertificate({
          networkId,
          epoch: 0n,
          slot: BigInt(i + 1),
          memberKeys: keys.slice(0, 3),
          committers: keys.slice(0, 3),
        }).certificate,
    )
    console.log(`built ${N} certificates (3 commits each) in ${(performance.now() - t0).toFixed(0)} ms`)
    const client = new DevChainClient({ url })
    const deadline = Date.now() + 30_000
    while ((await client.info()).bestBlock < BigInt(N) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100))
    let next = 0
    let accepted = 0
    const lat: number[] = []
    const start = performance.now()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < N) {
          const i = next++
          const s = performance.now()
          const o = await client.submitBftResult(BigInt(i + 1), certs[i]!, keys[i % 5]!)
          lat.push(performance.now() - s)
          if (o.status === 'accepted') accepted++
        }
      }),
    )
    const secs = (performance.now() - start) / 1000
    console.log(
      `submissions: ${accepted}/${N} accepted in ${secs.toFixed(2)} s = ${(accepted / secs).toFixed(0)}/s ` +
        `(concurrency ${CONCURRENCY}, separate process, fsync before each answer, blocks every 1 ms); ` +
        `round trip p50 ${pct(lat, 50).toFixed(1)} ms p99 ${pct(lat, 99).toFixed(1)} ms`,
    )
    await client.close()
  } finally {
    proc.kill('SIGTERM')
    await new Promise((r) => proc.once('exit', r))
  }
}

async function latency(): Promise<void> {
  const BLOCKS = 400
  const server = await DevChainServer.start({
    dataDir: join(dir, 'lat'),
    port: 0,
    blockMs: 0,
    params: { epochLengthBlocks: 20, lookaheadBlocks: 5, blocksPerSlot: 2, genesisAccounts },
  })
  const client = new DevChainClient({ url: server.url })
  const produced = new Map<bigint, number>()
  const lat: number[] = []
  let last = 0n
  client.subscribe((e) => {
    if (e.type !== 'NewBlock') return
    const t = produced.get(e.block)
    if (t !== undefined) lat.push(performance.now() - t)
    last = e.block
  })
  await client.connect()
  await new Promise((r) => setTimeout(r, 50))
  for (let i = 0; i < BLOCKS; i++) {
    produced.set(server.chain.best + 1n, performance.now())
    await server.produceBlock()
    await new Promise((r) => setTimeout(r, 5))
  }
  const deadline = Date.now() + 5000
  while (last < server.chain.best && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  console.log(
    `event delivery (block sealed → WAL fsync → WebSocket → handler, same process): ${lat.length} blocks, ` +
      `p50 ${pct(lat, 50).toFixed(2)} ms p99 ${pct(lat, 99).toFixed(2)} ms`,
  )
  await client.close()
  await server.stop()
}

try {
  await throughput()
  await latency()
  console.log(`RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB (bench process)`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
