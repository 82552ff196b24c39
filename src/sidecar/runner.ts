// The plugin runner: one child process per task (input JSON on stdin, result JSON on stdout, progress
// on stderr), in its own process group so that a timeout, a cancel or a crash takes the whole tree
// down; task records with status and progress, pruned after a retention period. No gRPC here.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { lstat, readdir, realpath, rm } from 'node:fs/promises'
import { isAbsolute, join, resolve, sep } from 'node:path'
import { stringify as losslessStringify } from 'lossless-json'
import { type Logger, pino } from 'pino'
import { parseJsonExact } from '../types/index.ts'
import {
  DEFAULT_KILL_GRACE_MS,
  DEFAULT_MAX_OUTPUT_FILE_BYTES,
  DEFAULT_MAX_RETAINED_TASKS,
  DEFAULT_MAX_STDOUT_BYTES,
  DEFAULT_MAX_TASK_MS,
  DEFAULT_TASK_RETENTION_MS,
  MAX_PARAMETERS_BYTES,
  MAX_STDERR_LINE_BYTES,
  STDERR_TAIL_BYTES,
  TASK_ID_PATTERN,
} from './constants.ts'
import { parsePluginJson } from './json.ts'
import type { Lane, PluginDescriptor } from './manifest.ts'
import { allowedLanes, checkPolicy, laneOf, type PluginPolicy, PolicyError } from './policy.ts'
import { parseProgressLine } from './progress.ts'
import {
  type CancelTaskResult,
  type ExecuteTaskRequest,
  type ExecuteTaskResponse,
  type PluginInfo,
  SidecarError,
  type TaskState,
  type TaskStatus,
  type VramStatus,
} from './types.ts'

export interface PluginRunnerInit {
  plugins: Map<string, PluginDescriptor>
  /** Plugin folders refused at discovery (name → reason), so that a call names the reason. */
  rejected?: Map<string, string>
  policy: PluginPolicy
  /** Parent of the per-task folders. */
  workDir: string
  /** Remove `workDir` itself on stop (it was created for this runner). @default false */
  ownsWorkDir?: boolean
  /** @default 48 MiB */
  maxStdoutBytes?: number
  /** Cap on the bytes a plugin leaves in its task folder. @default 512 MiB */
  maxOutputFileBytes?: number
  /** Ceiling on any task's timeout. @default 300000 */
  maxTaskMs?: number
  /** @default 900000 (15 min) */
  taskRetentionMs?: number
  /** @default 1000 */
  maxRetainedTasks?: number
  /** @default 500 */
  killGraceMs?: number
  /** Extra environment variables for every plugin. */
  env?: Record<string, string>
  /** Variables of the sidecar's own environment passed on when their name starts with one of these. */
  envPassthroughPrefixes?: readonly string[]
  logger?: Logger
  now?: () => number
}

/** Environment prefixes a plugin inherits from the sidecar, besides PATH/HOME/LANG/TZ. */
export const DEFAULT_ENV_PASSTHROUGH: readonly string[] = ['VORTEX_', 'NSN_PLUGIN_']
const BASE_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ']

type KillReason = 'timeout' | 'cancel' | 'client-gone' | 'oversize' | 'shutdown'

interface TaskRecord {
  taskId: string
  plugin: PluginDescriptor
  lane: Lane
  state: TaskState
  progress: number
  stage: string
  etaMs: number | undefined
  progressAt: number
  startedAt: number
  finishedAt: number
  errorMessage: string
  dir: string
  pid: number
  killReason: KillReason | null
  cancelReason: string
  terminate: (reason: KillReason) => void
  /** Resolves once the process and its pipes are gone. */
  closed: Promise<void>
}

/** What the plugin printed, once parsed: its `output` object and its own duration. */
export interface PluginResult {
  output: Record<string, unknown>
  durationMs: number | null
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    // Negative pid: the whole process group the plugin leads (spawned detached).
    process.kill(-pid, sig)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** The plugin's own error report on stdout (`{"error": "..."}` or `{"error": {"message": ...}}`). */
function pluginErrorMessage(stdout: Buffer): string | null {
  try {
    const v = JSON.parse(stdout.toString('utf8'))
    if (!isObj(v)) return null
    if (typeof v.error === 'string') return v.error
    if (isObj(v.error) && typeof v.error.message === 'string') return v.error.message
  } catch {}
  return null
}

/**
 * Parse a plugin's stdout: one JSON document `{"output": {...}, "duration_ms": N}`. Keys of `output`
 * ending in `_path` must name files inside `taskDir` (relative paths are resolved against it and
 * returned absolute). Throws SidecarError BAD_OUTPUT naming the field.
 */
export async function parsePluginStdout(stdout: Buffer, taskDir: string): Promise<PluginResult> {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(stdout)
  } catch {
    throw new SidecarError('BAD_OUTPUT', 'stdout: not valid UTF-8')
  }
  if (text.trim().length === 0)
    throw new SidecarError('BAD_OUTPUT', 'stdout: empty, expected {"output": {...}}')
  let doc: unknown
  try {
    doc = parsePluginJson(text)
  } catch {
    throw new SidecarError(
      'BAD_OUTPUT',
      `stdout: not one JSON document (starts with ${JSON.stringify(text.trim().slice(0, 60))})`,
    )
  }
  if (!isObj(doc)) throw new SidecarError('BAD_OUTPUT', 'stdout: expected a JSON object')
  const output = doc.output
  if (!isObj(output)) throw new SidecarError('BAD_OUTPUT', 'output: missing or not an object')
  if (typeof output.output_cid !== 'string' || output.output_cid.length === 0)
    throw new SidecarError('BAD_OUTPUT', 'output.output_cid: missing or not a non-empty string')
  let durationMs: number | null = null
  if (doc.duration_ms !== undefined) {
    if (typeof doc.duration_ms !== 'number' || !Number.isFinite(doc.duration_ms) || doc.duration_ms < 0)
      throw new SidecarError('BAD_OUTPUT', 'duration_ms: expected a number >= 0')
    durationMs = doc.duration_ms
  }
  const root = await realpath(taskDir)
  for (const [k, v] of Object.entries(output)) {
    if (!k.endsWith('_path') || v === null || v === '') continue
    if (typeof v !== 'string')
      throw new SidecarError('BAD_OUTPUT', `output.${k}: expected a file path string`)
    let real: string
    try {
      real = await realpath(isAbsolute(v) ? v : resolve(root, v))
    } catch {
      throw new SidecarError(
        'BAD_OUTPUT',
        `output.${k}: file ${JSON.stringify(v.slice(0, 200))} does not exist`,
      )
    }
    if (!real.startsWith(root + sep))
      throw new SidecarError(
        'BAD_OUTPUT',
        `output.${k}: ${JSON.stringify(v.slice(0, 200))} is outside the task folder`,
      )
    if (!(await lstat(real)).isFile())
      throw new SidecarError(
        'BAD_OUTPUT',
        `output.${k}: ${JSON.stringify(v.slice(0, 200))} is not a regular file`,
      )
    output[k] = real
  }
  return { output, durationMs }
}

/** Total bytes of regular files under `dir` (bounded walk). */
async function folderBytes(dir: string, budget = { entries: 10_000 }): Promise<number> {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (--budget.entries < 0)
      throw new SidecarError('OUTPUT_TOO_LARGE', 'task folder: more than 10000 entries')
    const p = join(dir, e.name)
    if (e.isDirectory()) total += await folderBytes(p, budget)
    else if (e.isFile()) total += (await lstat(p)).size
  }
  return total
}

/** Runs plugin tasks; the gRPC server is a thin layer over this. */
export class PluginRunner {
  readonly plugins: Map<string, PluginDescriptor>
  private readonly rejected: Map<string, string>
  private readonly policy: PluginPolicy
  /** Task folders are created here; the director reads file outputs from nowhere else. */
  readonly workDir: string
  private readonly ownsWorkDir: boolean
  private readonly maxStdoutBytes: number
  private readonly maxOutputFileBytes: number
  private readonly maxTaskMs: number
  private readonly retentionMs: number
  private readonly maxRetained: number
  private readonly killGraceMs: number
  private readonly env: Record<string, string>
  private readonly log: Logger
  private readonly now: () => number
  private readonly tasks = new Map<string, TaskRecord>()
  private readonly pruneTimer: NodeJS.Timeout
  private stopping = false

  constructor(init: PluginRunnerInit) {
    this.plugins = init.plugins
    this.rejected = init.rejected ?? new Map()
    this.policy = init.policy
    this.workDir = resolve(init.workDir)
    this.ownsWorkDir = init.ownsWorkDir ?? false
    this.maxStdoutBytes = init.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES
    this.maxOutputFileBytes = init.maxOutputFileBytes ?? DEFAULT_MAX_OUTPUT_FILE_BYTES
    this.maxTaskMs = init.maxTaskMs ?? DEFAULT_MAX_TASK_MS
    this.retentionMs = init.taskRetentionMs ?? DEFAULT_TASK_RETENTION_MS
    this.maxRetained = init.maxRetainedTasks ?? DEFAULT_MAX_RETAINED_TASKS
    this.killGraceMs = init.killGraceMs ?? DEFAULT_KILL_GRACE_MS
    this.log = init.logger ?? pino({ level: 'silent' })
    this.now = init.now ?? Date.now
    const prefixes = init.envPassthroughPrefixes ?? DEFAULT_ENV_PASSTHROUGH
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && (BASE_ENV.includes(k) || prefixes.some((p) => k.startsWith(p)))) env[k] = v
    }
    this.env = { ...env, ...init.env }
    this.pruneTimer = setInterval(
      () => void this.prune(),
      Math.max(50, Math.min(this.retentionMs / 2, 30_000)),
    )
    this.pruneTimer.unref()
  }

  /** Plugins that may run on at least one lane (or on `lane`), as ListPlugins reports them. */
  list(lane?: string): PluginInfo[] {
    const out: PluginInfo[] = []
    for (const p of this.plugins.values()) {
      const { allowed } = allowedLanes(p.manifest, this.policy)
      if (allowed.length === 0) continue
      if (lane !== undefined && lane !== '' && !(allowed as string[]).includes(lane.toLowerCase())) continue
      out.push({
        name: p.manifest.name,
        version: p.manifest.version,
        supportedLanes: [...p.manifest.supported_lanes],
        deterministic: p.manifest.deterministic,
        maxLatencyMs: p.manifest.resources.max_latency_ms,
        vramRequiredMb: Math.round(p.manifest.resources.vram_gb * 1024),
      })
    }
    return out
  }

  get runningCount(): number {
    let n = 0
    for (const t of this.tasks.values()) if (t.state === 'running') n++
    return n
  }

  /** Run one task to completion. Resolves with a successful response; every failure is a SidecarError. */
  execute(req: ExecuteTaskRequest, signal?: AbortSignal): Promise<ExecuteTaskResponse> {
    try {
      return this.start(req, signal)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private start(req: ExecuteTaskRequest, signal?: AbortSignal): Promise<ExecuteTaskResponse> {
    if (this.stopping) throw new SidecarError('UNAVAILABLE', 'sidecar is stopping', true)
    if (!TASK_ID_PATTERN.test(req.taskId))
      throw new SidecarError('INVALID_ARGUMENT', `task_id: must match ${TASK_ID_PATTERN.source}`)
    const plugin = this.plugins.get(req.pluginName)
    if (plugin === undefined) {
      const why = this.rejected.get(req.pluginName)
      throw new SidecarError(
        'UNKNOWN_PLUGIN',
        why === undefined
          ? `plugin_name: no plugin "${req.pluginName.slice(0, 80)}" in the plugins folder`
          : `plugin_name: plugin "${req.pluginName}" was refused at discovery: ${why}`,
      )
    }
    const lane = laneOf(req.lane)
    if (lane === null) throw new SidecarError('INVALID_ARGUMENT', `lane: ${req.lane} is not 0 or 1`)
    try {
      checkPolicy(plugin.manifest, lane, this.policy)
    } catch (err) {
      if (err instanceof PolicyError) throw new SidecarError('POLICY_DENIED', `${err.code}: ${err.message}`)
      throw err
    }
    if (req.parameters.length > MAX_PARAMETERS_BYTES)
      throw new SidecarError(
        'INVALID_ARGUMENT',
        `parameters: ${req.parameters.length} bytes exceeds the limit of ${MAX_PARAMETERS_BYTES}`,
      )
    let input: Uint8Array = req.parameters
    if (input.length === 0) input = new TextEncoder().encode('{}')
    else {
      let parsed: unknown
      try {
        parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(input))
      } catch {
        throw new SidecarError('INVALID_ARGUMENT', 'parameters: not UTF-8 JSON')
      }
      if (!isObj(parsed)) throw new SidecarError('INVALID_ARGUMENT', 'parameters: must be a JSON object')
    }

    const existing = this.tasks.get(req.taskId)
    if (existing?.state === 'running')
      throw new SidecarError('DUPLICATE_TASK', `task_id: "${req.taskId}" is already running`)
    let sameplugin = 0
    let vramUsed = 0
    for (const t of this.tasks.values()) {
      if (t.state !== 'running') continue
      if (t.plugin === plugin) sameplugin++
      vramUsed += t.plugin.manifest.resources.vram_gb
    }
    const m = plugin.manifest
    if (sameplugin >= m.resources.max_concurrency)
      throw new SidecarError(
        'BUSY',
        `plugin "${m.name}" already runs ${sameplugin} task(s), its max_concurrency is ${m.resources.max_concurrency}`,
      )
    if (m.resources.vram_gb > 0 && vramUsed + m.resources.vram_gb > this.policy.maxVramGb)
      throw new SidecarError(
        'BUSY',
        `plugin "${m.name}" declares ${m.resources.vram_gb} GB VRAM, ${vramUsed} of the ${this.policy.maxVramGb} GB budget is in use`,
      )
    const requested = req.timeoutMs > 0 ? req.timeoutMs : Number.POSITIVE_INFINITY
    const timeoutMs = Math.min(requested, m.resources.max_latency_ms, this.maxTaskMs)

    // From the checks above to the record in `run`, nothing awaits: two calls with one task id
    // cannot both pass the duplicate check.
    if (existing !== undefined) {
      this.tasks.delete(existing.taskId)
      void rm(existing.dir, { recursive: true, force: true })
    }
    const dir = join(this.workDir, `${req.taskId.replace(/:/g, '_')}-${randomBytes(4).toString('hex')}`)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    return this.run(req, plugin, lane, dir, input, timeoutMs, signal)
  }

  private run(
    req: ExecuteTaskRequest,
    plugin: PluginDescriptor,
    lane: Lane,
    dir: string,
    input: Uint8Array,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<ExecuteTaskResponse> {
    const log = this.log.child({ task: req.taskId, plugin: plugin.manifest.name })
    const startedAt = this.now()
    const env: Record<string, string> = {
      ...this.env,
      NSN_TASK_ID: req.taskId,
      NSN_TASK_DIR: dir,
      NSN_PLUGIN_NAME: plugin.manifest.name,
      NSN_LANE: lane,
      NSN_TIMEOUT_MS: String(timeoutMs),
      NSN_INPUT_CID: req.inputCid ?? '',
      NSN_MODEL_ID: req.modelId ?? '',
      // The reference Python plugin writes its files under VORTEX_OUTPUT_PATH.
      VORTEX_OUTPUT_PATH: dir,
      TMPDIR: dir,
    }
    const { args, stdin } = plugin.viaRunner
      ? runnerInvocation(req, plugin, lane, input, timeoutMs)
      : { args: plugin.args, stdin: input }
    let child: ChildProcess
    try {
      child = spawn(plugin.command, args, {
        cwd: plugin.dir,
        env,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    } catch (err) {
      void rm(dir, { recursive: true, force: true })
      throw new SidecarError(
        'PLUGIN_FAILED',
        `plugin "${plugin.manifest.name}" cannot start: ${(err as Error).message}`,
      )
    }
    let resolveClosed!: () => void
    const closedPromise = new Promise<void>((r) => {
      resolveClosed = r
    })
    const closed = { promise: closedPromise, resolve: () => resolveClosed() }
    const rec: TaskRecord = {
      taskId: req.taskId,
      plugin,
      lane,
      state: 'running',
      progress: 0,
      stage: 'starting',
      etaMs: undefined,
      progressAt: startedAt,
      startedAt,
      finishedAt: 0,
      errorMessage: '',
      dir,
      pid: child.pid ?? -1,
      killReason: null,
      cancelReason: '',
      terminate: () => {},
      closed: closed.promise,
    }
    this.tasks.set(req.taskId, rec)
    log.info({ pid: rec.pid, timeoutMs, stage: 'started' }, 'plugin task started')

    const stdout: Buffer[] = []
    let stdoutBytes = 0
    let stderrTail = ''
    let spawnError: Error | null = null
    let graceTimer: NodeJS.Timeout | undefined
    let exitCode: number | null = null
    let exitSignal: NodeJS.Signals | null = null
    let exited = false

    const terminate = (reason: KillReason) => {
      if (rec.killReason !== null || exited || rec.pid < 0) return
      rec.killReason = reason
      log.info({ reason, stage: 'killing' }, 'killing plugin process group')
      if (reason === 'oversize' || reason === 'shutdown') killGroup(rec.pid, 'SIGKILL')
      else {
        killGroup(rec.pid, 'SIGTERM')
        graceTimer = setTimeout(() => killGroup(rec.pid, 'SIGKILL'), this.killGraceMs)
      }
    }
    rec.terminate = terminate
    const timer = setTimeout(() => terminate('timeout'), timeoutMs)
    const onAbort = () => terminate('client-gone')
    signal?.addEventListener('abort', onAbort, { once: true })
    if (signal?.aborted) onAbort()

    child.stdout?.on('data', (b: Buffer) => {
      stdoutBytes += b.length
      if (stdoutBytes > this.maxStdoutBytes) {
        terminate('oversize')
        return
      }
      stdout.push(b)
    })
    let partial = ''
    let skipping = false
    const onLine = (line: string) => {
      const p = parseProgressLine(line)
      if (p === null) {
        stderrTail = `${stderrTail}${line}\n`.slice(-STDERR_TAIL_BYTES)
        log.debug({ line: line.slice(0, 500) }, 'plugin stderr')
      } else if (p !== 'malformed') {
        rec.progress = p.progress
        rec.stage = p.stage
        rec.etaMs = p.etaMs
        rec.progressAt = this.now()
      }
    }
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (s: string) => {
      let text = partial + s
      partial = ''
      let nl = text.indexOf('\n')
      while (nl !== -1) {
        if (!skipping) onLine(text.slice(0, nl))
        skipping = false
        text = text.slice(nl + 1)
        nl = text.indexOf('\n')
      }
      if (text.length > MAX_STDERR_LINE_BYTES) {
        // An endless line: keep its head, drop the rest up to the next newline.
        if (!skipping) onLine(text.slice(0, MAX_STDERR_LINE_BYTES))
        skipping = true
      } else partial = text
    })
    child.stdin?.on('error', () => {}) // a plugin may exit without reading its input
    child.stdin?.end(stdin)

    child.on('error', (err) => {
      spawnError = err
      closed.resolve()
    })
    child.on('exit', (code, sig) => {
      exited = true
      exitCode = code
      exitSignal = sig
      // Anything the plugin left behind in its group goes with it: no orphans.
      if (rec.pid > 0) killGroup(rec.pid, 'SIGKILL')
      // A descendant that left the group could hold the pipes open: do not wait for it forever.
      setTimeout(() => {
        child.stdout?.destroy()
        child.stderr?.destroy()
        closed.resolve()
      }, 2_000).unref()
    })
    child.on('close', () => closed.resolve())

    return closed.promise.then(async () => {
      clearTimeout(timer)
      clearTimeout(graceTimer)
      signal?.removeEventListener('abort', onAbort)
      if (partial !== '') onLine(partial)
      const elapsed = this.now() - startedAt
      const name = plugin.manifest.name
      try {
        if (spawnError !== null)
          throw new SidecarError(
            'PLUGIN_FAILED',
            `plugin "${name}" cannot start: ${(spawnError as Error).message}`,
          )
        switch (rec.killReason) {
          case 'timeout':
            throw new SidecarError(
              'PLUGIN_TIMEOUT',
              `plugin "${name}" exceeded its timeout of ${timeoutMs} ms`,
            )
          case 'cancel':
            throw new SidecarError(
              'CANCELLED',
              `task cancelled${rec.cancelReason ? `: ${rec.cancelReason}` : ''}`,
            )
          case 'client-gone':
            throw new SidecarError('CANCELLED', 'task cancelled: the caller went away')
          case 'oversize':
            throw new SidecarError(
              'OUTPUT_TOO_LARGE',
              `stdout: plugin "${name}" wrote more than ${this.maxStdoutBytes} bytes`,
            )
          case 'shutdown':
            throw new SidecarError('UNAVAILABLE', 'sidecar is stopping', true)
        }
        const out = Buffer.concat(stdout)
        if (exitCode !== 0 || exitSignal !== null) {
          const why = pluginErrorMessage(out) ?? stderrTail.trim().split('\n').slice(-5).join(' | ')
          const how = exitSignal !== null ? `was killed by ${exitSignal}` : `exited with code ${exitCode}`
          // Exit code 2: the plugin refused its input (docs/sidecar.md); retrying cannot help either way.
          const code = exitCode === 2 ? 'INVALID_ARGUMENT' : 'PLUGIN_FAILED'
          throw new SidecarError(code, `plugin "${name}" ${how}${why ? `: ${why.slice(0, 1000)}` : ''}`)
        }
        const result = await parsePluginStdout(out, dir)
        const bytes = await folderBytes(dir)
        if (bytes > this.maxOutputFileBytes)
          throw new SidecarError(
            'OUTPUT_TOO_LARGE',
            `task folder: plugin "${name}" left ${bytes} bytes, more than ${this.maxOutputFileBytes}`,
          )
        this.finish(rec, 'completed', '')
        log.info({ ms: elapsed, stage: 'completed' }, 'plugin task completed')
        return {
          success: true,
          errorMessage: '',
          outputCid: result.output.output_cid as string,
          executionTimeMs: elapsed,
          resultMetadata: new TextEncoder().encode(JSON.stringify(result.output)),
        }
      } catch (err) {
        const e =
          err instanceof SidecarError
            ? err
            : new SidecarError('INTERNAL', `internal error: ${(err as Error).message}`)
        this.finish(rec, e.code === 'CANCELLED' ? 'cancelled' : 'failed', e.message)
        log.info({ ms: elapsed, code: e.code, stage: 'failed' }, 'plugin task failed')
        // Nothing in a failed task's folder is for anyone: remove it now.
        await rm(dir, { recursive: true, force: true })
        throw e
      }
    })
  }

  private finish(rec: TaskRecord, state: TaskState, error: string): void {
    rec.state = state
    rec.errorMessage = error
    rec.finishedAt = this.now()
    if (state === 'completed') {
      rec.progress = 1
      rec.etaMs = 0
    }
  }

  /** GetTaskStatus. Throws NOT_FOUND for an unknown or pruned task. */
  status(taskId: string): TaskStatus {
    const t = this.tasks.get(taskId)
    if (t === undefined) throw new SidecarError('NOT_FOUND', `task_id: no task "${taskId.slice(0, 128)}"`)
    let etaMs = 0
    if (t.state === 'running') {
      const now = this.now()
      if (t.etaMs !== undefined) etaMs = Math.max(0, t.etaMs - (now - t.progressAt))
      else if (t.progress > 0) etaMs = ((t.progressAt - t.startedAt) * (1 - t.progress)) / t.progress
    }
    return {
      status: t.state,
      progress: t.progress,
      errorMessage: t.errorMessage,
      currentStage: t.stage,
      etaMs: Math.round(etaMs),
    }
  }

  /** CancelTask: kills a running task's process tree and resolves once it is gone. */
  async cancel(taskId: string, reason = ''): Promise<CancelTaskResult> {
    const t = this.tasks.get(taskId)
    if (t === undefined)
      return { success: false, errorMessage: `task_id: no task "${taskId.slice(0, 128)}"`, wasRunning: false }
    if (t.state !== 'running')
      return { success: false, errorMessage: `task is already ${t.state}`, wasRunning: false }
    t.cancelReason = reason.slice(0, 200)
    t.terminate('cancel')
    await t.closed
    return { success: true, errorMessage: '', wasRunning: true }
  }

  /** GetVramStatus: declared figures only. */
  vram(): VramStatus {
    const allocations: VramStatus['modelAllocations'] = []
    let used = 0
    for (const t of this.tasks.values()) {
      if (t.state !== 'running') continue
      const gb = t.plugin.manifest.resources.vram_gb
      used += gb
      allocations.push({ modelId: t.plugin.manifest.name, vramGb: gb, containerId: t.taskId })
    }
    return {
      totalVramGb: this.policy.maxVramGb,
      usedVramGb: used,
      availableVramGb: Math.max(0, this.policy.maxVramGb - used),
      modelAllocations: allocations,
    }
  }

  /** The pid of a running task's plugin (tests check that it is gone afterwards). */
  pidOf(taskId: string): number | null {
    const t = this.tasks.get(taskId)
    return t === undefined || t.pid < 0 ? null : t.pid
  }

  private async forget(t: TaskRecord): Promise<void> {
    this.tasks.delete(t.taskId)
    await rm(t.dir, { recursive: true, force: true })
  }

  /** Drop finished records older than the retention period (and beyond the count cap), with their folders. */
  async prune(): Promise<number> {
    const now = this.now()
    const finished = [...this.tasks.values()]
      .filter((t) => t.state !== 'running')
      .sort((a, b) => a.finishedAt - b.finishedAt)
    let excess = finished.length - this.maxRetained
    let n = 0
    for (const t of finished) {
      if (excess > 0 || now - t.finishedAt >= this.retentionMs) {
        excess--
        n++
        await this.forget(t)
      }
    }
    return n
  }

  /** Kill every running task, wait for the processes to go, remove the task folders. */
  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    clearInterval(this.pruneTimer)
    const running = [...this.tasks.values()].filter((t) => t.state === 'running')
    for (const t of running) t.terminate('shutdown')
    await Promise.allSettled(running.map((t) => t.closed))
    for (const t of [...this.tasks.values()]) await this.forget(t)
    if (this.ownsWorkDir) await rm(this.workDir, { recursive: true, force: true })
  }
}

/**
 * Largest payload passed as one `--payload` argument. Linux caps one argument at 128 KiB
 * (MAX_ARG_STRLEN) and all of them plus the environment at ARG_MAX; beyond this the payload goes on
 * stdin with `--payload -` (docs/sidecar.md).
 */
export const MAX_PAYLOAD_ARGUMENT_BYTES = 96 * 1024

/**
 * How the reference Vortex runner is called: `<runner> --plugin NAME --payload JSON --timeout-ms N`,
 * the payload being the request's parameters plus `input_cid, task_id, lane, plugin, model_id`
 * (what the reference sidecar adds). Integers keep every digit (lossless JSON both ways).
 */
export function runnerInvocation(
  req: ExecuteTaskRequest,
  plugin: PluginDescriptor,
  lane: Lane,
  input: Uint8Array,
  timeoutMs: number,
): { args: string[]; stdin: Uint8Array } {
  const params = parseJsonExact(new TextDecoder().decode(input)) as Record<string, unknown>
  const payload = losslessStringify({
    ...params,
    input_cid: req.inputCid ?? '',
    task_id: req.taskId,
    lane: lane === 'lane0' ? 0 : 1,
    plugin: plugin.manifest.name,
    model_id: req.modelId ?? '',
  }) as string
  const timeout = Number.isFinite(timeoutMs) ? ['--timeout-ms', String(Math.floor(timeoutMs))] : []
  if (Buffer.byteLength(payload) <= MAX_PAYLOAD_ARGUMENT_BYTES)
    return { args: [...plugin.args, '--payload', payload, ...timeout], stdin: new Uint8Array(0) }
  return { args: [...plugin.args, '--payload', '-', ...timeout], stdin: new TextEncoder().encode(payload) }
}
