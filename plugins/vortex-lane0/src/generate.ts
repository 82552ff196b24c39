// Recipe → video, audio, embedding and proofs: input validation, the render/encode loop, and the
// output object of the plugin protocol (docs/sidecar.md). Deterministic in (recipe, seed, options).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
// blake3.ts directly, not the crypto index: that one loads the libp2p key stack, which this process
// never uses, and start-up time counts on a 2-core devnet running five of these.
import { blake3 } from '../../../src/crypto/blake3.ts'
import {
  bytesToHex,
  concatBytes,
  DEFAULT_RECIPE_BOUNDS,
  DecodeError,
  encodeRecipe,
  parseResolution,
  type Recipe,
  RecipeCodec,
  RecipeError,
} from '../../../src/types/index.ts'
import { type AacTrack, aacAvailable, encodeAac } from './aac.ts'
import { type AudioMode, audioTrack } from './audio.ts'
import { Rng } from './det.ts'
import { addNoise, EMBEDDING_METHOD, EmbeddingAccumulator } from './embedding.ts'
import { Fmp4Encoder } from './encode.ts'
import { Scene } from './scene.ts'

/** A refused input; `field` is the input path (e.g. `recipe.slot_params.fps`, `seed`). */
export class InputError extends Error {
  override readonly name = 'InputError'
  readonly code = 'INVALID_INPUT'
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}

export type OutputMode = 'file' | 'inline'

export interface GenerateInput {
  recipe: Recipe
  slotId: bigint
  seed: bigint
  /** Whether the seed was derived from the recipe (no `seed` in the input). */
  seedDerived: boolean
  embeddingNoise: { sigma: number; seed: bigint } | null
  /** The largest frame size rendered; the recipe's resolution is fitted inside it. */
  maxResolution: [number, number]
  outputMode: OutputMode
  audioMode: AudioMode
}

/** Defaults, overridable per call (input fields) or per process (environment). */
export const DEFAULT_MAX_RESOLUTION = '320x240'
const ENV_MAX_RESOLUTION = 'VORTEX_MAX_RESOLUTION'
const ENV_AUDIO = 'VORTEX_AUDIO'
const ENV_NOISE = 'VORTEX_EMBEDDING_NOISE'
const U64_MAX = (1n << 64n) - 1n

const KNOWN = new Set([
  'recipe',
  'slot_id',
  'seed',
  'embedding_noise',
  'max_resolution',
  'output_mode',
  'audio_mode',
])
/** Keys the reference sidecar adds to every payload; accepted and ignored. */
const INJECTED = new Set(['input_cid', 'task_id', 'lane', 'plugin', 'model_id'])

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

function u64(v: unknown, field: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v)
  if (typeof v === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(v) && BigInt(v) <= U64_MAX) return BigInt(v)
  throw new InputError(
    field,
    `${field}: expected an integer 0..2^64-1 (a number up to 2^53-1, or a decimal string)`,
  )
}

function resolution(v: string, field: string): [number, number] {
  const m = /^([1-9][0-9]{0,3})x([1-9][0-9]{0,3})$/.exec(v)
  const w = Number(m?.[1])
  const h = Number(m?.[2])
  if (m === null || w < 16 || h < 16 || w > 3840 || h > 2160)
    throw new InputError(field, `${field}: "${v.slice(0, 20)}" is not WxH within 16x16..3840x2160`)
  return [w, h]
}

/** Validate the plugin input `{recipe, slot_id, seed?, …}` (env supplies defaults for the options). */
export function parseInput(json: unknown, env: NodeJS.ProcessEnv = {}): GenerateInput {
  if (!isObj(json)) throw new InputError('', 'input: expected a JSON object')
  for (const k of Object.keys(json))
    if (!KNOWN.has(k) && !INJECTED.has(k)) throw new InputError(k, `${k}: unknown input field`)
  if (!('recipe' in json)) throw new InputError('recipe', 'recipe: missing')
  let recipe: Recipe
  try {
    recipe = RecipeCodec.fromPlain(json.recipe, 'recipe')
  } catch (err) {
    if (err instanceof DecodeError) throw new InputError(err.field, err.message)
    throw err
  }
  try {
    const b = DEFAULT_RECIPE_BOUNDS
    const sp = recipe.slot_params
    if (sp.duration_sec < b.minDurationSec || sp.duration_sec > b.maxDurationSec)
      throw new InputError(
        'recipe.slot_params.duration_sec',
        `recipe.slot_params.duration_sec: ${sp.duration_sec} is outside ${b.minDurationSec}..${b.maxDurationSec}`,
      )
    if (sp.fps < b.minFps || sp.fps > b.maxFps)
      throw new InputError(
        'recipe.slot_params.fps',
        `recipe.slot_params.fps: ${sp.fps} is outside ${b.minFps}..${b.maxFps}`,
      )
    parseResolution(sp.resolution)
  } catch (err) {
    if (err instanceof RecipeError) throw new InputError(`recipe.${err.field}`, `recipe.${err.message}`)
    throw err
  }
  if (recipe.visual_track.prompt.trim() === '')
    throw new InputError('recipe.visual_track.prompt', 'recipe.visual_track.prompt: must not be empty')

  if (!('slot_id' in json)) throw new InputError('slot_id', 'slot_id: missing')
  const slotId = u64(json.slot_id, 'slot_id')
  if (slotId !== recipe.slot_params.slot_number)
    throw new InputError(
      'slot_id',
      `slot_id: ${slotId} differs from recipe.slot_params.slot_number ${recipe.slot_params.slot_number}`,
    )
  const recipeHash = blake3(encodeRecipe(recipe))
  const seedDerived = json.seed === undefined || json.seed === null
  const seed = seedDerived
    ? new DataView(recipeHash.buffer, recipeHash.byteOffset).getBigUint64(0, true)
    : u64(json.seed, 'seed')

  let embeddingNoise: GenerateInput['embeddingNoise'] = null
  let noise: unknown = json.embedding_noise
  let noiseField = 'embedding_noise'
  if (noise === undefined && env[ENV_NOISE]) {
    // VORTEX_EMBEDDING_NOISE="<sigma>:<seed>"
    const [s, sd] = env[ENV_NOISE].split(':')
    noise = { sigma: Number(s), seed: sd ?? '0' }
    noiseField = ENV_NOISE
  }
  if (noise !== undefined && noise !== null) {
    if (!isObj(noise)) throw new InputError(noiseField, `${noiseField}: expected {sigma, seed}`)
    const sigma = noise.sigma
    if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma < 0 || sigma > 1)
      throw new InputError(`${noiseField}.sigma`, `${noiseField}.sigma: expected a number in 0..1`)
    embeddingNoise = { sigma, seed: u64(noise.seed ?? 0, `${noiseField}.seed`) }
  }

  const resSrc = json.max_resolution ?? env[ENV_MAX_RESOLUTION] ?? DEFAULT_MAX_RESOLUTION
  const resField = json.max_resolution !== undefined ? 'max_resolution' : ENV_MAX_RESOLUTION
  if (typeof resSrc !== 'string') throw new InputError(resField, `${resField}: expected "WxH"`)
  const maxResolution = resolution(resSrc, resField)

  const outputMode = json.output_mode ?? 'file'
  if (outputMode !== 'file' && outputMode !== 'inline')
    throw new InputError('output_mode', 'output_mode: expected "file" or "inline"')
  const audioSrc = json.audio_mode ?? env[ENV_AUDIO] ?? 'auto'
  if (audioSrc !== 'auto' && audioSrc !== 'synth' && audioSrc !== 'espeak')
    throw new InputError(
      json.audio_mode !== undefined ? 'audio_mode' : ENV_AUDIO,
      'audio_mode: expected auto, synth or espeak',
    )

  return { recipe, slotId, seed, seedDerived, embeddingNoise, maxResolution, outputMode, audioMode: audioSrc }
}

/** The recipe's WxH fitted inside `max` with its aspect ratio kept, both sides even. */
export function renderSize(recipeRes: [number, number], max: [number, number]): [number, number] {
  const [rw, rh] = recipeRes
  const k = Math.min(1, max[0] / rw, max[1] / rh)
  const even = (x: number) => Math.max(16, 2 * Math.floor((x * k) / 2))
  return [even(rw), even(rh)]
}

function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, v, true)
  return b
}

const TAG_SCENE = new TextEncoder().encode('NSN-VORTEX-SCENE-v1')
const TAG_NOISE = new TextEncoder().encode('NSN-VORTEX-NOISE-v1')
const TAG_PROOF = new TextEncoder().encode('NSN-VORTEX-PROOF-v1')

export type ProgressSink = (stage: string, progress: number) => void

export interface Generated {
  /** The `output` object of the plugin protocol. */
  output: Record<string, unknown>
  video: Uint8Array
  audio: Uint8Array
  embedding: Float32Array
}

/**
 * Generate the slot's outputs. `outDir` receives `video.mp4` and `audio.wav` in file mode; without it
 * (or in inline mode) both travel as base64 in the output.
 */
export async function generate(
  input: GenerateInput,
  outDir: string | null,
  progress: ProgressSink,
): Promise<Generated> {
  const started = performance.now()
  const { recipe } = input
  const sp = recipe.slot_params
  const [width, height] = renderSize(parseResolution(sp.resolution), input.maxResolution)
  const fps = sp.fps
  const frameCount = sp.duration_sec * fps
  const recipeHash = blake3(encodeRecipe(recipe))
  const sceneSeed = blake3(concatBytes([TAG_SCENE, recipeHash, u64le(input.seed)]))
  const scene = new Scene({ recipe, width, height, fps, frameCount, rng: new Rng(sceneSeed) })
  const encoder = await Fmp4Encoder.create({
    width,
    height,
    fps,
    creationTimeUnix: recipe.security.timestamp,
  })
  const embedder = new EmbeddingAccumulator(width, height, frameCount)
  const rgba = new Uint8Array(width * height * 4)
  const px = new Uint32Array(rgba.buffer)
  const every = Math.max(1, Math.floor(frameCount / 20))
  for (let i = 0; i < frameCount; i++) {
    scene.render(i, px)
    embedder.addFrame(rgba, i)
    encoder.addFrame(rgba)
    if (i % every === 0) progress('render', (0.85 * i) / frameCount)
  }
  progress('audio', 0.86)
  const audio = audioTrack(recipe, sp.duration_sec, input.audioMode, outDir ?? process.env.TMPDIR ?? '/tmp')
  // The narration goes into the published video as AAC when ffmpeg is installed; without it the
  // video is silent (output `audio_muxed: false`) and the WAV is still returned on its own.
  const aac: AacTrack | null = aacAvailable() ? encodeAac(audio.wav, sp.duration_sec) : null
  progress('mux', 0.9)
  const video = await encoder.finish(aac)
  progress('embed', 0.95)
  let embedding = embedder.finish()
  if (input.embeddingNoise !== null && input.embeddingNoise.sigma > 0)
    embedding = addNoise(
      embedding,
      input.embeddingNoise.sigma,
      blake3(concatBytes([TAG_NOISE, u64le(input.embeddingNoise.seed)])),
    )

  const contentHash = blake3(video.bytes)
  const audioHash = blake3(audio.wav)
  const embeddingHash = blake3(new Uint8Array(embedding.buffer, embedding.byteOffset, embedding.byteLength))
  // determinism_proof binds the inputs (recipe, seed) to every output byte.
  const proof = blake3(
    concatBytes([TAG_PROOF, recipeHash, u64le(input.seed), contentHash, audioHash, embeddingHash]),
  )

  progress('write', 0.98)
  const output: Record<string, unknown> = {
    output_cid: `blake3:${bytesToHex(contentHash)}`,
    slot_id: input.slotId.toString(),
    seed: input.seed.toString(),
    recipe_hash: bytesToHex(recipeHash),
    mime: video.mime,
    codec: video.codec,
    container: 'fmp4',
    width,
    height,
    fps,
    frame_count: video.frameCount,
    duration_sec: sp.duration_sec,
    video_bytes: video.bytes.length,
    content_hash: bytesToHex(contentHash),
    audio_muxed: aac !== null,
    ...(aac === null ? {} : { audio_codec: aac.codec, audio_muxed_sample_rate: aac.sampleRate }),
  }
  if (input.outputMode === 'file' && outDir !== null) {
    const videoPath = join(outDir, 'video.mp4')
    const audioPath = join(outDir, 'audio.wav')
    writeFileSync(videoPath, video.bytes)
    writeFileSync(audioPath, audio.wav)
    output.video_path = videoPath
    output.audio_path = audioPath
    // docs/protocol.md §9 names the audio `audio_waveform`; here it is the WAV file's path.
    output.audio_waveform = audioPath
  } else {
    output.video_data = Buffer.from(video.bytes).toString('base64')
    output.audio_data = Buffer.from(audio.wav).toString('base64')
  }
  Object.assign(output, {
    audio_mime: 'audio/wav',
    audio_source: audio.source,
    audio_sample_rate: audio.sampleRate,
    audio_hash: bytesToHex(audioHash),
    clip_embedding: Array.from(embedding),
    embedding_method: EMBEDDING_METHOD,
    embedding_noise:
      input.embeddingNoise === null
        ? null
        : { sigma: input.embeddingNoise.sigma, seed: input.embeddingNoise.seed.toString() },
    determinism_proof: bytesToHex(proof),
    generation_time_ms: Math.round(performance.now() - started),
  })
  return { output, video: video.bytes, audio: audio.wav, embedding }
}
