// Recipe validation against the bounds of docs/protocol.md §4: each failure names field and bound.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_RECIPE_BOUNDS, type Recipe, RecipeError, validateRecipe } from '../../../src/types/index.ts'
import { sampleRecipe } from '../../fixtures/index.ts'
import { expectCode } from '../../helpers.ts'

const NOW_MS = 1_700_000_000_000
const ctx = { nowMs: NOW_MS, currentSlot: 40n }

function withPath(r: Recipe, path: string, value: unknown): Recipe {
  const copy = structuredClone(r) as unknown as Record<string, Record<string, unknown>>
  const [a, b] = path.split('.') as [string, string | undefined]
  if (b === undefined) (copy as Record<string, unknown>)[a] = value
  else copy[a]![b] = value
  return copy as unknown as Recipe
}

describe('validateRecipe', () => {
  it('accepts the sample recipe', () => {
    assert.doesNotThrow(() => validateRecipe(sampleRecipe(), ctx))
  })

  const cases: [string, unknown, string, string | undefined][] = [
    ['recipe_id', '  ', 'MISSING_FIELD', undefined],
    ['recipe_id', 'x'.repeat(129), 'TOO_LONG', '<= 128 bytes'],
    ['slot_params.duration_sec', 4, 'OUT_OF_BOUNDS', '5..60'],
    ['slot_params.duration_sec', 61, 'OUT_OF_BOUNDS', '5..60'],
    ['slot_params.fps', 23, 'OUT_OF_BOUNDS', '24..60'],
    ['slot_params.fps', 61, 'OUT_OF_BOUNDS', '24..60'],
    ['slot_params.resolution', '320*240', 'INVALID_FORMAT', 'WxH'],
    ['slot_params.slot_number', 39n, 'SLOT_PAST', '>= 40'],
    ['audio_track.script', '', 'MISSING_FIELD', undefined],
    ['audio_track.speed', Number.NaN, 'OUT_OF_BOUNDS', '0.25..4'],
    ['visual_track.prompt', '', 'MISSING_FIELD', undefined],
    ['visual_track.prompt', 'p'.repeat(4097), 'TOO_LONG', '<= 4096 bytes'],
    ['visual_track.expression_sequence', Array(65).fill('a'), 'TOO_MANY', '<= 64 items'],
    ['semantic_constraints.min_clip_score', 1.5, 'OUT_OF_BOUNDS', '0..1'],
    ['semantic_constraints.min_clip_score', -0.1, 'OUT_OF_BOUNDS', '0..1'],
    ['security.director_id', '', 'MISSING_FIELD', undefined],
    ['security.timestamp', BigInt(NOW_MS / 1000 + 31), 'FUTURE_TIMESTAMP', '<= now + 30 s'],
  ]
  for (const [path, value, code, bound] of cases) {
    it(`${path} = ${String(value).slice(0, 20)} → ${code}`, () => {
      const e = expectCode(
        () => validateRecipe(withPath(sampleRecipe(), path, value), ctx),
        RecipeError,
        code,
        path,
      )
      assert.equal(e.field, path, 'the error names the field')
      if (bound !== undefined) assert.equal(e.bound, bound, 'the error names the bound')
    })
  }

  it('resolution width and height are bounded separately', () => {
    const e = expectCode(
      () => validateRecipe(withPath(sampleRecipe(), 'slot_params.resolution', '7680x240'), ctx),
      RecipeError,
      'OUT_OF_BOUNDS',
    )
    assert.equal(e.field, 'slot_params.resolution.width')
  })

  it('every bound is configurable', () => {
    const r = withPath(sampleRecipe(), 'slot_params.duration_sec', 90)
    expectCode(() => validateRecipe(r, ctx), RecipeError, 'OUT_OF_BOUNDS')
    assert.doesNotThrow(() => validateRecipe(r, ctx, { ...DEFAULT_RECIPE_BOUNDS, maxDurationSec: 120 }))
  })

  it('a timestamp within the skew is accepted', () => {
    const r = withPath(sampleRecipe(), 'security.timestamp', BigInt(NOW_MS / 1000 + 30))
    assert.doesNotThrow(() => validateRecipe(r, ctx))
  })
})
