// Recipe wire type (docs/protocol.md §3) in SCALE, JSON (snake_case, bytes as hex) and deterministic CBOR.
// JSON is also read in the form Rust's serde_json emits by default (bytes as arrays of numbers, u64 as
// bare integers of any size), so recipes from the reference implementation are accepted as they are.
import { decode as cborDecode, encode as cborEncode } from 'cborg'
import { parse as losslessParse, stringify as losslessStringify } from 'lossless-json'
import {
  bytes,
  type Codec,
  decodeScale,
  encodeScale,
  f32,
  type Plain,
  str,
  struct,
  u32,
  u64,
  vec,
} from './codec.ts'
import { DecodeError } from './errors.ts'
import { TOPIC_MAX_BYTES } from './limits.ts'

export interface SlotParams {
  slot_number: bigint
  duration_sec: number
  resolution: string
  fps: number
}

export interface AudioTrack {
  script: string
  voice_id: string
  speed: number
  emotion: string
}

export interface VisualTrack {
  prompt: string
  negative_prompt: string
  motion_preset: string
  expression_sequence: string[]
  camera_motion: string
}

export interface SemanticConstraints {
  min_clip_score: number
  banned_concepts: string[]
  required_concepts: string[]
}

export interface SecurityMetadata {
  /** The author: hex Ed25519 public key or PeerId. */
  director_id: string
  ed25519_signature: Uint8Array
  /** Unix seconds. */
  timestamp: bigint
}

export interface Recipe {
  recipe_id: string
  version: string
  slot_params: SlotParams
  audio_track: AudioTrack
  visual_track: VisualTrack
  semantic_constraints: SemanticConstraints
  security: SecurityMetadata
}

const string = str()
const strings = vec(string)

export const SlotParamsCodec: Codec<SlotParams> = struct('SlotParams', {
  slot_number: u64,
  duration_sec: u32,
  resolution: string,
  fps: u32,
})

export const AudioTrackCodec: Codec<AudioTrack> = struct('AudioTrack', {
  script: string,
  voice_id: string,
  speed: f32,
  emotion: string,
})

export const VisualTrackCodec: Codec<VisualTrack> = struct('VisualTrack', {
  prompt: string,
  negative_prompt: string,
  motion_preset: string,
  expression_sequence: strings,
  camera_motion: string,
})

export const SemanticConstraintsCodec: Codec<SemanticConstraints> = struct('SemanticConstraints', {
  min_clip_score: f32,
  banned_concepts: strings,
  required_concepts: strings,
})

export const SecurityMetadataCodec: Codec<SecurityMetadata> = struct('SecurityMetadata', {
  director_id: string,
  ed25519_signature: bytes(),
  timestamp: u64,
})

export const RecipeCodec: Codec<Recipe> = struct('Recipe', {
  recipe_id: string,
  version: string,
  slot_params: SlotParamsCodec,
  audio_track: AudioTrackCodec,
  visual_track: VisualTrackCodec,
  semantic_constraints: SemanticConstraintsCodec,
  security: SecurityMetadataCodec,
})

export type RecipeFormat = 'scale' | 'json' | 'cbor'

export function encodeRecipe(recipe: Recipe): Uint8Array {
  return encodeScale(RecipeCodec, recipe, 1024)
}

export function decodeRecipe(input: Uint8Array, maxBytes: number = TOPIC_MAX_BYTES.recipes): Recipe {
  return decodeScale(RecipeCodec, input, maxBytes)
}

/** JSON text with snake_case names, bytes as hex, u64 as a number when exact else a decimal string. */
export function recipeToJson(recipe: Recipe, space?: number): string {
  return JSON.stringify(RecipeCodec.toPlain(recipe, 'json'), null, space)
}

/** The same recipe as Rust's serde_json writes it by default: bytes as number arrays, u64 bare. */
export function recipeToSerdeJson(recipe: Recipe, space?: number): string {
  return losslessStringify(RecipeCodec.toPlain(recipe, 'serde'), null, space) ?? ''
}

/**
 * JSON numbers read without loss: an integer that is not exactly a JS number becomes a bigint (a
 * u64 above 2^53 keeps every digit); everything else is a number.
 */
function exactNumber(text: string): number | bigint {
  if (/^-?[0-9]+$/.test(text)) {
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : BigInt(text)
  }
  return Number(text)
}

/** Parse JSON text exactly; duplicate keys with different values are refused (one meaning for signed data). */
export function parseJsonExact(text: string): Plain {
  return losslessParse(text, null, exactNumber)
}

export function recipeFromPlain(value: Plain): Recipe {
  return RecipeCodec.fromPlain(value, '')
}

export function recipeFromJson(
  text: string | Uint8Array,
  maxBytes: number = TOPIC_MAX_BYTES.recipes,
): Recipe {
  const s = typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: false }).decode(text)
  if (s.length > maxBytes) {
    throw new DecodeError(
      'OVERSIZE',
      'Recipe',
      `Recipe: JSON of ${s.length} bytes exceeds the limit of ${maxBytes}`,
    )
  }
  let plain: Plain
  try {
    plain = parseJsonExact(s)
  } catch (err) {
    throw new DecodeError('INVALID_JSON', 'Recipe', `Recipe: not valid JSON (${(err as Error).message})`)
  }
  return recipeFromPlain(plain)
}

/** Deterministic CBOR (cborg's canonical map ordering, smallest lossless floats). */
export function recipeToCbor(recipe: Recipe): Uint8Array {
  return cborEncode(RecipeCodec.toPlain(recipe, 'cbor'))
}

export function recipeFromCbor(input: Uint8Array, maxBytes: number = TOPIC_MAX_BYTES.recipes): Recipe {
  if (input.length > maxBytes) {
    throw new DecodeError(
      'OVERSIZE',
      'Recipe',
      `Recipe: CBOR of ${input.length} bytes exceeds the limit of ${maxBytes}`,
    )
  }
  let plain: Plain
  try {
    // Signed data must have one meaning: duplicate keys, indefinite lengths and undefined are refused.
    plain = cborDecode(input, {
      rejectDuplicateMapKeys: true,
      allowIndefinite: false,
      allowUndefined: false,
      allowBigInt: true,
      strict: true,
      useMaps: false,
    })
  } catch (err) {
    throw new DecodeError(
      'INVALID_CBOR',
      'Recipe',
      `Recipe: not valid deterministic CBOR (${(err as Error).message})`,
    )
  }
  return recipeFromPlain(plain)
}

function looksLikeJson(input: Uint8Array): boolean {
  let i = 0
  while (
    i < input.length &&
    (input[i] === 0x20 || input[i] === 0x0a || input[i] === 0x0d || input[i] === 0x09)
  )
    i++
  return input[i] === 0x7b
}

function looksLikeCbor(input: Uint8Array): boolean {
  const first = input[0]
  return first !== undefined && first >= 0xa0 && first <= 0xbf // CBOR major type 5: a map
}

/**
 * Decode a recipe in any of the three encodings. Without `format`, SCALE is tried first (a SCALE
 * recipe may begin with bytes that look like a CBOR map header or JSON whitespace); when it does not
 * decode, the input is read as JSON if it starts with `{`, as CBOR if it starts with a map header.
 */
export function decodeRecipeAny(
  input: Uint8Array,
  format?: RecipeFormat,
  maxBytes: number = TOPIC_MAX_BYTES.recipes,
): { recipe: Recipe; format: RecipeFormat } {
  if (format === 'json') return { recipe: recipeFromJson(input, maxBytes), format }
  if (format === 'cbor') return { recipe: recipeFromCbor(input, maxBytes), format }
  try {
    return { recipe: decodeRecipe(input, maxBytes), format: 'scale' }
  } catch (err) {
    if (format === 'scale') throw err
    if (looksLikeJson(input)) return { recipe: recipeFromJson(input, maxBytes), format: 'json' }
    if (looksLikeCbor(input)) return { recipe: recipeFromCbor(input, maxBytes), format: 'cbor' }
    throw err
  }
}

/** The recipe with an empty signature: what the author signs (docs/protocol.md §4). */
export function unsignedRecipe(recipe: Recipe): Recipe {
  return { ...recipe, security: { ...recipe.security, ed25519_signature: new Uint8Array(0) } }
}
