// Prometheus metrics of the mesh as plain data: `createP2PMetrics(register)` returns
// an object, code takes `P2PMetrics | null`. Labels come from bounded sets only: topic names,
// validation results and GossipErrorCode / P2PErrorCode values, never peer ids or messages.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface P2PMetrics {
  /** Validation outcomes: labels topic, result (accept|reject|ignore), code ('' for accept). */
  validations: Counter<'topic' | 'result' | 'code'>
  /** Time spent in the validator chain of one message. */
  validationSeconds: Histogram<'topic'>
  /** Messages handed to local subscribers. */
  delivered: Counter<'topic'>
  /** Publish attempts: outcome is 'ok' or a P2PErrorCode. */
  published: Counter<'topic' | 'outcome'>
  publishedBytes: Counter<'topic'>
  /** Peers reached per successful publish. */
  publishRecipients: Histogram<'topic'>
  /** publishVideo: per-chunk time until its bytes left every recipient's stream buffer. */
  videoAckSeconds: Histogram
  /** Peers put on the rate-limit graylist. */
  graylisted: Counter
  peers: Gauge
  connections: Gauge<'transport'>
  meshPeers: Gauge<'topic'>
  /** Open connections by kind: direct, relayed, hole-punched. */
  connectionKinds: Gauge<'kind'>
  /** 1 for the current NAT status (public, private, unknown), 0 for the others. */
  nat: Gauge<'status'>
  dhtRoutingTable: Gauge
  relayReservations: Gauge<'side'>
  /** Directors of the current and next epoch: protected, and connected directly. */
  directorLinks: Gauge<'state'>
}

export function createP2PMetrics(register: Registry): P2PMetrics {
  const registers = [register]
  return {
    validations: new Counter({
      name: 'nsn_p2p_validations_total',
      help: 'Gossip messages validated, by topic, result and refusal code',
      labelNames: ['topic', 'result', 'code'],
      registers,
    }),
    validationSeconds: new Histogram({
      name: 'nsn_p2p_validation_seconds',
      help: 'Time spent validating one gossip message (size, rate limit, application validator)',
      labelNames: ['topic'],
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1],
      registers,
    }),
    delivered: new Counter({
      name: 'nsn_p2p_messages_delivered_total',
      help: 'Validated gossip messages handed to local subscribers',
      labelNames: ['topic'],
      registers,
    }),
    published: new Counter({
      name: 'nsn_p2p_publish_total',
      help: 'Publish attempts by outcome (ok or the P2PError code)',
      labelNames: ['topic', 'outcome'],
      registers,
    }),
    publishedBytes: new Counter({
      name: 'nsn_p2p_published_bytes_total',
      help: 'Bytes of message data published',
      labelNames: ['topic'],
      registers,
    }),
    publishRecipients: new Histogram({
      name: 'nsn_p2p_publish_recipients',
      help: 'Peers a published message was sent to',
      labelNames: ['topic'],
      buckets: [1, 2, 4, 6, 8, 12, 16, 32],
      registers,
    }),
    videoAckSeconds: new Histogram({
      name: 'nsn_p2p_video_ack_seconds',
      help: 'Per video chunk: publish until its bytes left every recipient stream buffer',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    graylisted: new Counter({
      name: 'nsn_p2p_graylisted_total',
      help: 'Peers graylisted for repeated rate-limit violations',
      registers,
    }),
    peers: new Gauge({ name: 'nsn_p2p_peers', help: 'Connected peers', registers }),
    connections: new Gauge({
      name: 'nsn_p2p_connections',
      help: 'Open connections by transport',
      labelNames: ['transport'],
      registers,
    }),
    connectionKinds: new Gauge({
      name: 'nsn_p2p_connection_kinds',
      help: 'Open connections by kind (direct, relayed, hole-punched)',
      labelNames: ['kind'],
      registers,
    }),
    nat: new Gauge({
      name: 'nsn_p2p_nat_status',
      help: '1 for the NAT status AutoNAT concluded (public, private, unknown)',
      labelNames: ['status'],
      registers,
    }),
    dhtRoutingTable: new Gauge({
      name: 'nsn_p2p_dht_routing_table_peers',
      help: 'Peers in the Kademlia routing table',
      registers,
    }),
    relayReservations: new Gauge({
      name: 'nsn_p2p_relay_reservations',
      help: 'Relay reservations: held (on relays, for us) and served (by us, as a relay)',
      labelNames: ['side'],
      registers,
    }),
    directorLinks: new Gauge({
      name: 'nsn_p2p_director_links',
      help: 'Directors of the current and next epoch: protected, and connected directly',
      labelNames: ['state'],
      registers,
    }),
    meshPeers: new Gauge({
      name: 'nsn_p2p_mesh_peers',
      help: 'GossipSub mesh peers per topic',
      labelNames: ['topic'],
      registers,
    }),
  }
}
