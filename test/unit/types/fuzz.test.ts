// Decoder fuzzing: random and mutated inputs for every wire type, bounded in count and time.
// The property: a decoder either returns a value or throws a DecodeError — never anything else.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildVideoChunks } from '../../../src/p2p/index.ts'
import {
  DecodeError,
  decodeBftSignal,
  decodeCertificate,
  decodeEquivocationEvidence,
  decodeRecipeAny,
  decodeVideoChunk,
  encodeBftSignal,
  encodeCertificate,
  encodeEquivocationEvidence,
  encodeRecipe,
  encodeVideoChunk,
  recipeToCbor,
  recipeToJson,
} from '../../../src/types/index.ts'
import { buildCertificate, signedSampleRecipe, testKeys, unitEmbedding } from '../../fixtures/index.ts'

const ITERATIONS = 4000
const TIME_BUDGET_MS = 3000

/** xorshift32: reproducible inputs (the seed is printed on failure). */
function rng(seed: number) {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 4294967296
  }
}

function mutate(base: Uint8Array, rand: () => number): Uint8Array {
  const r = rand()
  const out = new Uint8Array(base)
  if (r < 0.3) {
    const n = 1 + Math.floor(rand() * 4)
    for (let i = 0; i < n; i++) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256)
    return out
  }
  if (r < 0.5) return out.subarray(0, Math.floor(rand() * out.length)) // truncation
  if (r < 0.6)
    return new Uint8Array([
      ...out,
      ...Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256)),
    ])
  if (r < 0.8) {
    // overwrite a byte with a compact-length-looking value (big lengths, non-canonical forms)
    const i = Math.floor(rand() * out.length)
    out[i] = [0xff, 0xfe, 0x03, 0x02, 0x01, 0xfd][Math.floor(rand() * 6)]!
    return out
  }
  return Uint8Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)) // pure noise
}

function fuzz(name: string, seeds: Uint8Array[], decode: (b: Uint8Array) => unknown, seed: number): number {
  const rand = rng(seed)
  const start = Date.now()
  let n = 0
  for (; n < ITERATIONS && Date.now() - start < TIME_BUDGET_MS; n++) {
    const input = mutate(seeds[n % seeds.length]!, rand)
    try {
      decode(input)
    } catch (err) {
      if (!(err instanceof DecodeError)) {
        assert.fail(
          `${name}: iteration ${n} (seed ${seed}) threw ${(err as Error)?.name}: ${(err as Error)?.message}`,
        )
      }
    }
  }
  return n
}

describe('decoder fuzz', async () => {
  const keys = await testKeys(5)
  const recipe = await signedSampleRecipe()
  const chunks = buildVideoChunks('ab'.repeat(32), 9n, new Uint8Array(3000).fill(1), keys[0]!, {
    chunkSize: 1000,
  })
  const { certificate } = buildCertificate({
    epoch: 1n,
    slot: 9n,
    memberKeys: keys.slice(0, 3),
    committers: keys.slice(0, 3),
  })
  const proposal = {
    epoch: 1n,
    slot: 9n,
    recipe_hash: new Uint8Array(32),
    content_hash: new Uint8Array(32).fill(2),
    embedding: unitEmbedding(1),
    signer: keys[0]!.publicKeyProto,
    signature: new Uint8Array(64),
  }

  const targets: [string, Uint8Array[], (b: Uint8Array) => unknown][] = [
    ['Recipe (SCALE)', [encodeRecipe(recipe)], (b) => decodeRecipeAny(b, 'scale')],
    ['Recipe (JSON)', [new TextEncoder().encode(recipeToJson(recipe))], (b) => decodeRecipeAny(b, 'json')],
    ['Recipe (CBOR)', [recipeToCbor(recipe)], (b) => decodeRecipeAny(b, 'cbor')],
    ['Recipe (auto)', [encodeRecipe(recipe), recipeToCbor(recipe)], (b) => decodeRecipeAny(b)],
    ['VideoChunk', chunks.map(encodeVideoChunk), (b) => decodeVideoChunk(b)],
    [
      'BftSignal',
      [
        encodeBftSignal({ kind: 'Proposal', value: proposal }),
        encodeBftSignal({ kind: 'Certificate', value: certificate }),
      ],
      (b) => decodeBftSignal(b),
    ],
    ['Certificate', [encodeCertificate(certificate)], (b) => decodeCertificate(b)],
    [
      'EquivocationEvidence',
      [encodeEquivocationEvidence({ first: proposal, second: { ...proposal, slot: 10n } })],
      (b) => decodeEquivocationEvidence(b),
    ],
  ]
  for (const [i, [name, seeds, decode]] of targets.entries()) {
    it(`${name}: only typed errors`, () => {
      const n = fuzz(name, seeds, decode, 0x5eed + i)
      assert.ok(n >= 500, `${name}: ran ${n} inputs within the time budget`)
    })
  }
})
