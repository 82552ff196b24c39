// Discovery, reachability and connection limits of a node on a real network (docs/protocol.md §11):
// the libp2p services for them (Kademlia DHT on /nsn/kad/1.0.0, AutoNAT, circuit relay v2, DCUtR,
// UPnP behind a flag), a connection gater for the per-IP limit, the directors' protected links,
// and the plain status of all of it for /api/status and /metrics.
import { autoNAT } from '@libp2p/autonat'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { dcutr } from '@libp2p/dcutr'
import type { Connection, ConnectionGater, Libp2p, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, type SingleKadDHT } from '@libp2p/kad-dht'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { P2PError } from './errors.ts'

/** The DHT protocol id of docs/protocol.md §11 (the reference implementation's). */
export const NSN_KAD_PROTOCOL = '/nsn/kad/1.0.0'

export interface ReachabilityOptions {
  /** Run the Kademlia DHT. @default true */
  dht: boolean
  /** auto: server mode once a public address is confirmed (AutoNAT), client mode before. */
  dhtMode: 'auto' | 'server' | 'client'
  /**
   * Keep private and loopback addresses in DHT records (a LAN or one machine). Off on the public
   * internet, where they only cost failed dials. @default true
   */
  dhtPrivateAddresses: boolean
  /** AutoNAT: ask peers to dial our observed addresses back. @default true */
  autonat: boolean
  /** Serve as a circuit relay v2 for nodes behind NAT (a reachable node). @default false */
  relayServer: boolean
  /** Reservations this relay holds at most. @default 32 */
  relayMaxReservations: number
  /** Bytes one relayed connection may carry (either way) before the relay resets it. @default 4 MiB */
  relayDataLimitBytes: number
  /** How long one relayed connection may stay open. @default 120000 */
  relayDurationLimitMs: number
  /** Reserve a slot on a relay and advertise the relayed address (a node behind NAT). @default false */
  relayReserve: boolean
  /** DCUtR hole punching: upgrade relayed connections to direct ones. @default true */
  dcutr: boolean
  /** Map the listen port on the home router with UPnP. @default false */
  upnp: boolean
}

export const REACHABILITY_DEFAULTS: Readonly<ReachabilityOptions> = Object.freeze({
  dht: true,
  dhtMode: 'auto',
  dhtPrivateAddresses: true,
  autonat: true,
  relayServer: false,
  relayMaxReservations: 32,
  relayDataLimitBytes: 4 * 1024 * 1024,
  relayDurationLimitMs: 120_000,
  relayReserve: false,
  dcutr: true,
  upnp: false,
})

export interface ConnectionLimits {
  /** All connections. @default 300 */
  maxConnections: number
  /** Connections from one remote IP (loopback exempt). @default 8 */
  maxConnectionsPerIp: number
  /** Inbound connections still upgrading (Noise, Yamux). @default 16 */
  maxPendingInbound: number
  /** Inbound connections one host may open per second. @default 5 */
  inboundPerSecondPerHost: number
}

export const CONNECTION_LIMIT_DEFAULTS: Readonly<ConnectionLimits> = Object.freeze({
  maxConnections: 300,
  maxConnectionsPerIp: 8,
  maxPendingInbound: 16,
  inboundPerSecondPerHost: 5,
})

/**
 * libp2p 3 does not dial the peers it discovers (DHT, mDNS): below this many connections the node
 * dials discovered peers itself, so that one bootstrap address is enough to join the mesh.
 */
export const DISCOVERY_TARGET_CONNECTIONS = 12
/** Discovered peers dialled at once. */
const DISCOVERY_DIAL_CONCURRENCY = 4

/** Tag on the directors' mutual connections: the connection manager never prunes them. */
export const DIRECTOR_TAG = 'nsn-director'
/** libp2p redials peers whose tag name starts with "keep-alive" when they drop. */
export const DIRECTOR_KEEP_ALIVE_TAG = 'keep-alive-nsn-director'

export function checkReachability(r: ReachabilityOptions, limits: ConnectionLimits): void {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new P2PError('INVALID_CONFIG', `${name}: ${v} must be an integer in ${min}..${max}`)
    }
  }
  if (!['auto', 'server', 'client'].includes(r.dhtMode)) {
    throw new P2PError('INVALID_CONFIG', `dhtMode: "${r.dhtMode}" is not one of auto, server, client`)
  }
  int('relayMaxReservations', r.relayMaxReservations, 1, 10_000)
  int('relayDataLimitBytes', r.relayDataLimitBytes, 1024, 2 ** 40)
  int('relayDurationLimitMs', r.relayDurationLimitMs, 1000, 24 * 3600_000)
  int('maxConnections', limits.maxConnections, 1, 100_000)
  int('maxConnectionsPerIp', limits.maxConnectionsPerIp, 1, 100_000)
  int('maxPendingInbound', limits.maxPendingInbound, 1, 100_000)
  int('inboundPerSecondPerHost', limits.inboundPerSecondPerHost, 1, 100_000)
}

/** A service factory that keeps libp2p's internal components we read for status. */
export interface ComponentsProbe {
  addressManager: AddressManager
}
export const componentsProbe = () => (c: { addressManager: AddressManager }) => ({
  addressManager: c.addressManager,
})

/** The libp2p services for §11, by option. */
export function reachabilityServices(r: ReachabilityOptions): Record<string, (components: never) => unknown> {
  const services: Record<string, (components: never) => unknown> = {}
  if (r.dht) {
    services.dht = kadDHT({
      protocol: NSN_KAD_PROTOCOL,
      clientMode: r.dhtMode === 'auto' ? undefined : r.dhtMode === 'client',
      peerInfoMapper: r.dhtPrivateAddresses ? passthroughMapper : removePrivateAddressesMapper,
      logPrefix: 'libp2p:nsn-kad',
      datastorePrefix: '/nsn-kad',
      metricsPrefix: 'libp2p_nsn_kad',
    }) as (components: never) => unknown
  }
  if (r.autonat) services.autonat = autoNAT() as (components: never) => unknown
  if (r.relayServer) {
    services.relay = circuitRelayServer({
      reservations: {
        maxReservations: r.relayMaxReservations,
        defaultDataLimit: BigInt(r.relayDataLimitBytes),
        defaultDurationLimit: r.relayDurationLimitMs,
      },
    }) as (components: never) => unknown
  }
  if (r.dcutr) services.dcutr = dcutr() as (components: never) => unknown
  if (r.upnp) services.upnp = uPnPNAT() as (components: never) => unknown
  return services
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/

function ipOf(addr: { toString(): string }): string | undefined {
  const m = /^\/ip[46]\/([^/]+)/.exec(addr.toString())
  return m?.[1]
}

/**
 * Connection gater for the per-IP limit: an inbound connection from an IP that already has
 * `max` open connections is refused before the handshake. Loopback is exempt (one machine runs a
 * whole devnet). `connections` reads the node's open connections when asked.
 */
export function perIpGater(max: number, connections: () => readonly Connection[]): ConnectionGater {
  return {
    denyInboundConnection: (maConn: MultiaddrConnection) => {
      const ip = ipOf(maConn.remoteAddr)
      if (ip === undefined || LOOPBACK.test(ip)) return false
      let n = 0
      for (const c of connections()) if (ipOf(c.remoteAddr) === ip) n++
      return n >= max
    },
  }
}

export type ConnectionKind = 'direct' | 'relayed' | 'hole-punched'

export interface ReachabilityStatus {
  /**
   * private: the node holds a relay reservation, or AutoNAT confirmed none of its observed
   * addresses within a minute; public: a public address confirmed (AutoNAT, or its own listen or
   * announce address); unknown: neither yet.
   */
  nat: 'public' | 'private' | 'unknown'
  /** Addresses peers reported seeing us at (identify), with whether AutoNAT confirmed them. */
  observed: { addr: string; verified: boolean }[]
  dht: { enabled: boolean; mode: 'client' | 'server' | 'off'; routingTableSize: number }
  relay: {
    /** Reservations this node holds on relays (its /p2p-circuit listen addresses). */
    reservations: string[]
    /** Reservations other nodes hold on this relay; null when not a relay. */
    served: number | null
  }
  /** Directors of the current and next epoch that are protected, and how many are connected directly. */
  directors: { protected: number; connectedDirect: number }
}

/**
 * Tracks which direct connections replaced a relayed one (hole punched by DCUtR), and keeps the
 * directors' links: tagged (never pruned, redialled when dropped) and, when not connected, looked
 * up through the DHT from their PeerId and dialled.
 */
export class Reachability {
  private readonly holePunched = new WeakSet<Connection>()
  private protectedPeers = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  private lookups = new Set<string>()
  private readonly startedAt = Date.now()

  private readonly dialling = new Set<string>()

  constructor(
    private readonly node: Libp2p<Record<string, unknown>>,
    private readonly directors: (() => readonly PeerId[]) | undefined,
    private readonly log: { debug(o: object, m: string): void; info(o: object, m: string): void },
  ) {
    node.addEventListener('peer:discovery', (evt) => {
      const id = evt.detail.id
      const key = id.toString()
      if (node.getConnections().length >= DISCOVERY_TARGET_CONNECTIONS) return
      if (this.dialling.size >= DISCOVERY_DIAL_CONCURRENCY || this.dialling.has(key)) return
      if (node.getConnections(id).length > 0 || key === node.peerId.toString()) return
      this.dialling.add(key)
      void node
        .dial(id, { signal: AbortSignal.timeout(10_000) })
        .catch((err) =>
          this.log.debug({ peer: key, err: (err as Error).message }, 'discovered peer not dialled'),
        )
        .finally(() => this.dialling.delete(key))
    })
    node.addEventListener('connection:open', (evt) => {
      const conn = evt.detail
      if (isRelayed(conn)) return
      const peer = conn.remotePeer.toString()
      const relayed = node.getConnections(conn.remotePeer).some((c) => c !== conn && isRelayed(c))
      if (relayed) {
        this.holePunched.add(conn)
        this.log.info({ peer, addr: conn.remoteAddr.toString() }, 'direct connection replaced a relayed one')
      }
    })
  }

  /** Start the directors' link keeper (every `intervalMs`). */
  start(intervalMs = 5000): void {
    if (this.directors === undefined || this.timer !== null) return
    const tick = () => void this.keepDirectorLinks().catch((err) => this.log.debug({ err }, 'director links'))
    this.timer = setInterval(tick, intervalMs)
    this.timer.unref()
    tick()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  kindOf(conn: Connection): ConnectionKind {
    if (isRelayed(conn)) return 'relayed'
    return this.holePunched.has(conn) ? 'hole-punched' : 'direct'
  }

  /** One round: tag the current set, untag those that left it, find and dial the unconnected. */
  async keepDirectorLinks(): Promise<void> {
    const self = this.node.peerId.toString()
    const wanted = new Set((this.directors?.() ?? []).map(String).filter((p) => p !== self))
    for (const p of this.protectedPeers) {
      if (!wanted.has(p)) {
        await this.node.peerStore.merge(peerIdFromString(p), {
          tags: { [DIRECTOR_TAG]: undefined, [DIRECTOR_KEEP_ALIVE_TAG]: undefined },
        })
      }
    }
    for (const p of wanted) {
      if (!this.protectedPeers.has(p)) {
        await this.node.peerStore.merge(peerIdFromString(p), {
          tags: { [DIRECTOR_TAG]: { value: 100 }, [DIRECTOR_KEEP_ALIVE_TAG]: { value: 1 } },
        })
      }
    }
    this.protectedPeers = wanted
    for (const p of wanted) {
      const id = peerIdFromString(p)
      if (this.node.getConnections(id).some((c) => !isRelayed(c))) continue
      if (this.lookups.has(p)) continue
      this.lookups.add(p)
      void this.findAndDial(id).finally(() => this.lookups.delete(p))
    }
  }

  private async findAndDial(id: PeerId): Promise<void> {
    const signal = AbortSignal.timeout(20_000)
    try {
      const relayed = this.node.getConnections(id).length > 0
      // Addresses from the DHT (the peer store already has them when the peer is connected).
      if (!relayed) await this.node.peerRouting.findPeer(id, { signal }).catch(() => null)
      if (!relayed) {
        await this.node.dial(id, { signal })
        return
      }
      // Only a relayed connection: dial([peer]) would return it, so dial the peer's direct
      // addresses explicitly (the NAT'd side reaches a public peer this way when DCUtR did not).
      const peer = await this.node.peerStore.get(id)
      const direct = peer.addresses
        .map((a) => a.multiaddr)
        .filter((a) => !a.toString().includes('/p2p-circuit'))
        .map((a) => (a.toString().includes('/p2p/') ? a : a.encapsulate(`/p2p/${id.toString()}`)))
      if (direct.length > 0) await this.node.dial(direct, { signal, force: true })
    } catch (err) {
      this.log.debug(
        { peer: id.toString(), err: (err as Error).message },
        'director not reachable directly yet',
      )
    }
  }

  status(probe: ComponentsProbe | undefined): ReachabilityStatus {
    const node = this.node
    const meta = probe?.addressManager.getAddressesWithMetadata() ?? []
    const observed = meta
      .filter((a) => a.type === 'observed' || a.type === 'ip-mapping')
      .map((a) => ({ addr: a.multiaddr.toString(), verified: a.verified }))
    const listen = node.getMultiaddrs().map(String)
    const reservations = listen.filter((a) => a.includes('/p2p-circuit'))
    const publicVerified = meta.some(
      (a) =>
        a.verified &&
        !a.multiaddr.toString().includes('/p2p-circuit') &&
        !isPrivateAddr(a.multiaddr.toString()),
    )
    const dht = node.services.dht as SingleKadDHT | undefined
    const relay = node.services.relay as { reservations?: { size: number } } | undefined
    // A node that holds a relay reservation is reachable only through it: private. Otherwise a
    // confirmed (AutoNAT, or a listen/announce address of our own) public address: public.
    let nat: ReachabilityStatus['nat'] = 'unknown'
    if (reservations.length > 0) nat = 'private'
    else if (publicVerified) nat = 'public'
    else if (observed.length > 0 && Date.now() - this.startedAt > 60_000) nat = 'private'
    const directConnected = [...this.protectedPeers].filter((p) =>
      node.getConnections(peerIdFromString(p)).some((c) => !isRelayed(c)),
    ).length
    return {
      nat,
      observed,
      dht: {
        enabled: dht !== undefined,
        mode: dht === undefined ? 'off' : dht.getMode(),
        routingTableSize: dht?.routingTable.size ?? 0,
      },
      relay: { reservations, served: relay?.reservations?.size ?? null },
      directors: { protected: this.protectedPeers.size, connectedDirect: directConnected },
    }
  }
}

export function isRelayed(conn: Connection): boolean {
  return conn.limits !== undefined || conn.remoteAddr.toString().includes('/p2p-circuit')
}

/** RFC 1918, loopback, link-local, CGNAT, ULA: not reachable from the internet. */
export function isPrivateAddr(addr: string): boolean {
  const ip = ipOf(addr)
  if (ip === undefined) return true
  return /^(10\.|127\.|192\.168\.|169\.254\.|172\.(1[6-9]|2\d|3[01])\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.|0\.|::1$|fe80:|f[cd])/i.test(
    ip,
  )
}

/**
 * The PeerIds of the directors of the current and the next epoch, from the chain's elected sets
 * (protobuf public keys). Keys that do not parse are skipped.
 */
export function electedPeers(source: {
  readonly currentEpoch: bigint | null
  directors(epoch: bigint): readonly Uint8Array[] | undefined
}): () => PeerId[] {
  const cache = new Map<string, PeerId | null>()
  return () => {
    const epoch = source.currentEpoch
    if (epoch === null) return []
    const out = new Map<string, PeerId>()
    for (const e of [epoch, epoch + 1n]) {
      for (const key of source.directors(e) ?? []) {
        const hex = Buffer.from(key).toString('hex')
        let id = cache.get(hex)
        if (id === undefined) {
          try {
            id = peerIdFromPublicKey(publicKeyFromProtobuf(key))
          } catch {
            id = null
          }
          if (cache.size > 1024) cache.clear()
          cache.set(hex, id)
        }
        if (id !== null) out.set(id.toString(), id)
      }
    }
    return [...out.values()]
  }
}
