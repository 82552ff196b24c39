// The dev chain server: one process, a WebSocket JSON-RPC API on loopback, a block every `blockMs`.
// It owns the wiring only: rules live in ChainState, durability in ChainStore. A call is answered
// after its WAL record is fsynced, a read after everything it reflects is, and a block's events are
// published after its WAL record is — so nobody ever observes state that a crash could take back.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino, { type Logger } from 'pino'
import type { Registry } from 'prom-client'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import { bytesToHex } from '../types/index.ts'
import { DEVCHAIN_DEFAULTS, type DevChainOptions, isLoopbackAddress } from './config.ts'
import { DevChainError, RegisterError } from './errors.ts'
import type { DevChainMetrics } from './metrics.ts'
import {
  chainInfoToJson,
  EVENT_NOTIFICATION,
  eventToJson,
  hex,
  Params,
  parseEvidenceParams,
  parseRegisterParams,
  parseSubmitParams,
  protoKeyParam,
  RPC_METHODS,
  RpcError,
  type RpcMethod,
  registerTxToJson,
  slotResultToJson,
  submitOutcomeToJson,
  submitTxToJson,
} from './rpc.ts'
import { accountToJson, type ChainState, type SealedBlock } from './state.ts'
import { ChainStore, type Recovery } from './store.ts'

export interface DevChainComponents {
  logger?: Logger
  metrics?: DevChainMetrics | null
  /** When given, GET /metrics on the RPC port serves it. */
  register?: Registry
}

export type DevChainInit = Pick<DevChainOptions, 'dataDir'> & Partial<Omit<DevChainOptions, 'dataDir'>>

interface Subscription {
  id: string
  /** Next block whose events this subscriber has not been sent. */
  nextBlock: bigint
}

interface Connection {
  ws: WebSocket
  subs: Map<string, Subscription>
  /** Call budget: tokens left and when they were counted (maxCallsPerSecond, refilled continuously). */
  tokens: number
  atMs: number
}

type JsonRpcId = string | number | null

export class DevChainServer {
  readonly host: string
  readonly port: number
  readonly url: string
  readonly recovery: Recovery
  private readonly logger: Logger
  private readonly metrics: DevChainMetrics | null
  private readonly conns = new Set<Connection>()
  private published: bigint
  /** When the published best block was sealed (Unix ms; null until this process seals one). */
  private publishedAtMs: number | null = null
  private publishChain: Promise<void> = Promise.resolve()
  private subSeq = 0
  private timer: NodeJS.Timeout | null = null
  private stopped = false
  private fatal: Error | null = null
  private blockListeners: ((b: SealedBlock) => void)[] = []
  private fatalListeners: ((err: Error) => void)[] = []

  private constructor(
    private readonly opts: Omit<DevChainOptions, 'params'>,
    private readonly state: ChainState,
    private readonly store: ChainStore,
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    components: DevChainComponents,
    recovery: Recovery,
  ) {
    this.logger = (components.logger ?? pino({ level: 'silent' })).child({ module: 'devchain' })
    this.metrics = components.metrics ?? null
    const addr = http.address() as AddressInfo
    this.host = opts.host
    this.port = addr.port
    this.url = `ws://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${addr.port}`
    this.published = state.best
    this.recovery = recovery
  }

  /** Open the data folder (recovering or creating the chain), listen, and start producing blocks. */
  static async start(init: DevChainInit, components: DevChainComponents = {}): Promise<DevChainServer> {
    const opts = { ...DEVCHAIN_DEFAULTS, ...stripUndefined(init) } as Omit<DevChainOptions, 'params'> & {
      params?: DevChainOptions['params']
    }
    if (!Number.isSafeInteger(opts.blockMs) || opts.blockMs < 0) {
      throw new DevChainError('INVALID_CONFIG', `blockMs: ${opts.blockMs} must be an integer ≥ 0`, 'blockMs')
    }
    if (!Number.isSafeInteger(opts.snapshotEveryBlocks) || opts.snapshotEveryBlocks < 1) {
      throw new DevChainError(
        'INVALID_CONFIG',
        'snapshotEveryBlocks: must be an integer ≥ 1',
        'snapshotEveryBlocks',
      )
    }
    if (!Number.isSafeInteger(opts.eventRetentionBlocks) || opts.eventRetentionBlocks < 1) {
      throw new DevChainError(
        'INVALID_CONFIG',
        'eventRetentionBlocks: must be an integer ≥ 1',
        'eventRetentionBlocks',
      )
    }
    if (!opts.allowRemote && !isLoopbackAddress(opts.host)) {
      throw new DevChainError(
        'REMOTE_NOT_ALLOWED',
        `listen: ${opts.host} is not a loopback address; pass --allow-remote to serve other hosts`,
        'listen',
      )
    }
    const logger = components.logger ?? pino({ level: 'silent' })
    const { store, state, recovery } = await ChainStore.open({
      dataDir: opts.dataDir,
      params: init.params ?? {},
      reset: opts.reset,
      eventRetentionBlocks: opts.eventRetentionBlocks,
      logger: logger.child({ module: 'devchain-store' }),
      metrics: components.metrics ?? null,
    })
    let http: Server | null = null
    let connCount = () => 0
    try {
      const server = createServer()
      http = server
      const wss = new WebSocketServer({
        server,
        maxPayload: opts.maxPayloadBytes,
        verifyClient: (
          info: { req: IncomingMessage },
          cb: (ok: boolean, code?: number, msg?: string) => void,
        ) => {
          if (!(opts.allowRemote || isLoopbackAddress(info.req.socket.remoteAddress))) {
            cb(false, 403, 'non-loopback clients are refused (start the dev chain with --allow-remote)')
            return
          }
          // A web page's script carries its Origin: refuse unless the operator allowed it, so that a
          // page the operator visits cannot drive the chain from their browser.
          const origin = info.req.headers.origin
          if (origin !== undefined && !opts.allowedOrigins.includes(origin)) {
            cb(false, 403, `origin ${origin} is not allowed (allowedOrigins)`)
            return
          }
          if (connCount() >= opts.maxConnections) {
            cb(false, 503, `connection limit of ${opts.maxConnections} reached`)
            return
          }
          cb(true)
        },
      })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        wss.once('error', reject) // ws re-emits the listen error on itself: unhandled otherwise
        server.listen(opts.port, opts.host, () => {
          server.off('error', reject)
          wss.off('error', reject)
          resolve()
        })
      })
      const s = new DevChainServer(opts, state, store, server, wss, components, recovery)
      connCount = () => s.conns.size
      s.attach(components.register)
      store.onFatal((err) => s.onStorageFailure(err))
      s.metrics?.bestBlock.set(Number(state.best))
      s.logger.info(
        {
          url: s.url,
          genesisHash: hex(state.genesisHash),
          bestBlock: state.best.toString(),
          blockMs: opts.blockMs,
          ...recovery,
        },
        'dev chain started',
      )
      s.startTimer()
      return s
    } catch (err) {
      http?.close()
      await store.close()
      throw err
    }
  }

  get genesisHash(): Uint8Array {
    return this.state.genesisHash
  }

  /** The last block whose events have been published. */
  get bestBlock(): bigint {
    return this.published
  }

  /** Read-only view for tests and status pages. */
  get chain(): ChainState {
    return this.state
  }

  /** Called after each block is published (tests, bench). */
  onBlock(cb: (b: SealedBlock) => void): () => void {
    this.blockListeners.push(cb)
    return () => {
      this.blockListeners = this.blockListeners.filter((x) => x !== cb)
    }
  }

  private attach(register: Registry | undefined): void {
    this.http.on('request', (req, res) => {
      if (!this.opts.allowRemote && !isLoopbackAddress(req.socket.remoteAddress)) {
        res.writeHead(403).end()
        return
      }
      if (req.method === 'GET' && req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ bestBlock: this.published.toString(), genesisHash: hex(this.genesisHash) }))
      } else if (req.method === 'GET' && req.url === '/metrics' && register) {
        void register.metrics().then((m) => {
          res.writeHead(200, { 'content-type': register.contentType })
          res.end(m)
        })
      } else res.writeHead(404).end()
    })
    this.wss.on('connection', (ws) => {
      const conn: Connection = { ws, subs: new Map(), tokens: this.opts.maxCallsPerSecond, atMs: Date.now() }
      this.conns.add(conn)
      this.metrics?.connections.inc()
      ws.on('message', (data, isBinary) => this.onMessage(conn, data, isBinary))
      ws.on('close', () => {
        this.conns.delete(conn)
        this.metrics?.connections.dec()
        this.metrics?.subscriptions.dec(conn.subs.size)
      })
      ws.on('error', (err) => this.logger.debug({ err }, 'client socket error'))
    })
  }

  private startTimer(): void {
    if (this.opts.blockMs === 0) return
    // Blocks start at least blockMs apart: a late block is not followed by a catch-up burst, which
    // would shorten the On-Deck lead time in wall-clock terms.
    const next = (lastStart: number) => {
      if (this.stopped || this.fatal) return
      this.timer = setTimeout(
        () => {
          const start = Date.now()
          this.produceBlock()
            .catch((err) => this.logger.error({ err }, 'block production failed'))
            .finally(() => next(start))
        },
        Math.max(0, lastStart + this.opts.blockMs - Date.now()),
      )
    }
    next(Date.now())
  }

  /** Seal the next block, make it durable and publish its events. */
  async produceBlock(): Promise<SealedBlock> {
    if (this.stopped) throw new DevChainError('STOPPED', 'dev chain is stopped')
    if (this.fatal) throw this.fatal
    const sealedAtMs = Date.now()
    const sealed = this.state.sealBlock()
    const { seq, durable } = this.store.append({ t: 'blk', n: sealed.number.toString() })
    this.state.seq = seq
    const publishing = this.publishChain.then(() => durable).then(() => this.publish(sealed, sealedAtMs))
    this.publishChain = publishing.catch(() => {})
    if (sealed.number % BigInt(this.opts.snapshotEveryBlocks) === 0n) void this.store.snapshot(this.state)
    await publishing
    return sealed
  }

  private publish(b: SealedBlock, sealedAtMs: number): void {
    this.published = b.number
    this.publishedAtMs = sealedAtMs
    this.metrics?.blocks.inc()
    this.metrics?.bestBlock.set(Number(b.number))
    for (const { event } of b.events) {
      if (event.type !== 'NewBlock') {
        this.metrics?.eventsPublished.inc({ type: event.type })
        if (event.type !== 'BftResultSubmitted' && event.type !== 'BftResultFinalized') {
          this.logger.info(
            { block: event.block.toString(), type: event.type, epoch: event.epoch.toString() },
            'epoch event',
          )
        }
      }
    }
    for (const conn of this.conns) {
      for (const sub of conn.subs.values()) {
        if (sub.nextBlock > b.number) continue
        for (const e of b.events) this.notify(conn, sub, e.event, e.index)
        sub.nextBlock = b.number + 1n
      }
    }
    for (const cb of this.blockListeners) cb(b)
  }

  private notify(
    conn: Connection,
    sub: Subscription,
    event: SealedBlock['events'][number]['event'],
    index: number,
  ): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return
    if (conn.ws.bufferedAmount > this.opts.maxSubscriberBufferBytes) {
      // A subscriber that cannot keep up is cut off; it resumes from its last block on reconnect.
      this.logger.warn({ buffered: conn.ws.bufferedAmount }, 'slow subscriber disconnected')
      conn.ws.terminate()
      return
    }
    conn.ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        method: EVENT_NOTIFICATION,
        params: { subscription: sub.id, event: eventToJson(event, index) },
      }),
    )
  }

  private send(conn: Connection, msg: unknown): void {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(msg))
  }

  private replyError(conn: Connection, id: JsonRpcId, err: RpcError): void {
    this.send(conn, { jsonrpc: '2.0', id, error: err.toJSON() })
  }

  /** Take one call from the connection's budget (continuous refill, capacity one second's calls). */
  private takeCall(conn: Connection): boolean {
    const now = Date.now()
    const rate = this.opts.maxCallsPerSecond
    conn.tokens = Math.min(rate, conn.tokens + ((now - conn.atMs) * rate) / 1000)
    conn.atMs = now
    if (conn.tokens < 1) return false
    conn.tokens -= 1
    return true
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (!this.takeCall(conn)) {
      this.metrics?.rpcRequests.inc({ method: 'unknown', status: 'error' })
      this.replyError(
        conn,
        null,
        new RpcError(
          'LIMIT_EXCEEDED',
          `calls: more than ${this.opts.maxCallsPerSecond} per second on this connection`,
        ),
      )
      return
    }
    if (isBinary) {
      this.replyError(
        conn,
        null,
        new RpcError('INVALID_REQUEST', 'binary frames are not accepted: send JSON text'),
      )
      return
    }
    let msg: unknown
    try {
      msg = JSON.parse(data.toString())
    } catch {
      this.replyError(conn, null, new RpcError('PARSE_ERROR', 'request is not valid JSON'))
      return
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.replyError(
        conn,
        null,
        new RpcError('INVALID_REQUEST', 'request must be one JSON-RPC 2.0 object (no batches)'),
      )
      return
    }
    const m = msg as Record<string, unknown>
    const id = m.id
    if (!(id === undefined || id === null || typeof id === 'string' || typeof id === 'number')) {
      this.replyError(conn, null, new RpcError('INVALID_REQUEST', 'id: must be a string, a number or null'))
      return
    }
    const rid: JsonRpcId = id ?? null
    if (m.jsonrpc !== '2.0') {
      this.replyError(conn, rid, new RpcError('INVALID_REQUEST', 'jsonrpc: must be "2.0"'))
      return
    }
    if (typeof m.method !== 'string' || !(RPC_METHODS as readonly string[]).includes(m.method)) {
      this.metrics?.rpcRequests.inc({ method: 'unknown', status: 'error' })
      this.replyError(
        conn,
        rid,
        new RpcError(
          'METHOD_NOT_FOUND',
          `method: ${JSON.stringify(m.method)} is not one of ${RPC_METHODS.join(', ')}`,
        ),
      )
      return
    }
    const method = m.method as RpcMethod
    if (method === 'chain_subscribe') {
      // Synchronous: the answer, the backlog and the live registration happen in one turn, so no
      // block can be published in between (nothing missed, nothing twice).
      try {
        this.subscribe(conn, rid, m.params)
        this.metrics?.rpcRequests.inc({ method, status: 'ok' })
      } catch (err) {
        this.metrics?.rpcRequests.inc({ method, status: 'error' })
        this.replyError(conn, rid, this.toRpcError(err))
      }
      return
    }
    this.handle(conn, method, m.params).then(
      (result) => {
        this.metrics?.rpcRequests.inc({ method, status: 'ok' })
        if (id !== undefined) this.send(conn, { jsonrpc: '2.0', id: rid, result })
      },
      (err: unknown) => {
        this.metrics?.rpcRequests.inc({ method, status: 'error' })
        if (id !== undefined) this.replyError(conn, rid, this.toRpcError(err))
      },
    )
  }

  private toRpcError(err: unknown): RpcError {
    if (err instanceof RpcError) return err
    if (err instanceof DevChainError && (err.code === 'STORAGE_FAILED' || err.code === 'STOPPED')) {
      return new RpcError('UNAVAILABLE', `dev chain unavailable: ${err.message}`)
    }
    this.logger.error({ err }, 'internal error while handling a request')
    return new RpcError('INTERNAL_ERROR', 'internal error')
  }

  private subscribe(conn: Connection, id: JsonRpcId, params: unknown): void {
    if (this.stopped || this.fatal) throw new RpcError('UNAVAILABLE', 'dev chain is stopping')
    const p = new Params(params, ['fromBlock'])
    const from = p.has('fromBlock') ? p.u64('fromBlock') : this.published + 1n
    if (from < this.state.oldestEventBlock) {
      throw new RpcError(
        'EVENTS_PRUNED',
        `fromBlock: events before block ${this.state.oldestEventBlock} are no longer kept`,
        {
          field: 'fromBlock',
          oldestBlock: this.state.oldestEventBlock.toString(),
        },
      )
    }
    if (conn.subs.size >= this.opts.maxSubscriptionsPerConnection) {
      throw new RpcError(
        'LIMIT_EXCEEDED',
        `subscriptions: at most ${this.opts.maxSubscriptionsPerConnection} per connection`,
      )
    }
    const sub: Subscription = { id: String(++this.subSeq), nextBlock: from }
    this.send(conn, { jsonrpc: '2.0', id, result: { subscription: sub.id, fromBlock: from.toString() } })
    if (from <= this.published) {
      for (const e of this.state.eventsRange(from, this.published)) this.notify(conn, sub, e.event, e.index)
      sub.nextBlock = this.published + 1n
    }
    conn.subs.set(sub.id, sub)
    this.metrics?.subscriptions.inc()
  }

  /**
   * Registration is admitted, not open: an account already on the chain (genesis or admitted
   * before) may update itself; a new one must be on the operator's allowlist (by account or peer
   * key). Self-declared stake alone let 40 sybils take every seat of an epoch.
   */
  private checkAdmitted(tx: { account: Uint8Array; peer: Uint8Array }): void {
    if (this.state.account(tx.account) !== undefined) return
    const allow = this.opts.registrationAllowlist
    if (allow.includes(bytesToHex(tx.account)) || allow.includes(bytesToHex(tx.peer))) return
    throw new RegisterError(
      'NOT_ADMITTED',
      'account: not a genesis account and not on the registration allowlist (registrationAllowlist)',
      'account',
    )
  }

  /** Everything read or changed so far is on disk (reads never show what a crash could undo). */
  private async durable(): Promise<void> {
    await this.store.waitDurable(this.store.lastSeq)
  }

  private async handle(conn: Connection, method: RpcMethod, params: unknown): Promise<unknown> {
    if (this.fatal) throw new RpcError('UNAVAILABLE', `dev chain storage failed: ${this.fatal.message}`)
    switch (method) {
      case 'chain_info': {
        new Params(params, [])
        const r = chainInfoToJson(this.state.info(this.opts.blockMs))
        // Report the published best block: events up to it can be subscribed to.
        r.bestBlock = this.published.toString()
        r.currentEpoch = (this.published / BigInt(this.state.params.epochLengthBlocks)).toString()
        r.bestBlockTimestampMs = this.publishedAtMs
        await this.durable()
        return r
      }
      case 'chain_getAccount': {
        const p = new Params(params, ['account', 'peer'])
        if (p.has('account') === p.has('peer')) {
          throw new RpcError('INVALID_PARAMS', 'account: give exactly one of account or peer', {
            field: 'account',
            code: 'MISSING_FIELD',
          })
        }
        const rec = p.has('account')
          ? this.state.account(protoKeyParam(p, 'account'))
          : this.state.accountOfPeer(protoKeyParam(p, 'peer'))
        const r = rec ? accountToJson(rec) : null
        await this.durable()
        return r
      }
      case 'chain_register': {
        const tx = parseRegisterParams(params)
        let block: bigint
        try {
          this.checkAdmitted(tx)
          block = this.state.applyRegister(tx).block
        } catch (err) {
          if (!(err instanceof RegisterError)) throw err
          this.metrics?.registrations.inc({ outcome: err.code })
          await this.durable()
          throw new RpcError('REGISTRATION_REJECTED', err.message, {
            code: err.code,
            ...(err.field ? { field: err.field } : {}),
          })
        }
        const { seq, durable } = this.store.append({ t: 'reg', p: registerTxToJson(tx) })
        this.state.seq = seq
        await durable
        this.metrics?.registrations.inc({ outcome: 'accepted' })
        this.logger.info(
          { peer: bytesToHex(tx.peer).slice(-16), role: tx.role, region: tx.region },
          'registered',
        )
        return { block: block.toString() }
      }
      case 'chain_electedDirectors': {
        const p = new Params(params, ['epoch'])
        const rec = this.state.epoch(p.u64('epoch'))
        const r = rec
          ? {
              epoch: rec.epoch.toString(),
              directors: rec.directors.map(hex),
              startBlock: rec.startBlock.toString(),
              endBlock: rec.endBlock.toString(),
              electedAtBlock: rec.electedAtBlock.toString(),
            }
          : null
        await this.durable()
        return r
      }
      case 'chain_submitBftResult': {
        const tx = parseSubmitParams(params)
        const { outcome, mutated } = this.state.applySubmit(tx)
        if (mutated) {
          const { seq, durable } = this.store.append({ t: 'sub', p: submitTxToJson(tx) })
          this.state.seq = seq
          await durable
        } else await this.durable()
        const label =
          outcome.status === 'accepted'
            ? outcome.duplicate
              ? 'duplicate'
              : 'accepted'
            : outcome.status === 'rejected'
              ? outcome.code
              : 'unknown'
        this.metrics?.submissions.inc({ outcome: label })
        if (outcome.status === 'rejected') {
          this.logger.info(
            { slot: tx.slot.toString(), code: outcome.code, reason: outcome.reason },
            'submission rejected',
          )
        }
        return submitOutcomeToJson(outcome)
      }
      case 'chain_slotResult': {
        const p = new Params(params, ['slot'])
        const r = this.state.result(p.u64('slot'))
        const out = r
          ? slotResultToJson({
              slot: r.slot,
              epoch: r.epoch,
              canonicalHash: r.canonicalHash,
              submitter: r.submitter,
              submittedBlock: r.submittedBlock,
              finalized: r.finalizedBlock !== null,
              finalizedBlock: r.finalizedBlock,
              certificateScale: r.certificateScale,
            })
          : null
        await this.durable()
        return out
      }
      case 'chain_submitEvidence': {
        const { evidence } = parseEvidenceParams(params)
        const { outcome, mutated } = this.state.applyEvidence(evidence)
        if (mutated) {
          const { seq, durable } = this.store.append({ t: 'evd', p: { evidence: hex(evidence) } })
          this.state.seq = seq
          await durable
          this.logger.warn(
            { block: outcome.status === 'accepted' ? outcome.block.toString() : null },
            'equivocation evidence recorded',
          )
        } else await this.durable()
        if (outcome.status === 'rejected')
          return { status: 'rejected', code: outcome.code, reason: outcome.reason }
        return {
          status: 'accepted',
          block: outcome.status === 'accepted' ? outcome.block.toString() : null,
          ...(outcome.status === 'accepted' && outcome.duplicate ? { duplicate: true } : {}),
        }
      }
      case 'chain_evidence': {
        const p = new Params(params, ['slot'])
        const out = this.state.evidenceOf(p.u64('slot')).map((e) => ({
          slot: e.slot.toString(),
          signer: hex(e.signer),
          kind: e.kind,
          block: e.block.toString(),
          penalty: e.penalty.toString(),
        }))
        await this.durable()
        return out
      }
      case 'chain_unsubscribe': {
        const p = new Params(params, ['subscription'])
        const sid = p.str('subscription', 32)
        const had = conn.subs.delete(sid)
        if (had) this.metrics?.subscriptions.dec()
        return had
      }
      case 'chain_subscribe':
        throw new RpcError('INTERNAL_ERROR', 'handled synchronously')
    }
  }

  private onStorageFailure(err: Error): void {
    this.fatal = err
    if (this.timer) clearTimeout(this.timer)
    for (const c of this.conns) c.ws.close(1011, 'storage failed')
    for (const cb of this.fatalListeners) cb(err)
  }

  /** Storage failed: nothing more can be acknowledged; the process should stop. */
  onFatal(cb: (err: Error) => void): void {
    this.fatalListeners.push(cb)
  }

  /** Stop producing blocks, close every connection, flush the WAL and release the data folder. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    for (const c of this.conns) c.ws.close(1001, 'dev chain stopping')
    await this.publishChain
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
    for (const c of this.conns) c.ws.terminate()
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve())
      this.http.closeAllConnections()
    })
    await this.store.close()
    this.logger.info({ bestBlock: this.published.toString() }, 'dev chain stopped')
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
