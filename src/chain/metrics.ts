// Prometheus metrics of src/chain as plain data: the dev chain server's and the chain
// clients'. Create each set once per registry and pass it (or null) to the components. Labels come
// from bounded enums only.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface DevChainMetrics {
  bestBlock: Gauge
  blocks: Counter
  submissions: Counter<'outcome'>
  registrations: Counter<'outcome'>
  rpcRequests: Counter<'method' | 'status'>
  connections: Gauge
  subscriptions: Gauge
  eventsPublished: Counter<'type'>
  walSyncSeconds: Histogram
  walBytes: Counter
  snapshotSeconds: Histogram
}

export function createDevChainMetrics(register: Registry): DevChainMetrics {
  const registers = [register]
  return {
    bestBlock: new Gauge({
      name: 'nsn_chain_best_block',
      help: 'Last sealed block of the dev chain',
      registers,
    }),
    blocks: new Counter({
      name: 'nsn_chain_blocks_total',
      help: 'Blocks sealed by the dev chain',
      registers,
    }),
    submissions: new Counter({
      name: 'nsn_chain_submissions_total',
      help: 'submit_bft_result calls by outcome (accepted, duplicate, or the reject code)',
      labelNames: ['outcome'],
      registers,
    }),
    registrations: new Counter({
      name: 'nsn_chain_registrations_total',
      help: 'Registration calls by outcome (accepted or the reject code)',
      labelNames: ['outcome'],
      registers,
    }),
    rpcRequests: new Counter({
      name: 'nsn_chain_rpc_requests_total',
      help: 'JSON-RPC requests by method and status',
      labelNames: ['method', 'status'],
      registers,
    }),
    connections: new Gauge({ name: 'nsn_chain_connections', help: 'Open WebSocket connections', registers }),
    subscriptions: new Gauge({
      name: 'nsn_chain_subscriptions',
      help: 'Active event subscriptions',
      registers,
    }),
    eventsPublished: new Counter({
      name: 'nsn_chain_events_published_total',
      help: 'Chain events emitted by sealed blocks',
      labelNames: ['type'],
      registers,
    }),
    walSyncSeconds: new Histogram({
      name: 'nsn_chain_wal_sync_seconds',
      help: 'Duration of one WAL write + fdatasync (one group commit)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers,
    }),
    walBytes: new Counter({
      name: 'nsn_chain_wal_bytes_total',
      help: 'Bytes appended to the WAL',
      registers,
    }),
    snapshotSeconds: new Histogram({
      name: 'nsn_chain_snapshot_seconds',
      help: 'Duration of writing one state snapshot',
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
  }
}

export interface ChainClientMetrics {
  connected: Gauge
  reconnects: Counter
  events: Counter<'type'>
  submissions: Counter<'status'>
  requestSeconds: Histogram<'method'>
}

export function createChainClientMetrics(register: Registry): ChainClientMetrics {
  const registers = [register]
  return {
    connected: new Gauge({
      name: 'nsn_chain_client_connected',
      help: '1 while the chain connection is open',
      registers,
    }),
    reconnects: new Counter({
      name: 'nsn_chain_client_reconnects_total',
      help: 'Reconnections to the chain',
      registers,
    }),
    events: new Counter({
      name: 'nsn_chain_client_events_total',
      help: 'Chain events delivered to subscribers',
      labelNames: ['type'],
      registers,
    }),
    submissions: new Counter({
      name: 'nsn_chain_client_submissions_total',
      help: 'submitBftResult outcomes (accepted, duplicate, rejected, unknown)',
      labelNames: ['status'],
      registers,
    }),
    requestSeconds: new Histogram({
      name: 'nsn_chain_client_request_seconds',
      help: 'Chain request round trips',
      labelNames: ['method'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
  }
}
