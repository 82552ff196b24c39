// Generation through the sidecar (docs/protocol.md §9): ExecuteTask with the
// `vortex-lane0` plugin on lane 0, input {recipe, slot_id, seed}, a timeout and retries on retryable
// sidecar failures. The plugin's output contract (file or inline media, embedding, hashes) is checked
// by src/sidecar/vortex.ts; this maps it into a GenerationOutput and its failures into VortexError.

import { blake3 } from '../crypto/index.ts'
import { abortReason, type Clock, systemClock } from '../scheduler/index.ts'
// Not the folder's index: that would load the gRPC client and server into every Lane 0 import.
import { toPlayable } from '../sidecar/remux.ts'
import type { ExecuteTaskRequest, ExecuteTaskResponse, SidecarTaskRunner } from '../sidecar/types.ts'
import {
  parseVortexOutput,
  readVortexAudio,
  readVortexVideo,
  VortexOutputError,
  vortexRequest,
} from '../sidecar/vortex.ts'
import { bytesToHex, type Recipe } from '../types/index.ts'
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

/** The generation seed every director derives from the recipe alone: u32 LE of recipe_hash[0..4]. */
export function generationSeed(recipeHash: Uint8Array): number {
  return new DataView(recipeHash.buffer, recipeHash.byteOffset, 4).getUint32(0, true)
}

export interface VortexClientComponents {
  sidecar: SidecarTaskRunner
  clock?: Clock
  logger?: Logger
  metrics?: Lane0Metrics | null
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
   * The sidecar's work folder: the only place a file output (`video_path`, `audio_path`) is read
   * from, by real path. Absent or null: only inline outputs are accepted (an external sidecar's
   * answers name paths on its own machine, and a hostile one could name this node's key file).
   * @default null
   */
  outputDir?: string | null
  /**
   * Further plugin input fields the reference plugin understands (`embedding_noise`,
   * `max_resolution`, `output_mode`, `audio_mode`; see docs/sidecar.md). They cannot replace
   * `recipe`, `slot_id` or `seed` (vortexRequest's `extra`). @default {}
   */
  extraParameters?: Readonly<Record<string, unknown>>
}

class LocalTimeout extends Error {}

export class VortexClient {
  private readonly sidecar: SidecarTaskRunner
  private readonly clock: Clock
  private readonly log: Logger
  private readonly metrics: Lane0Metrics | null
  readonly pluginName: string
  private readonly lane: number
  readonly timeoutMs: number
  readonly retries: number
  private readonly maxVideoBytes: number
  private readonly tolerance: number
  private readonly extraParameters: Readonly<Record<string, unknown>>
  private readonly outputDir: string | null
  private seq = 0

  constructor(components: VortexClientComponents, init: VortexClientInit = {}) {
    this.sidecar = components.sidecar
    this.clock = components.clock ?? systemClock
    this.log = (components.logger ?? silentLogger).child({ module: 'lane0.vortex' })
    this.metrics = components.metrics ?? null
    this.pluginName = init.pluginName ?? LANE0_DEFAULTS.vortexPlugin
    this.lane = init.lane ?? LANE0_DEFAULTS.vortexLane
    this.timeoutMs = init.timeoutMs ?? LANE0_DEFAULTS.vortexTimeoutMs
    this.retries = init.retries ?? LANE0_DEFAULTS.vortexRetries
    this.maxVideoBytes = init.maxVideoBytes ?? LANE0_DEFAULTS.maxVideoBytes
    this.tolerance = init.embeddingNormTolerance ?? LANE0_DEFAULTS.embeddingNormTolerance
    this.extraParameters = init.extraParameters ?? {}
    this.outputDir = init.outputDir ?? null
  }

  /** On-Deck pre-warm (docs/protocol.md §8): the sidecar answers, is healthy, and has our plugin. */
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
    const seed = BigInt(generationSeed(recipeHash))
    let attempt = 0
    for (;;) {
      attempt++
      const t0 = this.clock.now()
      const request = vortexRequest(recipe, {
        taskId: `lane0-${slot}-${attempt}-${++this.seq}-${t0.toString(36)}`,
        slotId: slot,
        seed,
        timeoutMs: this.timeoutMs,
        pluginName: this.pluginName,
        lane: this.lane,
        extra: this.extraParameters,
      })
      try {
        const out = await this.attempt(request, slot, signal)
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
    request: ExecuteTaskRequest,
    slot: bigint,
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
      const call = this.sidecar.executeTask(request, { signal: ctrl.signal })
      // A runner that ignores the signal must not hold the slot past the timeout.
      const res = await Promise.race([call, timeout, aborted])
      if (!res.success) {
        throw new VortexError(
          'PLUGIN_FAILED',
          `plugin ${this.pluginName} failed: ${res.errorMessage.slice(0, 500)}`,
        )
      }
      return await this.output(res, slot)
    } finally {
      this.clock.clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      timeout.catch(() => {})
      aborted.catch(() => {})
    }
  }

  /** The plugin's output, checked by the sidecar's contract (a VortexOutputError names the field). */
  private async output(res: ExecuteTaskResponse, slot: bigint): Promise<GenerationOutput> {
    const out = parseVortexOutput(res.resultMetadata, {
      maxBytes: this.maxVideoBytes,
      normTolerance: this.tolerance,
      defaultGenerationTimeMs: res.executionTimeMs,
    })
    const files = { maxBytes: this.maxVideoBytes, outputDir: this.outputDir }
    const raw = await readVortexVideo(out, files)
    const audioWaveform = await readVortexAudio(out, files)
    // content_hash is over what viewers receive: VP9/IVF (+ Opus) becomes WebM first (stream copy).
    const media = await toPlayable(raw.video, audioWaveform, out.mime, { maxBytes: this.maxVideoBytes })
    const video = media.video
    const contentHash = media.remuxed ? blake3(video) : raw.contentHash
    if (Math.abs(out.clipEmbeddingNorm - 1) > this.tolerance || media.remuxed)
      this.log.debug(
        { slot, embeddingNorm: out.clipEmbeddingNorm, remuxed: media.remuxed, mime: media.mime },
        'plugin output adapted (embedding normalised / IVF remuxed into WebM)',
      )
    return {
      slotId: slot,
      video,
      ...(out.videoPath !== null ? { videoPath: out.videoPath } : {}),
      mime: media.mime,
      audioWaveform,
      clipEmbedding: out.clipEmbedding,
      contentHash,
      generationTimeMs: out.generationTimeMs,
      outputCid: out.outputCid,
      determinismProof: bytesToHex(out.determinismProof),
    }
  }

  private toVortexError(err: unknown, attempts: number, signal?: AbortSignal): VortexError {
    if (err instanceof VortexError) return err
    if (err instanceof VortexOutputError) {
      const reason = err.reason !== undefined ? { reason: err.reason } : {}
      return new VortexError('BAD_OUTPUT', err.message, { field: err.field, attempts, ...reason }, err)
    }
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
