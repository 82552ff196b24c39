// The sidecar gRPC server (`nsn.sidecar.Sidecar` on @grpc/grpc-js): discovers plugins, applies the
// policy, and serves the eleven RPCs over a PluginRunner. Container and model RPCs answer honestly
// (UNIMPLEMENTED / empty), VRAM figures are declared budgets, never invented hardware.
import { mkdtempSync } from 'node:fs'
import { tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js'
import { type Logger, pino } from 'pino'
import { DEFAULT_SIDECAR_HOST, DEFAULT_SIDECAR_PORT, GRPC_MAX_MESSAGE_BYTES } from './constants.ts'
import { type Discovery, discoverPlugins } from './manifest.ts'
import { allowedLanes, DEFAULT_POLICY, type PluginPolicy } from './policy.ts'
import {
  type CancelTaskRequestMsg,
  type ExecuteTaskRequestMsg,
  type ExecuteTaskResponseMsg,
  type GetTaskStatusRequestMsg,
  type GetTaskStatusResponseMsg,
  type HealthCheckRequestMsg,
  type HealthCheckResponseMsg,
  type ListPluginsRequestMsg,
  sidecarService,
  u64ToNumber,
} from './proto.ts'
import { PluginRunner, type PluginRunnerInit } from './runner.ts'
import { toServiceError } from './status.ts'
import { SidecarError } from './types.ts'

export interface SidecarServerInit
  extends Omit<PluginRunnerInit, 'plugins' | 'rejected' | 'policy' | 'workDir' | 'ownsWorkDir' | 'logger'> {
  /** Folder of `<name>/manifest.yaml` plugin folders. */
  pluginsDir: string
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 50050 */
  port?: number
  policy?: Partial<PluginPolicy>
  /** Parent of the per-task folders. @default a fresh folder under the OS temp dir, removed on stop */
  workDir?: string
  /** gRPC message cap, both directions. @default 64 MiB */
  maxMessageBytes?: number
  /** Runs `module:Class` entrypoints (CommandOptions.runnerCommand). @default [] (refused) */
  runnerCommand?: readonly string[]
  logger?: Logger
}

type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void

function unimplemented(what: string): Handler<unknown, unknown> {
  return (_call, cb) =>
    cb({
      code: status.UNIMPLEMENTED,
      details: `${what}: this sidecar runs plugins as processes and has no container or model runtime`,
    })
}

export class SidecarServer {
  readonly runner: PluginRunner
  readonly discovery: Discovery
  readonly host: string
  private readonly server: Server
  private readonly log: Logger
  private readonly startedAt = Date.now()
  private boundPort = 0
  private stopping = false

  private constructor(init: SidecarServerInit, discovery: Discovery, runner: PluginRunner, log: Logger) {
    this.discovery = discovery
    this.runner = runner
    this.log = log
    this.host = init.host ?? DEFAULT_SIDECAR_HOST
    const max = init.maxMessageBytes ?? GRPC_MAX_MESSAGE_BYTES
    this.server = new Server({
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
    })
    this.server.addService(sidecarService().service, this.handlers())
  }

  /** Discover plugins, apply the policy, bind and serve. */
  static async start(init: SidecarServerInit): Promise<SidecarServer> {
    const log = init.logger ?? pino({ level: 'silent' })
    const policy: PluginPolicy = { ...DEFAULT_POLICY, ...init.policy }
    const discovery = await discoverPlugins(init.pluginsDir, {
      tsxImport: import.meta.resolve('tsx'),
      runnerCommand: init.runnerCommand ?? [],
    })
    const rejected = new Map<string, string>()
    for (const r of discovery.rejected) {
      log.warn({ plugin: r.name, code: r.error.code, field: r.error.field }, r.error.message)
      rejected.set(r.name, r.error.message)
    }
    for (const p of discovery.plugins.values()) {
      const { allowed, refused } = allowedLanes(p.manifest, policy)
      for (const e of refused) log.warn({ plugin: e.plugin, lane: e.lane, rule: e.code }, e.message)
      log.info({ plugin: p.manifest.name, version: p.manifest.version, lanes: allowed }, 'plugin discovered')
    }
    const ownsWorkDir = init.workDir === undefined
    const workDir = init.workDir ?? mkdtempSync(join(tmpdir(), 'nsn-sidecar-'))
    const runner = new PluginRunner({
      ...init,
      plugins: discovery.plugins,
      rejected,
      policy,
      workDir: resolve(workDir),
      ownsWorkDir,
      logger: log.child({ component: 'runner' }),
    })
    const s = new SidecarServer(init, discovery, runner, log)
    try {
      await s.bind(init.port ?? DEFAULT_SIDECAR_PORT)
    } catch (err) {
      await runner.stop()
      throw err
    }
    log.info({ address: s.address, plugins: [...discovery.plugins.keys()] }, 'sidecar listening')
    return s
  }

  private bind(port: number): Promise<void> {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host
    return new Promise((res, rej) => {
      this.server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
        if (err) rej(new SidecarError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${err.message}`))
        else {
          this.boundPort = bound
          res()
        }
      })
    })
  }

  get port(): number {
    return this.boundPort
  }

  /** `host:port`, what a client dials. */
  get address(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.boundPort}`
  }

  /** Kill running tasks (their callers get UNAVAILABLE), then close the server. */
  async stop(graceMs = 2_000): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    await this.runner.stop()
    await new Promise<void>((res) => {
      const force = setTimeout(() => {
        this.server.forceShutdown()
        res()
      }, graceMs)
      this.server.tryShutdown(() => {
        clearTimeout(force)
        res()
      })
    })
    this.log.info({ stage: 'stopped' }, 'sidecar stopped')
  }

  private handlers(): UntypedServiceImplementation {
    const runner = this.runner
    const executeTask: Handler<ExecuteTaskRequestMsg, ExecuteTaskResponseMsg> = (call, cb) => {
      const r = call.request
      const ac = new AbortController()
      // The caller's deadline passed or it hung up: the task is killed, not left running.
      call.on('cancelled', () => ac.abort())
      let timeoutMs: number
      try {
        timeoutMs = u64ToNumber(r.timeout_ms, 'timeout_ms')
      } catch (err) {
        cb(toServiceError(new SidecarError('INVALID_ARGUMENT', (err as Error).message)))
        return
      }
      runner
        .execute(
          {
            taskId: r.task_id,
            modelId: r.model_id,
            inputCid: r.input_cid,
            parameters: r.parameters,
            timeoutMs,
            callbackEndpoint: r.callback_endpoint,
            pluginName: r.plugin_name,
            lane: r.lane,
          },
          ac.signal,
        )
        .then(
          (res) =>
            cb(null, {
              success: res.success,
              error_message: res.errorMessage,
              output_cid: res.outputCid,
              execution_time_ms: res.executionTimeMs,
              result_metadata: res.resultMetadata,
            }),
          (err) => cb(toServiceError(err)),
        )
    }
    const getTaskStatus: Handler<GetTaskStatusRequestMsg, GetTaskStatusResponseMsg> = (call, cb) => {
      try {
        const s = runner.status(call.request.task_id)
        cb(null, {
          status: s.status,
          progress: s.progress,
          error_message: s.errorMessage,
          current_stage: s.currentStage,
          eta_ms: s.etaMs,
        })
      } catch (err) {
        cb(toServiceError(err))
      }
    }
    const cancelTask: Handler<CancelTaskRequestMsg, unknown> = (call, cb) => {
      runner.cancel(call.request.task_id, call.request.reason).then(
        (r) => cb(null, { success: r.success, error_message: r.errorMessage, was_running: r.wasRunning }),
        (err) => cb(toServiceError(err)),
      )
    }
    const healthCheck: Handler<HealthCheckRequestMsg, HealthCheckResponseMsg> = (call, cb) => {
      const uptimeMs = Date.now() - this.startedAt
      let metrics: HealthCheckResponseMsg['metrics'] = null
      if (call.request.include_metrics) {
        const cpu = process.cpuUsage()
        metrics = {
          cpu_usage_percent: uptimeMs > 0 ? ((cpu.user + cpu.system) / 1000 / uptimeMs) * 100 : 0,
          memory_used_bytes: process.memoryUsage.rss(),
          memory_limit_bytes: totalmem(),
          gpu_utilization_percent: 0,
        }
      }
      cb(null, {
        healthy: !this.stopping,
        status: this.stopping ? 'stopping' : 'serving',
        uptime_seconds: Math.floor(uptimeMs / 1000),
        metrics,
      })
    }
    const listPlugins: Handler<ListPluginsRequestMsg, unknown> = (call, cb) => {
      cb(null, {
        plugins: runner.list(call.request.lane).map((p) => ({
          name: p.name,
          version: p.version,
          supported_lanes: p.supportedLanes,
          deterministic: p.deterministic,
          max_latency_ms: p.maxLatencyMs,
          vram_required_mb: p.vramRequiredMb,
        })),
      })
    }
    const getVramStatus: Handler<unknown, unknown> = (_call, cb) => {
      const v = runner.vram()
      cb(null, {
        total_vram_gb: v.totalVramGb,
        used_vram_gb: v.usedVramGb,
        available_vram_gb: v.availableVramGb,
        model_allocations: v.modelAllocations.map((a) => ({
          model_id: a.modelId,
          vram_gb: a.vramGb,
          container_id: a.containerId,
        })),
        gpu_statuses: [],
      })
    }
    // Nothing stays resident between tasks, so nothing is loaded: an empty list is the truth.
    const getLoadedModels: Handler<unknown, unknown> = (_call, cb) => cb(null, { models: [] })
    return {
      StartContainer: unimplemented('StartContainer'),
      StopContainer: unimplemented('StopContainer'),
      HealthCheck: healthCheck,
      LoadModel: unimplemented('LoadModel'),
      UnloadModel: unimplemented('UnloadModel'),
      GetLoadedModels: getLoadedModels,
      ListPlugins: listPlugins,
      ExecuteTask: executeTask,
      GetTaskStatus: getTaskStatus,
      CancelTask: cancelTask,
      GetVramStatus: getVramStatus,
    } as UntypedServiceImplementation
  }
}
