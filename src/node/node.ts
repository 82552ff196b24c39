// The composition root: turns a NodeConfig into running objects — key, chain
// client, libp2p node, sidecar (embedded gRPC server or external), director service, viewer feed,
// HTTP API — and stops them in reverse order. No business rules live here.
import { mkdir } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { ArchiveRecorder, HlsService, SlotArchive } from '../archive/index.ts'
import {
  type ChainClient,
  type ChainInfo,
  createChainClientMetrics,
  DevChainClient,
  SubstrateChainClient,
} from '../chain/index.ts'
import { initBlake3, KeyError, NodeKey, publicKeyFromId } from '../crypto/index.ts'
import { BftParticipant, createLane0Metrics, DirectorService, resolveQuorum } from '../lane0/index.ts'
import {
  type AuthorisedAuthors,
  authorsFromElection,
  createP2PMetrics,
  type ElectedForSlot,
  electedPeers,
  P2PNode,
  RelayVideoPolicy,
} from '../p2p/index.ts'
import { startSlotFetch } from '../p2p/slot-fetch-role.ts'
import { EpochTracker, SlotClock } from '../scheduler/index.ts'
import { SidecarClient, SidecarServer } from '../sidecar/index.ts'
import { bytesToHex } from '../types/index.ts'
import { ConfigError, type NodeConfig } from './config.ts'
import { HealthMonitor, type HealthReport } from './health.ts'
import { HttpApi } from './http.ts'
import { DataDirLockedError, lockDataDir } from './lock.ts'
import { createLogger, type LogFormat } from './logging.ts'
import { PACKAGE_ROOT, PACKAGE_VERSION } from './package-info.ts'
import { buildViewerAssets } from './viewer-bundle.ts'
import { ViewerFeed } from './viewer-feed.ts'

export type NodeStartErrorCode =
  | 'CHAIN_UNREACHABLE'
  | 'CONFIG'
  | 'KEY'
  | 'SIDECAR'
  | 'P2P'
  | 'HTTP'
  | 'LOCKED'

/** A part of the node that could not start; the message says which and why. */
export class NodeStartError extends Error {
  override readonly name = 'NodeStartError'
  constructor(
    readonly code: NodeStartErrorCode,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message)
  }
}

export interface NodeStatus {
  peerId: string
  role: NodeConfig['node']['role']
  http: { host: string; port: number } | null
  chain: { networkId: string; bestBlock: bigint | null; epoch: bigint | null; slot: bigint | null }
  p2p: ReturnType<P2PNode['status']>
  director: ReturnType<DirectorService['status']> | null
}

async function step<T>(code: NodeStartErrorCode, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw new NodeStartError(code, `${what}: ${(err as Error).message}`, err)
  }
}

/** Options of the reference plugin, passed in its environment (docs/sidecar.md). */
function vortexEnv(config: NodeConfig, key: NodeKey): Record<string, string> {
  const env: Record<string, string> = { VORTEX_MAX_RESOLUTION: config.vortex.maxResolution }
  // Each director's noise differs (seeded by its key), so honest embeddings are close, not equal.
  if (config.vortex.embeddingNoise > 0) {
    env.VORTEX_EMBEDDING_NOISE = `${config.vortex.embeddingNoise}:${Number.parseInt(key.publicKeyHex.slice(0, 12), 16)}`
  }
  return env
}

/** PYTHONPATH for `module:Class` plugins: the configured folder first, then the node's own. */
function runnerEnv(config: NodeConfig): Record<string, string> {
  const p = config.sidecar.runnerPythonPath
  if (p === '') return process.env.PYTHONPATH !== undefined ? { PYTHONPATH: process.env.PYTHONPATH } : {}
  const abs = isAbsolute(p) ? p : join(PACKAGE_ROOT, p)
  const rest = process.env.PYTHONPATH
  return { PYTHONPATH: rest === undefined || rest === '' ? abs : `${abs}:${rest}` }
}

/** Authorised recipe authors (docs/protocol.md §1): the epoch's directors (unless disabled) and extra keys. */
function recipeAuthors(config: NodeConfig, electedForSlot: ElectedForSlot): AuthorisedAuthors {
  const extra = config.lane0.recipeAuthors.map((id) => {
    const raw = publicKeyFromId(id)
    if (raw === null)
      throw new ConfigError(
        'INVALID_VALUE',
        'lane0.recipeAuthors',
        `lane0.recipeAuthors: "${id}" names no Ed25519 key`,
      )
    return bytesToHex(raw)
  })
  const fromElection = authorsFromElection(electedForSlot)
  return (slot) => {
    const elected = config.lane0.epochDirectorsAreAuthors ? fromElection(slot) : new Set<string>()
    if (elected === null) return extra.length > 0 ? new Set(extra) : null
    return new Set([...elected, ...extra])
  }
}

/**
 * A node that is not a director still relays /nsn/bft/1.0.0 and /nsn/challenges/1.0.0, so it must
 * validate them fully before forwarding (docs/protocol.md §2): with decode-only checks it would forward
 * forged certificates and be graylisted by the directors, cutting its viewers off. A BftParticipant
 * that never proposes installs exactly the directors' validators. Returns its stop function.
 */
function observeBft(parts: {
  key: NodeKey
  p2p: P2PNode
  tracker: EpochTracker
  chainInfo: ChainInfo
  config: NodeConfig
  logger: Logger
}): () => void {
  const { tracker, chainInfo, config } = parts
  const bft = new BftParticipant(
    { gossip: parts.p2p, key: parts.key, logger: parts.logger },
    {
      networkId: chainInfo.genesisHash,
      slotClock: SlotClock.fromChainInfo(chainInfo),
      quorum: chainInfo.quorum,
      similarityThreshold: config.lane0.similarityThreshold,
      embeddingNormTolerance: config.lane0.embeddingNormTolerance,
      bftLateSlots: config.lane0.bftLateSlots,
      bftMaxRounds: config.lane0.bftMaxRounds,
    },
  )
  const epoch = tracker.currentEpoch
  if (epoch !== null) {
    for (const e of [epoch, epoch + 1n]) {
      const d = tracker.directors(e)
      if (d !== undefined) bft.setElected(e, d)
    }
  }
  if (tracker.currentSlot !== null) bft.setCurrentSlot(tracker.currentSlot)
  const off = tracker.events.on('epoch', (ev) => {
    if (ev.type === 'SlotStarted') bft.setCurrentSlot(ev.slot)
    else if ('directors' in ev) bft.setElected(ev.epoch, ev.directors)
  })
  bft.start()
  return () => {
    off()
    bft.stop()
  }
}

/**
 * The node key: `node.keyFile` when set (refused if missing, unless `node.createKeyFile`), else
 * `<dataDir>/node.key`, created on first start. A created key is logged loudly with its PeerId: it is a
 * new identity, which the chain does not know until it is registered.
 */
async function loadNodeKey(config: NodeConfig, dataDir: string, log: Logger): Promise<NodeKey> {
  const configured = config.node.keyFile !== ''
  const path = configured ? resolve(config.node.keyFile) : join(dataDir, 'node.key')
  try {
    return await NodeKey.load(path)
  } catch (err) {
    if (!(err instanceof KeyError && err.code === 'NOT_FOUND')) throw err
  }
  if (configured && !config.node.createKeyFile) {
    throw new Error(
      `node.keyFile ${path} does not exist; create it with \`nsn keygen --out ${path}\`, or set node.createKeyFile=true`,
    )
  }
  const key = await NodeKey.generate()
  await key.save(path)
  log.warn(
    { peerId: key.peerId.toString(), keyFile: path },
    `created a NEW node key ${path}: this node is a new identity ${key.peerId}; register it (nsn register) before it can be elected`,
  )
  return key
}

export class NsnNode {
  private readonly stops: (() => Promise<void> | void)[] = []
  private constructor(
    readonly config: NodeConfig,
    readonly key: NodeKey,
    readonly log: Logger,
    readonly registry: Registry,
    readonly chain: ChainClient,
    readonly chainInfo: ChainInfo,
    readonly p2p: P2PNode,
    readonly tracker: EpochTracker,
    readonly director: DirectorService | null,
    readonly http: HttpApi,
    private readonly healthMonitor: HealthMonitor,
  ) {}

  /** Start every part; on failure, stops what already started and throws NodeStartError. */
  static async start(config: NodeConfig, opts: { logger?: Logger } = {}): Promise<NsnNode> {
    await initBlake3()
    const log = opts.logger ?? createLogger(config.node.logLevel, config.node.logFormat as LogFormat)
    const registry = new Registry()
    collectDefaultMetrics({ register: registry, prefix: 'nsn_process_' })
    const stops: (() => Promise<void> | void)[] = []
    const rollback = async () => {
      for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => {})
    }
    try {
      const dataDir = resolve(config.node.dataDir)
      await mkdir(dataDir, { recursive: true })
      // Two nodes on one folder would share a key and a journal: refused.
      const unlock = await lockDataDir(dataDir).catch((err: unknown) => {
        if (err instanceof DataDirLockedError)
          throw new NodeStartError('LOCKED', `node.dataDir ${err.message}`)
        throw err
      })
      stops.push(unlock)
      const key = await step('KEY', 'node key', () => loadNodeKey(config, dataDir, log))
      const nodeLog = log.child({ peer: key.peerId.toString().slice(-8) })

      const chain: ChainClient =
        config.chain.kind === 'dev'
          ? new DevChainClient({
              url: config.chain.url,
              logger: nodeLog,
              metrics: createChainClientMetrics(registry),
            })
          : new SubstrateChainClient({ url: config.chain.url, logger: nodeLog })
      stops.push(() => chain.close())
      const chainInfo = await step('CHAIN_UNREACHABLE', `chain at ${config.chain.url}`, () => chain.info())
      // docs/protocol.md §7: one quorum, read from the chain; a configured one that differs is fatal.
      await step('CONFIG', 'lane0.quorum', async () => resolveQuorum(config.lane0.quorum, chainInfo.quorum))

      // The elected sets drive the relay policy, recipe authors and the viewer's trust anchor.
      const tracker = new EpochTracker(
        { chain },
        { self: key.publicKeyProto, onDeckLeadMs: config.lane0.onDeckLeadMs },
      )
      const electedForSlot = (slot: bigint) =>
        tracker.directors(slot / BigInt(chainInfo.slotsPerEpoch)) ?? null
      const p2p = new P2PNode(
        {
          key,
          listen: config.p2p.listen,
          announce: config.p2p.announce.length > 0 ? config.p2p.announce : undefined,
          bootstrap: config.p2p.bootstrap,
          mdns: config.p2p.mdns,
          mesh: {
            D: config.p2p.meshD,
            Dlo: config.p2p.meshDlo,
            Dhi: config.p2p.meshDhi,
            heartbeatMs: config.p2p.heartbeatMs,
          },
          rateLimit: config.p2p.rateLimit
            ? {
                messagesPerMinute: config.p2p.rateLimitMessagesPerMinute,
                videoChunksPerMinute: config.p2p.rateLimitVideoChunksPerMinute,
              }
            : false,
          videoPublishPeers: config.p2p.videoPublishPeers,
          reachability: {
            dht: config.p2p.dht,
            dhtMode: config.p2p.dhtMode as 'auto' | 'server' | 'client',
            dhtPrivateAddresses: config.p2p.dhtPrivateAddresses,
            autonat: config.p2p.autonat,
            relayServer: config.p2p.relayServer,
            relayMaxReservations: config.p2p.relayMaxReservations,
            relayDataLimitBytes: config.p2p.relayDataLimitBytes,
            relayDurationLimitMs: config.p2p.relayDurationLimitMs,
            relayReserve: config.p2p.relayReserve,
            dcutr: config.p2p.dcutr,
            upnp: config.p2p.upnp,
          },
          limits: {
            maxConnections: config.p2p.maxConnections,
            maxConnectionsPerIp: config.p2p.maxConnectionsPerIp,
            maxPendingInbound: config.p2p.maxPendingInbound,
            inboundPerSecondPerHost: config.p2p.inboundPerSecondPerHost,
          },
          // Directors of the current and next epoch keep protected links (docs/protocol.md §11).
          directorPeers: electedPeers(tracker),
          electedForSlot,
          videoPolicy: new RelayVideoPolicy({
            electedForSlot,
            currentSlot: () => tracker.currentSlot ?? undefined,
            chunkSize: config.lane0.chunkSize,
            maxVideoBytes: config.lane0.maxVideoBytes,
            maxContentIdsPerSlot: chainInfo.quorum,
          }),
          recipes: {
            authorisedAuthors: recipeAuthors(config, electedForSlot),
            currentSlot: () => tracker.currentSlot ?? undefined,
            bounds: config.recipes,
          },
        },
        { logger: nodeLog, metrics: createP2PMetrics(registry) },
      )
      await step('P2P', 'libp2p node', () => p2p.start()).catch((err: NodeStartError) => {
        if (/EADDRINUSE/.test(err.message))
          throw new NodeStartError(
            'P2P',
            `p2p.listen: an address is already in use (${config.p2p.listen.join(', ')}); choose free ports in p2p.listen (--listen)`,
            err,
          )
        throw err
      })
      stops.push(() => p2p.stop())
      await tracker.start()
      stops.push(() => tracker.stop())

      let director: DirectorService | null = null
      let sidecarClient: SidecarClient | null = null
      if (config.node.role === 'director') {
        let address = config.sidecar.url
        // The only folder plugin output files are read from (an external sidecar's: configured).
        let outputDir: string | null = config.sidecar.workDir === '' ? null : resolve(config.sidecar.workDir)
        if (config.sidecar.mode === 'embedded') {
          const pluginsDir = isAbsolute(config.sidecar.pluginsDir)
            ? config.sidecar.pluginsDir
            : join(PACKAGE_ROOT, config.sidecar.pluginsDir)
          const server = await step('SIDECAR', 'embedded sidecar', () =>
            SidecarServer.start({
              pluginsDir,
              host: '127.0.0.1',
              port: 0,
              workDir: outputDir ?? join(dataDir, 'sidecar'),
              logger: nodeLog.child({ module: 'sidecar' }),
              env: { ...vortexEnv(config, key), ...runnerEnv(config) },
              runnerCommand: config.sidecar.runnerCommand,
            }),
          )
          stops.push(() => server.stop())
          address = `127.0.0.1:${server.port}`
          outputDir ??= join(dataDir, 'sidecar')
        }
        const sidecar = new SidecarClient({
          address,
          callTimeoutMs: config.lane0.vortexTimeoutMs,
          retries: 0, // the VortexClient retries (lane0.vortexRetries); one layer of retries only
          logger: nodeLog,
        })
        stops.push(() => sidecar.close())
        sidecarClient = sidecar
        director = new DirectorService(
          { key, gossip: p2p, chain, sidecar, logger: nodeLog, metrics: createLane0Metrics(registry) },
          {
            journalDir: join(dataDir, 'journal'),
            // The chain's quorum is the one its certificate check applies (docs/protocol.md §7).
            config: { ...config.lane0, quorum: chainInfo.quorum },
            networkId: chainInfo.genesisHash,
            recipeBounds: config.recipes,
            vortexOutputDir: outputDir,
          },
        )
        await director.start()
        const d = director
        stops.push(() => d.stop({ finishSlot: false }))
      }

      if (director === null) stops.push(observeBft({ key, p2p, tracker, chainInfo, config, logger: nodeLog }))

      const feed = new ViewerFeed(
        { gossip: p2p, logger: nodeLog },
        {
          networkId: chainInfo.genesisHash,
          quorum: chainInfo.quorum,
          slotsPerEpoch: chainInfo.slotsPerEpoch,
          nodeId: key.peerId.toString(),
        },
      )
      const publishElected = (epoch: bigint) => {
        const d = tracker.directors(epoch)
        if (d !== undefined) feed.setElected(epoch, d)
      }
      const current = tracker.currentEpoch
      if (current !== null) {
        publishElected(current)
        publishElected(current + 1n)
      }
      tracker.events.on('chain', (ev) => {
        if (ev.type === 'OnDeckElection' || ev.type === 'EpochStarted')
          feed.setElected(ev.epoch, ev.directors)
      })
      if (tracker.currentSlot !== null) feed.setCurrentSlot(tracker.currentSlot)
      tracker.events.on('epoch', (ev) => {
        if (ev.type === 'SlotStarted') feed.setCurrentSlot(ev.slot)
      })
      feed.start()
      stops.push(() => feed.stop())

      const healthMonitor = new HealthMonitor({
        role: config.node.role,
        publicKeyProto: key.publicKeyProto,
        chain,
        chainInfo,
        p2p,
        tracker,
        sidecar: sidecarClient,
        director,
        dataDir,
        registry,
        info: { version: PACKAGE_VERSION, role: config.node.role, peerId: key.peerId.toString() },
      })
      healthMonitor.start()
      stops.push(() => healthMonitor.stop())

      // Every certified slot this node verifies as a viewer is archived (docs/protocol.md §12).
      const archive = await step('HTTP', 'archive', () =>
        SlotArchive.open(
          { logger: nodeLog },
          { dir: join(dataDir, 'archive'), maxBytes: config.archive.maxBytes },
        ),
      )
      const recorder = new ArchiveRecorder(
        { gossip: p2p, archive, electedFor: (e) => tracker.directors(e) ?? null, logger: nodeLog },
        {
          networkId: chainInfo.genesisHash,
          quorum: chainInfo.quorum,
          slotsPerEpoch: chainInfo.slotsPerEpoch,
        },
      )
      if (tracker.currentSlot !== null) recorder.setCurrentSlot(tracker.currentSlot)
      tracker.events.on('epoch', (ev) => {
        if (ev.type === 'SlotStarted') recorder.setCurrentSlot(ev.slot)
      })
      // docs/protocol.md §7: where two valid certificates exist for a slot, archive the chain's.
      tracker.events.on('chain', (ev) => {
        if (ev.type !== 'BftResultSubmitted') return
        void chain
          .slotResult(ev.slot)
          .then((r) => r && recorder.followChain(r.certificate))
          .catch((err: unknown) => nodeLog.debug({ err, slot: ev.slot }, 'slot result unavailable'))
      })
      recorder.start()
      stops.push(() => recorder.stop())
      const slotFetch = await startSlotFetch({
        p2p,
        archive,
        recorder,
        chain,
        chainInfo,
        tracker,
        config: config.slotFetch,
        registry,
        logger: nodeLog,
      })
      if (slotFetch !== null) stops.push(() => slotFetch.stop())

      const assets = await step('HTTP', 'viewer bundle', () => buildViewerAssets())
      let node: NsnNode | null = null
      const http = new HttpApi(
        {
          registry,
          status: () => node?.status() ?? { starting: true },
          health: () => node?.health() ?? { healthy: false, reasons: ['starting'] },
          viewer: { feed, assets },
          archive,
          hls: new HlsService({ archive, logger: nodeLog }),
        },
        { host: config.http.host, port: config.http.port },
      )
      const bound = await step('HTTP', `http on ${config.http.host}:${config.http.port}`, () => http.start())
      stops.push(() => http.stop())
      node = new NsnNode(
        config,
        key,
        log,
        registry,
        chain,
        chainInfo,
        p2p,
        tracker,
        director,
        http,
        healthMonitor,
      )
      node.stops.push(...stops)
      log.info(
        {
          peerId: key.peerId.toString(),
          role: config.node.role,
          http: `http://${bound.host}:${bound.port}`,
          listen: p2p.multiaddrs(),
        },
        'node started',
      )
      return node
    } catch (err) {
      await rollback()
      throw err
    }
  }

  status(): NodeStatus {
    return {
      peerId: this.key.peerId.toString(),
      role: this.config.node.role,
      http: this.http.address(),
      chain: {
        networkId: bytesToHex(this.chainInfo.genesisHash),
        bestBlock: this.tracker.currentBlock,
        epoch: this.tracker.currentEpoch,
        slot: this.tracker.currentSlot,
      },
      p2p: this.p2p.status(),
      director: this.director?.status() ?? null,
    }
  }

  health(): HealthReport {
    return this.healthMonitor.report()
  }

  /** Stop everything in reverse order of start. */
  async stop(): Promise<void> {
    for (const s of this.stops.splice(0).reverse()) {
      try {
        await s()
      } catch (err) {
        this.log.warn({ err }, 'error while stopping')
      }
    }
  }
}
