// ChainClient over the dev chain's WebSocket JSON-RPC. Reconnects with jittered exponential backoff,
// checks on every connection that the genesis (network_id) has not changed, and resubscribes from
// the last delivered (block, index) so that each event reaches the handler once, in order, across
// reconnects and server restarts. A submission without an answer is reported `unknown`.
import pino, { type Logger } from 'pino'
import { type RawData, WebSocket } from 'ws'
import type { Certificate } from '../types/index.ts'
import { encodeCertificate, equalBytes } from '../types/index.ts'
import type {
  ChainClient,
  ChainEvent,
  ChainInfo,
  EvidenceOutcome,
  NodeRegistration,
  NodeRole,
  SlotResult,
  SubmitOutcome,
} from './client.ts'
import { isRegion, type Region } from './config.ts'
import { ChainClientError, type ChainClientErrorCode, type RegisterRejectCode } from './errors.ts'
import type { ChainClientMetrics } from './metrics.ts'
import {
  bytesFromJson,
  chainInfoFromJson,
  EVENT_NOTIFICATION,
  eventFromJson,
  hex,
  RPC_ERROR_CODES,
  type RpcErrorData,
  type RpcMethod,
  slotResultFromJson,
  submitOutcomeFromJson,
  u64FromJson,
} from './rpc.ts'
import { registrationSigningBytes, submitSigningBytes } from './signing.ts'
import type { AccountRecord } from './state.ts'

export interface DevChainClientInit {
  /** `ws://127.0.0.1:PORT` of a dev chain. */
  url: string
  logger?: Logger
  metrics?: ChainClientMetrics | null
  /** Per request, including waiting for a connection. @default 10000 */
  requestTimeoutMs?: number
  /** First reconnect delay; doubles up to `reconnectMaxMs`, with jitter. @default 100 */
  reconnectInitialMs?: number
  /** @default 5000 */
  reconnectMaxMs?: number
  /** Expected network_id; a chain with another genesis is refused (GENESIS_CHANGED). */
  genesisHash?: Uint8Array
}

/** An account as the dev chain holds it. */
export type AccountInfo = AccountRecord

interface Pending {
  ws: WebSocket
  method: string
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
  /** Runs synchronously with the response, before any later message on the socket is handled. */
  onResult?: (v: unknown) => void
  t0: bigint
}

interface ClientSub {
  id: number
  handler: (e: ChainEvent) => void
  /** Where to start when nothing was delivered yet (undefined: the server's next block). */
  fromBlock: bigint | undefined
  /** Last delivered event. */
  cursor: { block: bigint; index: number } | null
  serverId: string | null
}

const DEFAULTS = { requestTimeoutMs: 10_000, reconnectInitialMs: 100, reconnectMaxMs: 5_000 }

function rpcErrorToClientError(e: {
  code?: number
  message?: string
  data?: RpcErrorData
}): ChainClientError {
  const msg = e.message ?? 'chain error'
  switch (e.code) {
    case RPC_ERROR_CODES.INVALID_PARAMS:
      return new ChainClientError('INVALID_PARAMS', msg, e.data?.field, e.data?.code)
    case RPC_ERROR_CODES.REGISTRATION_REJECTED:
      return new ChainClientError(
        (e.data?.code ?? 'PROTOCOL') as RegisterRejectCode,
        msg,
        e.data?.field,
        e.data?.code,
      )
    case RPC_ERROR_CODES.EVENTS_PRUNED:
      return new ChainClientError('EVENTS_PRUNED', msg, 'fromBlock', e.data?.oldestBlock)
    case RPC_ERROR_CODES.UNAVAILABLE:
      return new ChainClientError('UNAVAILABLE', msg)
    case RPC_ERROR_CODES.LIMIT_EXCEEDED:
      return new ChainClientError('LIMIT_EXCEEDED', msg)
    default:
      return new ChainClientError('PROTOCOL', `chain error ${e.code}: ${msg}`)
  }
}

export class DevChainClient implements ChainClient {
  private readonly url: string
  private readonly logger: Logger
  private readonly metrics: ChainClientMetrics | null
  private readonly timeoutMs: number
  private readonly backoffInitial: number
  private readonly backoffMax: number
  private ws: WebSocket | null = null
  private open = false
  private closed = false
  private fatal: ChainClientError | null = null
  private genesis: Uint8Array | null
  private attempt = 0
  private everConnected = false
  private reconnectTimer: NodeJS.Timeout | null = null
  private openWaiters: { resolve: (ws: WebSocket) => void; reject: (e: Error) => void }[] = []
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private readonly subs = new Map<number, ClientSub>()
  private readonly byServerId = new Map<string, ClientSub>()
  private nextSubId = 1

  constructor(init: DevChainClientInit) {
    this.url = init.url
    this.logger = (init.logger ?? pino({ level: 'silent' })).child({ module: 'chain-client' })
    this.metrics = init.metrics ?? null
    this.timeoutMs = init.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs
    this.backoffInitial = init.reconnectInitialMs ?? DEFAULTS.reconnectInitialMs
    this.backoffMax = init.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs
    this.genesis = init.genesisHash ?? null
  }

  // --- connection --------------------------------------------------------------------------------

  /** Connect now (otherwise the first call does); resolves once the chain answered. */
  async connect(): Promise<void> {
    await this.waitOpen(Date.now() + this.timeoutMs)
  }

  get connected(): boolean {
    return this.open
  }

  private dial(): void {
    if (this.closed || this.fatal || this.ws !== null) return
    const ws = new WebSocket(this.url, { handshakeTimeout: this.timeoutMs })
    this.ws = ws
    ws.on('open', () => void this.handshake(ws))
    ws.on('message', (data) => this.onMessage(ws, data))
    ws.on('close', () => this.onClose(ws))
    ws.on('error', (err) => this.logger.debug({ err: err.message }, 'chain socket error'))
  }

  private async handshake(ws: WebSocket): Promise<void> {
    try {
      const info = chainInfoFromJson(await this.rawRequest(ws, 'chain_info', {}))
      if (this.genesis !== null && !equalBytes(this.genesis, info.genesisHash)) {
        this.fatal = new ChainClientError(
          'GENESIS_CHANGED',
          `the chain at ${this.url} has genesis ${hex(info.genesisHash)}, expected ${hex(this.genesis)}`,
        )
        this.logger.error({ url: this.url }, this.fatal.message)
        for (const w of this.openWaiters.splice(0)) w.reject(this.fatal)
        ws.close()
        return
      }
      this.genesis = info.genesisHash
      if (this.everConnected) this.metrics?.reconnects.inc()
      this.everConnected = true
      this.open = true
      this.attempt = 0
      this.metrics?.connected.set(1)
      this.logger.info({ url: this.url, bestBlock: info.bestBlock.toString() }, 'connected to chain')
      for (const w of this.openWaiters.splice(0)) w.resolve(ws)
      for (const sub of this.subs.values()) this.sendSubscribe(ws, sub)
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'chain handshake failed')
      ws.terminate()
    }
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws) return
    this.ws = null
    const wasOpen = this.open
    this.open = false
    this.metrics?.connected.set(0)
    for (const [id, p] of this.pending) {
      if (p.ws !== ws) continue
      clearTimeout(p.timer)
      this.pending.delete(id)
      p.reject(
        new ChainClientError(
          'DISCONNECTED',
          `${p.method}: connection to ${this.url} dropped before an answer`,
        ),
      )
    }
    for (const sub of this.subs.values()) sub.serverId = null
    this.byServerId.clear()
    if (this.closed || this.fatal) return
    const base = Math.min(this.backoffMax, this.backoffInitial * 2 ** this.attempt)
    const delay = Math.round(base * (0.5 + Math.random() * 0.5))
    this.attempt++
    if (wasOpen) this.logger.warn({ url: this.url, retryMs: delay }, 'chain connection lost; reconnecting')
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      this.dial()
    }, delay)
  }

  private waitOpen(deadline: number): Promise<WebSocket> {
    if (this.closed) return Promise.reject(new ChainClientError('CLOSED', 'chain client is closed'))
    if (this.fatal) return Promise.reject(this.fatal)
    if (this.open && this.ws) return Promise.resolve(this.ws)
    if (this.ws === null && this.reconnectTimer === null) this.dial()
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (ws: WebSocket) => {
          clearTimeout(timer)
          resolve(ws)
        },
        reject: (e: Error) => {
          clearTimeout(timer)
          reject(e)
        },
      }
      const timer = setTimeout(
        () => {
          this.openWaiters = this.openWaiters.filter((w) => w !== waiter)
          reject(new ChainClientError('TIMEOUT', `no connection to ${this.url} within ${this.timeoutMs} ms`))
        },
        Math.max(0, deadline - Date.now()),
      )
      this.openWaiters.push(waiter)
    })
  }

  private rawRequest(
    ws: WebSocket,
    method: RpcMethod,
    params: Record<string, unknown>,
    opts: { timeoutMs?: number; onResult?: (v: unknown) => void } = {},
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (ws.readyState !== WebSocket.OPEN) {
        reject(new ChainClientError('DISCONNECTED', `${method}: not connected`))
        return
      }
      const id = this.nextId++
      const timeoutMs = opts.timeoutMs ?? this.timeoutMs
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new ChainClientError('TIMEOUT', `${method}: no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, {
        ws,
        method,
        resolve,
        reject,
        timer,
        onResult: opts.onResult,
        t0: process.hrtime.bigint(),
      })
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
    })
  }

  private async request(method: RpcMethod, params: Record<string, unknown>): Promise<unknown> {
    const deadline = Date.now() + this.timeoutMs
    const ws = await this.waitOpen(deadline)
    return this.rawRequest(ws, method, params, { timeoutMs: Math.max(1, deadline - Date.now()) })
  }

  private onMessage(ws: WebSocket, data: RawData): void {
    let msg: Record<string, unknown>
    try {
      msg = JSON.parse(data.toString()) as Record<string, unknown>
    } catch {
      this.logger.warn('chain sent invalid JSON')
      return
    }
    if (msg.method === EVENT_NOTIFICATION) {
      const params = msg.params as { subscription?: string; event?: unknown } | undefined
      const sub = params?.subscription === undefined ? undefined : this.byServerId.get(params.subscription)
      if (sub === undefined || ws !== this.ws) return
      try {
        const { event, index } = eventFromJson(params!.event)
        this.deliver(sub, event, index)
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'chain sent an event this client cannot read')
      }
      return
    }
    if (typeof msg.id !== 'number') {
      if (msg.error) this.logger.warn({ error: msg.error }, 'chain error without a request id')
      return
    }
    const p = this.pending.get(msg.id)
    if (p === undefined) return
    this.pending.delete(msg.id)
    clearTimeout(p.timer)
    this.metrics?.requestSeconds.observe({ method: p.method }, Number(process.hrtime.bigint() - p.t0) / 1e9)
    if (msg.error !== undefined) {
      p.reject(rpcErrorToClientError(msg.error as { code?: number; message?: string; data?: RpcErrorData }))
      return
    }
    try {
      p.onResult?.(msg.result)
    } catch (err) {
      p.reject(err as Error)
      return
    }
    p.resolve(msg.result)
  }

  // --- subscriptions -----------------------------------------------------------------------------

  private deliver(sub: ClientSub, event: ChainEvent, index: number): void {
    const c = sub.cursor
    // Replays after a resubscription start at the cursor's block: skip what was already delivered.
    if (c !== null && (event.block < c.block || (event.block === c.block && index <= c.index))) return
    sub.cursor = { block: event.block, index }
    this.metrics?.events.inc({ type: event.type })
    const fail = (err: unknown) =>
      this.logger.error({ err, type: event.type, block: event.block.toString() }, 'chain event handler threw')
    try {
      // An async handler's rejection must not become an unhandled rejection of this process.
      const r = sub.handler(event) as unknown
      if (r instanceof Promise) r.catch(fail)
    } catch (err) {
      fail(err)
    }
  }

  private sendSubscribe(ws: WebSocket, sub: ClientSub): void {
    const from = sub.cursor !== null ? sub.cursor.block : sub.fromBlock
    const params = from === undefined ? {} : { fromBlock: from.toString() }
    this.rawRequest(ws, 'chain_subscribe', params, {
      onResult: (r) => {
        const res = r as { subscription?: unknown; fromBlock?: unknown }
        if (typeof res.subscription !== 'string')
          throw new ChainClientError('PROTOCOL', 'subscribe: no subscription id')
        if (!this.subs.has(sub.id) || ws !== this.ws) return
        sub.serverId = res.subscription
        this.byServerId.set(res.subscription, sub)
        if (sub.fromBlock === undefined) sub.fromBlock = u64FromJson(res.fromBlock, 'fromBlock')
      },
    }).then(
      () => {
        // Unsubscribed while the request was in flight: drop the server side too.
        if (!this.subs.has(sub.id) && sub.serverId !== null && ws === this.ws) {
          void this.rawRequest(ws, 'chain_unsubscribe', { subscription: sub.serverId }).catch(() => {})
        }
      },
      (err: unknown) => {
        if (err instanceof ChainClientError && err.code === 'EVENTS_PRUNED' && err.detail !== undefined) {
          const oldest = BigInt(err.detail)
          // Events in between are gone for good: say so loudly, then carry on from what is kept.
          this.logger.error(
            { from: (sub.cursor?.block ?? sub.fromBlock)?.toString(), oldest: err.detail },
            'chain events were pruned before this subscriber could resume: events missed',
          )
          sub.cursor = null
          sub.fromBlock = oldest
          if (ws === this.ws && this.open) this.sendSubscribe(ws, sub)
          return
        }
        if (err instanceof ChainClientError && (err.code === 'DISCONNECTED' || err.code === 'CLOSED')) return
        this.logger.warn({ err: (err as Error).message }, 'subscribe failed; retrying on a new connection')
        if (ws === this.ws) ws.terminate()
      },
    )
  }

  subscribe(handler: (event: ChainEvent) => void, fromBlock?: bigint): () => void {
    const sub: ClientSub = { id: this.nextSubId++, handler, fromBlock, cursor: null, serverId: null }
    this.subs.set(sub.id, sub)
    if (this.open && this.ws) this.sendSubscribe(this.ws, sub)
    else if (!this.closed && this.ws === null && this.reconnectTimer === null) this.dial()
    return () => {
      if (!this.subs.delete(sub.id)) return
      if (sub.serverId !== null) {
        this.byServerId.delete(sub.serverId)
        if (this.open && this.ws) {
          void this.rawRequest(this.ws, 'chain_unsubscribe', { subscription: sub.serverId }).catch(() => {})
        }
      }
    }
  }

  // --- ChainClient -------------------------------------------------------------------------------

  async info(): Promise<ChainInfo> {
    return chainInfoFromJson(await this.request('chain_info', {}))
  }

  /** The network_id of the connected chain (fetched on first connection). */
  async genesisHash(): Promise<Uint8Array> {
    if (this.genesis === null) await this.waitOpen(Date.now() + this.timeoutMs)
    return this.genesis!
  }

  async getAccount(q: { account: Uint8Array } | { peer: Uint8Array }): Promise<AccountInfo | null> {
    const params = 'account' in q ? { account: hex(q.account) } : { peer: hex(q.peer) }
    const r = (await this.request('chain_getAccount', params)) as Record<string, unknown> | null
    if (r === null) return null
    return {
      account: bytesFromJson(r.account, 'account', { len: 36 }),
      peer: bytesFromJson(r.peer, 'peer', { len: 36 }),
      role: r.role as NodeRole,
      region: r.region as Region,
      stake: BigInt(r.stake as string),
      nonce: r.nonce as number,
      reputation: BigInt(r.reputation as string),
      registeredBlock: u64FromJson(r.registeredBlock, 'registeredBlock'),
    }
  }

  /**
   * Register (or update) the node. Idempotent: when the chain already holds exactly this
   * registration nothing is sent, and a retry whose first attempt did land is recognised.
   */
  async register(reg: NodeRegistration, signer: { sign(msg: Uint8Array): Uint8Array }): Promise<void> {
    if (!isRegion(reg.region)) {
      throw new ChainClientError(
        'INVALID_PARAMS',
        `region: unknown region ${reg.region}`,
        'region',
        'INVALID_VALUE',
      )
    }
    const account = reg.account ?? reg.publicKey
    const matches = (a: AccountInfo | null) =>
      a !== null &&
      equalBytes(a.peer, reg.publicKey) &&
      a.role === reg.role &&
      a.region === reg.region &&
      a.stake === reg.stake
    const existing = await this.getAccount({ account })
    if (matches(existing)) return
    const genesis = await this.genesisHash()
    const call = {
      account,
      peer: reg.publicKey,
      role: reg.role,
      region: reg.region,
      stake: reg.stake,
      nonce: existing?.nonce ?? 0,
    }
    const signature = signer.sign(registrationSigningBytes(genesis, call))
    try {
      await this.request('chain_register', {
        account: hex(account),
        peer: hex(reg.publicKey),
        role: reg.role,
        region: reg.region,
        stake: reg.stake.toString(),
        nonce: call.nonce,
        signature: hex(signature),
        ...(reg.peerBinding ? { peerBinding: hex(reg.peerBinding) } : {}),
      })
    } catch (err) {
      const retryable: ChainClientErrorCode[] = ['BAD_NONCE', 'DISCONNECTED', 'TIMEOUT', 'UNAVAILABLE']
      if (err instanceof ChainClientError && retryable.includes(err.code)) {
        const now = await this.getAccount({ account }).catch(() => null)
        if (matches(now)) return
      }
      throw err
    }
  }

  async electedDirectors(epoch: bigint): Promise<Uint8Array[]> {
    const r = (await this.request('chain_electedDirectors', { epoch: epoch.toString() })) as {
      directors?: unknown[]
    } | null
    if (r === null) return []
    return (r.directors ?? []).map((d, i) => bytesFromJson(d, `directors[${i}]`, { max: 64 }))
  }

  /**
   * Submit a certificate. Never throws: no answer → `unknown` (retry with the same certificate; the
   * chain answers `accepted` with the original block and `duplicate: true` if it had landed).
   */
  async submitBftResult(
    slot: bigint,
    certificate: Certificate,
    signer: { publicKeyProto: Uint8Array; sign(msg: Uint8Array): Uint8Array },
  ): Promise<SubmitOutcome> {
    let outcome: SubmitOutcome
    try {
      let certScale: Uint8Array
      try {
        certScale = encodeCertificate(certificate)
      } catch (err) {
        return this.countOutcome({
          status: 'rejected',
          code: 'MALFORMED',
          reason: `certificate: ${(err as Error).message}`,
        })
      }
      const genesis = await this.genesisHash()
      const signature = signer.sign(submitSigningBytes(genesis, slot, certScale))
      const r = await this.request('chain_submitBftResult', {
        slot: slot.toString(),
        certificate: hex(certScale),
        submitter: hex(signer.publicKeyProto),
        signature: hex(signature),
      })
      outcome = submitOutcomeFromJson(r)
    } catch (err) {
      if (err instanceof ChainClientError && err.code === 'INVALID_PARAMS') {
        outcome = { status: 'rejected', code: 'MALFORMED', reason: err.message }
      } else if (err instanceof ChainClientError && err.code === 'GENESIS_CHANGED') {
        // Not retryable on this chain, but not a verdict on the certificate either.
        outcome = { status: 'unknown', reason: err.message }
      } else {
        outcome = { status: 'unknown', reason: (err as Error).message }
      }
    }
    return this.countOutcome(outcome)
  }

  private countOutcome(o: SubmitOutcome): SubmitOutcome {
    const status = o.status === 'accepted' && o.duplicate ? 'duplicate' : o.status
    this.metrics?.submissions.inc({ status })
    return o
  }

  /** Report equivocation evidence. Never throws: no answer → `unknown` (a retry is recorded once). */
  async submitEvidence(evidence: Uint8Array): Promise<EvidenceOutcome> {
    try {
      const r = (await this.request('chain_submitEvidence', { evidence: hex(evidence) })) as Record<
        string,
        unknown
      >
      if (r.status === 'accepted') {
        return {
          status: 'accepted',
          block: u64FromJson(r.block, 'block'),
          ...(r.duplicate === true ? { duplicate: true } : {}),
        }
      }
      return {
        status: 'rejected',
        code: r.code as Extract<EvidenceOutcome, { status: 'rejected' }>['code'],
        reason: String(r.reason),
      }
    } catch (err) {
      if (err instanceof ChainClientError && err.code === 'INVALID_PARAMS') {
        return { status: 'rejected', code: 'MALFORMED', reason: err.message }
      }
      return { status: 'unknown', reason: (err as Error).message }
    }
  }

  /** Evidence the chain recorded for `slot` (one record per equivocating director). */
  async evidence(
    slot: bigint,
  ): Promise<{ signer: Uint8Array; kind: 'Proposal' | 'Commit'; block: bigint; penalty: bigint }[]> {
    const r = (await this.request('chain_evidence', { slot: slot.toString() })) as Record<string, unknown>[]
    return r.map((e) => ({
      signer: bytesFromJson(e.signer, 'signer', { len: 36 }),
      kind: e.kind as 'Proposal' | 'Commit',
      block: u64FromJson(e.block, 'block'),
      penalty: BigInt(e.penalty as string),
    }))
  }

  async slotResult(slot: bigint): Promise<SlotResult | null> {
    const r = await this.request('chain_slotResult', { slot: slot.toString() })
    return r === null ? null : slotResultFromJson(r)
  }

  /** Stop reconnecting, fail pending calls with CLOSED, close the socket. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    const err = new ChainClientError('CLOSED', 'chain client is closed')
    for (const w of this.openWaiters.splice(0)) w.reject(err)
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer)
      this.pending.delete(id)
      p.reject(err)
    }
    this.subs.clear()
    this.byServerId.clear()
    const ws = this.ws
    this.ws = null
    this.open = false
    this.metrics?.connected.set(0)
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          ws.terminate()
          resolve()
        }, 1000)
        ws.once('close', () => {
          clearTimeout(t)
          resolve()
        })
        ws.close()
      })
    }
  }
}
