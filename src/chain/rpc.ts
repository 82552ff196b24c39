// The dev chain's JSON-RPC 2.0 wire format, shared by server, client and the WAL: method names,
// error codes, parameter parsing that names the offending parameter, and the JSON forms of chain
// values (u64 as decimal strings, bytes as 0x-hex, certificates as SCALE hex).
import { publicKeyFromProto } from '../crypto/index.ts'
import {
  bytesToHex,
  type Certificate,
  DecodeError,
  decodeCertificate,
  hexToBytes,
  TOPIC_MAX_BYTES,
} from '../types/index.ts'
import type {
  ChainEvent,
  ChainInfo,
  NodeRole,
  SlotResult,
  SubmitOutcome,
  SubmitRejectCode,
} from './client.ts'
import { isRegion, NODE_ROLES, REGIONS, type Region } from './config.ts'
import type { RegistrationCall } from './signing.ts'

export const RPC_METHODS = [
  'chain_info',
  'chain_getAccount',
  'chain_register',
  'chain_electedDirectors',
  'chain_submitBftResult',
  'chain_slotResult',
  'chain_submitEvidence',
  'chain_evidence',
  'chain_subscribe',
  'chain_unsubscribe',
] as const
export type RpcMethod = (typeof RPC_METHODS)[number]

/** The notification that carries subscription events. */
export const EVENT_NOTIFICATION = 'chain_event'

export const RPC_ERROR_CODES = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  REGISTRATION_REJECTED: -32010,
  EVENTS_PRUNED: -32011,
  UNAVAILABLE: -32012,
  /** A per-connection limit (subscriptions, calls per second) was reached. */
  LIMIT_EXCEEDED: -32013,
} as const
export type RpcErrorCode = keyof typeof RPC_ERROR_CODES

export interface RpcErrorData {
  /** The parameter at fault (dotted path), for INVALID_PARAMS. */
  field?: string
  /** Finer reason: a DecodeError code, a RegisterRejectCode, … */
  code?: string
  bound?: string
  oldestBlock?: string
}

/** An error the server answers with; `rpcCode` is the JSON-RPC number. */
export class RpcError extends Error {
  override readonly name = 'RpcError'
  constructor(
    readonly code: RpcErrorCode,
    message: string,
    readonly data?: RpcErrorData,
  ) {
    super(message)
  }
  get rpcCode(): number {
    return RPC_ERROR_CODES[this.code]
  }
  toJSON(): { code: number; message: string; data?: RpcErrorData } {
    return { code: this.rpcCode, message: this.message, ...(this.data ? { data: this.data } : {}) }
  }
}

function invalid(field: string, code: string, message: string, bound?: string): RpcError {
  return new RpcError('INVALID_PARAMS', `${field}: ${message}`, { field, code, ...(bound ? { bound } : {}) })
}

export const hex = (b: Uint8Array): string => `0x${bytesToHex(b)}`
const U64_MAX = (1n << 64n) - 1n
const U128_MAX = (1n << 128n) - 1n

/** By-name parameters of one call; unknown names are refused so that typos do not pass silently. */
export class Params {
  private readonly obj: Record<string, unknown>
  constructor(raw: unknown, allowed: readonly string[]) {
    if (raw === undefined || raw === null) raw = {}
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw invalid('params', 'INVALID_TYPE', 'must be an object of named parameters')
    }
    this.obj = raw as Record<string, unknown>
    for (const k of Object.keys(this.obj)) {
      if (!allowed.includes(k)) {
        throw invalid(k, 'UNKNOWN_FIELD', `unknown parameter (expected ${allowed.join(', ') || 'none'})`)
      }
    }
  }

  has(name: string): boolean {
    return this.obj[name] !== undefined && this.obj[name] !== null
  }

  private get(name: string): unknown {
    const v = this.obj[name]
    if (v === undefined || v === null) throw invalid(name, 'MISSING_FIELD', 'required parameter is missing')
    return v
  }

  bytes(name: string, opts: { len?: number; max?: number } = {}): Uint8Array {
    return bytesFromJson(this.get(name), name, opts)
  }

  u64(name: string): bigint {
    return u64FromJson(this.get(name), name)
  }

  u128(name: string): bigint {
    const v = this.get(name)
    const b = typeof v === 'string' && /^[0-9]{1,39}$/.test(v) ? BigInt(v) : null
    if (b === null || b > U128_MAX)
      throw invalid(name, 'OUT_OF_RANGE', 'must be a decimal string in 0..2^128-1')
    return b
  }

  u32(name: string): number {
    const v = this.get(name)
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw invalid(name, 'OUT_OF_RANGE', 'must be an integer in 0..2^32-1')
    }
    return v
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T {
    const v = this.get(name)
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      throw invalid(name, 'INVALID_VALUE', `must be one of ${values.join(', ')}`)
    }
    return v as T
  }

  str(name: string, max: number): string {
    const v = this.get(name)
    if (typeof v !== 'string' || v.length > max)
      throw invalid(name, 'INVALID_TYPE', `must be a string of ≤ ${max} chars`)
    return v
  }
}

export function bytesFromJson(
  v: unknown,
  field: string,
  opts: { len?: number; max?: number } = {},
): Uint8Array {
  if (typeof v !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(v)) {
    throw invalid(field, 'INVALID_HEX', 'must be 0x-prefixed hex with an even number of digits')
  }
  const n = (v.length - 2) / 2
  if (opts.len !== undefined && n !== opts.len) {
    throw invalid(field, 'INVALID_LENGTH', `must be ${opts.len} bytes, got ${n}`, `${opts.len} bytes`)
  }
  if (opts.max !== undefined && n > opts.max) {
    throw invalid(
      field,
      'INVALID_LENGTH',
      `must be at most ${opts.max} bytes, got ${n}`,
      `≤ ${opts.max} bytes`,
    )
  }
  return hexToBytes(v)
}

export function u64FromJson(v: unknown, field: string): bigint {
  let b: bigint | null = null
  if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) b = BigInt(v)
  else if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) b = BigInt(v)
  if (b === null || b > U64_MAX) {
    throw invalid(
      field,
      'OUT_OF_RANGE',
      'must be a u64 (decimal string, or an integer ≤ 2^53-1)',
      '0..2^64-1',
    )
  }
  return b
}

/** A libp2p protobuf Ed25519 public key (36 bytes): accounts, peers and submitters. */
export function protoKeyParam(p: Params, name: string): Uint8Array {
  const b = p.bytes(name, { len: 36 })
  if (publicKeyFromProto(b) === null) {
    throw invalid(
      name,
      'INVALID_KEY',
      'must be a libp2p protobuf Ed25519 public key (08 01 12 20 ‖ 32 bytes)',
    )
  }
  return b
}

// --- calls ---------------------------------------------------------------------------------------

export interface RegisterTx extends RegistrationCall {
  signature: Uint8Array
  peerBinding: Uint8Array | null
}

export const REGISTER_PARAMS = [
  'account',
  'peer',
  'role',
  'region',
  'stake',
  'nonce',
  'signature',
  'peerBinding',
]

export function parseRegisterParams(raw: unknown): RegisterTx {
  const p = new Params(raw, REGISTER_PARAMS)
  return {
    account: protoKeyParam(p, 'account'),
    peer: protoKeyParam(p, 'peer'),
    role: p.oneOf('role', NODE_ROLES),
    region: p.oneOf('region', REGIONS),
    stake: p.u128('stake'),
    nonce: p.u32('nonce'),
    signature: p.bytes('signature', { len: 64 }),
    peerBinding: p.has('peerBinding') ? p.bytes('peerBinding', { len: 64 }) : null,
  }
}

export function registerTxToJson(tx: RegisterTx): Record<string, unknown> {
  return {
    account: hex(tx.account),
    peer: hex(tx.peer),
    role: tx.role,
    region: tx.region,
    stake: tx.stake.toString(),
    nonce: tx.nonce,
    signature: hex(tx.signature),
    ...(tx.peerBinding ? { peerBinding: hex(tx.peerBinding) } : {}),
  }
}

export interface SubmitTx {
  slot: bigint
  /** SCALE bytes as received: what the call signature covers. */
  certificateScale: Uint8Array
  certificate: Certificate
  submitter: Uint8Array
  signature: Uint8Array
}

export const SUBMIT_PARAMS = ['slot', 'certificate', 'submitter', 'signature']

export function parseSubmitParams(raw: unknown): SubmitTx {
  const p = new Params(raw, SUBMIT_PARAMS)
  const slot = p.u64('slot')
  const certificateScale = p.bytes('certificate', { max: TOPIC_MAX_BYTES.bft })
  let certificate: Certificate
  try {
    certificate = decodeCertificate(certificateScale)
  } catch (err) {
    if (err instanceof DecodeError) {
      const field = err.field ? `certificate.${err.field}` : 'certificate'
      throw invalid(field, err.code, err.message)
    }
    throw err
  }
  return {
    slot,
    certificateScale,
    certificate,
    submitter: protoKeyParam(p, 'submitter'),
    signature: p.bytes('signature', { len: 64 }),
  }
}

/** `chain_submitEvidence`: the evidence as on /nsn/challenges/1.0.0; its signatures authenticate it. */
export function parseEvidenceParams(raw: unknown): { evidence: Uint8Array } {
  const p = new Params(raw, ['evidence'])
  return { evidence: p.bytes('evidence', { max: TOPIC_MAX_BYTES.challenges }) }
}

export function submitTxToJson(tx: SubmitTx): Record<string, unknown> {
  return {
    slot: tx.slot.toString(),
    certificate: hex(tx.certificateScale),
    submitter: hex(tx.submitter),
    signature: hex(tx.signature),
  }
}

// --- values ------------------------------------------------------------------------------------

export type ChainInfoJson = Record<string, unknown>

export function chainInfoToJson(i: ChainInfo & { directorsPerEpoch: number }): ChainInfoJson {
  return {
    genesisHash: hex(i.genesisHash),
    bestBlock: i.bestBlock.toString(),
    currentEpoch: i.currentEpoch.toString(),
    epochLengthBlocks: i.epochLengthBlocks,
    lookaheadBlocks: i.lookaheadBlocks,
    challengePeriodBlocks: i.challengePeriodBlocks,
    blockTimeMs: i.blockTimeMs,
    blocksPerSlot: i.blocksPerSlot,
    slotsPerEpoch: i.slotsPerEpoch,
    quorum: i.quorum,
    directorsPerEpoch: i.directorsPerEpoch,
    bestBlockTimestampMs: i.bestBlockTimestampMs ?? null,
  }
}

function num(o: Record<string, unknown>, k: string): number {
  const v = o[k]
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    throw invalid(k, 'INVALID_TYPE', 'expected an integer')
  return v
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw invalid(field, 'INVALID_TYPE', 'expected an object')
  return v as Record<string, unknown>
}

export function chainInfoFromJson(v: unknown): ChainInfo {
  const o = obj(v, 'info')
  return {
    genesisHash: bytesFromJson(o.genesisHash, 'genesisHash', { len: 32 }),
    bestBlock: u64FromJson(o.bestBlock, 'bestBlock'),
    currentEpoch: u64FromJson(o.currentEpoch, 'currentEpoch'),
    epochLengthBlocks: num(o, 'epochLengthBlocks'),
    lookaheadBlocks: num(o, 'lookaheadBlocks'),
    challengePeriodBlocks: num(o, 'challengePeriodBlocks'),
    blockTimeMs: num(o, 'blockTimeMs'),
    blocksPerSlot: num(o, 'blocksPerSlot'),
    slotsPerEpoch: num(o, 'slotsPerEpoch'),
    quorum: num(o, 'quorum'),
    // Absent from chains older than block timestamps: not known.
    bestBlockTimestampMs:
      o.bestBlockTimestampMs === undefined || o.bestBlockTimestampMs === null
        ? null
        : num(o, 'bestBlockTimestampMs'),
  }
}

/** An event on the wire: the ChainEvent plus its position in its block. */
export interface IndexedEvent {
  event: ChainEvent
  index: number
}

export function eventToJson(e: ChainEvent, index: number): Record<string, unknown> {
  const base = { type: e.type, block: e.block.toString(), index }
  switch (e.type) {
    case 'OnDeckElection':
      return {
        ...base,
        epoch: e.epoch.toString(),
        directors: e.directors.map(hex),
        startBlock: e.startBlock.toString(),
      }
    case 'EpochStarted':
      return {
        ...base,
        epoch: e.epoch.toString(),
        directors: e.directors.map(hex),
        endBlock: e.endBlock.toString(),
      }
    case 'EpochCompleted':
      return { ...base, epoch: e.epoch.toString() }
    case 'BftResultSubmitted':
      return {
        ...base,
        slot: e.slot.toString(),
        canonicalHash: hex(e.canonicalHash),
        submitter: hex(e.submitter),
      }
    case 'BftResultFinalized':
      return { ...base, slot: e.slot.toString(), canonicalHash: hex(e.canonicalHash) }
    case 'NewBlock':
      return base
  }
}

function keys(v: unknown, field: string): Uint8Array[] {
  if (!Array.isArray(v)) throw invalid(field, 'INVALID_TYPE', 'expected an array')
  return v.map((x, i) => bytesFromJson(x, `${field}[${i}]`, { max: 64 }))
}

export function eventFromJson(v: unknown): IndexedEvent {
  const o = obj(v, 'event')
  const block = u64FromJson(o.block, 'block')
  const index = num(o, 'index')
  let event: ChainEvent
  switch (o.type) {
    case 'OnDeckElection':
      event = {
        type: 'OnDeckElection',
        block,
        epoch: u64FromJson(o.epoch, 'epoch'),
        directors: keys(o.directors, 'directors'),
        startBlock: u64FromJson(o.startBlock, 'startBlock'),
      }
      break
    case 'EpochStarted':
      event = {
        type: 'EpochStarted',
        block,
        epoch: u64FromJson(o.epoch, 'epoch'),
        directors: keys(o.directors, 'directors'),
        endBlock: u64FromJson(o.endBlock, 'endBlock'),
      }
      break
    case 'EpochCompleted':
      event = { type: 'EpochCompleted', block, epoch: u64FromJson(o.epoch, 'epoch') }
      break
    case 'BftResultSubmitted':
      event = {
        type: 'BftResultSubmitted',
        block,
        slot: u64FromJson(o.slot, 'slot'),
        canonicalHash: bytesFromJson(o.canonicalHash, 'canonicalHash', { len: 32 }),
        submitter: bytesFromJson(o.submitter, 'submitter', { max: 64 }),
      }
      break
    case 'BftResultFinalized':
      event = {
        type: 'BftResultFinalized',
        block,
        slot: u64FromJson(o.slot, 'slot'),
        canonicalHash: bytesFromJson(o.canonicalHash, 'canonicalHash', { len: 32 }),
      }
      break
    case 'NewBlock':
      event = { type: 'NewBlock', block }
      break
    default:
      throw invalid('type', 'INVALID_VALUE', `unknown event type ${String(o.type)}`)
  }
  return { event, index }
}

export interface SlotResultJsonInput extends Omit<SlotResult, 'certificate'> {
  certificateScale: Uint8Array
  finalizedBlock: bigint | null
}

export function slotResultToJson(r: SlotResultJsonInput): Record<string, unknown> {
  return {
    slot: r.slot.toString(),
    epoch: r.epoch.toString(),
    canonicalHash: hex(r.canonicalHash),
    submitter: hex(r.submitter),
    submittedBlock: r.submittedBlock.toString(),
    finalized: r.finalized,
    finalizedBlock: r.finalizedBlock === null ? null : r.finalizedBlock.toString(),
    certificate: hex(r.certificateScale),
  }
}

export function slotResultFromJson(v: unknown): SlotResult {
  const o = obj(v, 'result')
  const certBytes = bytesFromJson(o.certificate, 'certificate', { max: TOPIC_MAX_BYTES.bft })
  if (typeof o.finalized !== 'boolean') throw invalid('finalized', 'INVALID_TYPE', 'expected a boolean')
  return {
    slot: u64FromJson(o.slot, 'slot'),
    epoch: u64FromJson(o.epoch, 'epoch'),
    canonicalHash: bytesFromJson(o.canonicalHash, 'canonicalHash', { len: 32 }),
    submitter: bytesFromJson(o.submitter, 'submitter', { max: 64 }),
    submittedBlock: u64FromJson(o.submittedBlock, 'submittedBlock'),
    finalized: o.finalized,
    certificate: decodeCertificate(certBytes),
  }
}

export function submitOutcomeToJson(o: SubmitOutcome): Record<string, unknown> {
  switch (o.status) {
    case 'accepted':
      return { status: 'accepted', block: o.block.toString(), duplicate: o.duplicate === true }
    case 'rejected':
      return {
        status: 'rejected',
        code: o.code,
        reason: o.reason,
        ...(o.certificateCode ? { certificateCode: o.certificateCode } : {}),
      }
    case 'unknown':
      return { status: 'unknown', reason: o.reason }
  }
}

const REJECT_CODES: readonly SubmitRejectCode[] = [
  'NOT_ELECTED',
  'BAD_CERTIFICATE',
  'ALREADY_SUBMITTED',
  'UNKNOWN_EPOCH',
  'SLOT_MISMATCH',
  'MALFORMED',
]

export function submitOutcomeFromJson(v: unknown): SubmitOutcome {
  const o = obj(v, 'outcome')
  if (o.status === 'accepted') {
    return { status: 'accepted', block: u64FromJson(o.block, 'block'), duplicate: o.duplicate === true }
  }
  if (o.status === 'rejected' && REJECT_CODES.includes(o.code as SubmitRejectCode)) {
    return {
      status: 'rejected',
      code: o.code as SubmitRejectCode,
      reason: String(o.reason ?? ''),
      ...(typeof o.certificateCode === 'string'
        ? {
            certificateCode: o.certificateCode as NonNullable<
              Extract<SubmitOutcome, { status: 'rejected' }>['certificateCode']
            >,
          }
        : {}),
    }
  }
  throw invalid('status', 'INVALID_VALUE', `unexpected submission outcome ${JSON.stringify(o.status)}`)
}

export interface AccountJson {
  account: string
  peer: string
  role: NodeRole
  region: Region
  stake: string
  nonce: number
  reputation: string
  registeredBlock: string
}

export function isRegionValue(v: unknown): v is Region {
  return typeof v === 'string' && isRegion(v)
}
