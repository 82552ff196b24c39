// Generation through the sidecar (PROTOCOL.md §9; the plan's Task 4): ExecuteTask with the
// `vortex-lane0` plugin on lane 0, input {recipe, slot_id, seed}, a timeout and retries on retryable
// sidecar failures, and strict parsing of the plugin's output — file-based (`video_path`) or inline
// base64 (`video_data`) — into a GenerationOutput whose content hash is recomputed, never trusted.
import { open } from 'node:fs/promises'
import { blake3 } from '../crypto/index.ts'
import { abortReason, type Clock, systemClock } from '../scheduler/index.ts'
import type { SidecarTaskRunner } from '../sidecar/types.ts'
import { bytesToHex, EMBEDDING_DIM, type Recipe, RecipeCodec } from '../types/index.ts'
import { embeddingProblem } from './agreement.ts'
import { LANE0_DEFAULTS } from './constants.ts'
import { VortexError } from './errors.ts'
import { type Logger, silentLogger } from './log.ts'
import type { Lane0Metrics } from './metrics.ts'

export interface GenerationOutput {
  slotId: bigint
  /** The video container bytes. */
  video: Uint8Array
  /** Where the sidecar wrote the video, when it was file-based. */
  videoPath?: string
  mime: string
  /** Audio track as the plugin returned it (decoded from base64, or read from `audio_path`). */
  audioWaveform: Uint8Array
  /** 512 finite values, L2 norm 1 (± the tolerance). */
  clipEmbedding: Float32Array
  /** BLAKE3(video), computed here. */
  contentHash: Uint8Array
  generationTimeMs: number
  outputCid: string
  determinismProof: string | null
}

export interface ParseOptions {
  slot: bigint
  maxVideoBytes: number
  embeddingNormTolerance: number
  /** Fallback when the output carries no generation_time_ms. */
  executionTimeMs?: number
  /** Reads a file the plugin wrote (bounded). @default node:fs */
  readFile?: (path: string, maxBytes: number) => Promise<Uint8Array>
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function badOutput(field: string, message: string): VortexError {
  return new VortexError('BAD_OUTPUT', `${field}: ${message}`, { field })
}

/** Read a whole file, refusing one larger than `maxBytes` before reading it. */
export async function readFileBounded(path: string, maxBytes: number): Promise<Uint8Array> {
  const fh = await open(path, 'r')
  try {
    const { size } = await fh.stat()
    if (size > maxBytes)
      throw badOutput('video_path', `file of ${size} bytes exceeds the limit of ${maxBytes}`)
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
}

function decodeBase64(field: string, s: string, maxBytes: number): Uint8Array {
  const clean = s.replace(/\s+/g, '')
  if (clean.length % 4 !== 0 || !BASE64.test(clean)) throw badOutput(field, 'is not valid base64')
  if ((clean.length / 4) * 3 > maxBytes + 2) throw badOutput(field, `decodes to more than ${maxBytes} bytes`)
  return new Uint8Array(Buffer.from(clean, 'base64'))
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Parse the plugin's output object (the sidecar's `result_metadata`; a `{"output": {...}}` wrapper
 * is unwrapped) into a GenerationOutput. Every problem is a VortexError BAD_OUTPUT naming the field.
 */
export async function parseGenerationOutput(
  metadata: Uint8Array,
  opts: ParseOptions,
): Promise<GenerationOutput> {
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(metadata))
  } catch (err) {
    throw badOutput('result_metadata', `not UTF-8 JSON (${(err as Error).message})`)
  }
  if (isObject(parsed) && isObject(parsed.output) && !('clip_embedding' in parsed)) parsed = parsed.output
  if (!isObject(parsed)) throw badOutput('result_metadata', 'is not a JSON object')
  const out = parsed
  const readFile = opts.readFile ?? readFileBounded

  let video: Uint8Array
  let videoPath: string | undefined
  if (typeof out.video_path === 'string' && out.video_path.length > 0) {
    videoPath = out.video_path
    try {
      video = await readFile(videoPath, opts.maxVideoBytes)
    } catch (err) {
      if (err instanceof VortexError) throw err
      throw badOutput('video_path', `cannot be read (${(err as Error).message})`)
    }
  } else if (typeof out.video_data === 'string' && out.video_data.length > 0) {
    video = decodeBase64('video_data', out.video_data, opts.maxVideoBytes)
  } else {
    throw badOutput('video_path', 'missing: the output has neither video_path nor video_data')
  }
  if (video.length === 0) throw badOutput('video', 'is empty')
  if (video.length > opts.maxVideoBytes)
    throw badOutput('video', `${video.length} bytes exceeds the limit of ${opts.maxVideoBytes}`)

  const emb = out.clip_embedding
  if (!Array.isArray(emb)) throw badOutput('clip_embedding', 'missing or not an array')
  if (emb.length !== EMBEDDING_DIM)
    throw badOutput('clip_embedding', `has ${emb.length} values, expected ${EMBEDDING_DIM}`)
  const clipEmbedding = new Float32Array(EMBEDDING_DIM)
  for (let i = 0; i < EMBEDDING_DIM; i++) {
    const x = emb[i]
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw badOutput(`clip_embedding[${i}]`, 'is not a finite number')
    clipEmbedding[i] = x
  }
  const problem = embeddingProblem(clipEmbedding, EMBEDDING_DIM, opts.embeddingNormTolerance)
  if (problem !== null) throw badOutput('clip_embedding', problem)

  // Audio (PROTOCOL.md §9 `audio_waveform`): the reference plugin writes a WAV file (`audio_path`, and
  // `audio_waveform` holding the same path) or inlines it as base64 (`audio_data`); a float array is
  // accepted too. Lane 0 carries it along but no rule depends on it.
  let audioWaveform: Uint8Array = new Uint8Array(0)
  const readAudio = async (field: string, path: string) => {
    try {
      return await readFile(path, opts.maxVideoBytes)
    } catch (err) {
      throw badOutput(field, `cannot be read (${(err as Error).message})`)
    }
  }
  if (typeof out.audio_path === 'string' && out.audio_path.length > 0) {
    audioWaveform = await readAudio('audio_path', out.audio_path)
  } else if (typeof out.audio_data === 'string' && out.audio_data.length > 0) {
    audioWaveform = decodeBase64('audio_data', out.audio_data, opts.maxVideoBytes)
  } else if (Array.isArray(out.audio_waveform)) {
    const samples = new Float32Array(out.audio_waveform.length)
    for (const [i, x] of out.audio_waveform.entries()) {
      if (typeof x !== 'number' || !Number.isFinite(x))
        throw badOutput(`audio_waveform[${i}]`, 'is not a finite number')
      samples[i] = x
    }
    audioWaveform = new Uint8Array(samples.buffer)
  } else if (typeof out.audio_waveform === 'string' && out.audio_waveform.length > 0) {
    // File-based output names files; inline output carries base64.
    audioWaveform =
      videoPath !== undefined
        ? await readAudio('audio_waveform', out.audio_waveform)
        : decodeBase64('audio_waveform', out.audio_waveform, opts.maxVideoBytes)
  }

  const contentHash = blake3(video)
  // The plugin's own hash is never used, but a disagreement means a torn file or a corrupt transfer.
  if (typeof out.content_hash === 'string' && out.content_hash.toLowerCase() !== bytesToHex(contentHash)) {
    throw badOutput('content_hash', 'does not match BLAKE3 of the video bytes received')
  }
  let generationTimeMs = opts.executionTimeMs ?? 0
  if (out.generation_time_ms !== undefined) {
    if (typeof out.generation_time_ms !== 'number' || !(out.generation_time_ms >= 0))
      throw badOutput('generation_time_ms', 'is not a non-negative number')
    generationTimeMs = out.generation_time_ms
  }
  return {
    slotId: opts.slot,
    video,
    videoPath,
    mime: typeof out.mime === 'string' && out.mime.length > 0 ? out.mime : 'video/mp4',
    audioWaveform,
    clipEmbedding,
    contentHash,
    generationTimeMs,
    outputCid: typeof out.output_cid === 'string' ? out.output_cid : '',
    determinismProof: typeof out.determinism_proof === 'string' ? out.determinism_proof : null,
  }
}

/** The generation seed every director derives from the recipe alone: u32 LE of recipe_hash[0..4]. */
export function generationSeed(recipeHash: Uint8Array): number {
  return new DataView(recipeHash.buffer, recipeHash.byteOffset, 4).getUint32(0, true)
}

/** The plugin input of PROTOCOL.md §9: {recipe, slot_id, seed}, u64 as a number when exact. */
export function vortexParameters(
  recipe: Recipe,
  slot: bigint,
  seed: number,
  extra: Readonly<Record<string, unknown>> = {},
): Uint8Array {
  const slotId = slot <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(slot) : slot.toString()
  return new TextEncoder().encode(
    JSON.stringify({ ...extra, recipe: RecipeCodec.toPlain(recipe, 'json'), slot_id: slotId, seed }),
  )
}

export interface VortexClientComponents {
  sidecar: SidecarTaskRunner
  clock?: Clock
  logger?: Logger
  metrics?: Lane0Metrics | null
  /** @default readFileBounded (node:fs) */
  readFile?: (path: string, maxBytes: number) => Promise<Uint8Array>
}

export interface VortexClientInit {
  /** @default LANE0_DEFAULTS.vortexPlugin */
  pluginName?: string
  /** @default LANE0_DEFAULTS.vortexLane */
  lane?: number
  /** @default LANE0_DEFAULTS.vortexTimeoutMs */
  timeoutMs?: number
  /** @default LANE0_DEFAULTS.vortexRetries */
  retries?: number
  /** @default LANE0_DEFAULTS.maxVideoBytes */
  maxVideoBytes?: number
  /** @default LANE0_DEFAULTS.embeddingNormTolerance */
  embeddingNormTolerance?: number
  /**
   * Further plugin input fields the reference plugin understands (`embedding_noise`,
   * `max_resolution`, `output_mode`, `audio_mode`; see docs/sidecar.md). They cannot replace
   * `recipe`, `slot_id` or `seed`. @default {}
   */
  extraParameters?: Readonly<Record<string, unknown>>
}

class LocalTimeout extends Error {}

export class VortexClient {
  private readonly sidecar: SidecarTaskRunner
  private readonly clock: Clock
  private readonly log: Logger
  private readonly metrics: Lane0Metrics | null
  private readonly readFile?: (path: string, maxBytes: number) => Promise<Uint8Array>
  readonly pluginName: string
  private readonly lane: number
  readonly timeoutMs: number
  readonly retries: number
  private readonly maxVideoBytes: number
  private readonly tolerance: number
  private readonly extraParameters: Readonly<Record<string, unknown>>
  private seq = 0

  constructor(components: VortexClientComponents, init: VortexClientInit = {}) {
    this.sidecar = components.sidecar
    this.clock = components.clock ?? systemClock
    this.log = (components.logger ?? silentLogger).child({ module: 'lane0.vortex' })
    this.metrics = components.metrics ?? null
    this.readFile = components.readFile
    this.pluginName = init.pluginName ?? LANE0_DEFAULTS.vortexPlugin
    this.lane = init.lane ?? LANE0_DEFAULTS.vortexLane
    this.timeoutMs = init.timeoutMs ?? LANE0_DEFAULTS.vortexTimeoutMs
    this.retries = init.retries ?? LANE0_DEFAULTS.vortexRetries
    this.maxVideoBytes = init.maxVideoBytes ?? LANE0_DEFAULTS.maxVideoBytes
    this.tolerance = init.embeddingNormTolerance ?? LANE0_DEFAULTS.embeddingNormTolerance
    this.extraParameters = init.extraParameters ?? {}
  }

  /** On-Deck pre-warm (PROTOCOL.md §8): the sidecar answers, is healthy, and has our plugin. */
  async prewarm(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      const h = await this.sidecar.healthCheck()
      if (!h.healthy) return { ok: false, reason: 'sidecar reports unhealthy' }
      if (!h.plugins.includes(this.pluginName))
        return { ok: false, reason: `plugin ${this.pluginName} not loaded` }
      return { ok: true }
    } catch (err) {
      return { ok: false, reason: `sidecar health check failed: ${(err as Error).message}` }
    }
  }

  /**
   * Generate the slot's video. Retries up to `retries` times after a retryable sidecar error or a
   * local timeout; a plugin's own failure or bad output is not retried (the plugin is deterministic).
   */
  async generate(
    recipe: Recipe,
    slot: bigint,
    recipeHash: Uint8Array,
    signal?: AbortSignal,
  ): Promise<GenerationOutput> {
    const parameters = vortexParameters(recipe, slot, generationSeed(recipeHash), this.extraParameters)
    let attempt = 0
    for (;;) {
      attempt++
      const t0 = this.clock.now()
      try {
        const out = await this.attempt(parameters, slot, attempt, signal)
        this.metrics?.generationSeconds.observe((this.clock.now() - t0) / 1000)
        return out
      } catch (err) {
        const v = this.toVortexError(err, attempt, signal)
        this.metrics?.sidecarErrors.inc({ code: metricCode(v) })
        const retryable =
          v.code === 'TIMEOUT' ||
          (v.code === 'SIDECAR_ERROR' && (err as { retryable?: boolean }).retryable === true)
        if (!retryable || attempt > this.retries || signal?.aborted) throw v
        this.log.warn(
          { slot, attempt, code: v.code, sidecarCode: v.details.sidecarCode },
          'generation failed: retrying',
        )
      }
    }
  }

  private async attempt(
    parameters: Uint8Array,
    slot: bigint,
    attempt: number,
    signal?: AbortSignal,
  ): Promise<GenerationOutput> {
    if (signal?.aborted) throw abortReason(signal)
    const ctrl = new AbortController()
    const onAbort = () => ctrl.abort(abortReason(signal!))
    signal?.addEventListener('abort', onAbort, { once: true })
    let timer: unknown
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => {
        const e = new LocalTimeout(`no answer within ${this.timeoutMs} ms`)
        ctrl.abort(e)
        reject(e)
      }, this.timeoutMs)
    })
    const aborted = new Promise<never>((_, reject) => {
      ctrl.signal.addEventListener('abort', () => reject(ctrl.signal.reason), { once: true })
    })
    try {
      const taskId = `lane0-${slot}-${attempt}-${++this.seq}-${this.clock.now().toString(36)}`
      const call = this.sidecar.executeTask(
        { taskId, parameters, timeoutMs: this.timeoutMs, pluginName: this.pluginName, lane: this.lane },
        { signal: ctrl.signal },
      )
      // A runner that ignores the signal must not hold the slot past the timeout.
      const res = await Promise.race([call, timeout, aborted])
      if (!res.success) {
        throw new VortexError(
          'PLUGIN_FAILED',
          `plugin ${this.pluginName} failed: ${res.errorMessage.slice(0, 500)}`,
        )
      }
      return await parseGenerationOutput(res.resultMetadata, {
        slot,
        maxVideoBytes: this.maxVideoBytes,
        embeddingNormTolerance: this.tolerance,
        executionTimeMs: res.executionTimeMs,
        readFile: this.readFile,
      })
    } finally {
      this.clock.clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      timeout.catch(() => {})
      aborted.catch(() => {})
    }
  }

  private toVortexError(err: unknown, attempts: number, signal?: AbortSignal): VortexError {
    if (err instanceof VortexError) return err
    if (signal?.aborted) return new VortexError('ABORTED', 'generation aborted', { attempts }, err)
    if (err instanceof LocalTimeout) {
      return new VortexError('TIMEOUT', `generation: ${err.message}`, { attempts }, err)
    }
    const e = err as { name?: string; code?: string; message?: string }
    if (e?.name === 'SidecarError') {
      const timeoutCodes = ['DEADLINE_EXCEEDED', 'PLUGIN_TIMEOUT']
      if (timeoutCodes.includes(e.code ?? '')) {
        return new VortexError(
          'TIMEOUT',
          `generation: sidecar ${e.code}: ${e.message}`,
          { sidecarCode: e.code, attempts },
          err,
        )
      }
      if (e.code === 'BAD_OUTPUT') {
        return new VortexError('BAD_OUTPUT', `sidecar: ${e.message}`, { sidecarCode: e.code, attempts }, err)
      }
      if (e.code === 'PLUGIN_FAILED') {
        return new VortexError(
          'PLUGIN_FAILED',
          `sidecar: ${e.message}`,
          { sidecarCode: e.code, attempts },
          err,
        )
      }
      return new VortexError(
        'SIDECAR_ERROR',
        `sidecar ${e.code}: ${e.message}`,
        { sidecarCode: e.code, attempts },
        err,
      )
    }
    return new VortexError(
      'SIDECAR_ERROR',
      `sidecar call failed: ${e?.message ?? String(err)}`,
      { attempts },
      err,
    )
  }
}

function metricCode(v: VortexError): string {
  // Bounded label: our own codes, or the sidecar's (a closed union in src/sidecar/types.ts).
  return (v.details.sidecarCode ?? v.code).toLowerCase()
}

/** Hex content hash of an output (the chunk content_id). */
export function contentId(out: GenerationOutput): string {
  return bytesToHex(out.contentHash)
}
