// The libp2p node of a NSN peer: TCP + WebSockets, Noise, Yamux, identify, ping,
// bootstrap / mDNS discovery and GossipSub on the six topics of docs/protocol.md §2, with our
// validators in GossipSub's topic-validator hook (they run before delivery and forwarding).
// It implements the Gossip seam; the composition root builds one per process.
import { performance } from 'node:perf_hooks'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { type GossipsubMessage, gossipsub, StrictSign, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PublishOpts } from '@libp2p/gossipsub/types'
import { identify } from '@libp2p/identify'
import { type Connection, KEEP_ALIVE, type Libp2p, type PeerId } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { type Logger, pino } from 'pino'
import type { NodeKey } from '../crypto/index.ts'
import {
  bytesToHex,
  decodeBftSignal,
  decodeChallenge,
  decodeRecipeAny,
  decodeVideoChunk,
  encodeVideoChunk,
  type RecipeBounds,
  type VideoChunk,
} from '../types/index.ts'
import { GossipValidation, type ValidationCounts } from './adapter.ts'
import {
  CONNECTION_MONITOR_DEFAULTS,
  DEFAULT_BOOTSTRAP_DELAY_MS,
  DEFAULT_LISTEN_ADDRS,
  DEFAULT_VIDEO_PUBLISH_PEERS,
  GOSSIP_MESH_DEFAULTS,
  type GossipMeshOptions,
  MAX_INBOUND_RPC_BYTES,
  MAX_PUBLISH_BYTES,
  VIDEO_ACK_TIMEOUT_MS,
  VIDEO_BOUNDS_DEFAULTS,
  type VideoBoundsOptions,
  YAMUX_MAX_READ_BUFFER_BYTES,
} from './constants.ts'
import { P2PError } from './errors.ts'
import type {
  GossipHandler,
  GossipMessage,
  PublishResult,
  PublishVideoReport,
  TopicValidator,
  VideoGossip,
} from './gossip.ts'
import { type RelayPathCounters, tuneGossipSub } from './gossipsub-tuning.ts'
import type { P2PMetrics } from './metrics.ts'
import { PeerRateLimiter, type RateLimitOptions } from './rate-limit.ts'
import {
  CONNECTION_LIMIT_DEFAULTS,
  type ComponentsProbe,
  type ConnectionKind,
  type ConnectionLimits,
  checkReachability,
  componentsProbe,
  perIpGater,
  REACHABILITY_DEFAULTS,
  Reachability,
  type ReachabilityOptions,
  type ReachabilityStatus,
  reachabilityServices,
} from './reachability.ts'
import { RefusalLog } from './refusal-log.ts'
import { buildScoreParams, buildScoreThresholds } from './scoring.ts'
import { RELAYED_TOPICS, TOPIC_NAMES, TOPIC_SPECS, TOPICS, type TopicName, topicNameOf } from './topics.ts'
import {
  type AuthorisedAuthors,
  authorsFromElection,
  createDefaultValidators,
  type GossipValidatorFn,
  type TopicDecoded,
} from './validators.ts'
import { checkChunkSize } from './video.ts'
import { type ElectedForSlot, RelayVideoPolicy, type VideoChunkPolicy } from './video-policy.ts'

export interface P2PNodeInit {
  /** The node key: libp2p identity (PeerId) and GossipSub StrictSign signer (docs/protocol.md §1). */
  key: NodeKey
  /** @default DEFAULT_LISTEN_ADDRS (TCP 9000 and WebSockets 9001 on 0.0.0.0) */
  listen?: readonly string[]
  /** Addresses to announce instead of the listen addresses (e.g. a public IP). */
  announce?: readonly string[]
  /** Peers to dial at start and keep connected: multiaddrs ending in /p2p/<PeerId>. */
  bootstrap?: readonly string[]
  /** @default DEFAULT_BOOTSTRAP_DELAY_MS */
  bootstrapDelayMs?: number
  /** Discover peers on the LAN by multicast DNS. @default false */
  mdns?: boolean
  /** Topics joined (and relayed) from start. @default RELAYED_TOPICS (not attestations, tasks) */
  topics?: readonly TopicName[]
  /** Mesh degree and heartbeat. @default GOSSIP_MESH_DEFAULTS (D 6, 4..12, 1 s) */
  mesh?: Partial<GossipMeshOptions>
  /** Per-topic size limits, receive and publish. @default TOPIC_SPECS maxBytes */
  maxBytes?: Partial<Record<TopicName, number>>
  /** Per-peer rate limits, or false to disable. @default RATE_LIMIT_DEFAULTS */
  rateLimit?: Partial<RateLimitOptions> | false
  /**
   * The elected directors of a slot's epoch (protobuf keys), null when not known yet. Drives the
   * default video relay policy and, by default, the recipe author set. Without it every video chunk
   * and recipe is ignored as not yet decidable.
   */
  electedForSlot?: ElectedForSlot
  /** The chain's current slot: the video relay window (docs/protocol.md §2). @default unknown (no window) */
  currentSlot?: () => bigint | undefined
  /** Replaces the relay policy built from `electedForSlot` (e.g. a viewer's certificate policy). */
  videoPolicy?: VideoChunkPolicy
  /** Relay bounds of docs/protocol.md §6. @default VIDEO_BOUNDS_DEFAULTS */
  video?: Partial<VideoBoundsOptions>
  recipes?: {
    /** @default the directors elected for the recipe's slot (authorsFromElection) */
    authorisedAuthors?: AuthorisedAuthors
    /** The network's current slot; older recipes are ignored as stale. */
    currentSlot?: () => bigint | undefined
    bounds?: RecipeBounds
  }
  /** IPs exempt from GossipSub's IP-colocation penalty. @default loopback */
  ipColocationWhitelist?: readonly string[]
  /** @default 300 (libp2p's default) */
  maxConnections?: number
  /** Mesh peers each video chunk is published to, rotating; 0 = all. @default DEFAULT_VIDEO_PUBLISH_PEERS */
  videoPublishPeers?: number
  /** DHT, AutoNAT, relay, DCUtR, UPnP (docs/protocol.md §11). @default REACHABILITY_DEFAULTS */
  reachability?: Partial<ReachabilityOptions>
  /** Connection limits. @default CONNECTION_LIMIT_DEFAULTS (maxConnections overrides its field) */
  limits?: Partial<ConnectionLimits>
  /**
   * PeerIds of the directors of the current and next epoch: connections to them are tagged
   * (never pruned, redialled) and, when missing, looked up through the DHT and dialled.
   */
  directorPeers?: () => readonly PeerId[]
}

export interface P2PNodeComponents {
  /** A pino logger; the node logs through a child `{module: 'p2p'}`. @default silent */
  logger?: Logger
  metrics?: P2PMetrics | null
  /** Wall clock, Unix ms (rate limits, recipe timestamps). @default Date.now */
  now?: () => number
}

export interface ConnectionStatus {
  peer: string
  addr: string
  transport: 'tcp' | 'ws' | 'other'
  direction: 'inbound' | 'outbound'
  /** direct, relayed (circuit relay v2, limited) or hole-punched (direct, replaced a relayed one by DCUtR). */
  kind: ConnectionKind
}

/** Plain, JSON-serialisable status for /api/status. */
export interface P2PStatus {
  peerId: string
  started: boolean
  listen: string[]
  peers: number
  connections: ConnectionStatus[]
  topics: Record<TopicName, { meshPeers: string[]; subscribers: number }>
  /** GossipSub score of every connected peer. */
  scores: Record<string, number>
  graylisted: string[]
  validation: Partial<Record<TopicName, ValidationCounts>>
  /** Relay-path counters since start: duplicate copies received, copies forwarded. */
  relayPath: RelayPathCounters
  /** NAT status, observed addresses, DHT, relay reservations, directors' links (docs/protocol.md §11). */
  reachability: ReachabilityStatus
}

/** What we use of @libp2p/gossipsub 17.1's GossipSub class (its exported interface lacks these). */
interface GossipSubService {
  topicValidators: Map<
    string,
    (peer: PeerId, msg: { data: Uint8Array; from?: PeerId }) => Promise<TopicValidatorResult>
  >
  subscribe(topic: string): void
  publish(topic: string, data: Uint8Array, opts?: PublishOpts): Promise<{ recipients: PeerId[] }>
  getMeshPeers(topic: string): string[]
  getSubscribers(topic: string): PeerId[]
  getScore(peerId: string): number
  addEventListener(type: 'gossipsub:message', fn: (evt: CustomEvent<GossipsubMessage>) => void): void
  addEventListener(type: 'gossipsub:heartbeat', fn: () => void): void
}

/** GossipSub's internal per-peer outbound streams: used only to time video acks, guarded. */
interface OutboundStreams {
  streamsOutbound?: Map<
    string,
    { rawStream?: { writeBufferLength?: number; addEventListener?: EventTarget['addEventListener'] } }
  >
}

type Decoded<T extends TopicName> = TopicDecoded[T] | undefined

const RESULT: Record<'accept' | 'reject' | 'ignore', TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  reject: TopicValidatorResult.Reject,
  ignore: TopicValidatorResult.Ignore,
}

const FALLBACK_DECODERS: { [T in TopicName]: (data: Uint8Array) => TopicDecoded[T] } = {
  recipes: (d) => decodeRecipeAny(d).recipe,
  video: (d) => decodeVideoChunk(d),
  bft: (d) => decodeBftSignal(d),
  attestations: (d) => d,
  challenges: (d) => decodeChallenge(d),
  tasks: (d) => d,
}

function fastMsgId(msg: { from?: Uint8Array; seqno?: Uint8Array }): string {
  return msg.from === undefined || msg.seqno === undefined
    ? ''
    : `${bytesToHex(msg.from)}:${bytesToHex(msg.seqno)}`
}

function transportOf(addr: string): ConnectionStatus['transport'] {
  if (/\/(ws|wss|tls\/ws)(\/|$)/.test(addr)) return 'ws'
  if (addr.includes('/tcp/')) return 'tcp'
  return 'other'
}

export class P2PNode implements VideoGossip {
  readonly peerId: string
  private readonly log: Logger
  private readonly metrics: P2PMetrics | null
  private readonly now: () => number
  private readonly maxBytes: Readonly<Record<TopicName, number>>
  private readonly rateLimiter: PeerRateLimiter | null
  private readonly validation: GossipValidation
  private readonly handlers = new Map<TopicName, Set<GossipHandler>>()
  private readonly joined = new Set<TopicName>()
  private node: Libp2p<{ pubsub: unknown }> | null = null
  private pubsub: GossipSubService | null = null
  private abort = new AbortController()
  private relayPath: RelayPathCounters = { duplicatesReceived: 0, forwarded: 0 }
  private readonly reach: ReachabilityOptions
  private readonly limits: ConnectionLimits
  private reachability: Reachability | null = null

  constructor(
    private readonly init: P2PNodeInit,
    components: P2PNodeComponents = {},
  ) {
    this.peerId = init.key.peerId.toString()
    this.log = (components.logger ?? pino({ level: 'silent' })).child({ module: 'p2p' })
    this.metrics = components.metrics ?? null
    this.now = components.now ?? Date.now
    this.maxBytes = resolveMaxBytes(init.maxBytes)
    const video = { ...VIDEO_BOUNDS_DEFAULTS, ...init.video }
    try {
      checkChunkSize(video.chunkSize)
    } catch (err) {
      throw new P2PError('INVALID_CONFIG', `video.chunkSize: ${(err as Error).message}`, err)
    }
    for (const addr of init.bootstrap ?? []) parseBootstrap(addr)
    const mesh = { ...GOSSIP_MESH_DEFAULTS, ...init.mesh }
    if (!(mesh.Dlo <= mesh.D && mesh.D <= mesh.Dhi && mesh.Dlo >= 1 && mesh.heartbeatMs >= 100)) {
      throw new P2PError(
        'INVALID_CONFIG',
        `mesh: need 1 <= Dlo <= D <= Dhi and heartbeatMs >= 100, got ${JSON.stringify(mesh)}`,
      )
    }
    const publishPeers = init.videoPublishPeers ?? DEFAULT_VIDEO_PUBLISH_PEERS
    if (!Number.isInteger(publishPeers) || publishPeers < 0 || publishPeers > 100) {
      throw new P2PError('INVALID_CONFIG', `videoPublishPeers: ${publishPeers} must be an integer in 0..100`)
    }
    this.reach = { ...REACHABILITY_DEFAULTS, ...init.reachability }
    this.limits = {
      ...CONNECTION_LIMIT_DEFAULTS,
      ...(init.maxConnections !== undefined ? { maxConnections: init.maxConnections } : {}),
      ...init.limits,
    }
    checkReachability(this.reach, this.limits)
    this.rateLimiter = init.rateLimit === false ? null : new PeerRateLimiter(init.rateLimit ?? {}, this.now)

    const electedForSlot = init.electedForSlot ?? (() => null)
    const policy =
      init.videoPolicy ??
      new RelayVideoPolicy({
        electedForSlot,
        currentSlot: init.currentSlot,
        maxVideoBytes: video.maxVideoBytes,
        chunkSize: video.chunkSize,
        maxContentIdsPerSlot: video.maxContentIdsPerSlot,
        maxTrackedSlots: video.maxTrackedSlots,
        slotsBehind: video.slotsBehind,
        slotsAhead: video.slotsAhead,
      })
    const registry = createDefaultValidators({
      maxBytes: this.maxBytes,
      video: { policy, maxBytes: this.maxBytes.video },
      recipes: {
        authorisedAuthors: init.recipes?.authorisedAuthors ?? authorsFromElection(electedForSlot),
        now: this.now,
        currentSlot: init.recipes?.currentSlot,
        bounds: init.recipes?.bounds,
        maxBytes: this.maxBytes.recipes,
      },
    })
    this.validation = new GossipValidation(
      {
        maxBytes: this.maxBytes,
        rateLimiter: this.rateLimiter,
        scoreOf: (peer) => this.pubsub?.getScore(peer) ?? 0,
        metrics: this.metrics,
        log: this.log,
        // An operator sees why a recipe was dropped (rate-limited: one line per code per window).
        refusals: new RefusalLog(this.log, { topics: ['recipes'], now: this.now }),
      },
      registry,
    )
    if (init.electedForSlot === undefined && init.videoPolicy === undefined) {
      this.log.warn('no election source: video chunks and recipes will be ignored as not yet decidable')
    }
  }

  get started(): boolean {
    return this.node !== null
  }

  /** The underlying libp2p node (dialling, the viewer's WebSocket address); null when stopped. */
  get libp2p(): Libp2p | null {
    return this.node
  }

  async start(): Promise<void> {
    if (this.node !== null) return
    this.abort = new AbortController()
    const init = this.init
    const mesh = { ...GOSSIP_MESH_DEFAULTS, ...init.mesh }
    const peerDiscovery = []
    if ((init.bootstrap ?? []).length > 0) {
      peerDiscovery.push(
        bootstrap({
          list: [...(init.bootstrap ?? [])],
          timeout: init.bootstrapDelayMs ?? DEFAULT_BOOTSTRAP_DELAY_MS,
          // KEEP_ALIVE-tagged peers are redialled by libp2p's reconnect queue when they drop.
          tagName: `${KEEP_ALIVE}-nsn-bootstrap`,
        }),
      )
    }
    if (init.mdns === true) peerDiscovery.push(mdns())
    const reach = this.reach
    const listen = [...(init.listen ?? DEFAULT_LISTEN_ADDRS)]
    // A node behind NAT reserves a slot on a relay it is connected to and listens (is reachable)
    // through it: the relayed address is then part of its advertised addresses.
    if (reach.relayReserve && !listen.includes('/p2p-circuit')) listen.push('/p2p-circuit')
    const limits = this.limits
    let connections: () => readonly Connection[] = () => []
    const node = await createLibp2p({
      start: false,
      privateKey: init.key.privateKey,
      addresses: { listen, announce: [...(init.announce ?? [])] },
      // The circuit relay transport is always there, to dial a NAT'd peer's relayed address.
      transports: [tcp(), webSockets(), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux({ streamOptions: { maxReadBufferLength: YAMUX_MAX_READ_BUFFER_BYTES } })],
      peerDiscovery,
      connectionGater: perIpGater(limits.maxConnectionsPerIp, () => connections()),
      connectionManager: {
        maxConnections: limits.maxConnections,
        maxIncomingPendingConnections: limits.maxPendingInbound,
        inboundConnectionThreshold: limits.inboundPerSecondPerHost,
      },
      connectionMonitor: {
        pingInterval: CONNECTION_MONITOR_DEFAULTS.pingIntervalMs,
        pingTimeout: {
          minTimeout: CONNECTION_MONITOR_DEFAULTS.pingTimeoutMinMs,
          maxTimeout: CONNECTION_MONITOR_DEFAULTS.pingTimeoutMaxMs,
        },
      },
      nodeInfo: { name: 'nsn-lane0', version: '0.1.0', userAgent: 'nsn-lane0/0.1.0' },
      services: {
        ...reachabilityServices(reach),
        probe: componentsProbe(),
        identify: identify(),
        ping: ping({ timeout: CONNECTION_MONITOR_DEFAULTS.pingServiceTimeoutMs, maxOutboundStreams: 2 }),
        pubsub: gossipsub({
          globalSignaturePolicy: StrictSign,
          D: mesh.D,
          Dlo: mesh.Dlo,
          Dhi: mesh.Dhi,
          heartbeatInterval: mesh.heartbeatMs,
          // Flood publishing is a global option in GossipSub 17.1; we turn it off here and ask for
          // it per message (PublishOpts.floodPublish) on topics whose spec says so (bft).
          floodPublish: false,
          // Only GossipSub peers: a floodsub peer would receive every message of every topic.
          fallbackToFloodsub: false,
          // Validators run inside the topic-validator hook, before delivery and forwarding;
          // asyncValidation would deliver to subscribers before validation.
          asyncValidation: false,
          allowPublishToZeroTopicPeers: false,
          // StrictSign message id is from ‖ seqno, but GossipSub verifies the signature (over the
          // whole message: ~5 ms for a 1 MiB chunk) before it looks the id up. This local id is the
          // same from ‖ seqno, read before verification, so duplicates skip it. A message only
          // enters this cache after its signature verified, so a forged copy cannot shadow it.
          fastMsgIdFn: fastMsgId,
          emitSelf: false,
          allowedTopics: TOPIC_NAMES.map((n) => TOPICS[n]),
          maxInboundDataLength: MAX_INBOUND_RPC_BYTES,
          scoreParams: buildScoreParams({
            appSpecificScore: (peer) => (this.rateLimiter?.isGraylisted(peer) ? -1000 : 0),
            ipColocationWhitelist: init.ipColocationWhitelist,
          }),
          scoreThresholds: buildScoreThresholds(),
        }),
      },
    })
    connections = () => node.getConnections()
    // The exported GossipSub interface lacks getMeshPeers/getScore and publish options.
    const pubsub = node.services.pubsub as unknown as GossipSubService
    this.relayPath = tuneGossipSub(pubsub, {
      videoTopic: TOPICS.video,
      videoPublishPeers: init.videoPublishPeers ?? DEFAULT_VIDEO_PUBLISH_PEERS,
    })
    for (const name of TOPIC_NAMES) {
      pubsub.topicValidators.set(
        TOPICS[name],
        // StrictSign: msg.from is the author, whose budget the message draws on (docs/protocol.md §2).
        async (peer, msg) =>
          RESULT[await this.validation.validate(name, msg.data, peer.toString(), msg.from?.toString())],
      )
    }
    pubsub.addEventListener('gossipsub:message', (evt) => this.dispatch(evt.detail))
    pubsub.addEventListener('gossipsub:heartbeat', () => this.updateGauges())
    node.addEventListener('peer:disconnect', (evt) => this.rateLimiter?.forget(evt.detail.toString()))
    try {
      await node.start()
    } catch (err) {
      // e.g. a listen port in use: release whatever did start, then report.
      try {
        await node.stop()
      } catch {
        // the start error is the one worth reporting
      }
      throw err
    }
    this.node = node
    this.pubsub = pubsub
    this.reachability = new Reachability(
      node as unknown as Libp2p<Record<string, unknown>>,
      init.directorPeers,
      this.log,
    )
    this.reachability.start()
    for (const name of init.topics ?? RELAYED_TOPICS) this.join(name)
    for (const name of this.handlers.keys()) this.join(name)
    this.log.info(
      { peerId: this.peerId, listen: node.getMultiaddrs().map(String), topics: [...this.joined] },
      'p2p node started',
    )
  }

  /** Graceful stop: pending video acks are abandoned, connections closed, streams ended. */
  async stop(): Promise<void> {
    const node = this.node
    if (node === null) return
    this.abort.abort()
    this.reachability?.stop()
    this.reachability = null
    this.node = null
    this.pubsub = null
    this.joined.clear()
    await node.stop()
    this.log.info({ peerId: this.peerId }, 'p2p node stopped')
  }

  /** Listen addresses with /p2p/<PeerId> (what others put in their bootstrap list). */
  multiaddrs(): string[] {
    return this.node?.getMultiaddrs().map(String) ?? []
  }

  async dial(addr: string, signal?: AbortSignal): Promise<void> {
    await this.requireNode().dial(multiaddr(addr), { signal })
  }

  // -------------------------------------------------------------------------------------------
  // Gossip

  async publish(topic: TopicName, data: Uint8Array): Promise<PublishResult> {
    return { recipients: (await this.publishTo(topic, data)).length }
  }

  subscribe(topic: TopicName, handler: GossipHandler): () => void {
    let set = this.handlers.get(topic)
    if (set === undefined) {
      set = new Set()
      this.handlers.set(topic, set)
    }
    set.add(handler)
    if (this.pubsub !== null) this.join(topic)
    // The node stays in the topic's mesh after the last handler leaves: it keeps relaying.
    return () => {
      set.delete(handler)
    }
  }

  /**
   * Like subscribe, with the message decoded: the value the accepting validator returned, or a
   * fresh decode when an installed validator returned a bare result.
   */
  subscribeDecoded<T extends TopicName>(
    topic: T,
    handler: (value: TopicDecoded[T], msg: GossipMessage) => void,
  ): () => void {
    return this.subscribe(topic, (msg) => {
      let value = this.validation.decoded(msg.data) as Decoded<T>
      if (value === undefined) value = FALLBACK_DECODERS[topic](msg.data) as TopicDecoded[T]
      handler(value as TopicDecoded[T], msg)
    })
  }

  /**
   * Install the application validator of `topic`. It may return a ValidationResult, or (Lodestar
   * style) return the decoded message and throw a GossipValidationError to refuse. Size limit,
   * rate limit and duplicate check keep running in front of it.
   */
  setValidator(topic: TopicName, validator: TopicValidator | GossipValidatorFn<unknown>): void {
    this.validation.set(topic, validator)
  }

  /**
   * Publish signed chunks in order. A chunk's ack time runs from its publish until its bytes have
   * left the stream buffer of every peer it was sent to (handed to yamux, whose flow control means
   * the peer is reading); waiting for that also paces the publisher to what the network takes.
   */
  async publishVideo(chunks: readonly VideoChunk[]): Promise<PublishVideoReport> {
    this.requireNode()
    let published = 0
    let maxAckMs = 0
    let sumAckMs = 0
    const errors: Array<{ index: number; code: string }> = []
    for (let index = 0; index < chunks.length; index++) {
      const started = performance.now()
      try {
        const recipients = await this.publishTo('video', encodeVideoChunk(chunks[index]!))
        await this.flushed(recipients)
        const ackMs = performance.now() - started
        published++
        sumAckMs += ackMs
        if (ackMs > maxAckMs) maxAckMs = ackMs
        this.metrics?.videoAckSeconds.observe(ackMs / 1000)
      } catch (err) {
        if (!(err instanceof P2PError)) throw err
        if (err.code === 'NOT_STARTED') throw err
        errors.push({ index, code: err.code })
      }
    }
    const report: PublishVideoReport = {
      total: chunks.length,
      published,
      failed: errors.length,
      maxAckMs,
      avgAckMs: published > 0 ? sumAckMs / published : 0,
    }
    if (errors.length > 0) report.errors = errors
    this.log.info(
      { total: report.total, published, failed: report.failed, maxAckMs: Math.round(maxAckMs) },
      'video published',
    )
    return report
  }

  // -------------------------------------------------------------------------------------------
  // Status

  status(): P2PStatus {
    const node = this.node
    const pubsub = this.pubsub
    const topics = Object.fromEntries(
      TOPIC_NAMES.map((n) => [
        n,
        {
          meshPeers: pubsub?.getMeshPeers(TOPICS[n]) ?? [],
          subscribers: pubsub?.getSubscribers(TOPICS[n]).length ?? 0,
        },
      ]),
    ) as P2PStatus['topics']
    const connections: ConnectionStatus[] = (node?.getConnections() ?? []).map((c) => {
      const addr = c.remoteAddr.toString()
      return {
        peer: c.remotePeer.toString(),
        addr,
        transport: transportOf(addr),
        direction: c.direction,
        kind: this.reachability?.kindOf(c) ?? 'direct',
      }
    })
    const peers = node?.getPeers().map(String) ?? []
    const scores: Record<string, number> = {}
    for (const p of peers) scores[p] = pubsub?.getScore(p) ?? 0
    return {
      peerId: this.peerId,
      started: node !== null,
      listen: this.multiaddrs(),
      peers: peers.length,
      connections,
      topics,
      scores,
      graylisted: this.rateLimiter?.graylisted() ?? [],
      validation: this.validation.snapshot(),
      relayPath: { ...this.relayPath },
      reachability: this.reachability?.status(
        (node?.services as { probe?: ComponentsProbe } | undefined)?.probe,
      ) ?? {
        nat: 'unknown',
        observed: [],
        dht: { enabled: false, mode: 'off', routingTableSize: 0 },
        relay: { reservations: [], served: null },
        directors: { protected: 0, connectedDirect: 0 },
      },
    }
  }

  /** GossipSub score of `peer` as seen by this node (0 when unknown). */
  scoreOf(peer: string): number {
    return this.pubsub?.getScore(peer) ?? 0
  }

  meshPeers(topic: TopicName): string[] {
    return this.pubsub?.getMeshPeers(TOPICS[topic]) ?? []
  }

  /**
   * Resolve when `topic`'s mesh has at least `min` peers, polling every 20 ms for at most
   * `timeoutMs`. Returns the mesh size reached: callers decide whether it is enough.
   */
  async waitForMesh(topic: TopicName, min: number, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const n = this.meshPeers(topic).length
      if (n >= min || performance.now() >= deadline || this.abort.signal.aborted) return n
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  // -------------------------------------------------------------------------------------------

  private requireNode(): Libp2p {
    if (this.node === null) throw new P2PError('NOT_STARTED', 'p2p node is not started')
    return this.node
  }

  private join(topic: TopicName): void {
    if (this.pubsub === null || this.joined.has(topic)) return
    this.pubsub.subscribe(TOPICS[topic])
    this.joined.add(topic)
  }

  private async publishTo(topic: TopicName, data: Uint8Array): Promise<PeerId[]> {
    const pubsub = this.pubsub
    if (pubsub === null) throw new P2PError('NOT_STARTED', 'p2p node is not started')
    const spec = TOPIC_SPECS[topic]
    const limit = Math.min(this.maxBytes[topic], MAX_PUBLISH_BYTES)
    if (data.length > limit) {
      this.metrics?.published.inc({ topic, outcome: 'OVERSIZE' })
      throw new P2PError(
        'OVERSIZE',
        `data: ${data.length} bytes exceeds the ${topic} publish limit of ${limit} bytes` +
          (limit === MAX_PUBLISH_BYTES ? ' (GossipSub 17.1 cannot send a frame of 4 MiB or more)' : ''),
      )
    }
    let recipients: PeerId[]
    try {
      const res = await pubsub.publish(spec.topic, data, {
        floodPublish: spec.floodPublish,
        // Video: encode the RPC once for all peers, and without piggybacked control messages
        // that could push a near-limit frame over the 4 MiB cap.
        batchPublish: topic === 'video',
      })
      recipients = res.recipients
    } catch (err) {
      // GossipSub reports "no subscribed peers" only through this message text.
      const noPeers = err instanceof Error && err.message.includes('NoPeersSubscribedToTopic')
      const code = noPeers ? 'NO_PEERS' : 'PUBLISH_FAILED'
      this.metrics?.published.inc({ topic, outcome: code })
      throw new P2PError(
        code,
        noPeers
          ? `${spec.topic}: no peer subscribed to the topic (or above the publish score threshold)`
          : `${spec.topic}: publish failed: ${(err as Error).message}`,
        err,
      )
    }
    if (recipients.length === 0) {
      this.metrics?.published.inc({ topic, outcome: 'NOT_SENT' })
      throw new P2PError('NOT_SENT', `${spec.topic}: the message could not be written to any peer`)
    }
    if (this.metrics !== null) {
      this.metrics.published.inc({ topic, outcome: 'ok' })
      this.metrics.publishedBytes.inc({ topic }, data.length)
      this.metrics.publishRecipients.observe({ topic }, recipients.length)
    }
    return recipients
  }

  /** Resolve when every recipient's outbound stream buffer is empty (or the ack timeout passes). */
  private async flushed(recipients: PeerId[]): Promise<void> {
    const streams = (this.pubsub as unknown as OutboundStreams | null)?.streamsOutbound
    if (streams === undefined) return
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(VIDEO_ACK_TIMEOUT_MS)])
    await Promise.all(
      recipients.map((peer) => {
        const raw = streams.get(peer.toString())?.rawStream
        if (raw?.addEventListener === undefined || (raw.writeBufferLength ?? 0) === 0) return undefined
        return new Promise<void>((resolve) => {
          const done = () => {
            signal.removeEventListener('abort', done)
            resolve()
          }
          raw.addEventListener?.('idle', done, { once: true })
          raw.addEventListener?.('close', done, { once: true })
          signal.addEventListener('abort', done, { once: true })
        })
      }),
    )
  }

  private dispatch(detail: GossipsubMessage): void {
    const topic = topicNameOf(detail.msg.topic)
    if (topic === undefined) return
    const handlers = this.handlers.get(topic)
    if (handlers === undefined || handlers.size === 0) return
    const msg: GossipMessage = { topic, data: detail.msg.data, from: detail.propagationSource.toString() }
    this.metrics?.delivered.inc({ topic })
    for (const h of handlers) {
      try {
        h(msg)
      } catch (err) {
        this.log.warn({ topic, err }, 'gossip handler threw')
      }
    }
  }

  private updateGauges(): void {
    const m = this.metrics
    if (m === null || this.node === null) return
    m.peers.set(this.node.getPeers().length)
    const byTransport = { tcp: 0, ws: 0, other: 0 }
    for (const c of this.node.getConnections()) byTransport[transportOf(c.remoteAddr.toString())]++
    for (const [transport, n] of Object.entries(byTransport)) m.connections.set({ transport }, n)
    for (const n of TOPIC_NAMES) m.meshPeers.set({ topic: n }, this.meshPeers(n).length)
    const s = this.status()
    const kinds = { direct: 0, relayed: 0, 'hole-punched': 0 }
    for (const c of s.connections) kinds[c.kind]++
    for (const [kind, n] of Object.entries(kinds)) m.connectionKinds.set({ kind }, n)
    for (const status of ['public', 'private', 'unknown'])
      m.nat.set({ status }, s.reachability.nat === status ? 1 : 0)
    m.dhtRoutingTable.set(s.reachability.dht.routingTableSize)
    m.relayReservations.set({ side: 'held' }, s.reachability.relay.reservations.length)
    m.relayReservations.set({ side: 'served' }, s.reachability.relay.served ?? 0)
    m.directorLinks.set({ state: 'protected' }, s.reachability.directors.protected)
    m.directorLinks.set({ state: 'direct' }, s.reachability.directors.connectedDirect)
  }
}

/** Build and start a node. */
export async function createP2PNode(init: P2PNodeInit, components: P2PNodeComponents = {}): Promise<P2PNode> {
  const node = new P2PNode(init, components)
  await node.start()
  return node
}

function resolveMaxBytes(over: Partial<Record<TopicName, number>> = {}): Readonly<Record<TopicName, number>> {
  const out = {} as Record<TopicName, number>
  for (const n of TOPIC_NAMES) {
    const v = over[n] ?? TOPIC_SPECS[n].maxBytes
    // Above MAX_INBOUND_RPC_BYTES the stream decoder would refuse the frame before the validator.
    const cap = MAX_INBOUND_RPC_BYTES - 64 * 1024
    if (!Number.isInteger(v) || v < 1 || v > cap) {
      throw new P2PError('INVALID_CONFIG', `maxBytes.${n}: ${v} must be an integer in 1..${cap}`)
    }
    out[n] = v
  }
  return Object.freeze(out)
}

function parseBootstrap(addr: string): void {
  let peer: string | undefined
  try {
    peer = multiaddr(addr)
      .getComponents()
      .find((c) => c.name === 'p2p')?.value
  } catch (err) {
    throw new P2PError('INVALID_CONFIG', `bootstrap: "${addr}" is not a multiaddr`, err)
  }
  if (peer === undefined) {
    throw new P2PError('INVALID_CONFIG', `bootstrap: "${addr}" must end in /p2p/<PeerId>`)
  }
}
