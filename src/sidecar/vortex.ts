// The vortex-lane0 plugin's contract as the director sees it, in one place: the ExecuteTask request for
// a recipe, and the checks on the plugin's output (video file or inline base64, audio in its forms,
// 512-d embedding, hashes). Lane 0's VortexClient calls these; the generator lives in plugins/vortex-lane0.
import { constants as fsc } from 'node:fs'
import { open, realpath } from 'node:fs/promises'
import { sep } from 'node:path'
import { blake3 } from '../crypto/index.ts'
import {
  bytesToHex,
  EMBEDDING_DIM,
  EMBEDDING_NORM_TOLERANCE,
  hexToBytes,
  type Recipe,
  RecipeCodec,
} from '../types/index.ts'
import { DEFAULT_CALL_TIMEOUT_MS } from './constants.ts'
import { parsePluginJson } from './json.ts'
import { type ExecuteTaskRequest, SidecarError } from './types.ts'

export const VORTEX_PLUGIN_NAME = 'vortex-lane0'
/** Sidecar lane of Lane 0 tasks. */
export const VORTEX_LANE = 0
/** Largest video a director accepts from its generator (docs/protocol.md §2: a video message ≤ 16 MiB). */
export const DEFAULT_MAX_VIDEO_BYTES = 256 * 1024 * 1024
/** The container assumed when the output names none (the upstream Python plugin sends no `mime`). */
export const DEFAULT_VORTEX_MIME = 'video/mp4'

export interface VortexRequestOptions {
  taskId: string
  /** @default recipe.slot_params.slot_number (the plugin refuses any other) */
  slotId?: bigint
  /** Omitted: the plugin derives it from the recipe hash, the same on every director. */
  seed?: bigint
  /** @default 45000 (docs/protocol.md §9) */
  timeoutMs?: number
  /** Test option: controlled embedding noise (cosine ≈ 1/sqrt(1 + 512σ²)). */
  embeddingNoise?: { sigma: number; seed: bigint }
  /** e.g. '320x240'; the plugin's default otherwise. */
  maxResolution?: string
  outputMode?: 'file' | 'inline'
  audioMode?: 'auto' | 'synth' | 'espeak'
  /** @default VORTEX_PLUGIN_NAME */
  pluginName?: string
  /** @default VORTEX_LANE */
  lane?: number
  /**
   * Further input fields, as they go on the wire (docs/sidecar.md). They cannot replace `recipe`,
   * `slot_id`, nor a field set by one of the options above. @default {}
   */
  extra?: Readonly<Record<string, unknown>>
}

const u64Json = (v: bigint): number | string =>
  v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()

/** The ExecuteTask request that asks vortex-lane0 for `recipe`'s slot (input of docs/protocol.md §9). */
export function vortexRequest(recipe: Recipe, opts: VortexRequestOptions): ExecuteTaskRequest {
  const input: Record<string, unknown> = {
    ...opts.extra,
    recipe: RecipeCodec.toPlain(recipe, 'json'),
    slot_id: u64Json(opts.slotId ?? recipe.slot_params.slot_number),
  }
  if (opts.seed !== undefined) input.seed = u64Json(opts.seed)
  if (opts.embeddingNoise !== undefined)
    input.embedding_noise = { sigma: opts.embeddingNoise.sigma, seed: u64Json(opts.embeddingNoise.seed) }
  if (opts.maxResolution !== undefined) input.max_resolution = opts.maxResolution
  if (opts.outputMode !== undefined) input.output_mode = opts.outputMode
  if (opts.audioMode !== undefined) input.audio_mode = opts.audioMode
  return {
    taskId: opts.taskId,
    parameters: new TextEncoder().encode(JSON.stringify(input)),
    timeoutMs: opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    pluginName: opts.pluginName ?? VORTEX_PLUGIN_NAME,
    lane: opts.lane ?? VORTEX_LANE,
  }
}

/** The plugin's output, typed. Optional fields are absent from the upstream Python plugin. */
export interface VortexOutput {
  outputCid: string
  /** File written by the plugin in its task folder, or null when the video came inline. */
  videoPath: string | null
  /** Decoded `video_data` (inline base64), or null when the video is a file. */
  videoData: Uint8Array | null
  /** MSE type, e.g. `video/mp4; codecs="avc1.42C01E"`; DEFAULT_VORTEX_MIME when the plugin did not say. */
  mime: string
  /** BLAKE3 of the video bytes as the plugin reported it (null if absent); readVortexVideo checks it. */
  contentHash: Uint8Array | null
  /** `audio_path`, or `audio_waveform` when it names a file (file-mode output). */
  audioPath: string | null
  /** Decoded `audio_data`, or `audio_waveform` as base64 (inline output, the upstream plugin's form). */
  audioData: Uint8Array | null
  /** `audio_waveform` given as an array of samples. */
  audioSamples: Float32Array | null
  /** Unit length (normalised here when the plugin's was not). */
  clipEmbedding: Float32Array
  /** L2 norm of the embedding as the plugin sent it. */
  clipEmbeddingNorm: number
  determinismProof: Uint8Array
  /** `generation_time_ms`, else the caller's `defaultGenerationTimeMs`. */
  generationTimeMs: number
  width: number
  height: number
  fps: number
  frameCount: number
  durationSec: number
  slotId: bigint | null
  seed: bigint | null
  audioSource: string
  embeddingMethod: string
}

/** BAD_OUTPUT of the vortex-lane0 output contract, with the field at fault (`clip_embedding[3]`). */
export class VortexOutputError extends SidecarError {
  constructor(
    readonly field: string,
    why: string,
    /** Finer cause where one field can fail several ways: `EMBEDDING_ZERO`, `EMBEDDING_NOT_FINITE`. */
    readonly reason?: VortexOutputReason,
  ) {
    super('BAD_OUTPUT', `${field === 'result_metadata' ? '' : 'output.'}${field}: ${why}`)
  }
}

export type VortexOutputReason = 'EMBEDDING_ZERO' | 'EMBEDDING_NOT_FINITE' | 'REMUX_FAILED'

const bad = (field: string, why: string, reason?: VortexOutputReason) =>
  new VortexOutputError(field, why, reason)

type Obj = Record<string, unknown>

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function optNumber(o: Obj, k: string): number | null {
  const v = o[k]
  if (v === undefined || v === null) return null
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(k, 'expected a number >= 0')
  return v
}

function optString(o: Obj, k: string): string | null {
  const v = o[k]
  if (v === undefined || v === null) return null
  if (typeof v !== 'string') throw bad(k, 'expected a string')
  return v
}

function optPath(o: Obj, k: string): string | null {
  const v = optString(o, k)
  if (v === '') throw bad(k, 'empty path')
  return v
}

function hash32(o: Obj, k: string, required: boolean): Uint8Array | null {
  const v = o[k]
  if (v === undefined || v === null) {
    if (required) throw bad(k, 'missing')
    return null
  }
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v)) throw bad(k, 'expected 64 hex digits')
  return hexToBytes(v.toLowerCase())
}

function optU64(o: Obj, k: string): bigint | null {
  const v = o[k]
  if (v === undefined || v === null) return null
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v)
  if (typeof v === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(v)) return BigInt(v)
  throw bad(k, 'expected an unsigned integer or decimal string')
}

/** Strict base64 (what Python's b64encode and Buffer write: no whitespace), bounded before decoding. */
function decodeBase64(field: string, v: string, maxBytes: number): Uint8Array {
  if (v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw bad(field, 'not base64')
  const size = (v.length / 4) * 3 - (v.endsWith('==') ? 2 : v.endsWith('=') ? 1 : 0)
  if (size > maxBytes) throw bad(field, `decodes to ${size} bytes, over the limit of ${maxBytes}`)
  return new Uint8Array(Buffer.from(v, 'base64'))
}

function optBase64(o: Obj, k: string, maxBytes: number): Uint8Array | null {
  const v = optString(o, k)
  return v === null ? null : decodeBase64(k, v, maxBytes)
}

/**
 * 512 finite f32 values, returned with L2 norm 1 (docs/protocol.md §5 step 2 checks |norm − 1| ≤ 1e-3).
 * The reference plugin answers a CLIP embedding that is not normalised: a finite non-zero vector is
 * scaled to unit length here (cosine similarity does not change); zero or non-finite is refused.
 */
function embedding(o: Obj, tolerance: number): { values: Float32Array; norm: number } {
  const emb = o.clip_embedding
  if (!Array.isArray(emb) || emb.length !== EMBEDDING_DIM)
    throw bad(
      'clip_embedding',
      `expected ${EMBEDDING_DIM} numbers, got ${Array.isArray(emb) ? emb.length : typeof emb}`,
    )
  const out = new Float32Array(EMBEDDING_DIM)
  let sum = 0
  for (let i = 0; i < EMBEDDING_DIM; i++) {
    const v = emb[i]
    // Checked after rounding to f32 too: 1e300 is a finite double but an infinite f32.
    if (typeof v !== 'number' || !Number.isFinite(Math.fround(v)))
      throw bad(`clip_embedding[${i}]`, 'not a finite number', 'EMBEDDING_NOT_FINITE')
    out[i] = v
    sum += out[i]! * out[i]!
  }
  const norm = Math.sqrt(sum)
  if (norm === 0 || !Number.isFinite(norm))
    throw bad('clip_embedding', 'is all zeros: it has no direction to compare', 'EMBEDDING_ZERO')
  if (Math.abs(norm - 1) > tolerance) for (let i = 0; i < EMBEDDING_DIM; i++) out[i] = out[i]! / norm
  return { values: out, norm }
}

export interface VortexParseOptions {
  /** Bound on each inline medium (`video_data`, `audio_data`, `audio_waveform`). @default DEFAULT_MAX_VIDEO_BYTES */
  maxBytes?: number
  /** @default EMBEDDING_NORM_TOLERANCE */
  normTolerance?: number
  /** generationTimeMs when the output has no `generation_time_ms` (e.g. the sidecar's execution time). @default 0 */
  defaultGenerationTimeMs?: number
}

/**
 * Validate the `result_metadata` of an ExecuteTask response from vortex-lane0 or the upstream plugin
 * (a `{"output": {...}}` wrapper, which a foreign sidecar may pass on, is unwrapped). Throws
 * VortexOutputError (SidecarError BAD_OUTPUT) naming the field.
 */
export function parseVortexOutput(
  resultMetadata: Uint8Array | string,
  opts: VortexParseOptions = {},
): VortexOutput {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_VIDEO_BYTES
  let o: unknown
  try {
    o = parsePluginJson(
      typeof resultMetadata === 'string'
        ? resultMetadata
        : new TextDecoder('utf-8', { fatal: true }).decode(resultMetadata),
    )
  } catch (err) {
    throw bad('result_metadata', `not UTF-8 JSON (${(err as Error).message})`)
  }
  if (isObject(o) && isObject(o.output) && !('clip_embedding' in o)) o = o.output
  if (!isObject(o)) throw bad('result_metadata', 'expected the plugin output object')
  const out = o
  const outputCid = optString(out, 'output_cid')
  if (outputCid === null || outputCid === '') throw bad('output_cid', 'missing')
  const videoPath = optPath(out, 'video_path')
  const videoData = optBase64(out, 'video_data', maxBytes)
  if (videoPath === null && videoData === null)
    throw bad('video_path', 'neither video_path nor video_data is present')
  // Neither plugin sends both; with two candidates there is no telling which one was hashed.
  if (videoPath !== null && videoData !== null)
    throw bad('video_data', 'both video_path and video_data are present')

  // docs/protocol.md §9 names the audio `audio_waveform`: vortex-lane0 puts the WAV file's path there in
  // file mode (beside `audio_path`), the upstream plugin base64 inline; an array of samples is taken too.
  let audioPath = optPath(out, 'audio_path')
  let audioData = optBase64(out, 'audio_data', maxBytes)
  let audioSamples: Float32Array | null = null
  const wave = out.audio_waveform
  if (typeof wave === 'string') {
    if (videoPath !== null) audioPath ??= optPath(out, 'audio_waveform')
    else audioData ??= decodeBase64('audio_waveform', wave, maxBytes)
  } else if (Array.isArray(wave)) {
    if (wave.length * 4 > maxBytes)
      throw bad('audio_waveform', `${wave.length} samples exceed the limit of ${maxBytes} bytes`)
    audioSamples = new Float32Array(wave.length)
    for (const [i, x] of wave.entries()) {
      if (typeof x !== 'number' || !Number.isFinite(Math.fround(x)))
        throw bad(`audio_waveform[${i}]`, 'not a finite number')
      audioSamples[i] = x
    }
  } else if (wave !== undefined && wave !== null) {
    throw bad('audio_waveform', 'expected a file path, base64 or an array of numbers')
  }

  const emb = embedding(out, opts.normTolerance ?? EMBEDDING_NORM_TOLERANCE)
  return {
    outputCid,
    videoPath,
    videoData,
    mime: optString(out, 'mime') || DEFAULT_VORTEX_MIME,
    contentHash: hash32(out, 'content_hash', false),
    audioPath,
    audioData,
    audioSamples,
    clipEmbedding: emb.values,
    clipEmbeddingNorm: emb.norm,
    determinismProof: hash32(out, 'determinism_proof', true)!,
    generationTimeMs: optNumber(out, 'generation_time_ms') ?? opts.defaultGenerationTimeMs ?? 0,
    width: optNumber(out, 'width') ?? 0,
    height: optNumber(out, 'height') ?? 0,
    fps: optNumber(out, 'fps') ?? 0,
    frameCount: optNumber(out, 'frame_count') ?? 0,
    durationSec: optNumber(out, 'duration_sec') ?? 0,
    slotId: optU64(out, 'slot_id'),
    seed: optU64(out, 'seed'),
    audioSource: optString(out, 'audio_source') ?? '',
    embeddingMethod: optString(out, 'embedding_method') ?? '',
  }
}

/**
 * Where the director may read the plugin's files from (attack: a hostile external sidecar answering
 * `video_path: <the node's key file>` must not get that file hashed, proposed and published).
 * `null`: no folder is trusted, so only inline outputs are taken.
 */
export type VortexOutputDir = string | null

const NO_OUTPUT_DIR =
  'is a file, but no sidecar work folder is configured (set sidecar.workDir to the folder the sidecar writes its task files in, or have the sidecar send its output inline)'

/**
 * Read a file the plugin wrote, only when it is a regular file whose real path (after every symlink,
 * taken from the opened descriptor, so a rename or a symlink swapped in after the check changes
 * nothing) is inside `outputDir`. Refuses one over `maxBytes` before reading, and reads no more than
 * the size it had then (a file still being written cannot make us buffer past the bound). Opened
 * non-blocking so that a FIFO cannot hold the director.
 */
async function readOutputFile(
  field: string,
  path: string,
  maxBytes: number,
  outputDir: VortexOutputDir,
): Promise<Uint8Array> {
  if (outputDir === null) throw bad(field, NO_OUTPUT_DIR)
  let root: string
  try {
    root = await realpath(outputDir)
  } catch (err) {
    throw bad(field, `the sidecar work folder ${outputDir} cannot be resolved: ${(err as Error).message}`)
  }
  const inside = (p: string) => p.startsWith(root.endsWith(sep) ? root : root + sep)
  const outside = () => bad(field, `${path} is outside the sidecar work folder ${root}`)
  try {
    // Checked before opening (nothing outside is even opened) and again on the opened descriptor.
    const resolved = await realpath(path)
    if (!inside(resolved)) throw outside()
    const fh = await open(resolved, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY)
    try {
      const st = await fh.stat()
      if (!st.isFile()) throw bad(field, `${path} is not a regular file`)
      if (!inside(await openedPath(field, fh.fd, resolved, st))) throw outside()
      const { size } = st
      if (size > maxBytes) throw bad(field, `${size} bytes exceeds the limit of ${maxBytes}`)
      const buf = new Uint8Array(size)
      let off = 0
      while (off < size) {
        const { bytesRead } = await fh.read(buf, off, size - off, off)
        if (bytesRead === 0) break
        off += bytesRead
      }
      return off === size ? buf : buf.subarray(0, off)
    } finally {
      await fh.close()
    }
  } catch (err) {
    if (err instanceof VortexOutputError) throw err
    throw bad(field, `cannot read ${path}: ${(err as Error).message}`)
  }
}

/**
 * The real path of an opened file: Linux names it in /proc/self/fd; elsewhere the path is resolved
 * and must still be the same file (device and inode) as the one opened.
 */
async function openedPath(
  field: string,
  fd: number,
  path: string,
  st: { dev: number; ino: number },
): Promise<string> {
  try {
    return await realpath(`/proc/self/fd/${fd}`)
  } catch {
    const real = await realpath(path)
    const again = await open(real, fsc.O_RDONLY | fsc.O_NONBLOCK)
    try {
      const st2 = await again.stat()
      if (st2.dev !== st.dev || st2.ino !== st.ino) throw bad(field, `${path} changed while read`)
    } finally {
      await again.close()
    }
    return real
  }
}

/**
 * The video bytes (read from the task folder or decoded inline), checked against the reported
 * content hash. Returns them with their BLAKE3 (the proposal's `content_hash`, docs/protocol.md §5).
 * Read it before the sidecar's retention period (15 min by default) removes the task folder. A file
 * is read only inside `outputDir` (readOutputFile).
 */
export async function readVortexVideo(
  out: VortexOutput,
  opts: { maxBytes?: number; outputDir?: VortexOutputDir } = {},
): Promise<{ video: Uint8Array; contentHash: Uint8Array }> {
  const max = opts.maxBytes ?? DEFAULT_MAX_VIDEO_BYTES
  const field = out.videoData !== null ? 'video_data' : 'video_path'
  const video = out.videoData ?? (await readOutputFile(field, out.videoPath!, max, opts.outputDir ?? null))
  if (video.length === 0) throw bad(field, 'the video is empty')
  if (video.length > max) throw bad(field, `${video.length} bytes exceeds the limit of ${max}`)
  const contentHash = blake3(video)
  // The reported hash is never used, but a disagreement means a torn file or a corrupt transfer.
  if (out.contentHash !== null && bytesToHex(contentHash) !== bytesToHex(out.contentHash))
    throw bad('content_hash', 'does not match BLAKE3 of the video bytes')
  return { video, contentHash }
}

/**
 * The audio track as the plugin gave it: the WAV file's bytes, decoded base64, or an array's samples
 * as f32 (platform order: little-endian on every supported host); empty when the output has none.
 */
export async function readVortexAudio(
  out: VortexOutput,
  opts: { maxBytes?: number; outputDir?: VortexOutputDir } = {},
): Promise<Uint8Array> {
  const max = opts.maxBytes ?? DEFAULT_MAX_VIDEO_BYTES
  if (out.audioPath !== null) return readOutputFile('audio_path', out.audioPath, max, opts.outputDir ?? null)
  if (out.audioData !== null) {
    if (out.audioData.length > max)
      throw bad('audio_data', `${out.audioData.length} bytes exceeds the limit of ${max}`)
    return out.audioData
  }
  if (out.audioSamples !== null) {
    const s = out.audioSamples
    if (s.byteLength > max) throw bad('audio_waveform', `${s.byteLength} bytes exceeds the limit of ${max}`)
    return new Uint8Array(s.buffer, s.byteOffset, s.byteLength)
  }
  return new Uint8Array(0)
}
