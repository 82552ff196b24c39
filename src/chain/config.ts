// Dev chain configuration: the consensus parameters that make up the genesis (and so the network_id)
// and the operational options of the server. Every default lives here once; the CLI and the docs
// read them from this module.
import { MAX_DIRECTORS } from '../types/index.ts'
import type { NodeRole } from './client.ts'
import { DevChainError } from './errors.ts'

/** 1 NSN in base units (the reference runtime's 18 decimals). */
export const NSN_UNIT = 10n ** 18n

/** Regions of the reference `NsnStake` pallet's `Region` enum, in its variant order. */
export const REGIONS = ['na-west', 'na-east', 'eu-west', 'eu-east', 'apac', 'latam', 'mena'] as const
export type Region = (typeof REGIONS)[number]

export const NODE_ROLES: readonly NodeRole[] = ['director', 'validator', 'relay']

export function isRegion(v: string): v is Region {
  return (REGIONS as readonly string[]).includes(v)
}

/** An account registered at genesis (no signature needed): how a devnet starts with directors in epoch 0. */
export interface GenesisAccount {
  /** Node key (libp2p protobuf Ed25519 public key, 36 bytes). */
  peer: Uint8Array
  /** Account key; default `peer`. */
  account?: Uint8Array
  role: NodeRole
  region: Region
  stake: bigint
  /** Starting reputation (default 0). */
  reputation?: bigint
}

/** Consensus parameters: all of them are hashed into the genesis hash. */
export interface ChainParams {
  /** Free text that makes two chains with otherwise equal parameters distinct. */
  seed: string
  /** Blocks per epoch. @default 600 (reference runtime: 1 h of 6 s blocks) */
  epochLengthBlocks: number
  /** On-Deck election this many blocks before the epoch starts. @default 20 */
  lookaheadBlocks: number
  /** A result becomes final this many blocks after the block that recorded it. @default 50 */
  challengePeriodBlocks: number
  /** Blocks per slot; must divide `epochLengthBlocks`. @default 8 (reference BLOCKS_PER_SLOT) */
  blocksPerSlot: number
  /** Directors elected per epoch. @default 5 */
  directorsPerEpoch: number
  /** Distinct signers a certificate needs (docs/protocol.md §5). @default 3 */
  quorum: number
  /** Election weight jitter, ± percent. @default 20 */
  jitterPercent: number
  /** Directors per region before the region's candidates are only drawn to fill seats. @default 2 */
  maxDirectorsPerRegion: number
  /** Directors of the last N epochs are drawn only after everyone else. @default 0 */
  cooldownEpochs: number
  /** Reputation each commit signer gains when a result is finalized (reference DirectorSlotAccepted). @default 100 */
  reputationPerResult: bigint
  /** Minimum stake per role, in base units (reference NsnStake: 100 / 10 / 5 NSN). */
  minStake: Record<NodeRole, bigint>
  /** Epochs whose elected sets (and finalized results) are kept. @default 64 */
  epochRetention: number
  genesisAccounts: GenesisAccount[]
}

export const CHAIN_PARAM_DEFAULTS: Readonly<ChainParams> = Object.freeze({
  seed: 'nsn-devchain',
  epochLengthBlocks: 600,
  lookaheadBlocks: 20,
  challengePeriodBlocks: 50,
  blocksPerSlot: 8,
  directorsPerEpoch: 5,
  quorum: 3,
  jitterPercent: 20,
  maxDirectorsPerRegion: 2,
  // The reference cooldown is 20 slots, less than one 75-slot epoch: in epoch terms that is none.
  cooldownEpochs: 0,
  reputationPerResult: 100n,
  minStake: { director: 100n * NSN_UNIT, validator: 10n * NSN_UNIT, relay: 5n * NSN_UNIT },
  epochRetention: 64,
  genesisAccounts: [],
})

/** Operational options of the dev chain server (not part of the genesis). */
export interface DevChainOptions {
  /** Folder holding chain.json, snapshot.json and wal-*.log. */
  dataDir: string
  /** @default '127.0.0.1' */
  host: string
  /** 0 picks an ephemeral port. @default 9955 */
  port: number
  /** Block interval; 0 = blocks only on `produceBlock()` (tests). @default 1000 */
  blockMs: number
  /** Accept WebSocket clients from non-loopback addresses. @default false */
  allowRemote: boolean
  /** Delete the chain's files in `dataDir` and start a new chain. @default false */
  reset: boolean
  /** Write a snapshot (and drop older WAL segments) every N blocks. @default 100 */
  snapshotEveryBlocks: number
  /** Blocks of events kept for subscribers that resume. @default 7200 */
  eventRetentionBlocks: number
  /** A subscriber whose unsent data passes this is disconnected (it resumes on reconnect). @default 16 MiB */
  maxSubscriberBufferBytes: number
  /** Largest JSON-RPC message accepted. @default 256 KiB */
  maxPayloadBytes: number
  /**
   * Keys (hex protobuf public keys of accounts or PeerIds) the operator admits to chain_register
   * besides the genesis accounts; anyone else is refused (NOT_ADMITTED). @default []
   */
  registrationAllowlist: readonly string[]
  /**
   * Browser origins (e.g. `http://127.0.0.1:8080`) allowed to open a WebSocket. A handshake with an
   * `Origin` header not listed is refused (a request without one is not from a web page). @default []
   */
  allowedOrigins: readonly string[]
  /** Open WebSocket connections at most; more are refused (HTTP 503). @default 64 */
  maxConnections: number
  /** Subscriptions per connection at most. @default 16 */
  maxSubscriptionsPerConnection: number
  /** Calls per second per connection (a bucket of one second's calls); over it, LIMIT_EXCEEDED. @default 200 */
  maxCallsPerSecond: number
  /**
   * Consensus parameters for a new chain. For an existing data folder the stored genesis wins and
   * any field given here that differs from it is an error.
   */
  params: Partial<ChainParams>
}

export const DEVCHAIN_DEFAULTS: Readonly<Omit<DevChainOptions, 'dataDir' | 'params'>> = Object.freeze({
  host: '127.0.0.1',
  port: 9955,
  blockMs: 1000,
  allowRemote: false,
  reset: false,
  snapshotEveryBlocks: 100,
  eventRetentionBlocks: 7200,
  maxSubscriberBufferBytes: 16 * 1024 * 1024,
  maxPayloadBytes: 256 * 1024,
  registrationAllowlist: [],
  allowedOrigins: [],
  maxConnections: 64,
  maxSubscriptionsPerConnection: 16,
  maxCallsPerSecond: 200,
})

function intIn(field: string, v: number, min: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new DevChainError('INVALID_CONFIG', `${field}: ${v} must be an integer in ${min}..${max}`, field)
  }
}

/** Defaults filled in and every bound checked; throws DevChainError('INVALID_CONFIG') naming the field. */
export function resolveChainParams(partial: Partial<ChainParams>): ChainParams {
  const p: ChainParams = {
    ...CHAIN_PARAM_DEFAULTS,
    ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)),
    minStake: { ...CHAIN_PARAM_DEFAULTS.minStake, ...(partial.minStake ?? {}) },
    genesisAccounts: partial.genesisAccounts ?? [],
  }
  if (typeof p.seed !== 'string' || p.seed.length > 256) {
    throw new DevChainError('INVALID_CONFIG', 'seed: must be a string of at most 256 characters', 'seed')
  }
  intIn('epochLengthBlocks', p.epochLengthBlocks, 2, 1_000_000)
  intIn('blocksPerSlot', p.blocksPerSlot, 1, p.epochLengthBlocks)
  if (p.epochLengthBlocks % p.blocksPerSlot !== 0) {
    throw new DevChainError(
      'INVALID_CONFIG',
      `blocksPerSlot: ${p.blocksPerSlot} must divide epochLengthBlocks ${p.epochLengthBlocks}`,
      'blocksPerSlot',
    )
  }
  intIn('lookaheadBlocks', p.lookaheadBlocks, 1, p.epochLengthBlocks - 1)
  intIn('challengePeriodBlocks', p.challengePeriodBlocks, 1, 1_000_000)
  intIn('directorsPerEpoch', p.directorsPerEpoch, 1, MAX_DIRECTORS)
  intIn('quorum', p.quorum, 1, p.directorsPerEpoch)
  intIn('jitterPercent', p.jitterPercent, 0, 50)
  intIn('maxDirectorsPerRegion', p.maxDirectorsPerRegion, 1, MAX_DIRECTORS)
  intIn('cooldownEpochs', p.cooldownEpochs, 0, 1000)
  intIn('epochRetention', p.epochRetention, 2, 100_000)
  if (typeof p.reputationPerResult !== 'bigint' || p.reputationPerResult < 0n) {
    throw new DevChainError('INVALID_CONFIG', 'reputationPerResult: must be ≥ 0', 'reputationPerResult')
  }
  for (const role of NODE_ROLES) {
    const v = p.minStake[role]
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 128n) {
      throw new DevChainError('INVALID_CONFIG', `minStake.${role}: must be in 0..2^128-1`, `minStake.${role}`)
    }
  }
  if (p.genesisAccounts.length > 10_000) {
    throw new DevChainError('INVALID_CONFIG', 'genesisAccounts: at most 10000 accounts', 'genesisAccounts')
  }
  return p
}

export interface ListenAddress {
  host: string
  port: number
}

/** Parse `host:port` (IPv6 as `[::1]:port`). */
export function parseListen(v: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v)
  const port = m ? Number(m[3]) : Number.NaN
  if (!m || port > 65535) {
    throw new DevChainError('INVALID_CONFIG', `listen: "${v}" is not host:port (port 0..65535)`, 'listen')
  }
  return { host: (m[1] ?? m[2])!, port }
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(addr: string | undefined): boolean {
  if (addr === undefined) return false
  const a = addr.startsWith('::ffff:') ? addr.slice(7) : addr
  return a === '::1' || a === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)
}
