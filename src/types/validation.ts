// Recipe validation (docs/protocol.md §4). Pure: the caller passes the clock and the current slot.
// Every bound is configurable; every failure is a RecipeError naming the field and the bound.
import { RecipeError } from './errors.ts'
import type { Recipe } from './recipe.ts'

/** Reference bounds of docs/protocol.md §4; `node/config.ts` exposes each one as a config key. */
export interface RecipeBounds {
  /** @default 5 */
  minDurationSec: number
  /** @default 60 */
  maxDurationSec: number
  /** @default 24 */
  minFps: number
  /** @default 60 */
  maxFps: number
  /** @default 3840 */
  maxWidth: number
  /** @default 2160 */
  maxHeight: number
  /** @default 64 */
  minWidth: number
  /** @default 64 */
  minHeight: number
  /** Cap on short identifier strings (recipe_id, voice_id, presets, concepts). @default 128 */
  maxIdBytes: number
  /** Cap on the narration script. @default 8192 */
  maxScriptBytes: number
  /** Cap on prompt and negative prompt. @default 4096 */
  maxPromptBytes: number
  /** Cap on each list (expression_sequence, banned/required concepts). @default 64 */
  maxListItems: number
  /** Audio speed factor range. @default 0.25..4 */
  minSpeed: number
  maxSpeed: number
  /** How far a recipe's timestamp may be ahead of the local clock. @default 30 */
  maxClockSkewSec: number
}

export const DEFAULT_RECIPE_BOUNDS: Readonly<RecipeBounds> = Object.freeze({
  minDurationSec: 5,
  maxDurationSec: 60,
  minFps: 24,
  maxFps: 60,
  maxWidth: 3840,
  maxHeight: 2160,
  minWidth: 64,
  minHeight: 64,
  maxIdBytes: 128,
  maxScriptBytes: 8192,
  maxPromptBytes: 4096,
  maxListItems: 64,
  minSpeed: 0.25,
  maxSpeed: 4,
  maxClockSkewSec: 30,
})

export interface RecipeContext {
  /** Local wall clock, Unix milliseconds. */
  nowMs: number
  /** The slot the network is in; a recipe for an earlier slot is refused. Omit to skip the check. */
  currentSlot?: bigint
}

const utf8 = new TextEncoder()
const byteLength = (s: string) => utf8.encode(s).length

function nonEmpty(field: string, value: string): void {
  if (value.trim().length === 0) throw new RecipeError('MISSING_FIELD', field, `${field}: must not be empty`)
}

function maxBytes(field: string, value: string, max: number): void {
  const n = byteLength(value)
  if (n > max)
    throw new RecipeError(
      'TOO_LONG',
      field,
      `${field}: ${n} bytes exceeds <= ${max} bytes`,
      `<= ${max} bytes`,
    )
}

function inRange(field: string, value: number, min: number, max: number): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RecipeError(
      'OUT_OF_BOUNDS',
      field,
      `${field}: ${value} is outside ${min}..${max}`,
      `${min}..${max}`,
    )
  }
}

function list(field: string, items: string[], maxItems: number, maxItemBytes: number): void {
  if (items.length > maxItems) {
    throw new RecipeError(
      'TOO_MANY',
      field,
      `${field}: ${items.length} items exceeds <= ${maxItems}`,
      `<= ${maxItems} items`,
    )
  }
  for (const [i, s] of items.entries()) maxBytes(`${field}[${i}]`, s, maxItemBytes)
}

/** Parses `WxH`; returns the two dimensions or throws INVALID_FORMAT / OUT_OF_BOUNDS. */
export function parseResolution(value: string, b: RecipeBounds = DEFAULT_RECIPE_BOUNDS): [number, number] {
  const field = 'slot_params.resolution'
  const m = /^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$/.exec(value)
  if (m === null)
    throw new RecipeError('INVALID_FORMAT', field, `${field}: "${value.slice(0, 32)}" is not WxH`, 'WxH')
  const w = Number(m[1])
  const h = Number(m[2])
  inRange(`${field}.width`, w, b.minWidth, b.maxWidth)
  inRange(`${field}.height`, h, b.minHeight, b.maxHeight)
  return [w, h]
}

/**
 * Check a decoded recipe against the bounds of docs/protocol.md §4. Signature and author checks are
 * separate (they need keys): see `verifyRecipeSignature` in src/crypto.
 */
export function validateRecipe(
  recipe: Recipe,
  ctx: RecipeContext,
  b: RecipeBounds = DEFAULT_RECIPE_BOUNDS,
): Recipe {
  nonEmpty('recipe_id', recipe.recipe_id)
  maxBytes('recipe_id', recipe.recipe_id, b.maxIdBytes)
  maxBytes('version', recipe.version, b.maxIdBytes)

  const sp = recipe.slot_params
  inRange('slot_params.duration_sec', sp.duration_sec, b.minDurationSec, b.maxDurationSec)
  inRange('slot_params.fps', sp.fps, b.minFps, b.maxFps)
  parseResolution(sp.resolution, b)
  if (ctx.currentSlot !== undefined && sp.slot_number < ctx.currentSlot) {
    throw new RecipeError(
      'SLOT_PAST',
      'slot_params.slot_number',
      `slot_params.slot_number: slot ${sp.slot_number} is already past (current ${ctx.currentSlot})`,
      `>= ${ctx.currentSlot}`,
    )
  }

  const at = recipe.audio_track
  nonEmpty('audio_track.script', at.script)
  maxBytes('audio_track.script', at.script, b.maxScriptBytes)
  maxBytes('audio_track.voice_id', at.voice_id, b.maxIdBytes)
  inRange('audio_track.speed', at.speed, b.minSpeed, b.maxSpeed)
  maxBytes('audio_track.emotion', at.emotion, b.maxIdBytes)

  const vt = recipe.visual_track
  nonEmpty('visual_track.prompt', vt.prompt)
  maxBytes('visual_track.prompt', vt.prompt, b.maxPromptBytes)
  maxBytes('visual_track.negative_prompt', vt.negative_prompt, b.maxPromptBytes)
  maxBytes('visual_track.motion_preset', vt.motion_preset, b.maxIdBytes)
  list('visual_track.expression_sequence', vt.expression_sequence, b.maxListItems, b.maxIdBytes)
  maxBytes('visual_track.camera_motion', vt.camera_motion, b.maxIdBytes)

  const sc = recipe.semantic_constraints
  inRange('semantic_constraints.min_clip_score', sc.min_clip_score, 0, 1)
  list('semantic_constraints.banned_concepts', sc.banned_concepts, b.maxListItems, b.maxIdBytes)
  list('semantic_constraints.required_concepts', sc.required_concepts, b.maxListItems, b.maxIdBytes)

  const sec = recipe.security
  nonEmpty('security.director_id', sec.director_id)
  maxBytes('security.director_id', sec.director_id, b.maxIdBytes)
  const maxTs = BigInt(Math.floor(ctx.nowMs / 1000) + b.maxClockSkewSec)
  if (sec.timestamp > maxTs) {
    throw new RecipeError(
      'FUTURE_TIMESTAMP',
      'security.timestamp',
      `security.timestamp: ${sec.timestamp} is more than ${b.maxClockSkewSec} s in the future`,
      `<= now + ${b.maxClockSkewSec} s`,
    )
  }
  return recipe
}
