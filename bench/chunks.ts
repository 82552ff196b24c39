// Chunk hot path: build+sign and decode+verify 64 MiB as 1 MiB chunks, and raw BLAKE3 MiB/s for
// the native and the WASM path. One core, one process. Prints figures and the wire-ready build's
// ratio to native BLAKE3 measured in the same run (goal >= 90 %); asserts nothing.
import '../src/polyfill.ts'
import { performance } from 'node:perf_hooks'
import { blake3Impl, createWasmBlake3, initBlake3, NodeKey } from '../src/crypto/index.ts'
import { buildVideoChunks, decodeAndVerifyVideoChunk } from '../src/p2p/index.ts'
import { DEFAULT_CHUNK_SIZE, encodeVideoChunk } from '../src/types/index.ts'

const MiB = 1024 * 1024
const VIDEO_MIB = 64
const ROUNDS = 9

await initBlake3()
const key = await NodeKey.fromSeed(new Uint8Array(32).fill(1))
const video = new Uint8Array(VIDEO_MIB * MiB)
for (let i = 0; i < video.length; i += 4096) video[i] = i & 0xff

function best(label: string, mib: number, fn: () => void): number {
  fn() // warm-up
  const times: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now()
    fn()
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)]!
  console.log(
    `${label.padEnd(44)} ${((mib / median) * 1000).toFixed(0).padStart(6)} MiB/s  (median of ${ROUNDS}: ${median.toFixed(1)} ms)`,
  )
  return (mib / median) * 1000
}

console.log(`chunk size ${DEFAULT_CHUNK_SIZE / MiB} MiB, video ${VIDEO_MIB} MiB, BLAKE3 ${blake3Impl().kind}`)

let built = 0
best('build + sign (hash, header, Ed25519)', VIDEO_MIB, () => {
  built = buildVideoChunks('ab'.repeat(32), 1n, video, key).length
})
console.log(`${built} chunks per video`)
let wire: Uint8Array[] = []
const wireReady = best('build + sign + encode for the wire', VIDEO_MIB, () => {
  wire = buildVideoChunks('ab'.repeat(32), 1n, video, key).map(encodeVideoChunk)
})
const loose = buildVideoChunks('ab'.repeat(32), 1n, video, key).map((c) => ({ ...c }))
best('encode chunks not built in place (one copy)', VIDEO_MIB, () => {
  for (const c of loose) encodeVideoChunk(c)
})
best('decode + verify (hash, Ed25519) from the wire', VIDEO_MIB, () => {
  for (const w of wire) decodeAndVerifyVideoChunk(w)
})

const native = blake3Impl()
const reference = best(`BLAKE3 ${native.kind}, 1 MiB inputs`, VIDEO_MIB, () => {
  for (let i = 0; i < VIDEO_MIB; i++) native.hash(video.subarray(i * MiB, (i + 1) * MiB))
})
console.log(
  `wire-ready build at ${((100 * wireReady) / reference).toFixed(0)} % of BLAKE3 ${native.kind} (goal >= 90 %)`,
)
const wasm = await createWasmBlake3()
best('BLAKE3 wasm, 1 MiB inputs', VIDEO_MIB, () => {
  for (let i = 0; i < VIDEO_MIB; i++) wasm.hash(video.subarray(i * MiB, (i + 1) * MiB))
})

const small = new Uint8Array(120)
const n = 20000
const t = performance.now()
for (let i = 0; i < n; i++) key.sign(small)
console.log(
  `${'Ed25519 sign, 120-byte header'.padEnd(44)} ${((n / (performance.now() - t)) * 1000).toFixed(0).padStart(6)} /s`,
)
const rss = process.memoryUsage().rss / MiB
console.log(`RSS ${rss.toFixed(0)} MiB`)
