// The node's one configuration schema: every key, its default and its type, derived from the
// defaults objects the components export (LANE0_DEFAULTS, DEFAULT_RECIPE_BOUNDS, mesh and rate
// limits), so a default lives in one place. Sources, weakest first: defaults < profile < YAML file
// < environment (NSN_SECTION_KEY) < flags (--set section.key=value). An unknown key or a bad value
// is a ConfigError naming the key.
import { readFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { parse as parseYaml } from 'yaml'
import { LANE0_DEFAULTS, Lane0ConfigError, validateLane0Config } from '../lane0/index.ts'
import {
  CONNECTION_LIMIT_DEFAULTS,
  DEFAULT_LISTEN_ADDRS,
  DEFAULT_VIDEO_PUBLISH_PEERS,
  GOSSIP_MESH_DEFAULTS,
  RATE_LIMIT_DEFAULTS,
  REACHABILITY_DEFAULTS,
} from '../p2p/index.ts'
import { SLOT_FETCH_DEFAULTS } from '../p2p/slot-fetch.ts'
import { DEFAULT_SIDECAR_HOST, DEFAULT_SIDECAR_PORT } from '../sidecar/constants.ts'
import { DEFAULT_RECIPE_BOUNDS } from '../types/index.ts'
import { LOG_FORMATS } from './logging.ts'

export type ConfigErrorCode =
  | 'UNKNOWN_KEY'
  | 'INVALID_TYPE'
  | 'INVALID_VALUE'
  | 'OUT_OF_BOUNDS'
  | 'PARSE'
  | 'NOT_FOUND'

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(
    readonly code: ConfigErrorCode,
    /** Dotted key, e.g. `lane0.bftTimeoutMs`. */
    readonly key: string,
    message: string,
  ) {
    super(message)
  }
}

type Leaf = number | string | boolean | readonly string[]

/** Allowed values of string keys that are enumerations. */
const ENUMS: Record<string, readonly string[]> = {
  'node.role': ['director', 'viewer'],
  'node.logLevel': ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  'node.logFormat': LOG_FORMATS,
  'chain.kind': ['dev', 'substrate'],
  'sidecar.mode': ['embedded', 'external'],
  'p2p.dhtMode': ['auto', 'server', 'client'],
}

/** Defaults of every key. Sections mirror the components the composition root builds. */
export const CONFIG_DEFAULTS = {
  node: {
    /** director: generates, votes, publishes, relays; viewer: relays and serves the viewer page. */
    role: 'director',
    /** Key file, journal and sidecar task files live here. */
    dataDir: '.nsn',
    /**
     * Node key file (from `nsn keygen --out <file>`). Empty: `<dataDir>/node.key`, created on first
     * start. A key file named here that does not exist is refused unless `createKeyFile` is true.
     */
    keyFile: '',
    /** Create `keyFile` when it does not exist (a new identity, logged with its PeerId). */
    createKeyFile: false,
    logLevel: 'info',
    /** Log lines on stderr: json, pretty (one readable line each), or auto (pretty when stdout is a terminal). */
    logFormat: 'auto',
  },
  http: {
    /** /metrics, /health, /api/status and the viewer page. Loopback unless you mean it. */
    host: '127.0.0.1',
    /** 0 picks a free port (printed at start). */
    port: 9100,
  },
  p2p: {
    /** All interfaces: peers on other hosts must reach a node (HTTP and the sidecar stay on loopback). */
    listen: DEFAULT_LISTEN_ADDRS,
    announce: [] as readonly string[],
    /** Multiaddrs ending in /p2p/<PeerId>. */
    bootstrap: [] as readonly string[],
    mdns: false,
    meshD: GOSSIP_MESH_DEFAULTS.D,
    meshDlo: GOSSIP_MESH_DEFAULTS.Dlo,
    meshDhi: GOSSIP_MESH_DEFAULTS.Dhi,
    heartbeatMs: GOSSIP_MESH_DEFAULTS.heartbeatMs,
    rateLimit: true,
    rateLimitMessagesPerMinute: RATE_LIMIT_DEFAULTS.messagesPerMinute,
    rateLimitVideoChunksPerMinute: RATE_LIMIT_DEFAULTS.videoChunksPerMinute,
    /** Mesh peers each video chunk is published to, rotating (0 = every mesh peer). */
    videoPublishPeers: DEFAULT_VIDEO_PUBLISH_PEERS,
    /** Kademlia DHT on /nsn/kad/1.0.0: finds peers and directors from one bootstrap address. */
    dht: REACHABILITY_DEFAULTS.dht,
    /** auto: DHT server once AutoNAT confirms a public address; server on bootstrap nodes. */
    dhtMode: REACHABILITY_DEFAULTS.dhtMode as string,
    /** Keep private/loopback addresses in DHT records (LAN, one machine); false on the internet. */
    dhtPrivateAddresses: REACHABILITY_DEFAULTS.dhtPrivateAddresses,
    autonat: REACHABILITY_DEFAULTS.autonat,
    /** Serve as a circuit relay v2 for nodes behind NAT (reachable nodes). */
    relayServer: REACHABILITY_DEFAULTS.relayServer,
    relayMaxReservations: REACHABILITY_DEFAULTS.relayMaxReservations,
    /** Bytes one relayed connection may carry before the relay resets it. */
    relayDataLimitBytes: REACHABILITY_DEFAULTS.relayDataLimitBytes,
    relayDurationLimitMs: REACHABILITY_DEFAULTS.relayDurationLimitMs,
    /** Behind NAT: reserve a relay slot and advertise the relayed address. */
    relayReserve: REACHABILITY_DEFAULTS.relayReserve,
    /** DCUtR hole punching (relayed connection to direct). */
    dcutr: REACHABILITY_DEFAULTS.dcutr,
    /** Map the listen port on the home router with UPnP. */
    upnp: REACHABILITY_DEFAULTS.upnp,
    maxConnections: CONNECTION_LIMIT_DEFAULTS.maxConnections,
    /** Connections from one remote IP (loopback exempt). */
    maxConnectionsPerIp: CONNECTION_LIMIT_DEFAULTS.maxConnectionsPerIp,
    /** Inbound connections still in their handshake. */
    maxPendingInbound: CONNECTION_LIMIT_DEFAULTS.maxPendingInbound,
    /** Inbound connections one host may open per second. */
    inboundPerSecondPerHost: CONNECTION_LIMIT_DEFAULTS.inboundPerSecondPerHost,
  },
  chain: {
    kind: 'dev',
    /** WebSocket endpoint of the dev chain or of a Substrate node. */
    url: 'ws://127.0.0.1:9955',
  },
  sidecar: {
    /** embedded: this process runs the gRPC sidecar on 127.0.0.1; external: connect to `url`. */
    mode: 'embedded',
    url: `${DEFAULT_SIDECAR_HOST}:${DEFAULT_SIDECAR_PORT}`,
    /** Plugins folder (embedded mode). Relative paths are from the package root. */
    pluginsDir: 'plugins',
    /**
     * The sidecar's work folder, the only place the director reads plugin output files from (by real
     * path). Empty: embedded mode uses `<dataDir>/sidecar`; external mode then takes inline outputs only.
     */
    workDir: '',
    /**
     * Runs plugins whose manifest entrypoint is `module:Class` (the reference Vortex form), as
     * `<command> --plugin NAME --payload JSON --timeout-ms N` (docs/sidecar.md). Empty: refused.
     */
    runnerCommand: ['python3', '-m', 'vortex.plugins.runner'] as readonly string[],
    /**
     * PYTHONPATH of the runner: the folder holding the `vortex` package (a Vortex checkout's `src`).
     * Relative paths are from the package root; the default is this project's minimal runner.
     */
    runnerPythonPath: 'plugins/python',
  },
  vortex: {
    /** Rendered resolution cap of the reference plugin, WxH (CPU machines: keep it small). */
    maxResolution: '320x240',
    /** Standard deviation of the noise the plugin adds to its embedding (0: none). */
    embeddingNoise: 0,
  },
  archive: {
    /** Video bytes of certified slots kept under `<dataDir>/archive`, oldest evicted first; 0 keeps none. */
    maxBytes: 1_073_741_824,
  },
  /** Slot fetch from peers, /nsn/slot/1.0.0 (docs/protocol.md §12): bounds of serving and fetching. */
  slotFetch: { ...SLOT_FETCH_DEFAULTS },
  lane0: { ...LANE0_DEFAULTS, recipeAuthors: [] as readonly string[], epochDirectorsAreAuthors: true },
  recipes: { ...DEFAULT_RECIPE_BOUNDS },
} as const

type Widen<T> = T extends number
  ? number
  : T extends string
    ? string
    : T extends boolean
      ? boolean
      : T extends readonly string[]
        ? readonly string[]
        : T
type Config<T> = { -readonly [S in keyof T]: { -readonly [K in keyof T[S]]: Widen<T[S][K]> } }
export type NodeConfig = Config<typeof CONFIG_DEFAULTS>

/** A named set of overrides (the devnet's short timings are one). */
export type ConfigProfile = { [S in keyof NodeConfig]?: Partial<NodeConfig[S]> }

function leafType(v: Leaf): 'number' | 'string' | 'boolean' | 'list' {
  if (Array.isArray(v)) return 'list'
  return typeof v as 'number' | 'string' | 'boolean'
}

function defaultOf(key: string): Leaf | undefined {
  const [section, name] = key.split('.') as [string, string]
  const s = (CONFIG_DEFAULTS as Record<string, Record<string, Leaf>>)[section]
  if (s === undefined || name === undefined || !Object.hasOwn(s, name)) return undefined
  return s[name]
}

/** Every dotted key of the schema with its default (for --print-config and the docs). */
export function configKeys(): { key: string; default: Leaf; type: string; values?: readonly string[] }[] {
  const out: { key: string; default: Leaf; type: string; values?: readonly string[] }[] = []
  for (const [section, entries] of Object.entries(CONFIG_DEFAULTS)) {
    for (const [name, value] of Object.entries(entries as Record<string, Leaf>)) {
      const key = `${section}.${name}`
      out.push({ key, default: value, type: leafType(value), values: ENUMS[key] })
    }
  }
  return out
}

/** Check a value against the key's type, converting strings from env/flags. */
function coerce(key: string, raw: unknown, fromString: boolean): Leaf {
  const def = defaultOf(key)
  if (def === undefined) throw new ConfigError('UNKNOWN_KEY', key, `${key}: unknown configuration key`)
  const type = leafType(def)
  let v: unknown = raw
  if (fromString && typeof raw === 'string') {
    if (type === 'number') v = raw.trim() === '' ? Number.NaN : Number(raw)
    else if (type === 'boolean') v = raw === 'true' ? true : raw === 'false' ? false : raw
    else if (type === 'list') v = raw === '' ? [] : raw.split(',').map((s) => s.trim())
  }
  const ok =
    (type === 'number' && typeof v === 'number' && Number.isFinite(v)) ||
    (type === 'string' && typeof v === 'string') ||
    (type === 'boolean' && typeof v === 'boolean') ||
    (type === 'list' && Array.isArray(v) && v.every((x) => typeof x === 'string'))
  if (!ok) {
    throw new ConfigError(
      'INVALID_TYPE',
      key,
      `${key}: expected ${type === 'list' ? 'a list of strings' : `a ${type}`}, got ${JSON.stringify(raw)}`,
    )
  }
  const allowed = ENUMS[key]
  if (allowed !== undefined && !allowed.includes(v as string)) {
    throw new ConfigError(
      'INVALID_VALUE',
      key,
      `${key}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`,
    )
  }
  return v as Leaf
}

function apply(target: NodeConfig, key: string, value: Leaf): void {
  const [section, name] = key.split('.') as [keyof NodeConfig, string]
  ;(target[section] as Record<string, Leaf>)[name] = value
}

/** Flatten a parsed YAML document into dotted keys; unknown sections and keys are errors. */
function flattenFile(doc: unknown, source: string): [string, unknown][] {
  if (doc === null || doc === undefined) return []
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError('PARSE', '', `${source}: expected a mapping of sections (node, http, p2p, …)`)
  }
  const out: [string, unknown][] = []
  for (const [section, body] of Object.entries(doc as Record<string, unknown>)) {
    if (!Object.hasOwn(CONFIG_DEFAULTS, section)) {
      throw new ConfigError(
        'UNKNOWN_KEY',
        section,
        `${section}: unknown configuration section (in ${source})`,
      )
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ConfigError('INVALID_TYPE', section, `${section}: expected a mapping (in ${source})`)
    }
    for (const [name, value] of Object.entries(body as Record<string, unknown>))
      out.push([`${section}.${name}`, value])
  }
  return out
}

/** `NSN_LANE0_BFT_TIMEOUT_MS` → `lane0.bftTimeoutMs`. */
export function envName(key: string): string {
  const [section, name] = key.split('.') as [string, string]
  return `NSN_${section.toUpperCase()}_${name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`
}

/** NSN_* variables that are not configuration keys (debugging, the parent-death watch). */
const NOT_CONFIG_ENV = new Set(['NSN_DEBUG', 'NSN_PARENT_PID'])

export interface ConfigSources {
  profile?: ConfigProfile
  /** YAML file path. */
  file?: string
  /** Environment (NSN_* variables are read; others ignored). @default {} */
  env?: Record<string, string | undefined>
  /** `section.key=value` assignments from flags, applied last. */
  set?: readonly string[]
}

/** Resolve the effective configuration; throws ConfigError naming the first bad key. */
export async function loadConfig(sources: ConfigSources = {}): Promise<NodeConfig> {
  const cfg = structuredClone(CONFIG_DEFAULTS) as unknown as NodeConfig
  for (const [section, body] of Object.entries(sources.profile ?? {})) {
    for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
      const key = `${section}.${name}`
      apply(cfg, key, coerce(key, value, false))
    }
  }
  if (sources.file !== undefined) {
    let text: string
    try {
      text = await readFile(sources.file, 'utf8')
    } catch {
      throw new ConfigError('NOT_FOUND', '', `${sources.file}: configuration file not found`)
    }
    let doc: unknown
    try {
      doc = parseYaml(text)
    } catch (err) {
      throw new ConfigError(
        'PARSE',
        '',
        `${sources.file}: not valid YAML (${(err as Error).message.split('\n')[0]})`,
      )
    }
    for (const [key, value] of flattenFile(doc, sources.file)) apply(cfg, key, coerce(key, value, false))
  }
  const env = sources.env ?? {}
  const known = new Map(configKeys().map((k) => [envName(k.key), k.key]))
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('NSN_') || value === undefined || NOT_CONFIG_ENV.has(name)) continue
    const key = known.get(name)
    if (key === undefined)
      throw new ConfigError('UNKNOWN_KEY', name, `${name}: unknown configuration variable`)
    apply(cfg, key, coerce(key, value, true))
  }
  for (const assignment of sources.set ?? []) {
    const eq = assignment.indexOf('=')
    if (eq <= 0) throw new ConfigError('PARSE', assignment, `--set ${assignment}: expected section.key=value`)
    const key = assignment.slice(0, eq)
    apply(cfg, key, coerce(key, assignment.slice(eq + 1), true))
  }
  validateConfig(cfg)
  return cfg
}

/** Why `addr` is not a usable multiaddr (with a valid /p2p/<PeerId> when `needsPeer`), or null. */
function multiaddrProblem(addr: string, needsPeer: boolean): string | null {
  let ma: ReturnType<typeof multiaddr>
  try {
    ma = multiaddr(addr)
  } catch (err) {
    return `is not a multiaddr (${(err as Error).message})`
  }
  if (!needsPeer) return null
  const peer = ma
    .getComponents()
    .filter((c) => c.name === 'p2p')
    .at(-1)?.value
  if (peer === undefined) return 'must end in /p2p/<PeerId>'
  try {
    peerIdFromString(peer)
  } catch {
    return `has an invalid PeerId "${peer}" (a base58btc PeerId such as 12D3KooW…)`
  }
  return null
}

function bound(key: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError('OUT_OF_BOUNDS', key, `${key}: ${v} must be an integer in ${min}..${max}`)
  }
}

/** Cross-field and range checks; each component's own validator is reused where it has one. */
export function validateConfig(c: NodeConfig): void {
  bound('http.port', c.http.port, 0, 65535)
  bound('archive.maxBytes', c.archive.maxBytes, 0, Number.MAX_SAFE_INTEGER)
  bound('slotFetch.slotsBehind', c.slotFetch.slotsBehind, 0, 1000)
  bound('slotFetch.fetchDelayMs', c.slotFetch.fetchDelayMs, 0, 3_600_000)
  bound('slotFetch.sweepIntervalMs', c.slotFetch.sweepIntervalMs, 100, 3_600_000)
  bound('slotFetch.requestTimeoutMs', c.slotFetch.requestTimeoutMs, 100, 600_000)
  bound('slotFetch.maxResponseBytes', c.slotFetch.maxResponseBytes, 1024, 2 ** 31)
  bound('slotFetch.maxConcurrentPerPeer', c.slotFetch.maxConcurrentPerPeer, 1, 64)
  bound('slotFetch.maxConcurrentServes', c.slotFetch.maxConcurrentServes, 1, 256)
  bound('slotFetch.requestsPerMinutePerPeer', c.slotFetch.requestsPerMinutePerPeer, 1, 100_000)
  bound('slotFetch.penaltyMs', c.slotFetch.penaltyMs, 0, 86_400_000)
  bound('p2p.meshDlo', c.p2p.meshDlo, 1, c.p2p.meshD)
  bound('p2p.meshDhi', c.p2p.meshDhi, c.p2p.meshD, 100)
  bound('p2p.heartbeatMs', c.p2p.heartbeatMs, 50, 60_000)
  bound('p2p.rateLimitMessagesPerMinute', c.p2p.rateLimitMessagesPerMinute, 1, 1_000_000)
  bound('p2p.rateLimitVideoChunksPerMinute', c.p2p.rateLimitVideoChunksPerMinute, 1, 1_000_000)
  bound('p2p.videoPublishPeers', c.p2p.videoPublishPeers, 0, 100)
  bound('p2p.relayMaxReservations', c.p2p.relayMaxReservations, 1, 10_000)
  bound('p2p.relayDataLimitBytes', c.p2p.relayDataLimitBytes, 1024, 2 ** 40)
  bound('p2p.relayDurationLimitMs', c.p2p.relayDurationLimitMs, 1000, 24 * 3600_000)
  bound('p2p.maxConnections', c.p2p.maxConnections, 1, 100_000)
  bound('p2p.maxConnectionsPerIp', c.p2p.maxConnectionsPerIp, 1, 100_000)
  bound('p2p.maxPendingInbound', c.p2p.maxPendingInbound, 1, 100_000)
  bound('p2p.inboundPerSecondPerHost', c.p2p.inboundPerSecondPerHost, 1, 100_000)
  if (!/^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$/.test(c.vortex.maxResolution)) {
    throw new ConfigError(
      'INVALID_VALUE',
      'vortex.maxResolution',
      `vortex.maxResolution: "${c.vortex.maxResolution}" is not WxH`,
    )
  }
  if (!(c.vortex.embeddingNoise >= 0 && c.vortex.embeddingNoise <= 1)) {
    throw new ConfigError(
      'OUT_OF_BOUNDS',
      'vortex.embeddingNoise',
      `vortex.embeddingNoise: ${c.vortex.embeddingNoise} must be in 0..1`,
    )
  }
  for (const key of ['p2p.listen', 'p2p.announce', 'p2p.bootstrap'] as const) {
    const list = c.p2p[key.slice(4) as 'listen' | 'announce' | 'bootstrap']
    for (const addr of list) {
      const problem = multiaddrProblem(addr, key === 'p2p.bootstrap')
      if (problem !== null) throw new ConfigError('INVALID_VALUE', key, `${key}: "${addr}" ${problem}`)
    }
  }
  for (const [name, v] of Object.entries(c.recipes)) {
    if (!(v >= 0))
      throw new ConfigError('OUT_OF_BOUNDS', `recipes.${name}`, `recipes.${name}: ${v} must be >= 0`)
  }
  try {
    validateLane0Config(c.lane0)
  } catch (err) {
    if (err instanceof Lane0ConfigError)
      throw new ConfigError('OUT_OF_BOUNDS', `lane0.${err.field}`, `lane0.${err.message}`)
    throw err
  }
}
