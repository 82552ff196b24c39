// Loads sidecar.proto with @grpc/proto-loader and types the messages as they travel through grpc-js
// (snake_case names, uint64 as decimal strings, bytes as Buffer).
import { fileURLToPath } from 'node:url'
import { type GrpcObject, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js'
import { loadSync, type Options } from '@grpc/proto-loader'

export const PROTO_PATH = fileURLToPath(new URL('./sidecar.proto', import.meta.url))

/** keepCase: the wire names; longs as strings: u64 never passes through a JS number unchecked. */
export const PROTO_LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
}

let cached: ServiceClientConstructor | null = null

/** The `nsn.sidecar.Sidecar` service (client constructor; `.service` is the server definition). */
export function sidecarService(): ServiceClientConstructor {
  if (cached === null) {
    const def = loadSync(PROTO_PATH, PROTO_LOADER_OPTIONS)
    const pkg = loadPackageDefinition(def) as unknown as { nsn: { sidecar: GrpcObject } }
    cached = pkg.nsn.sidecar.Sidecar as ServiceClientConstructor
  }
  return cached
}

/** uint64 as proto-loader hands it over (string) or as a caller may set it (number or string). */
export type U64 = string | number

export interface ExecuteTaskRequestMsg {
  task_id: string
  model_id: string
  input_cid: string
  parameters: Buffer | Uint8Array
  timeout_ms: U64
  callback_endpoint: string
  plugin_name: string
  lane: number
}

export interface ExecuteTaskResponseMsg {
  success: boolean
  error_message: string
  output_cid: string
  execution_time_ms: U64
  result_metadata: Buffer | Uint8Array
}

export interface GetTaskStatusRequestMsg {
  task_id: string
}

export interface GetTaskStatusResponseMsg {
  status: string
  progress: number
  error_message: string
  current_stage: string
  eta_ms: U64
}

export interface CancelTaskRequestMsg {
  task_id: string
  reason: string
}

export interface CancelTaskResponseMsg {
  success: boolean
  error_message: string
  was_running: boolean
}

export interface HealthCheckRequestMsg {
  container_id: string
  include_metrics: boolean
}

export interface HealthCheckResponseMsg {
  healthy: boolean
  status: string
  uptime_seconds: U64
  metrics: {
    cpu_usage_percent: number
    memory_used_bytes: U64
    memory_limit_bytes: U64
    gpu_utilization_percent: number
  } | null
}

export interface ListPluginsRequestMsg {
  lane: string
}

export interface PluginInfoMsg {
  name: string
  version: string
  supported_lanes: string[]
  deterministic: boolean
  max_latency_ms: number
  vram_required_mb: number
}

export interface ListPluginsResponseMsg {
  plugins: PluginInfoMsg[]
}

export interface GetVramStatusResponseMsg {
  total_vram_gb: number
  used_vram_gb: number
  available_vram_gb: number
  model_allocations: { model_id: string; vram_gb: number; container_id: string }[]
  gpu_statuses: unknown[]
}

export interface GetLoadedModelsResponseMsg {
  models: unknown[]
}

/** A uint64 field as a JS number, refusing values beyond 2^53 − 1. */
export function u64ToNumber(v: U64, field: string): number {
  const n = typeof v === 'number' ? v : Number(v)
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`${field}: ${String(v).slice(0, 24)} is not a u64 below 2^53`)
  return n
}
