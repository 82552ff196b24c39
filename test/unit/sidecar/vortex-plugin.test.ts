// Unit tests of the vortex-lane0 generator's parts (plugins/vortex-lane0/src), in process.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import {
  AAC_SAMPLE_RATE,
  AacError,
  aacAvailable,
  audioSpecificConfig,
  encodeAac,
  parseAdts,
} from '../../../plugins/vortex-lane0/src/aac.ts'
import { readWav, SAMPLE_RATE, synthesiseVoice, wavFile } from '../../../plugins/vortex-lane0/src/audio.ts'
import { cosTurns, Rng, sinTurns } from '../../../plugins/vortex-lane0/src/det.ts'
import {
  addNoise,
  cosine,
  EmbeddingAccumulator,
  normalise,
} from '../../../plugins/vortex-lane0/src/embedding.ts'
import { Fmp4Encoder, h264Level, pinCreationTime } from '../../../plugins/vortex-lane0/src/encode.ts'
import { printable, textWidth, wrap } from '../../../plugins/vortex-lane0/src/font.ts'
import { InputError, parseInput, renderSize } from '../../../plugins/vortex-lane0/src/generate.ts'
import { Scene } from '../../../plugins/vortex-lane0/src/scene.ts'
import { fmp4Layout } from '../../../src/archive/fmp4.ts'
import { initBlake3 } from '../../../src/crypto/index.ts'
import { RecipeCodec } from '../../../src/types/index.ts'
import { sampleRecipe } from '../../fixtures/index.ts'

await initBlake3()

type PlainRecipe = Record<string, Record<string, unknown>>
const plain = (over = {}) => ({
  recipe: RecipeCodec.toPlain(sampleRecipe(), 'json') as PlainRecipe,
  slot_id: 42,
  ...over,
})

describe('deterministic numerics', () => {
  test('the table sine is within 1e-6 of Math.sin', () => {
    for (let i = 0; i <= 1000; i++) {
      const t = i / 997 - 0.3
      assert.ok(Math.abs(sinTurns(t) - Math.sin(2 * Math.PI * t)) < 1e-6, `sin at ${t}`)
      assert.ok(Math.abs(cosTurns(t) - Math.cos(2 * Math.PI * t)) < 1e-6, `cos at ${t}`)
    }
  })

  test('Rng is a pure function of its seed', () => {
    const seed = new Uint8Array(16).fill(9)
    const a = new Rng(seed)
    const b = new Rng(seed)
    const xs = Array.from({ length: 100 }, () => a.u32())
    assert.deepEqual(
      xs,
      Array.from({ length: 100 }, () => b.u32()),
    )
    assert.ok(new Set(xs).size > 95)
    const c = new Rng(new Uint8Array(16))
    // The all-zero state is a fixed point of xoshiro: the constructor moves away from it.
    assert.ok([c.u32(), c.u32(), c.u32()].some((x) => x !== 0))
  })
})

describe('font', () => {
  test('wraps, cuts long words, and keeps only printable ASCII', () => {
    assert.deepEqual(wrap('a lighthouse at dusk', 10), ['a', 'lighthouse', 'at dusk'])
    assert.deepEqual(wrap('abcdefghijkl', 5), ['abcde', 'fghij', 'kl'])
    assert.equal(printable(' Café\n\tdéjà  vu '), 'Caf? d?j? vu')
    assert.equal(textWidth('ab', 2), 22)
  })
})

describe('parseInput', () => {
  test('accepts {recipe, slot_id, seed?} and derives the seed from the recipe', () => {
    const a = parseInput(plain())
    assert.equal(a.slotId, 42n)
    assert.equal(a.seedDerived, true)
    assert.equal(parseInput(plain()).seed, a.seed)
    assert.equal(parseInput(plain({ seed: '18446744073709551615' })).seed, 2n ** 64n - 1n)
    assert.deepEqual(a.maxResolution, [320, 240])
    assert.equal(a.outputMode, 'file')
    // Keys the reference sidecar injects are tolerated.
    parseInput(plain({ task_id: 't', lane: 0, plugin: 'vortex-lane0', input_cid: '', model_id: '' }))
  })

  test('options come from the input first, then the environment', () => {
    const env = { VORTEX_MAX_RESOLUTION: '160x120', VORTEX_AUDIO: 'synth', VORTEX_EMBEDDING_NOISE: '0.02:7' }
    const e = parseInput(plain(), env)
    assert.deepEqual(e.maxResolution, [160, 120])
    assert.equal(e.audioMode, 'synth')
    assert.deepEqual(e.embeddingNoise, { sigma: 0.02, seed: 7n })
    const i = parseInput(plain({ max_resolution: '640x480', embedding_noise: { sigma: 0, seed: 1 } }), env)
    assert.deepEqual(i.maxResolution, [640, 480])
    assert.deepEqual(i.embeddingNoise, { sigma: 0, seed: 1n })
  })

  const bad: [string, Record<string, unknown>, string][] = [
    ['unknown field', { colour: 'red' }, 'colour'],
    ['slot mismatch', { slot_id: 43 }, 'slot_id'],
    ['negative slot', { slot_id: -1 }, 'slot_id'],
    ['inexact seed', { seed: 2 ** 60 }, 'seed'],
    ['seed too big', { seed: '18446744073709551616' }, 'seed'],
    ['noise sigma', { embedding_noise: { sigma: 2, seed: 1 } }, 'embedding_noise.sigma'],
    ['resolution', { max_resolution: '10x10' }, 'max_resolution'],
    ['output mode', { output_mode: 'stream' }, 'output_mode'],
    ['audio mode', { audio_mode: 'loud' }, 'audio_mode'],
    [
      'recipe fps',
      { recipe: { ...plain().recipe, slot_params: { ...plain().recipe.slot_params, fps: 12 } } },
      'recipe.slot_params.fps',
    ],
    [
      'recipe resolution',
      { recipe: { ...plain().recipe, slot_params: { ...plain().recipe.slot_params, resolution: '320' } } },
      'recipe.slot_params.resolution',
    ],
    ['recipe missing field', { recipe: { ...plain().recipe, version: undefined } }, 'recipe.version'],
  ]
  for (const [name, over, field] of bad) {
    test(`refuses ${name} naming ${field}`, () => {
      assert.throws(
        () => parseInput(JSON.parse(JSON.stringify(plain(over)))),
        (e: unknown) => e instanceof InputError && e.field === field,
      )
    })
  }
  test('refuses a missing recipe and a non-object', () => {
    assert.throws(
      () => parseInput({ slot_id: 1 }),
      (e: unknown) => e instanceof InputError && e.field === 'recipe',
    )
    assert.throws(() => parseInput([]), InputError)
  })
})

describe('sizes and levels', () => {
  test('the recipe resolution is fitted into the maximum, aspect kept, sides even', () => {
    assert.deepEqual(renderSize([1920, 1080], [320, 240]), [320, 180])
    assert.deepEqual(renderSize([320, 240], [640, 480]), [320, 240])
    assert.deepEqual(renderSize([1000, 3000], [320, 240]), [80, 240])
    assert.deepEqual(renderSize([333, 251], [333, 251]), [332, 250])
  })

  test('H.264 level: 3.0 floor, higher when the frame size or rate needs it', () => {
    assert.equal(h264Level(320, 240, 24), 30)
    assert.equal(h264Level(1280, 720, 30), 31)
    assert.equal(h264Level(1920, 1080, 60), 42)
  })

  test('pinCreationTime rewrites mvhd/tkhd/mdhd times inside moov', () => {
    const box = (type: string, body: Uint8Array) => {
      const b = new Uint8Array(8 + body.length)
      new DataView(b.buffer).setUint32(0, b.length)
      b.set(new TextEncoder().encode(type), 4)
      b.set(body, 8)
      return b
    }
    const full0 = new Uint8Array(20).fill(0xee)
    full0[0] = 0
    const mvhd = box('mvhd', full0)
    const mdhd = box('mdhd', full0)
    const moov = box('moov', new Uint8Array([...mvhd, ...box('trak', box('mdia', mdhd))]))
    const file = new Uint8Array([...box('ftyp', new Uint8Array(8)), ...moov])
    pinCreationTime(file, 1_700_000_000n)
    const dv = new DataView(file.buffer)
    const expected = 1_700_000_000 + 2_082_844_800
    const mvhdAt = 16 + 8 + 8
    assert.equal(dv.getUint32(mvhdAt + 4), expected)
    assert.equal(dv.getUint32(mvhdAt + 8), expected)
    assert.equal(file[mvhdAt + 12], 0xee) // the field after modification_time is untouched
    const mdhdAt = file.length - 20
    assert.equal(dv.getUint32(mdhdAt + 4), expected)
  })
})

describe('embedding', () => {
  function embed(prompt: string, seed: number): Float32Array {
    const recipe = sampleRecipe({
      visual_track: { ...sampleRecipe().visual_track, prompt },
      slot_params: { ...sampleRecipe().slot_params, duration_sec: 5 },
    })
    const w = 160
    const h = 120
    const n = 40
    const scene = new Scene({
      recipe,
      width: w,
      height: h,
      fps: 8,
      frameCount: n,
      rng: new Rng(new Uint8Array(16).fill(seed)),
    })
    const acc = new EmbeddingAccumulator(w, h, n)
    const rgba = new Uint8Array(w * h * 4)
    const px = new Uint32Array(rgba.buffer)
    for (let i = 0; i < n; i++) {
      scene.render(i, px)
      acc.addFrame(rgba, i)
    }
    return acc.finish()
  }

  test('512 finite values of unit norm, the same for the same frames', () => {
    const a = embed('a lighthouse at dusk, waves rolling in', 1)
    assert.equal(a.length, 512)
    let n = 0
    for (const v of a) {
      assert.ok(Number.isFinite(v))
      n += v * v
    }
    assert.ok(Math.abs(Math.sqrt(n) - 1) < 1e-6)
    assert.deepEqual(a, embed('a lighthouse at dusk, waves rolling in', 1))
  })

  test('similar scenes score higher than different ones', () => {
    const a = embed('a lighthouse at dusk, waves rolling in', 1)
    const b = embed('a lighthouse at dusk, waves rolling in', 2) // same prompt, other seed
    const c = embed('snowy mountains at noon', 1)
    assert.ok(cosine(a, b) > cosine(a, c), `${cosine(a, b)} vs ${cosine(a, c)}`)
    assert.ok(cosine(a, c) < 0.85, `unrelated scenes must not pass τ: ${cosine(a, c)}`)
  })

  test('noise: re-normalised, cosine ≈ 1/sqrt(1 + 512σ²), deterministic in its seed', () => {
    const v = normalise(Array.from({ length: 512 }, (_, i) => Math.sin(i + 1)))
    const seed = new Uint8Array(16).fill(3)
    for (const sigma of [0.01, 0.03]) {
      const noisy = addNoise(v, sigma, seed)
      const expected = 1 / Math.sqrt(1 + 512 * sigma * sigma)
      assert.ok(
        Math.abs(cosine(v, noisy) - expected) < 0.03,
        `σ=${sigma}: ${cosine(v, noisy)} vs ${expected}`,
      )
      let n = 0
      for (const x of noisy) n += x * x
      assert.ok(Math.abs(Math.sqrt(n) - 1) < 1e-6)
      assert.deepEqual(noisy, addNoise(v, sigma, seed))
    }
    assert.notDeepEqual(addNoise(v, 0.01, seed), addNoise(v, 0.01, new Uint8Array(16).fill(4)))
  })
})

describe('audio', () => {
  test('the synthesised voice is deterministic, of the exact duration, and a valid WAV', () => {
    const r = sampleRecipe()
    const a = synthesiseVoice(r, 5)
    assert.equal(a.length, 5 * SAMPLE_RATE)
    assert.deepEqual(a, synthesiseVoice(r, 5))
    let peak = 0
    for (const s of a) peak = Math.max(peak, Math.abs(s))
    assert.ok(peak > 1000 && peak <= 32767, `peak ${peak}`)
    const wav = wavFile(a, SAMPLE_RATE)
    const back = readWav(wav)
    assert.equal(back?.rate, SAMPLE_RATE)
    assert.deepEqual(back?.samples, a)
    assert.equal(readWav(new Uint8Array(40)), null)
  })
})

describe('narration muxed into the video (AAC-LC)', () => {
  test('the AudioSpecificConfig of 32 kHz mono AAC-LC is 0x1288', () => {
    assert.deepEqual([...audioSpecificConfig(5, 1)], [0x12, 0x88])
  })

  test('ADTS parsing refuses what is not AAC-LC ADTS, naming the byte', () => {
    assert.throws(
      () => parseAdts(new Uint8Array(16)),
      (e: unknown) => e instanceof AacError && /byte 0/.test(e.message),
    )
    // A valid 7-byte header claiming 100 bytes in a 10-byte stream.
    const h = Uint8Array.of(0xff, 0xf1, 0x54, 0x40, (100 >> 3) & 0xff, (100 & 7) << 5, 0xfc, 0, 0, 0)
    assert.throws(
      () => parseAdts(h),
      (e: unknown) => e instanceof AacError && /overruns/.test(e.message),
    )
    const ok = Uint8Array.of(0xff, 0xf1, 0x54, 0x40, (10 >> 3) & 0xff, (10 & 7) << 5, 0xfc, 1, 2, 3)
    assert.deepEqual(parseAdts(ok), { frames: [Uint8Array.of(1, 2, 3)], freqIndex: 5, channels: 1 })
  })

  const skip = aacAvailable() ? false : 'ffmpeg with its aac encoder is not installed'
  test('a 12 s narration is 375 AAC frames, the same bytes every run, muxed beside the video', {
    skip,
  }, async () => {
    const seconds = 12
    const wav = wavFile(synthesiseVoice(sampleRecipe(), seconds), SAMPLE_RATE)
    const a = encodeAac(wav, seconds)
    assert.equal(
      a.packets.length,
      (seconds * AAC_SAMPLE_RATE) / 1024,
      'exactly the clip: 32 kHz × 12 s / 1024',
    )
    assert.deepEqual(encodeAac(wav, seconds).packets, a.packets, 'deterministic')

    const enc = await Fmp4Encoder.create({ width: 64, height: 48, fps: 24, creationTimeUnix: 1_700_000_000n })
    const frame = new Uint8Array(64 * 48 * 4)
    for (let f = 0; f < seconds * 24; f++) {
      frame.fill(f & 0xff)
      enc.addFrame(frame)
    }
    const video = await enc.finish(a)
    assert.equal(video.mime, 'video/mp4; codecs="avc1.42C01E, mp4a.40.2"')
    assert.equal(video.audioPackets, a.packets.length)
    // Both tracks end at 12 s, so the next slot starts where this one ends (no gap, no overlap).
    const dir = mkdtempSync(join(tmpdir(), 'nsn-aac-'))
    try {
      const file = join(dir, 'v.mp4')
      writeFileSync(file, video.bytes)
      const probe = JSON.parse(
        execFileSync(
          'ffprobe',
          ['-v', 'error', '-show_entries', 'stream=codec_name,duration,sample_rate', '-of', 'json', file],
          {
            encoding: 'utf8',
          },
        ),
      ) as { streams: { codec_name: string; duration: string; sample_rate?: string }[] }
      assert.deepEqual(
        probe.streams.map((s) => [s.codec_name, Number(s.duration)]),
        [
          ['h264', 12],
          ['aac', 12],
        ],
      )
      execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    // Every fragment (an HLS segment) carries both tracks: one moof, two trafs, about a second each.
    const layout = fmp4Layout(video.bytes)
    assert.equal(layout.segments.length, seconds)
    for (const seg of layout.segments)
      assert.ok(seg.duration >= 1 && seg.duration < 1.05, `segment ${seg.duration} s`)
  })
})
