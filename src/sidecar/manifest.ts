// Plugin manifests (docs/protocol.md §9): `<plugins dir>/<name>/manifest.yaml` parsed, validated field by
// field, and the entrypoint resolved to a command line. Discovery never runs plugin code.
import { type Dirent, constants as fsConstants } from 'node:fs'
import { access, readdir, readFile, stat } from 'node:fs/promises'
import { extname, isAbsolute, join, normalize, resolve, sep } from 'node:path'
import { parse as parseYaml } from 'yaml'

export type ManifestErrorCode =
  | 'UNREADABLE'
  | 'INVALID_YAML'
  | 'MISSING_FIELD'
  | 'UNKNOWN_FIELD'
  | 'INVALID_TYPE'
  | 'INVALID_VALUE'
  | 'OUT_OF_BOUNDS'
  | 'UNSUPPORTED_VERSION'
  | 'NAME_MISMATCH'
  | 'BAD_ENTRYPOINT'

/** A manifest that cannot be used; `field` is the dotted manifest path (e.g. `resources.vram_gb`). */
export class ManifestError extends Error {
  override readonly name = 'ManifestError'
  constructor(
    readonly code: ManifestErrorCode,
    readonly field: string,
    message: string,
    /** The manifest file concerned. */
    readonly file = '',
  ) {
    super(file === '' ? message : `${file}: ${message}`)
  }
}

export type Lane = 'lane0' | 'lane1'
export const LANES: readonly Lane[] = ['lane0', 'lane1']

export interface PluginManifest {
  schema_version: string
  name: string
  version: string
  entrypoint: string
  description: string
  supported_lanes: Lane[]
  deterministic: boolean
  resources: { vram_gb: number; max_latency_ms: number; max_concurrency: number }
  io: { input_schema: Record<string, unknown>; output_schema: Record<string, unknown> }
}

/** A validated plugin, ready to run. */
export interface PluginDescriptor {
  manifest: PluginManifest
  /** Absolute plugin folder (the child's working directory). */
  dir: string
  /** Absolute path of the manifest file. */
  manifestPath: string
  /** Program and arguments that start the plugin. */
  command: string
  args: string[]
  /**
   * `module:Class` entrypoint run through the plugin runner command (the reference Vortex form):
   * the payload goes as `--payload JSON [--timeout-ms N]` arguments, not as stdin.
   */
  viaRunner: boolean
}

/** Manifest schema versions this sidecar understands. */
export const SUPPORTED_SCHEMA_VERSIONS: readonly string[] = ['1.0']

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/
const MAX_STRING_BYTES = 1024
const MAX_LATENCY_MS = 3_600_000
const MAX_CONCURRENCY = 1024
const MAX_VRAM_GB = 1024
const TOP_KEYS = new Set([
  'schema_version',
  'name',
  'version',
  'entrypoint',
  'description',
  'supported_lanes',
  'deterministic',
  'resources',
  'io',
])
const RESOURCE_KEYS = new Set(['vram_gb', 'max_latency_ms', 'max_concurrency'])
const IO_KEYS = new Set(['input_schema', 'output_schema'])

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  return typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`
}

function fieldOf(obj: Obj, key: string, path: string, file: string): unknown {
  if (!(key in obj) || obj[key] === undefined || obj[key] === null)
    throw new ManifestError('MISSING_FIELD', path, `${path}: required field is missing`, file)
  return obj[key]
}

function str(obj: Obj, key: string, path: string, file: string): string {
  const v = fieldOf(obj, key, path, file)
  if (typeof v !== 'string')
    throw new ManifestError('INVALID_TYPE', path, `${path}: expected a string, got ${describe(v)}`, file)
  if (v.trim().length === 0)
    throw new ManifestError('MISSING_FIELD', path, `${path}: must not be empty`, file)
  if (Buffer.byteLength(v) > MAX_STRING_BYTES)
    throw new ManifestError('OUT_OF_BOUNDS', path, `${path}: longer than ${MAX_STRING_BYTES} bytes`, file)
  return v
}

function int(obj: Obj, key: string, path: string, file: string, min: number, max: number): number {
  const v = fieldOf(obj, key, path, file)
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new ManifestError('INVALID_TYPE', path, `${path}: expected an integer, got ${describe(v)}`, file)
  if (v < min || v > max)
    throw new ManifestError('OUT_OF_BOUNDS', path, `${path}: ${v} is outside ${min}..${max}`, file)
  return v
}

function noUnknown(obj: Obj, known: Set<string>, prefix: string, file: string): void {
  for (const k of Object.keys(obj)) {
    if (!known.has(k)) {
      const path = prefix === '' ? k : `${prefix}.${k}`
      throw new ManifestError('UNKNOWN_FIELD', path, `${path}: unknown manifest field`, file)
    }
  }
}

/** Validate a parsed manifest (no file system access). */
export function validateManifest(value: unknown, file = ''): PluginManifest {
  if (!isObj(value))
    throw new ManifestError('INVALID_TYPE', '', `manifest must be a mapping, got ${describe(value)}`, file)
  noUnknown(value, TOP_KEYS, '', file)

  const schemaVersion = str(value, 'schema_version', 'schema_version', file)
  if (!SUPPORTED_SCHEMA_VERSIONS.includes(schemaVersion))
    throw new ManifestError(
      'UNSUPPORTED_VERSION',
      'schema_version',
      `schema_version: "${schemaVersion}" is not one of ${SUPPORTED_SCHEMA_VERSIONS.join(', ')}`,
      file,
    )
  const name = str(value, 'name', 'name', file)
  if (!NAME_PATTERN.test(name))
    throw new ManifestError(
      'INVALID_VALUE',
      'name',
      `name: "${name.slice(0, 70)}" must match ${NAME_PATTERN.source}`,
      file,
    )
  const version = str(value, 'version', 'version', file)
  const entrypoint = str(value, 'entrypoint', 'entrypoint', file)
  const description = str(value, 'description', 'description', file)

  const lanesRaw = fieldOf(value, 'supported_lanes', 'supported_lanes', file)
  if (!Array.isArray(lanesRaw))
    throw new ManifestError(
      'INVALID_TYPE',
      'supported_lanes',
      `supported_lanes: expected a list, got ${describe(lanesRaw)}`,
      file,
    )
  if (lanesRaw.length === 0)
    throw new ManifestError('MISSING_FIELD', 'supported_lanes', 'supported_lanes: must not be empty', file)
  const lanes: Lane[] = []
  for (const [i, l] of lanesRaw.entries()) {
    const lane = typeof l === 'string' ? l.toLowerCase() : ''
    if (!(LANES as readonly string[]).includes(lane))
      throw new ManifestError(
        'INVALID_VALUE',
        `supported_lanes[${i}]`,
        `supported_lanes[${i}]: ${describe(l)} is not one of ${LANES.join(', ')}`,
        file,
      )
    if (!lanes.includes(lane as Lane)) lanes.push(lane as Lane)
  }

  const deterministic = fieldOf(value, 'deterministic', 'deterministic', file)
  if (typeof deterministic !== 'boolean')
    throw new ManifestError(
      'INVALID_TYPE',
      'deterministic',
      `deterministic: expected true or false, got ${describe(deterministic)}`,
      file,
    )

  const res = fieldOf(value, 'resources', 'resources', file)
  if (!isObj(res))
    throw new ManifestError(
      'INVALID_TYPE',
      'resources',
      `resources: expected a mapping, got ${describe(res)}`,
      file,
    )
  noUnknown(res, RESOURCE_KEYS, 'resources', file)
  const vram = fieldOf(res, 'vram_gb', 'resources.vram_gb', file)
  if (typeof vram !== 'number' || !Number.isFinite(vram))
    throw new ManifestError(
      'INVALID_TYPE',
      'resources.vram_gb',
      `resources.vram_gb: expected a number, got ${describe(vram)}`,
      file,
    )
  // 0 is allowed (the reference demands > 0): a CPU-only plugin honestly needs no VRAM.
  if (vram < 0 || vram > MAX_VRAM_GB)
    throw new ManifestError(
      'OUT_OF_BOUNDS',
      'resources.vram_gb',
      `resources.vram_gb: ${vram} is outside 0..${MAX_VRAM_GB}`,
      file,
    )
  const maxLatency = int(res, 'max_latency_ms', 'resources.max_latency_ms', file, 1, MAX_LATENCY_MS)
  const maxConc = int(res, 'max_concurrency', 'resources.max_concurrency', file, 1, MAX_CONCURRENCY)

  const io = fieldOf(value, 'io', 'io', file)
  if (!isObj(io))
    throw new ManifestError('INVALID_TYPE', 'io', `io: expected a mapping, got ${describe(io)}`, file)
  noUnknown(io, IO_KEYS, 'io', file)
  const inputSchema = fieldOf(io, 'input_schema', 'io.input_schema', file)
  const outputSchema = fieldOf(io, 'output_schema', 'io.output_schema', file)
  if (!isObj(inputSchema))
    throw new ManifestError('INVALID_TYPE', 'io.input_schema', 'io.input_schema: expected a mapping', file)
  if (!isObj(outputSchema))
    throw new ManifestError('INVALID_TYPE', 'io.output_schema', 'io.output_schema: expected a mapping', file)

  return {
    schema_version: schemaVersion,
    name,
    version,
    entrypoint,
    description,
    supported_lanes: lanes,
    deterministic,
    resources: { vram_gb: vram, max_latency_ms: maxLatency, max_concurrency: maxConc },
    io: { input_schema: inputSchema, output_schema: outputSchema },
  }
}

export interface CommandOptions {
  /** `--import` target that lets node run TypeScript (tsx's loader URL). */
  tsxImport: string
  /** The node binary. @default process.execPath */
  nodePath?: string
  /**
   * The command that runs `module:Class` entrypoints, e.g. `['python3', '-m', 'vortex.plugins.runner']`
   * (the reference Vortex runner); `--plugin NAME` is appended. Empty or absent: such manifests are
   * refused. @default []
   */
  runnerCommand?: readonly string[]
}

/** The reference Vortex entrypoint form: a dotted Python module and a class name. */
export const MODULE_CLASS_PATTERN =
  /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$/

/**
 * How an entrypoint runs: `.js/.mjs/.cjs` with node, `.ts/.mts` with node + tsx, anything else as an
 * executable file. The path must stay inside the plugin folder.
 */
export async function resolveEntrypoint(
  dir: string,
  manifest: PluginManifest,
  opts: CommandOptions,
  file = '',
): Promise<{ command: string; args: string[]; viaRunner: boolean }> {
  const ep = manifest.entrypoint
  const bad = (why: string) =>
    new ManifestError('BAD_ENTRYPOINT', 'entrypoint', `entrypoint: "${ep}" ${why}`, file)
  if (MODULE_CLASS_PATTERN.test(ep)) {
    const runner = opts.runnerCommand ?? []
    if (runner.length === 0 || runner[0] === '')
      throw bad(
        'is a module:Class entrypoint, but no plugin runner command is configured (sidecar.runnerCommand)',
      )
    return { command: runner[0]!, args: [...runner.slice(1), '--plugin', manifest.name], viaRunner: true }
  }
  if (isAbsolute(ep) || normalize(ep).split(/[\\/]/).includes('..'))
    throw bad('must be a path inside the plugin folder')
  const full = resolve(dir, ep)
  if (!full.startsWith(dir + sep)) throw bad('must be a path inside the plugin folder')
  let st: Awaited<ReturnType<typeof stat>>
  try {
    st = await stat(full)
  } catch {
    throw bad('does not name a file in the plugin folder (nor is it of the form module:Class)')
  }
  if (!st.isFile()) throw bad('is not a regular file')
  const node = opts.nodePath ?? process.execPath
  const ext = extname(full)
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs')
    return { command: node, args: [full], viaRunner: false }
  if (ext === '.ts' || ext === '.mts')
    return { command: node, args: ['--import', opts.tsxImport, full], viaRunner: false }
  try {
    await access(full, fsConstants.X_OK)
  } catch {
    throw bad('is neither a .js/.mjs/.ts file nor executable')
  }
  return { command: full, args: [], viaRunner: false }
}

/** Read, validate and resolve one plugin folder. */
export async function loadPlugin(dir: string, opts: CommandOptions): Promise<PluginDescriptor | null> {
  const abs = resolve(dir)
  let manifestPath = join(abs, 'manifest.yaml')
  let text: string
  try {
    text = await readFile(manifestPath, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new ManifestError('UNREADABLE', '', `cannot read: ${(err as Error).message}`, manifestPath)
    manifestPath = join(abs, 'manifest.yml')
    try {
      text = await readFile(manifestPath, 'utf8')
    } catch {
      return null // not a plugin folder
    }
  }
  let parsed: unknown
  try {
    parsed = parseYaml(text, { maxAliasCount: 100, uniqueKeys: true })
  } catch (err) {
    throw new ManifestError('INVALID_YAML', '', `not valid YAML: ${(err as Error).message}`, manifestPath)
  }
  const manifest = validateManifest(parsed, manifestPath)
  const folder = abs.split(sep).pop() ?? ''
  if (folder !== manifest.name)
    throw new ManifestError(
      'NAME_MISMATCH',
      'name',
      `name: "${manifest.name}" differs from its folder "${folder}"`,
      manifestPath,
    )
  const { command, args, viaRunner } = await resolveEntrypoint(abs, manifest, opts, manifestPath)
  return { manifest, dir: abs, manifestPath, command, args, viaRunner }
}

export interface Discovery {
  plugins: Map<string, PluginDescriptor>
  /** Plugin folders that were refused, with the reason; they never run. */
  rejected: { dir: string; name: string; error: ManifestError }[]
}

/**
 * Scan `<pluginsDir>/<name>/manifest.yaml`. A bad manifest rejects that plugin only. Names are unique
 * because each must equal its folder name.
 */
export async function discoverPlugins(pluginsDir: string, opts: CommandOptions): Promise<Discovery> {
  const root = resolve(pluginsDir)
  let entries: Dirent[]
  try {
    entries = await readdir(root, { withFileTypes: true })
  } catch (err) {
    throw new ManifestError(
      'UNREADABLE',
      '',
      `plugins folder cannot be read: ${(err as Error).message}`,
      root,
    )
  }
  const plugins = new Map<string, PluginDescriptor>()
  const rejected: Discovery['rejected'] = []
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isDirectory()) continue
    const dir = join(root, e.name)
    try {
      const p = await loadPlugin(dir, opts)
      if (p === null) continue
      plugins.set(p.manifest.name, p)
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err
      rejected.push({ dir, name: e.name, error: err })
    }
  }
  return { plugins, rejected }
}
