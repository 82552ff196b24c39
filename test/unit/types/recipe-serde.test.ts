// Recipes in the JSON form Rust's serde_json emits by default (the reference implementation's form):
// `Vec<u8>` as arrays of numbers, u64 as bare integers of any size. Hand-written vectors.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { verifyRecipeSignature } from '../../../src/crypto/index.ts'
import {
  bytesToHex,
  DecodeError,
  decodeRecipeAny,
  encodeRecipe,
  recipeFromJson,
  recipeToJson,
  recipeToSerdeJson,
} from '../../../src/types/index.ts'
import { signedSampleRecipe, testKey } from '../../fixtures/index.ts'
import { expectCode } from '../../helpers.ts'

/** serde_json::to_string_pretty of an unsigned reference Recipe, written out by hand. */
function serdeVector(slot: string, signature: string, timestamp = '1700000000'): string {
  return `{
  "recipe_id": "serde-0001",
  "version": "1.0.0",
  "slot_params": { "slot_number": ${slot}, "duration_sec": 10, "resolution": "320x240", "fps": 24 },
  "audio_track": { "script": "Hello from serde.", "voice_id": "en-us", "speed": 1.0, "emotion": "calm" },
  "visual_track": {
    "prompt": "a lighthouse at dusk",
    "negative_prompt": "",
    "motion_preset": "slow_pan",
    "expression_sequence": [],
    "camera_motion": "static"
  },
  "semantic_constraints": { "min_clip_score": 0.75, "banned_concepts": [], "required_concepts": [] },
  "security": {
    "director_id": "${'ab'.repeat(32)}",
    "ed25519_signature": ${signature},
    "timestamp": ${timestamp}
  }
}`
}

const U64_MAX = '18446744073709551615'

describe('recipes in serde form', () => {
  it('an empty signature `[]` and a u64 above 2^53 decode exactly', () => {
    const r = recipeFromJson(serdeVector(U64_MAX, '[]', '9007199254740993'))
    assert.equal(r.slot_params.slot_number, 2n ** 64n - 1n)
    assert.equal(r.security.timestamp, 9007199254740993n, 'not rounded to 9007199254740992')
    assert.equal(r.security.ed25519_signature.length, 0)
    assert.equal(r.audio_track.speed, 1)
    assert.equal(r.semantic_constraints.min_clip_score, Math.fround(0.75))
    // The same recipe in this project's own JSON (hex bytes, big u64 as a string) is the same recipe.
    const own = recipeFromJson(recipeToJson(r))
    assert.equal(bytesToHex(encodeRecipe(own)), bytesToHex(encodeRecipe(r)))
    // SCALE of the u64 is its 8 little-endian bytes: slot_number follows the two strings' bytes.
    assert.ok(bytesToHex(encodeRecipe(r)).includes('ffffffffffffffff0a000000'))
  })

  it('a signature as an array of 64 numbers verifies, and detection reads it as JSON', async () => {
    const key = await testKey(0)
    const signed = await signedSampleRecipe()
    const text = recipeToSerdeJson(signed, 2)
    assert.match(text, /"ed25519_signature": \[\s*\d+,/)
    const { recipe, format } = decodeRecipeAny(new TextEncoder().encode(text))
    assert.equal(format, 'json')
    assert.equal(bytesToHex(verifyRecipeSignature(recipe)), key.publicKeyHex)
    // Hand-written form of the same signature: numbers separated as serde_json::to_string writes them.
    const handWritten = serdeVector('42', `[${Array.from(signed.security.ed25519_signature).join(',')}]`)
    assert.deepEqual(
      Array.from(recipeFromJson(handWritten).security.ed25519_signature),
      Array.from(signed.security.ed25519_signature),
    )
  })

  it('the output form stays hex; the serde form is available on request', async () => {
    const signed = await signedSampleRecipe({
      slot_params: { slot_number: 2n ** 63n + 5n, duration_sec: 10, resolution: '320x240', fps: 24 },
    })
    const hexForm = JSON.parse(recipeToJson(signed))
    assert.equal(hexForm.security.ed25519_signature, bytesToHex(signed.security.ed25519_signature))
    const serde = recipeToSerdeJson(signed)
    assert.ok(serde.includes(`"slot_number":${2n ** 63n + 5n}`), 'bare integer, every digit')
    assert.deepEqual(recipeFromJson(serde), signed)
  })

  it('bad serde input names the field and the bound', () => {
    const byte = expectCode(() => recipeFromJson(serdeVector('1', '[1,2,256]')), DecodeError, 'INVALID_BYTE')
    assert.equal(byte.field, 'security.ed25519_signature[2]')
    assert.match(byte.message, /0\.\.255/)
    const frac = expectCode(() => recipeFromJson(serdeVector('1', '[1.5]')), DecodeError, 'INVALID_BYTE')
    assert.equal(frac.field, 'security.ed25519_signature[0]')
    const over = expectCode(
      () => recipeFromJson(serdeVector('18446744073709551616', '[]')),
      DecodeError,
      'OUT_OF_RANGE',
    )
    assert.equal(over.field, 'slot_params.slot_number')
    assert.match(over.message, /2\^64-1/)
    expectCode(() => recipeFromJson(serdeVector('-1', '[]')), DecodeError, 'OUT_OF_RANGE')
  })

  it('a key given twice with different values is refused: signed data has one meaning', () => {
    const twice = serdeVector('1', '[]').replace(
      '"recipe_id": "serde-0001",',
      '"recipe_id": "a", "recipe_id": "b",',
    )
    expectCode(() => recipeFromJson(twice), DecodeError, 'INVALID_JSON')
  })
})
