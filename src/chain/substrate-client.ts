// ChainClient for a real NSN network: polkadot-api 2.2 over WebSocket, untyped (getUnsafeApi, no
// generated descriptors), against the reference runtime's NsnDirector and NsnStake pallets. Its
// transport, runtime check, signing, nonces and finality watching run live against chopsticks
// executing a real runtime (test/substrate/); the NSN pallets' mapping only against SCALE fixtures
// (no runtime with those pallets runs here): docs/chain.md says which is which.
import { decAnyMetadata, unifyMetadata } from '@polkadot-api/substrate-bindings'

import pino, { type Logger } from 'pino'
import { createClient, type PolkadotClient, type SS58String } from 'polkadot-api'
import { getPolkadotSigner } from 'polkadot-api/signer'
import { getWsProvider } from 'polkadot-api/ws'
import { WebSocket } from 'ws'
import { CertificateError, publicKeyFromProto, verifyCertificate } from '../crypto/index.ts'
import { type Certificate, equalBytes, hexToBytes } from '../types/index.ts'
import type {
  ChainClient,
  ChainEvent,
  ChainInfo,
  NodeRegistration,
  SlotResult,
  SubmitOutcome,
} from './client.ts'
import { isRegion } from './config.ts'
import { ChainClientError } from './errors.ts'
import type { ChainClientMetrics } from './metrics.ts'
import {
  accountIdFromProtoKey,
  type BftResultValue,
  DIRECTOR_ERROR_CODES,
  type DirectorEventValue,
  depositStakeArgs,
  mapDirectorEvent,
  NSN_RUNTIME,
  protoKeyFromAccountId,
  submitBftResultArgs,
} from './substrate-mapping.ts'

export interface SubstrateChainClientInit {
  /** ws:// or wss:// endpoint of an NSN node. */
  url: string
  logger?: Logger
  metrics?: ChainClientMetrics | null
  /** @default NSN_RUNTIME.ss58Format */
  ss58Format?: number
  /** Blocks per slot of the runtime (not in its metadata). @default 8 */
  blocksPerSlot?: number
  /** @default 3 (BFT_THRESHOLD) */
  quorum?: number
  /** @default 50 (CHALLENGE_PERIOD_BLOCKS) */
  challengePeriodBlocks?: number
  /** `lock_blocks` for deposit_stake. @default 0 */
  lockBlocks?: number
  /** A submission not finalized within this is reported `unknown`. @default 120000 */
  submitTimeoutMs?: number
}

type At = { at?: string }
interface EpochValue {
  id: bigint
  start_block: number
  end_block: number
  directors: SS58String[]
}
interface TxFinalized {
  type: 'finalized'
  txHash: string
  ok: boolean
  block: { hash: string; number: number }
  events: { type: string; value: { type: string; value: unknown } }[]
  dispatchError?: { type: string; value: unknown }
}
type TxOptions = { nonce?: number; mortality?: { mortal: true; period: number } | { mortal: false } }
interface UnsafeTx {
  signSubmitAndWatch(
    signer: ReturnType<typeof getPolkadotSigner>,
    opts?: TxOptions,
  ): {
    subscribe(o: { next(e: { type: string } & Partial<TxFinalized>): void; error(err: unknown): void }): {
      unsubscribe(): void
    }
  }
}
type NodeSigner = { publicKeyProto: Uint8Array; sign(msg: Uint8Array): Uint8Array }

/** What the client needs of the runtime, checked against its metadata at start (docs/chain.md). */
export const REQUIRED_RUNTIME = {
  NsnDirector: {
    calls: ['submit_bft_result'],
    storage: ['CurrentEpoch', 'NextEpochDirectors', 'BftResults', 'FinalizedSlots'],
    events: ['BftResultPending', 'BftConsensusFinalized', 'OnDeckElection', 'EpochStarted', 'EpochCompleted'],
    constants: ['EpochDuration', 'EpochLookahead'],
  },
  NsnStake: { calls: ['deposit_stake'], storage: ['Stakes'], events: [], constants: [] },
} as const

type Lookup = { id: number; def: { tag: string; value: unknown } }[]

function variantNames(lookup: Lookup, id: number | undefined): Set<string> {
  if (id === undefined) return new Set()
  const t = lookup[id]
  if (t?.def.tag !== 'variant') return new Set()
  return new Set((t.def.value as { name: string }[]).map((v) => v.name))
}

/**
 * What `required` names that the runtime metadata lacks, as `Pallet`, `Pallet.call`,
 * `Pallet.storage Item`, `Pallet.event Name` or `Pallet.constant Name`; empty when all is there.
 */
export function missingRuntimeItems(
  metadataBytes: Uint8Array,
  required: Record<
    string,
    {
      calls: readonly string[]
      storage: readonly string[]
      events: readonly string[]
      constants: readonly string[]
    }
  > = REQUIRED_RUNTIME,
): string[] {
  const md = unifyMetadata(decAnyMetadata(metadataBytes)) as unknown as {
    lookup: Lookup
    pallets: {
      name: string
      calls?: { type: number }
      events?: { type: number }
      storage?: { items: { name: string }[] }
      constants: { name: string }[]
    }[]
  }
  const missing: string[] = []
  for (const [name, need] of Object.entries(required)) {
    const p = md.pallets.find((x) => x.name === name)
    if (p === undefined) {
      missing.push(`pallet ${name}`)
      continue
    }
    const calls = variantNames(md.lookup, p.calls?.type)
    const events = variantNames(md.lookup, p.events?.type)
    const storage = new Set((p.storage?.items ?? []).map((i) => i.name))
    const constants = new Set(p.constants.map((c) => c.name))
    for (const c of need.calls) if (!calls.has(c)) missing.push(`${name}.${c}`)
    for (const i of need.storage) if (!storage.has(i)) missing.push(`${name} storage ${i}`)
    for (const e of need.events) if (!events.has(e)) missing.push(`${name} event ${e}`)
    for (const c of need.constants) if (!constants.has(c)) missing.push(`${name} constant ${c}`)
  }
  return missing
}

/** The outcome of a signed extrinsic watched to finality. */
export interface ExtrinsicResult {
  ok: boolean
  txHash: string
  block: { hash: string; number: number }
  nonce: number
  events: { type: string; value: { type: string; value: unknown } }[]
  dispatchError?: { type: string; value: unknown }
}

/** Longest run of finalized blocks fetched after a reconnection (larger gaps are logged as missed). */
export const MAX_CATCH_UP_BLOCKS = 600

/** Mortality of every extrinsic: valid for 64 blocks from the finalized block it was built on. */
export const TX_MORTALITY_PERIOD = 64
interface SystemEventRecord {
  event: { type: string; value: DirectorEventValue }
}

/** The part of the unsafe API this client uses (runtime shapes as polkadot-api decodes them). */
interface NsnApi {
  query: {
    System: { Events: { getValue(o?: At): Promise<SystemEventRecord[]> } }
    NsnDirector: {
      CurrentEpoch: { getValue(o?: At): Promise<EpochValue | undefined> }
      NextEpochDirectors: { getValue(o?: At): Promise<SS58String[]> }
      BftResults: { getValue(slot: bigint, o?: At): Promise<BftResultValue | undefined> }
      FinalizedSlots: { getValue(slot: bigint, o?: At): Promise<boolean> }
    }
    NsnStake: {
      Stakes: { getValue(who: SS58String, o?: At): Promise<{ amount: bigint; region: { type: string } }> }
    }
  }
  constants: {
    NsnDirector: { EpochDuration(): Promise<number>; EpochLookahead(): Promise<number> }
    Aura?: { SlotDuration?(): Promise<bigint> }
  }
  tx: Record<string, Record<string, ((args: unknown) => UnsafeTx) | undefined> | undefined>
}

export class SubstrateChainClient implements ChainClient {
  private readonly client: PolkadotClient
  private readonly api: NsnApi
  private readonly logger: Logger
  private readonly metrics: ChainClientMetrics | null
  private readonly ss58: number
  private readonly blocksPerSlot: number
  private readonly quorum: number
  private readonly challengePeriod: number
  private readonly lockBlocks: number
  private readonly submitTimeoutMs: number
  private genesis: Uint8Array | null = null
  /** Certificates this client submitted: the runtime stores only the hash. */
  private readonly submitted = new Map<bigint, Certificate>()
  private runtimeChecked: Promise<void> | null = null
  /** Next nonce per account, assigned here so concurrent submissions never share one. */
  private readonly nonces = new Map<string, Promise<number>>()

  constructor(init: SubstrateChainClientInit) {
    this.logger = (init.logger ?? pino({ level: 'silent' })).child({ module: 'substrate-client' })
    this.metrics = init.metrics ?? null
    this.ss58 = init.ss58Format ?? NSN_RUNTIME.ss58Format
    this.blocksPerSlot = init.blocksPerSlot ?? NSN_RUNTIME.blocksPerSlot
    this.quorum = init.quorum ?? NSN_RUNTIME.bftThreshold
    this.challengePeriod = init.challengePeriodBlocks ?? NSN_RUNTIME.challengePeriodBlocks
    this.lockBlocks = init.lockBlocks ?? 0
    this.submitTimeoutMs = init.submitTimeoutMs ?? 120_000
    this.client = createClient(
      getWsProvider(init.url, {
        websocketClass: WebSocket as unknown as typeof globalThis.WebSocket,
        onStatusChanged: (s) => {
          this.logger.info({ status: s.type }, 'substrate connection')
          this.metrics?.connected.set(s.type === 'CONNECTED' ? 1 : 0)
          if (s.type === 'CONNECTED') this.metrics?.reconnects.inc()
        },
      }),
    )
    this.api = this.client.getUnsafeApi() as unknown as NsnApi
  }

  private async genesisHash(): Promise<Uint8Array> {
    if (this.genesis === null) this.genesis = hexToBytes((await this.client.getChainSpecData()).genesisHash)
    return this.genesis
  }

  /**
   * Refuse a chain whose runtime lacks what this client needs, naming every missing pallet, call,
   * storage item, event and constant (read from the finalized block's metadata). Runs once, at start.
   */
  checkRuntime(required: Parameters<typeof missingRuntimeItems>[1] = REQUIRED_RUNTIME): Promise<void> {
    const run = async () => {
      const best = await this.client.getFinalizedBlock()
      const missing = missingRuntimeItems(await this.client.getMetadata(best.hash), required)
      if (missing.length > 0)
        throw new ChainClientError(
          'INCOMPATIBLE_RUNTIME',
          `the chain's runtime lacks what an NSN node needs: ${missing.join(', ')}`,
          undefined,
          missing.join(', '),
        )
    }
    if (required !== REQUIRED_RUNTIME) return run()
    this.runtimeChecked ??= run().catch((err) => {
      this.runtimeChecked = null
      throw err
    })
    return this.runtimeChecked
  }

  async info(): Promise<ChainInfo> {
    await this.checkRuntime()
    const [genesisHash, finalized, epoch, epochLen, lookahead, slotMs] = await Promise.all([
      this.genesisHash(),
      this.client.getFinalizedBlock(),
      this.api.query.NsnDirector.CurrentEpoch.getValue(),
      this.api.constants.NsnDirector.EpochDuration(),
      this.api.constants.NsnDirector.EpochLookahead(),
      this.api.constants.Aura?.SlotDuration?.().catch(() => 6000n) ?? Promise.resolve(6000n),
    ])
    return {
      genesisHash,
      bestBlock: BigInt(finalized.number),
      currentEpoch: epoch?.id ?? 0n,
      epochLengthBlocks: epochLen,
      lookaheadBlocks: lookahead,
      challengePeriodBlocks: this.challengePeriod,
      blockTimeMs: Number(slotMs),
      blocksPerSlot: this.blocksPerSlot,
      // The reference epochs start at the bootstrap block, not at a slot boundary: approximate.
      slotsPerEpoch: Math.floor(epochLen / this.blocksPerSlot),
      quorum: this.quorum,
    }
  }

  private signerFor(signer: { sign(msg: Uint8Array): Uint8Array }, proto: Uint8Array) {
    const raw = publicKeyFromProto(proto)
    if (raw === null)
      throw new ChainClientError('INVALID_PARAMS', 'publicKey: not an Ed25519 protobuf key', 'publicKey')
    return getPolkadotSigner(raw, 'Ed25519', (m) => signer.sign(m))
  }

  /**
   * `NsnStake.deposit_stake` for the difference to the requested stake. The account is the node key
   * itself (one account per PeerId by construction); a separate account is not supported here.
   */
  async register(reg: NodeRegistration, signer: { sign(msg: Uint8Array): Uint8Array }): Promise<void> {
    if (reg.account !== undefined && !equalBytes(reg.account, reg.publicKey)) {
      throw new ChainClientError(
        'UNSUPPORTED',
        'account: on Substrate the account is the node key',
        'account',
      )
    }
    if (!isRegion(reg.region)) {
      throw new ChainClientError('INVALID_PARAMS', `region: unknown region ${reg.region}`, 'region')
    }
    const who = accountIdFromProtoKey(reg.publicKey, this.ss58)
    const current = await this.api.query.NsnStake.Stakes.getValue(who)
    const delta = reg.stake > current.amount ? reg.stake - current.amount : 0n
    if (delta === 0n && current.region?.type === depositStakeArgs(0n, 0, reg.region).region.type) return
    const r = await this.sendCall(
      'NsnStake',
      'deposit_stake',
      depositStakeArgs(delta, this.lockBlocks, reg.region),
      { publicKeyProto: reg.publicKey, sign: (m) => signer.sign(m) },
    )
    if (!r.ok) {
      throw new ChainClientError(
        'DISPATCH_ERROR',
        `deposit_stake failed: ${JSON.stringify(r.dispatchError)}`,
        undefined,
        JSON.stringify(r.dispatchError),
      )
    }
  }

  /** The current epoch's or the On-Deck epoch's directors; earlier epochs are not in storage: []. */
  async electedDirectors(epoch: bigint): Promise<Uint8Array[]> {
    const cur = await this.api.query.NsnDirector.CurrentEpoch.getValue()
    if (cur !== undefined && cur.id === epoch) return cur.directors.map(protoKeyFromAccountId)
    if (cur !== undefined && cur.id + 1n === epoch) {
      return (await this.api.query.NsnDirector.NextEpochDirectors.getValue()).map(protoKeyFromAccountId)
    }
    return []
  }

  /**
   * Follows finalized blocks and maps NsnDirector events, each finalized block exactly once and in
   * order. Blocks finalized while the connection was down (a node restart) are fetched by number
   * (`chain_getBlockHash`) and delivered before the new one, up to MAX_CATCH_UP_BLOCKS; a longer gap
   * is logged as missed. There is no history API behind chainHead: `fromBlock` older than the
   * current finalized block starts at the current one.
   */
  subscribe(handler: (event: ChainEvent) => void, fromBlock?: bigint): () => void {
    let last: bigint | null = fromBlock === undefined ? null : fromBlock - 1n
    let chain = Promise.resolve()
    const deliver = async (n: bigint, hash: string) => {
      const at = { at: hash }
      const records = await this.api.query.System.Events.getValue(at)
      const out: ChainEvent[] = []
      for (const r of records) {
        if (r.event.type !== 'NsnDirector') continue
        const ev = r.event.value
        let result: BftResultValue | undefined
        if (ev.type === 'BftResultPending' || ev.type === 'BftConsensusFinalized') {
          result = await this.api.query.NsnDirector.BftResults.getValue(ev.value.slot as bigint, at)
        }
        const mapped = mapDirectorEvent(ev, n, result)
        if (mapped) out.push(mapped)
      }
      out.push({ type: 'NewBlock', block: n })
      last = n
      for (const e of out) {
        this.metrics?.events.inc({ type: e.type })
        const fail = (err: unknown) => this.logger.error({ err, type: e.type }, 'chain event handler threw')
        try {
          const r = handler(e) as unknown
          if (r instanceof Promise) r.catch(fail)
        } catch (err) {
          fail(err)
        }
      }
    }
    const sub = this.client.finalizedBlock$.subscribe((block) => {
      chain = chain
        .then(async () => {
          const n = BigInt(block.number)
          if (last !== null && n <= last) return
          if (last !== null && n > last + 1n) {
            if (n - last - 1n > BigInt(MAX_CATCH_UP_BLOCKS)) {
              this.logger.error(
                { from: (last + 1n).toString(), to: (n - 1n).toString() },
                'finalized blocks not seen and too many to fetch: their events are missed',
              )
            } else {
              for (let m = last + 1n; m < n; m++) {
                const hash = await this.client._request<string | null>('chain_getBlockHash', [Number(m)])
                if (hash === null) throw new Error(`block ${m}: no hash`)
                await deliver(m, hash)
              }
            }
          }
          await deliver(n, block.hash)
        })
        .catch((err) => this.logger.error({ err, block: block.number }, 'reading block events failed'))
    })
    return () => sub.unsubscribe()
  }

  async submitBftResult(
    slot: bigint,
    certificate: Certificate,
    signer: { publicKeyProto: Uint8Array; sign(msg: Uint8Array): Uint8Array },
  ): Promise<SubmitOutcome> {
    const outcome = await this.submit(slot, certificate, signer).catch(
      (err: unknown): SubmitOutcome => ({ status: 'unknown', reason: (err as Error).message }),
    )
    this.metrics?.submissions.inc({
      status: outcome.status === 'accepted' && outcome.duplicate ? 'duplicate' : outcome.status,
    })
    return outcome
  }

  private async submit(
    slot: bigint,
    cert: Certificate,
    signer: { publicKeyProto: Uint8Array; sign(msg: Uint8Array): Uint8Array },
  ): Promise<SubmitOutcome> {
    if (cert.slot !== slot)
      return {
        status: 'rejected',
        code: 'SLOT_MISMATCH',
        reason: `certificate.slot ${cert.slot} ≠ slot ${slot}`,
      }
    // The pallet verifies no signature (docs/protocol.md §7 fix): verify here against the epoch's directors.
    const elected = await this.electedDirectors(cert.epoch)
    if (elected.length === 0)
      return {
        status: 'rejected',
        code: 'UNKNOWN_EPOCH',
        reason: `epoch ${cert.epoch}: directors not in storage`,
      }
    let canonical: Uint8Array
    try {
      canonical = verifyCertificate(cert, {
        networkId: await this.genesisHash(),
        elected,
        quorum: this.quorum,
      })
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err
      return { status: 'rejected', code: 'BAD_CERTIFICATE', reason: err.message, certificateCode: err.code }
    }
    const existing = await this.api.query.NsnDirector.BftResults.getValue(slot)
    if (existing !== undefined) return this.compareExisting(existing, canonical, slot)
    const r = await this.sendCall(
      'NsnDirector',
      'submit_bft_result',
      submitBftResultArgs(slot, cert, canonical, this.ss58),
      signer,
    )
    if (r.ok) {
      this.submitted.set(slot, cert)
      return { status: 'accepted', block: BigInt(r.block.number) }
    }
    const name = dispatchErrorName(r.dispatchError)
    if (name === 'ResultAlreadySubmitted') {
      const now = await this.api.query.NsnDirector.BftResults.getValue(slot)
      if (now !== undefined) return this.compareExisting(now, canonical, slot)
    }
    const code =
      name !== null && name in DIRECTOR_ERROR_CODES
        ? DIRECTOR_ERROR_CODES[name as keyof typeof DIRECTOR_ERROR_CODES]
        : 'MALFORMED'
    return {
      status: 'rejected',
      code,
      reason: `submit_bft_result: ${name ?? JSON.stringify(r.dispatchError)}`,
    }
  }

  private compareExisting(existing: BftResultValue, canonical: Uint8Array, slot: bigint): SubmitOutcome {
    if (equalBytes(hexToBytes(existing.canonical_hash), canonical)) {
      return { status: 'accepted', block: existing.submitted_at_block, duplicate: true }
    }
    return {
      status: 'rejected',
      code: 'ALREADY_SUBMITTED',
      reason: `slot ${slot}: another result is recorded`,
    }
  }

  /**
   * Sign `pallet.call(args)` with the node's own Ed25519 key (MultiSigner::Ed25519 account), as a
   * mortal extrinsic (TX_MORTALITY_PERIOD blocks) with a nonce assigned here, submit it and watch it
   * to finality. Every signed call of this client goes through here (submit_bft_result,
   * deposit_stake; the live tests send System.remark_with_event the same way). A dispatch error is
   * `ok: false`; an extrinsic the pool refuses throws ChainClientError (INSUFFICIENT_FUNDS for an
   * account that cannot pay the fee, INVALID_TRANSACTION otherwise), as does a missing call
   * (INCOMPATIBLE_RUNTIME) and no finality within submitTimeoutMs (UNAVAILABLE).
   */
  async sendCall(pallet: string, call: string, args: unknown, signer: NodeSigner): Promise<ExtrinsicResult> {
    const make = this.api.tx[pallet]?.[call]
    if (make === undefined)
      throw new ChainClientError('INCOMPATIBLE_RUNTIME', `the runtime has no call ${pallet}.${call}`)
    const tx = make(args)
    const who = accountIdFromProtoKey(signer.publicKeyProto, this.ss58)
    const papiSigner = this.signerFor(signer, signer.publicKeyProto)
    const nonce = await this.nextNonce(who)
    try {
      const fin = await new Promise<TxFinalized>((resolve, reject) => {
        const timer = setTimeout(() => {
          sub.unsubscribe()
          reject(
            new ChainClientError(
              'UNAVAILABLE',
              `${pallet}.${call}: not finalized within ${this.submitTimeoutMs} ms`,
            ),
          )
        }, this.submitTimeoutMs)
        const sub = tx
          .signSubmitAndWatch(papiSigner, { nonce, mortality: { mortal: true, period: TX_MORTALITY_PERIOD } })
          .subscribe({
            next: (e) => {
              if (e.type !== 'finalized') return
              clearTimeout(timer)
              resolve(e as TxFinalized)
            },
            error: (err) => {
              clearTimeout(timer)
              reject(err)
            },
          })
      })
      return {
        ok: fin.ok,
        txHash: fin.txHash,
        block: fin.block,
        nonce,
        events: fin.events,
        ...(fin.dispatchError !== undefined ? { dispatchError: fin.dispatchError } : {}),
      }
    } catch (err) {
      // The nonce may not have been used: read it from the chain again for the next call.
      this.nonces.delete(who)
      throw this.poolError(err, pallet, call, who)
    }
  }

  /** Nonces are handed out one by one per account: the chain's next index first, then counted here. */
  private nextNonce(who: SS58String): Promise<number> {
    const prev = this.nonces.get(who)
    const next = (
      prev === undefined
        ? this.client._request<number>('system_accountNextIndex', [who])
        : prev.then((n) => n + 1)
    ).catch((err: unknown) => {
      this.nonces.delete(who)
      throw err
    })
    this.nonces.set(who, next)
    return next
  }

  private poolError(err: unknown, pallet: string, call: string, who: string): Error {
    if (err instanceof ChainClientError) return err
    const e = err as { name?: string; error?: unknown; message?: string }
    const detail = JSON.stringify(e.error ?? null, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
    if (e.name === 'InvalidTxError' || detail.includes('"Invalid"')) {
      if (detail.includes('"Payment"'))
        return new ChainClientError(
          'INSUFFICIENT_FUNDS',
          `${pallet}.${call}: account ${who} cannot pay the transaction fee (fund it first)`,
          'account',
          detail,
        )
      return new ChainClientError(
        'INVALID_TRANSACTION',
        `${pallet}.${call}: the transaction pool refused it: ${detail}`,
        undefined,
        detail,
      )
    }
    return new ChainClientError(
      'UNAVAILABLE',
      `${pallet}.${call}: ${e.message ?? String(err)}`,
      undefined,
      detail,
    )
  }

  async slotResult(slot: bigint): Promise<SlotResult | null> {
    const [r, finalized] = await Promise.all([
      this.api.query.NsnDirector.BftResults.getValue(slot),
      this.api.query.NsnDirector.FinalizedSlots.getValue(slot),
    ])
    if (r === undefined) return null
    const epoch = slot / BigInt(Math.max(1, Math.floor((await this.info()).slotsPerEpoch)))
    return {
      slot,
      epoch,
      canonicalHash: hexToBytes(r.canonical_hash),
      submitter: protoKeyFromAccountId(r.submitter),
      submittedBlock: r.submitted_at_block,
      finalized,
      // Not stored on chain: known only for this client's own submissions (see SlotResult docs).
      certificate: this.submitted.get(slot) ?? {
        epoch,
        slot,
        recipe_hash: new Uint8Array(32),
        members: [],
        commits: [],
      },
    }
  }

  async close(): Promise<void> {
    this.client.destroy()
  }
}

/** `{type:'Module', value:{type:'NsnDirector', value:{type:'NotElectedDirector'}}}` → 'NotElectedDirector'. */
export function dispatchErrorName(e: unknown): string | null {
  const m = e as { type?: string; value?: { type?: string; value?: { type?: string } } } | undefined
  if (m?.type === 'Module' && m.value?.type === 'NsnDirector' && typeof m.value.value?.type === 'string') {
    return m.value.value.type
  }
  return null
}
