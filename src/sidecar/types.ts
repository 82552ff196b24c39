// The sidecar's ExecuteTask contract in TypeScript (docs/protocol.md §9), used by the gRPC client and by
// lane0's VortexClient; lane0 unit tests fake `SidecarTaskRunner`.

export interface ExecuteTaskRequest {
  taskId: string
  modelId?: string
  inputCid?: string
  /** JSON input of the plugin (for vortex-lane0: {recipe, slot_id, seed}). */
  parameters: Uint8Array
  timeoutMs: number
  callbackEndpoint?: string
  pluginName: string
  lane: number
}

export interface ExecuteTaskResponse {
  success: boolean
  errorMessage: string
  outputCid: string
  executionTimeMs: number
  /** The plugin's `output` object as JSON bytes (file paths for large binary outputs). */
  resultMetadata: Uint8Array
}

export type SidecarErrorCode =
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'UNKNOWN_PLUGIN'
  | 'POLICY_DENIED'
  | 'PLUGIN_FAILED'
  | 'PLUGIN_TIMEOUT'
  | 'BAD_OUTPUT'
  | 'CANCELLED'
  | 'DUPLICATE_TASK'
  | 'BUSY'
  | 'INVALID_ARGUMENT'
  | 'INTERNAL'
  /** The plugin wrote more than the sidecar's output cap (stdout or files in its task folder). */
  | 'OUTPUT_TOO_LARGE'
  /** No such task (GetTaskStatus of an unknown or pruned task id). */
  | 'NOT_FOUND'
  /** The RPC exists in the protocol but this sidecar does not provide it (containers, models). */
  | 'UNIMPLEMENTED'

export class SidecarError extends Error {
  override readonly name = 'SidecarError'
  constructor(
    readonly code: SidecarErrorCode,
    message: string,
    /** Whether retrying the call may help (transport failures yes, a plugin's own failure no). */
    readonly retryable = false,
  ) {
    super(message)
  }
}

/** What lane0 needs from the sidecar. */
export interface SidecarTaskRunner {
  executeTask(req: ExecuteTaskRequest, opts?: { signal?: AbortSignal }): Promise<ExecuteTaskResponse>
  healthCheck(): Promise<{ healthy: boolean; plugins: string[] }>
}

/** Life of a task as GetTaskStatus reports it (the reference's status strings). */
export type TaskState = 'pending' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled'

export interface TaskStatus {
  status: TaskState
  /** 0..1 as last reported by the plugin (1 once completed). */
  progress: number
  errorMessage: string
  currentStage: string
  /** Reported by the plugin, else estimated from the progress rate; 0 when unknown. */
  etaMs: number
}

export interface CancelTaskResult {
  success: boolean
  errorMessage: string
  /** True when a running plugin process was killed by this call. */
  wasRunning: boolean
}

/** One discovered plugin that passes validation and the policy for at least one lane. */
export interface PluginInfo {
  name: string
  version: string
  supportedLanes: string[]
  deterministic: boolean
  maxLatencyMs: number
  /** The manifest's `resources.vram_gb`, in MiB. */
  vramRequiredMb: number
}

export interface HealthReport {
  healthy: boolean
  /** `serving` or `stopping`. */
  status: string
  uptimeSeconds: number
  metrics?: {
    cpuUsagePercent: number
    memoryUsedBytes: number
    memoryLimitBytes: number
    /** Always 0: the sidecar does not probe GPUs. */
    gpuUtilizationPercent: number
  }
}

/** Declared figures only: the configured budget and what running plugins declared, never measured. */
export interface VramStatus {
  totalVramGb: number
  usedVramGb: number
  availableVramGb: number
  modelAllocations: { modelId: string; vramGb: number; containerId: string }[]
}

/** The sidecar's whole gRPC surface as the client exposes it. */
export interface SidecarApi extends SidecarTaskRunner {
  health(opts?: { includeMetrics?: boolean; signal?: AbortSignal }): Promise<HealthReport>
  listPlugins(lane?: string, opts?: { signal?: AbortSignal }): Promise<PluginInfo[]>
  getTaskStatus(taskId: string, opts?: { signal?: AbortSignal }): Promise<TaskStatus>
  cancelTask(taskId: string, reason?: string, opts?: { signal?: AbortSignal }): Promise<CancelTaskResult>
  getVramStatus(opts?: { signal?: AbortSignal }): Promise<VramStatus>
}
