// ChainClient for a real NSN network: polkadot-api 2.2 over WebSocket, untyped (getUnsafeApi, no
// generated descriptors), against the reference runtime's NsnDirector and NsnStake pallets. This
// client has never run against a live chain (none can run on the build machines): docs/chain.md
// lists what is tested (the mapping, against SCALE fixtures) and what is not.

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
  ok: boolean
  block: { hash: string; number: number }
  dispatchError?: { type: string; value: unknown }
}
interface UnsafeTx {
  signAndSubmit(signer: ReturnType<typeof getPolkadotSigner>): Promise<TxFinalized>
}
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
  tx: {
    NsnDirector: { submit_bft_result(args: ReturnType<typeof submitBftResultArgs>): UnsafeTx }
    NsnStake: { deposit_stake(args: ReturnType<typeof depositStakeArgs>): UnsafeTx }
  }
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

  async info(): Promise<ChainInfo> {
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
    const tx = this.api.tx.NsnStake.deposit_stake(depositStakeArgs(delta, this.lockBlocks, reg.region))
    const r = await tx.signAndSubmit(this.signerFor(signer, reg.publicKey))
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
   * Follows finalized blocks and maps NsnDirector events. There is no history API behind chainHead:
   * `fromBlock` older than the current finalized block starts at the current one (logged), and a
   * gap after a reconnect is logged as missed blocks.
   */
  subscribe(handler: (event: ChainEvent) => void, fromBlock?: bigint): () => void {
    let last: bigint | null = fromBlock === undefined ? null : fromBlock - 1n
    let chain = Promise.resolve()
    const sub = this.client.finalizedBlock$.subscribe((block) => {
      chain = chain
        .then(async () => {
          const n = BigInt(block.number)
          if (last !== null && n <= last) return
          if (last !== null && n > last + 1n) {
            this.logger.error(
              { from: (last + 1n).toString(), to: (n - 1n).toString() },
              'finalized blocks not seen: their events are missed',
            )
          }
          last = n
          const at = { at: block.hash }
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
          for (const e of out) {
            this.metrics?.events.inc({ type: e.type })
            const fail = (err: unknown) =>
              this.logger.error({ err, type: e.type }, 'chain event handler threw')
            try {
              const r = handler(e) as unknown
              if (r instanceof Promise) r.catch(fail)
            } catch (err) {
              fail(err)
            }
          }
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
    // The pallet verifies no signature (PROTOCOL.md §7 fix): verify here against the epoch's directors.
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
    const tx = this.api.tx.NsnDirector.submit_bft_result(
      submitBftResultArgs(slot, cert, canonical, this.ss58),
    )
    let timer: NodeJS.Timeout | undefined
    const r = await Promise.race([
      tx.signAndSubmit(this.signerFor(signer, signer.publicKeyProto)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`not finalized within ${this.submitTimeoutMs} ms`)),
          this.submitTimeoutMs,
        )
      }),
    ]).finally(() => clearTimeout(timer))
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
