// The sidecar's ExecuteTask contract in TypeScript (PROTOCOL.md §9), used by the gRPC client and by
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
