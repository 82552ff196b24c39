// The sidecar gRPC client: typed calls with a per-call deadline, a connect timeout and retries on
// transport failure only (never on a plugin's own failure); every error is a SidecarError with a code.
import { type Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js'
import { type Logger, pino } from 'pino'
import {
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_RETRIES,
  DEFAULT_SIDECAR_HOST,
  DEFAULT_SIDECAR_PORT,
  DEFAULT_SMALL_CALL_TIMEOUT_MS,
  EXECUTE_DEADLINE_MARGIN_MS,
  GRPC_MAX_MESSAGE_BYTES,
} from './constants.ts'
import {
  type CancelTaskResponseMsg,
  type ExecuteTaskRequestMsg,
  type ExecuteTaskResponseMsg,
  type GetTaskStatusResponseMsg,
  type GetVramStatusResponseMsg,
  type HealthCheckResponseMsg,
  type ListPluginsResponseMsg,
  sidecarService,
  type U64,
  u64ToNumber,
} from './proto.ts'
import { fromServiceError } from './status.ts'
import {
  type CancelTaskResult,
  type ExecuteTaskRequest,
  type ExecuteTaskResponse,
  type HealthReport,
  type PluginInfo,
  type SidecarApi,
  SidecarError,
  type TaskState,
  type TaskStatus,
  type VramStatus,
} from './types.ts'

export interface SidecarClientInit {
  /** `host:port` of the sidecar. @default '127.0.0.1:50050' */
  address?: string
  /** How long a call waits for the connection before it fails UNAVAILABLE. @default 3000 */
  connectTimeoutMs?: number
  /** Task timeout used for the deadline when a request says 0 (= the manifest's). @default 45000 */
  callTimeoutMs?: number
  /** Deadline of status, cancel, list and health calls. @default 5000 */
  smallCallTimeoutMs?: number
  /** Retries after a transport failure (UNAVAILABLE). @default 1 */
  retries?: number
  /** Pause before a retry. @default 250 */
  retryDelayMs?: number
  /** @default 64 MiB */
  maxMessageBytes?: number
  logger?: Logger
}

type Callback<Res> = (err: ServiceError | null, res?: Res) => void
type RawMethod = (
  req: unknown,
  md: Metadata,
  opts: { deadline: Date },
  cb: Callback<unknown>,
) => { cancel(): void }

const TASK_STATES = new Set<TaskState>(['pending', 'queued', 'running', 'completed', 'failed', 'cancelled'])

/** A u64 of a response; a value beyond 2^53 from a foreign server is its error, not ours. */
function num(v: U64, field: string): number {
  try {
    return u64ToNumber(v, field)
  } catch (err) {
    throw new SidecarError('INTERNAL', `sidecar response ${(err as Error).message}`)
  }
}

function abortError(): SidecarError {
  return new SidecarError('CANCELLED', 'sidecar call aborted by the caller')
}

/** Implements lane0's `SidecarTaskRunner` and the rest of the sidecar's RPCs. */
export class SidecarClient implements SidecarApi {
  readonly address: string
  private readonly raw: Client
  private readonly connectTimeoutMs: number
  private readonly callTimeoutMs: number
  private readonly smallCallTimeoutMs: number
  private readonly retries: number
  private readonly retryDelayMs: number
  private readonly log: Logger

  constructor(init: SidecarClientInit = {}) {
    this.address = init.address ?? `${DEFAULT_SIDECAR_HOST}:${DEFAULT_SIDECAR_PORT}`
    this.connectTimeoutMs = init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    this.callTimeoutMs = init.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
    this.smallCallTimeoutMs = init.smallCallTimeoutMs ?? DEFAULT_SMALL_CALL_TIMEOUT_MS
    this.retries = init.retries ?? DEFAULT_RETRIES
    this.retryDelayMs = init.retryDelayMs ?? 250
    this.log = init.logger ?? pino({ level: 'silent' })
    const max = init.maxMessageBytes ?? GRPC_MAX_MESSAGE_BYTES
    const Ctor = sidecarService()
    this.raw = new Ctor(this.address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      // Our own retry policy applies (transport failures only); grpc-js's would retry blindly.
      'grpc.enable_retries': 0,
      // A restarted sidecar is found again quickly, not after grpc-js's default 1..120 s backoff.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    })
  }

  close(): void {
    this.raw.close()
  }

  private connect(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError())
      this.raw.waitForReady(new Date(Date.now() + this.connectTimeoutMs), (err) => {
        if (signal?.aborted) reject(abortError())
        else if (err)
          reject(
            new SidecarError(
              'UNAVAILABLE',
              `cannot connect to the sidecar at ${this.address} within ${this.connectTimeoutMs} ms`,
              true,
            ),
          )
        else resolve()
      })
    })
  }

  private unary<Res>(method: string, req: unknown, timeoutMs: number, signal?: AbortSignal): Promise<Res> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError())
      const fn = (this.raw as unknown as Record<string, RawMethod>)[method]!.bind(this.raw)
      const onAbort = () => call.cancel()
      const call = fn(req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        signal?.removeEventListener('abort', onAbort)
        if (signal?.aborted) reject(abortError())
        else if (err) reject(fromServiceError(err))
        else resolve(res as Res)
      })
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Connect, call; on a retryable (transport) failure wait and try again, up to `retries` times. */
  private async call<Res>(
    method: string,
    req: unknown,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    retries = this.retries,
  ): Promise<Res> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.connect(signal)
        return await this.unary<Res>(method, req, timeoutMs, signal)
      } catch (err) {
        const e = fromServiceError(err)
        if (!e.retryable || attempt >= retries || signal?.aborted) throw e
        this.log.warn({ method, attempt: attempt + 1, code: e.code }, 'sidecar call failed, retrying')
        await new Promise((r) => setTimeout(r, this.retryDelayMs))
      }
    }
  }

  /**
   * Run a plugin task. Resolves only with a successful response (a foreign server's `success: false`
   * becomes PLUGIN_FAILED). The deadline is the task timeout plus a margin, so the server's typed
   * PLUGIN_TIMEOUT arrives before the client gives up.
   */
  async executeTask(
    req: ExecuteTaskRequest,
    opts: { signal?: AbortSignal } = {},
  ): Promise<ExecuteTaskResponse> {
    if (!Number.isSafeInteger(req.timeoutMs) || req.timeoutMs < 0)
      throw new SidecarError('INVALID_ARGUMENT', `timeoutMs: ${req.timeoutMs} is not an integer >= 0`)
    const msg: ExecuteTaskRequestMsg = {
      task_id: req.taskId,
      model_id: req.modelId ?? '',
      input_cid: req.inputCid ?? '',
      parameters: req.parameters,
      timeout_ms: req.timeoutMs,
      callback_endpoint: req.callbackEndpoint ?? '',
      plugin_name: req.pluginName,
      lane: req.lane,
    }
    const deadline = (req.timeoutMs > 0 ? req.timeoutMs : this.callTimeoutMs) + EXECUTE_DEADLINE_MARGIN_MS
    const res = await this.call<ExecuteTaskResponseMsg>('ExecuteTask', msg, deadline, opts.signal)
    if (!res.success)
      throw new SidecarError(
        'PLUGIN_FAILED',
        res.error_message || 'the sidecar reported failure without a message',
      )
    const meta = res.result_metadata
    return {
      success: true,
      errorMessage: res.error_message,
      outputCid: res.output_cid,
      executionTimeMs: num(res.execution_time_ms, 'execution_time_ms'),
      resultMetadata: new Uint8Array(meta.buffer, meta.byteOffset, meta.byteLength),
    }
  }

  /** HealthCheck and ListPlugins; an unreachable sidecar is reported as unhealthy, not thrown. */
  async healthCheck(opts: { signal?: AbortSignal } = {}): Promise<{ healthy: boolean; plugins: string[] }> {
    try {
      const h = await this.health({ signal: opts.signal })
      const plugins = h.healthy ? (await this.listPlugins(undefined, opts)).map((p) => p.name) : []
      return { healthy: h.healthy, plugins }
    } catch (err) {
      if (err instanceof SidecarError && (err.code === 'UNAVAILABLE' || err.code === 'DEADLINE_EXCEEDED'))
        return { healthy: false, plugins: [] }
      throw err
    }
  }

  async health(opts: { includeMetrics?: boolean; signal?: AbortSignal } = {}): Promise<HealthReport> {
    const r = await this.call<HealthCheckResponseMsg>(
      'HealthCheck',
      { container_id: '', include_metrics: opts.includeMetrics ?? false },
      this.smallCallTimeoutMs,
      opts.signal,
      0,
    )
    const out: HealthReport = {
      healthy: r.healthy,
      status: r.status,
      uptimeSeconds: num(r.uptime_seconds, 'uptime_seconds'),
    }
    if (r.metrics)
      out.metrics = {
        cpuUsagePercent: r.metrics.cpu_usage_percent,
        memoryUsedBytes: num(r.metrics.memory_used_bytes, 'memory_used_bytes'),
        memoryLimitBytes: num(r.metrics.memory_limit_bytes, 'memory_limit_bytes'),
        gpuUtilizationPercent: r.metrics.gpu_utilization_percent,
      }
    return out
  }

  async listPlugins(lane?: string, opts: { signal?: AbortSignal } = {}): Promise<PluginInfo[]> {
    const r = await this.call<ListPluginsResponseMsg>(
      'ListPlugins',
      { lane: lane ?? '' },
      this.smallCallTimeoutMs,
      opts.signal,
    )
    return r.plugins.map((p) => ({
      name: p.name,
      version: p.version,
      supportedLanes: p.supported_lanes,
      deterministic: p.deterministic,
      maxLatencyMs: p.max_latency_ms,
      vramRequiredMb: p.vram_required_mb,
    }))
  }

  async getTaskStatus(taskId: string, opts: { signal?: AbortSignal } = {}): Promise<TaskStatus> {
    const r = await this.call<GetTaskStatusResponseMsg>(
      'GetTaskStatus',
      { task_id: taskId },
      this.smallCallTimeoutMs,
      opts.signal,
    )
    if (!TASK_STATES.has(r.status as TaskState))
      throw new SidecarError('INTERNAL', `status: unknown task state "${r.status.slice(0, 32)}"`)
    return {
      status: r.status as TaskState,
      progress: r.progress,
      errorMessage: r.error_message,
      currentStage: r.current_stage,
      etaMs: num(r.eta_ms, 'eta_ms'),
    }
  }

  async cancelTask(
    taskId: string,
    reason = '',
    opts: { signal?: AbortSignal } = {},
  ): Promise<CancelTaskResult> {
    const r = await this.call<CancelTaskResponseMsg>(
      'CancelTask',
      { task_id: taskId, reason },
      this.smallCallTimeoutMs,
      opts.signal,
    )
    return { success: r.success, errorMessage: r.error_message, wasRunning: r.was_running }
  }

  async getVramStatus(opts: { signal?: AbortSignal } = {}): Promise<VramStatus> {
    const r = await this.call<GetVramStatusResponseMsg>(
      'GetVramStatus',
      { gpu_id: '' },
      this.smallCallTimeoutMs,
      opts.signal,
    )
    return {
      totalVramGb: r.total_vram_gb,
      usedVramGb: r.used_vram_gb,
      availableVramGb: r.available_vram_gb,
      modelAllocations: r.model_allocations.map((a) => ({
        modelId: a.model_id,
        vramGb: a.vram_gb,
        containerId: a.container_id,
      })),
    }
  }

  /** Any RPC by name, for the ones without a typed wrapper (StartContainer, LoadModel, …). */
  rawCall<Res = unknown>(method: string, req: unknown, opts: { signal?: AbortSignal } = {}): Promise<Res> {
    return this.call<Res>(method, req, this.smallCallTimeoutMs, opts.signal, 0)
  }
}
