// The vortex-lane0 plugin's contract as the director sees it: building the ExecuteTask request for a
// recipe, and parsing/validating the plugin's output (video file or inline base64, 512-d embedding,
// hashes). Lane 0's VortexClient uses these; the generator itself lives in plugins/vortex-lane0.
import { readFile, stat } from 'node:fs/promises'
import { blake3 } from '../crypto/index.ts'
import { bytesToHex, EMBEDDING_DIM, hexToBytes, type Recipe, RecipeCodec } from '../types/index.ts'
import { DEFAULT_CALL_TIMEOUT_MS } from './constants.ts'
import { type ExecuteTaskRequest, SidecarError } from './types.ts'

export const VORTEX_PLUGIN_NAME = 'vortex-lane0'
/** Largest video a director accepts from its generator (PROTOCOL.md §2: a video message ≤ 16 MiB). */
export const DEFAULT_MAX_VIDEO_BYTES = 256 * 1024 * 1024
/** PROTOCOL.md §5: an embedding's L2 norm must be within this of 1. */
export const EMBEDDING_NORM_TOLERANCE = 1e-3

export interface VortexRequestOptions {
  taskId: string
  /** Omitted: the plugin derives it from the recipe hash, the same on every director. */
  seed?: bigint
  /** @default 45000 (PROTOCOL.md §9) */
  timeoutMs?: number
  /** Test option: controlled embedding noise (cosine ≈ 1/sqrt(1 + 512σ²)). */
  embeddingNoise?: { sigma: number; seed: bigint }
  /** e.g. '320x240'; the plugin's default otherwise. */
  maxResolution?: string
  outputMode?: 'file' | 'inline'
  audioMode?: 'auto' | 'synth' | 'espeak'
}

const u64Json = (v: bigint): number | string =>
  v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()

/** The ExecuteTask request that asks vortex-lane0 for `recipe`'s slot. */
export function vortexRequest(recipe: Recipe, opts: VortexRequestOptions): ExecuteTaskRequest {
  const input: Record<string, unknown> = {
    recipe: RecipeCodec.toPlain(recipe, 'json'),
    slot_id: u64Json(recipe.slot_params.slot_number),
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
    pluginName: VORTEX_PLUGIN_NAME,
    lane: 0,
  }
}

/** The plugin's output, typed. Optional fields are absent from the upstream Python plugin. */
export interface VortexOutput {
  outputCid: string
  /** File written by the plugin in its task folder, or null when the video came inline. */
  videoPath: string | null
  /** Decoded `video_data` (inline base64), or null when the video is a file. */
  videoData: Uint8Array | null
  /** MSE type, e.g. `video/mp4; codecs="avc1.42C01E"`; '' when the plugin did not say. */
  mime: string
  /** BLAKE3 of the video bytes as the plugin reported it (null if absent); readVortexVideo checks it. */
  contentHash: Uint8Array | null
  audioPath: string | null
  audioData: Uint8Array | null
  clipEmbedding: Float32Array
  determinismProof: Uint8Array
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

const bad = (field: string, why: string) => new SidecarError('BAD_OUTPUT', `output.${field}: ${why}`)

function optNumber(o: Record<string, unknown>, k: string): number {
  const v = o[k]
  if (v === undefined || v === null) return 0
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(k, 'expected a number >= 0')
  return v
}

function optString(o: Record<string, unknown>, k: string): string | null {
  const v = o[k]
  if (v === undefined || v === null) return null
  if (typeof v !== 'string') throw bad(k, 'expected a string')
  return v
}

function hash32(o: Record<string, unknown>, k: string, required: boolean): Uint8Array | null {
  const v = o[k]
  if (v === undefined || v === null) {
    if (required) throw bad(k, 'missing')
    return null
  }
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v)) throw bad(k, 'expected 64 hex digits')
  return hexToBytes(v.toLowerCase())
}

function optU64(o: Record<string, unknown>, k: string): bigint | null {
  const v = o[k]
  if (v === undefined || v === null) return null
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v)
  if (typeof v === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(v)) return BigInt(v)
  throw bad(k, 'expected an unsigned integer or decimal string')
}

function base64(o: Record<string, unknown>, k: string): Uint8Array | null {
  const v = optString(o, k)
  if (v === null) return null
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) throw bad(k, 'not base64')
  return new Uint8Array(Buffer.from(v, 'base64'))
}

/**
 * Validate the `result_metadata` of an ExecuteTask response from vortex-lane0 (or the upstream
 * plugin). Checks the embedding as BFT will (PROTOCOL.md §5): 512 finite values, |norm − 1| ≤ 1e-3.
 * Throws SidecarError BAD_OUTPUT naming the field.
 */
export function parseVortexOutput(resultMetadata: Uint8Array | string): VortexOutput {
  let o: unknown
  try {
    o = JSON.parse(
      typeof resultMetadata === 'string' ? resultMetadata : new TextDecoder().decode(resultMetadata),
    )
  } catch {
    throw new SidecarError('BAD_OUTPUT', 'result_metadata: not JSON')
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new SidecarError('BAD_OUTPUT', 'result_metadata: expected the plugin output object')
  const out = o as Record<string, unknown>
  const outputCid = optString(out, 'output_cid')
  if (outputCid === null || outputCid === '') throw bad('output_cid', 'missing')
  const videoPath = optString(out, 'video_path')
  const videoData = base64(out, 'video_data')
  if (videoPath === null && videoData === null)
    throw bad('video_path', 'neither video_path nor video_data is present')

  const emb = out.clip_embedding
  if (!Array.isArray(emb) || emb.length !== EMBEDDING_DIM)
    throw bad(
      'clip_embedding',
      `expected ${EMBEDDING_DIM} numbers, got ${Array.isArray(emb) ? emb.length : typeof emb}`,
    )
  const clipEmbedding = new Float32Array(EMBEDDING_DIM)
  let norm = 0
  for (let i = 0; i < EMBEDDING_DIM; i++) {
    const v = emb[i]
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`clip_embedding[${i}]`, 'not a finite number')
    clipEmbedding[i] = v
    norm += clipEmbedding[i]! * clipEmbedding[i]!
  }
  norm = Math.sqrt(norm)
  if (Math.abs(norm - 1) > EMBEDDING_NORM_TOLERANCE)
    throw bad('clip_embedding', `L2 norm ${norm.toFixed(6)} is not within ${EMBEDDING_NORM_TOLERANCE} of 1`)

  // PROTOCOL.md §9 names the audio `audio_waveform`: a file path here; the reference's `audio_path` too.
  const audioWaveform = out.audio_waveform
  const audioPath = typeof audioWaveform === 'string' ? audioWaveform : optString(out, 'audio_path')
  return {
    outputCid,
    videoPath,
    videoData,
    mime: optString(out, 'mime') ?? '',
    contentHash: hash32(out, 'content_hash', false),
    audioPath,
    audioData: base64(out, 'audio_data'),
    clipEmbedding,
    determinismProof: hash32(out, 'determinism_proof', true)!,
    generationTimeMs: optNumber(out, 'generation_time_ms'),
    width: optNumber(out, 'width'),
    height: optNumber(out, 'height'),
    fps: optNumber(out, 'fps'),
    frameCount: optNumber(out, 'frame_count'),
    durationSec: optNumber(out, 'duration_sec'),
    slotId: optU64(out, 'slot_id'),
    seed: optU64(out, 'seed'),
    audioSource: optString(out, 'audio_source') ?? '',
    embeddingMethod: optString(out, 'embedding_method') ?? '',
  }
}

/**
 * The video bytes (read from the task folder or decoded inline), checked against the reported
 * content hash. Returns them with their BLAKE3 (the proposal's `content_hash`, PROTOCOL.md §5).
 * Read it before the sidecar's retention period (15 min by default) removes the task folder.
 */
export async function readVortexVideo(
  out: VortexOutput,
  opts: { maxBytes?: number } = {},
): Promise<{ video: Uint8Array; contentHash: Uint8Array }> {
  const max = opts.maxBytes ?? DEFAULT_MAX_VIDEO_BYTES
  let video: Uint8Array
  if (out.videoData !== null) video = out.videoData
  else {
    const path = out.videoPath!
    let size: number
    try {
      size = (await stat(path)).size
    } catch (err) {
      throw bad('video_path', `cannot read ${path}: ${(err as Error).message}`)
    }
    if (size > max) throw bad('video_path', `${size} bytes exceeds the limit of ${max}`)
    video = new Uint8Array(await readFile(path))
  }
  if (video.length === 0) throw bad('video_path', 'the video is empty')
  if (video.length > max) throw bad('video_data', `${video.length} bytes exceeds the limit of ${max}`)
  const contentHash = blake3(video)
  if (out.contentHash !== null && bytesToHex(contentHash) !== bytesToHex(out.contentHash))
    throw bad('content_hash', 'does not match BLAKE3 of the video bytes')
  return { video, contentHash }
}
