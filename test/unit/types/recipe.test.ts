// Recipe codecs: SCALE, JSON and deterministic CBOR round trips, and their rejections.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encode as cborEncode } from 'cborg'
import { verifyRecipeSignature } from '../../../src/crypto/index.ts'
import {
  bytesToHex,
  DecodeError,
  decodeRecipe,
  decodeRecipeAny,
  encodeRecipe,
  type Recipe,
  RecipeError,
  recipeFromCbor,
  recipeFromJson,
  recipeToCbor,
  recipeToJson,
} from '../../../src/types/index.ts'
import { sampleRecipe, signedSampleRecipe, testKey } from '../../fixtures/index.ts'
import { expectCode } from '../../helpers.ts'

const big = (r: Recipe): Recipe => ({ ...r, slot_params: { ...r.slot_params, slot_number: 2n ** 63n + 5n } })

describe('recipe round trips', () => {
  it('SCALE round trip keeps every field, including a u64 above 2^53', async () => {
    const r = big(await signedSampleRecipe())
    assert.deepEqual(decodeRecipe(encodeRecipe(r)), r)
  })

  it('JSON round trip: snake_case names, bytes as hex, big u64 as a decimal string', async () => {
    const r = big(await signedSampleRecipe())
    const json = recipeToJson(r)
    const plain = JSON.parse(json)
    assert.equal(plain.slot_params.slot_number, (2n ** 63n + 5n).toString())
    assert.equal(plain.security.ed25519_signature, bytesToHex(r.security.ed25519_signature))
    assert.equal(typeof plain.security.timestamp, 'number', 'small u64 stays a JSON number')
    assert.deepEqual(recipeFromJson(json), r)
  })

  it('CBOR round trip is deterministic and byte-identical on re-encode', async () => {
    const r = big(await signedSampleRecipe())
    const a = recipeToCbor(r)
    const back = recipeFromCbor(a)
    assert.deepEqual(back, r)
    assert.equal(bytesToHex(recipeToCbor(back)), bytesToHex(a))
  })

  it('a signature survives every encoding', async () => {
    const r = await signedSampleRecipe()
    const key = await testKey(0)
    for (const enc of [encodeRecipe(r), new TextEncoder().encode(recipeToJson(r)), recipeToCbor(r)]) {
      const { recipe } = decodeRecipeAny(enc)
      assert.equal(bytesToHex(verifyRecipeSignature(recipe)), key.publicKeyHex)
    }
  })

  it('format detection: SCALE first, then JSON or CBOR', async () => {
    const r = await signedSampleRecipe()
    assert.equal(decodeRecipeAny(encodeRecipe(r)).format, 'scale')
    assert.equal(decodeRecipeAny(new TextEncoder().encode(`  ${recipeToJson(r)}`)).format, 'json')
    assert.equal(decodeRecipeAny(recipeToCbor(r)).format, 'cbor')
    // a recipe_id of 40 bytes makes the SCALE message start with 0xa0, a CBOR map header
    const r40 = { ...r, recipe_id: 'x'.repeat(40) }
    assert.equal(encodeRecipe(r40)[0], 0xa0)
    assert.equal(decodeRecipeAny(encodeRecipe(r40)).format, 'scale')
  })
})

describe('recipe decode rejections', () => {
  it('JSON: unknown field, missing field, wrong type, bad hex — each named', () => {
    const plain = JSON.parse(recipeToJson(sampleRecipe()))
    const e1 = expectCode(
      () => recipeFromJson(JSON.stringify({ ...plain, extra: 1 })),
      DecodeError,
      'UNKNOWN_FIELD',
    )
    assert.equal(e1.field, 'extra')
    const { fps: _fps, ...noFps } = plain.slot_params
    const e2 = expectCode(
      () => recipeFromJson(JSON.stringify({ ...plain, slot_params: noFps })),
      DecodeError,
      'MISSING_FIELD',
    )
    assert.equal(e2.field, 'slot_params.fps')
    const e3 = expectCode(
      () =>
        recipeFromJson(JSON.stringify({ ...plain, audio_track: { ...plain.audio_track, speed: 'fast' } })),
      DecodeError,
      'INVALID_TYPE',
    )
    assert.equal(e3.field, 'audio_track.speed')
    const e4 = expectCode(
      () =>
        recipeFromJson(
          JSON.stringify({ ...plain, security: { ...plain.security, ed25519_signature: 'zz' } }),
        ),
      DecodeError,
      'INVALID_HEX',
    )
    assert.equal(e4.field, 'security.ed25519_signature')
    expectCode(() => recipeFromJson('{"recipe_id": '), DecodeError, 'INVALID_JSON')
  })

  it('JSON: a u64 above 2^53 is read exactly, as a bare integer or a decimal string', () => {
    const plain = JSON.parse(recipeToJson(sampleRecipe()))
    const text = JSON.stringify(plain).replace('"slot_number":42', '"slot_number":9007199254740993')
    assert.equal(recipeFromJson(text).slot_params.slot_number, 9007199254740993n)
    const ok = JSON.stringify(plain).replace('"slot_number":42', '"slot_number":"9007199254740993"')
    assert.equal(recipeFromJson(ok).slot_params.slot_number, 9007199254740993n)
    const over = JSON.stringify(plain).replace('"slot_number":42', '"slot_number":18446744073709551616')
    const e = expectCode(() => recipeFromJson(over), DecodeError, 'OUT_OF_RANGE')
    assert.equal(e.field, 'slot_params.slot_number')
  })

  it('CBOR: duplicate map keys are rejected (signed data must have one meaning)', () => {
    const good = recipeToCbor(sampleRecipe())
    // Build a map with "recipe_id" twice: cborg would never encode that, so splice bytes by hand.
    const head = good[0]! // map header a7 (7 entries)
    const firstKey = cborEncode('recipe_id')
    const firstVal = cborEncode('other')
    const dup = new Uint8Array([head + 1, ...firstKey, ...firstVal, ...good.subarray(1)])
    expectCode(() => recipeFromCbor(dup), DecodeError, 'INVALID_CBOR')
  })

  it('SCALE: truncation and trailing bytes named', () => {
    const enc = encodeRecipe(sampleRecipe())
    expectCode(() => decodeRecipe(enc.subarray(0, enc.length - 1)), DecodeError, 'TRUNCATED')
    expectCode(() => decodeRecipe(new Uint8Array([...enc, 1, 2])), DecodeError, 'TRAILING_BYTES')
    expectCode(() => decodeRecipe(new Uint8Array(1024 * 1024 + 1)), DecodeError, 'OVERSIZE')
  })

  it('tampering breaks the signature', async () => {
    const r = await signedSampleRecipe()
    const t = { ...r, visual_track: { ...r.visual_track, prompt: 'something else' } }
    expectCode(() => verifyRecipeSignature(t), RecipeError, 'BAD_SIGNATURE')
    const other = await testKey(3)
    const e = expectCode(
      () => verifyRecipeSignature(r, new Set([other.publicKeyHex])),
      RecipeError,
      'UNAUTHORISED_AUTHOR',
    )
    assert.equal(e.field, 'security.director_id')
  })
})
