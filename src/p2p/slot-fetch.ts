// Slot fetch from peers, `/nsn/slot/1.0.0` (docs/protocol.md §12). The server answers only from
// the verified archive, bounded per peer in concurrent requests and in requests per minute. The
// fetcher asks connected peers for certified slots of the tracked window whose video this node
// lacks, verifies what it gets exactly as a viewer does (verifySlot: the trust rules of §6), stores
// it in the archive, and stops asking a peer that served bytes that do not verify.
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { ArchiveVerifyError, chunksOf, type SlotArchive, verifySlot } from '../archive/index.ts'
import type { TrustAnchor } from '../trust/index.ts'
import {
  bytesToHex,
  type Certificate,
  decodeCertificate,
  decodeRecipe,
  decodeVideoChunk,
  encodeVideoChunk,
  equalBytes,
  hexToBytes,
  type VideoChunk,
} from '../types/index.ts'
import {
  decodeSlotRequest,
  decodeSlotResponse,
  encodeSlotRequest,
  encodeSlotResponse,
  MAX_CHUNK_FRAME_BYTES,
  MAX_HEADER_BYTES,
  MAX_RESPONSE_CHUNKS,
  SLOT_FETCH_PROTOCOL,
  SLOT_REQUEST_BYTES,
  type SlotResponse,
} from './slot-fetch-wire.ts'

/** The bounds of slot fetch (config section `slotFetch`, docs/config.md). Defaults live here only. */
export const SLOT_FETCH_DEFAULTS = {
  /** Serve archived slots to peers and fetch missed ones from them. */
  enabled: true,
  /** Slots behind the chain's current slot that are fetched when missing (the tracked window). */
  slotsBehind: 8,
  /** Wait after a slot's result is known before fetching it, so gossip delivers it first. */
  fetchDelayMs: 3_000,
  /** How often missing slots are looked for. */
  sweepIntervalMs: 2_000,
  /** Deadline of one request, from opening the stream to the last chunk. */
  requestTimeoutMs: 15_000,
  /** Bytes one response may carry (header and chunk frames); a longer one is refused. */
  maxResponseBytes: 72 * 1024 * 1024,
  /** Requests one peer may have open at this node at once; more are answered Busy. */
  maxConcurrentPerPeer: 2,
  /** Requests served at once in total (each holds one video in memory); more are answered Busy. */
  maxConcurrentServes: 8,
  /** Requests one peer may make per minute (token bucket); more are answered Busy. */
  requestsPerMinutePerPeer: 30,
  /** How long a peer that served bytes that do not verify is no longer asked. */
  penaltyMs: 600_000,
} as const

export type SlotFetchConfig = {
  -readonly [K in keyof typeof SLOT_FETCH_DEFAULTS]: (typeof SLOT_FETCH_DEFAULTS)[K] extends boolean
    ? boolean
    : number
}

/** Why a fetched response was refused (the label of `nsn_slot_fetch_refused_total`). */
export type SlotFetchRefusal =
  /** Frames that are not the protocol: undecodable, too many, too long, or the wrong slot/content. */
  | 'MALFORMED'
  /** More bytes than slotFetch.maxResponseBytes. */
  | 'TOO_LARGE'
  /** verifySlot refusals (docs/protocol.md §6): the certificate, the recipe, a chunk, or the whole. */
  | 'CERTIFICATE'
  | 'RECIPE'
  | 'CHUNK'
  | 'INCOMPLETE'
  /** Verified, but not the content asked for. */
  | 'WRONG_CONTENT'

export class SlotFetchRefused extends Error {
  override readonly name = 'SlotFetchRefused'
  constructor(
    readonly code: SlotFetchRefusal,
    message: string,
  ) {
    super(message)
  }
}

export interface SlotFetchMetrics {
  /** Requests answered by this node, by result (found, not_found, busy, bad_request, error). */
  served: Counter<'result'>
  /** Requests made by this node, by result (stored, not_found, busy, refused, error, no_peer). */
  requests: Counter<'result'>
  /** Responses refused, by SlotFetchRefusal code; the peer is no longer asked for slotFetch.penaltyMs. */
  refused: Counter<'reason'>
  /** Response bytes, by direction (sent, received). */
  bytes: Counter<'direction'>
}

export function createSlotFetchMetrics(register: Registry): SlotFetchMetrics {
  const registers = [register]
  return {
    served: new Counter({
      name: 'nsn_slot_fetch_served_total',
      help: 'Slot fetch requests answered, by result',
      labelNames: ['result'],
      registers,
    }),
    requests: new Counter({
      name: 'nsn_slot_fetch_requests_total',
      help: 'Slot fetch requests made to peers, by result',
      labelNames: ['result'],
      registers,
    }),
    refused: new Counter({
      name: 'nsn_slot_fetch_refused_total',
      help: 'Fetched slots refused (the serving peer is penalised), by reason',
      labelNames: ['reason'],
      registers,
    }),
    bytes: new Counter({
      name: 'nsn_slot_fetch_bytes_total',
      help: 'Slot fetch response bytes, by direction',
      labelNames: ['direction'],
      registers,
    }),
  }
}

/** Longest wait before a slot that no peer served is asked for again. */
const MAX_RETRY_MS = 30_000

/** Peers whose request budgets are tracked at most (connections are far fewer); the oldest goes first. */
const MAX_TRACKED_PEERS = 4096

function frame(bytes: Uint8Array): Uint8Array {
  return lp.encode.single(bytes).subarray()
}

async function send(stream: Stream, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  if (!stream.send(frame(bytes))) await stream.onDrain({ signal })
}

/** The frames of an archived slot: the header, then its signed chunks (docs/protocol.md §12). */
export async function archivedFrames(archive: SlotArchive, slot: bigint, contentHash: Uint8Array) {
  const held = await archive.read(slot)
  if (held === null || held.record.contentHash !== bytesToHex(contentHash)) return null
  const chunks = chunksOf(held.record, held.video)
  return {
    header: {
      certificate: hexToBytes(held.record.certificate),
      recipe: hexToBytes(held.record.recipe),
      chunks: chunks.length,
    },
    chunks,
  }
}

// -----------------------------------------------------------------------------------------------
// Serving

export interface SlotFetchServerComponents {
  libp2p: Libp2p
  archive: SlotArchive
  logger?: Logger
  metrics?: SlotFetchMetrics | null
  now?: () => number
}

export class SlotFetchServer {
  private readonly active = new Map<string, number>()
  private total = 0
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>()

  constructor(
    private readonly components: SlotFetchServerComponents,
    private readonly config: SlotFetchConfig,
  ) {}

  async start(): Promise<void> {
    await this.components.libp2p.handle(
      SLOT_FETCH_PROTOCOL,
      (stream, connection) => {
        void this.serve(stream, connection.remotePeer.toString())
      },
      {
        // libp2p's own per-connection stream bound; ours (per peer, in total) answers Busy first.
        maxInboundStreams: this.config.maxConcurrentPerPeer + 1,
        runOnLimitedConnection: false,
      },
    )
  }

  async stop(): Promise<void> {
    await this.components.libp2p.unhandle(SLOT_FETCH_PROTOCOL).catch(() => {})
  }

  /** One token of `peer`'s request budget (slotFetch.requestsPerMinutePerPeer). */
  private take(peer: string): boolean {
    const now = (this.components.now ?? Date.now)()
    const cap = this.config.requestsPerMinutePerPeer
    let b = this.buckets.get(peer)
    if (b === undefined) {
      if (this.buckets.size >= MAX_TRACKED_PEERS) this.buckets.delete(this.buckets.keys().next().value!)
      b = { tokens: cap, atMs: now }
      this.buckets.set(peer, b)
    }
    b.tokens = Math.min(cap, b.tokens + ((now - b.atMs) * cap) / 60_000)
    b.atMs = now
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  private async serve(stream: Stream, peer: string): Promise<void> {
    const { metrics, logger } = this.components
    const signal = AbortSignal.timeout(this.config.requestTimeoutMs)
    const onAbort = () => stream.abort(new Error('slot fetch: request deadline passed'))
    signal.addEventListener('abort', onAbort, { once: true })
    const busy =
      (this.active.get(peer) ?? 0) >= this.config.maxConcurrentPerPeer ||
      this.total >= this.config.maxConcurrentServes ||
      !this.take(peer)
    this.active.set(peer, (this.active.get(peer) ?? 0) + 1)
    this.total++
    let result = 'error'
    try {
      const request = await readRequest(stream)
      let response: SlotResponse
      let chunks: VideoChunk[] = []
      if (request === null) response = { kind: 'BadRequest', value: null }
      else if (busy) response = { kind: 'Busy', value: null }
      else {
        const found = await archivedFrames(this.components.archive, request.slot, request.content_hash).catch(
          (err: unknown) => {
            // Stored bytes that no longer verify are never served (docs/protocol.md §12).
            if (err instanceof ArchiveVerifyError) return null
            throw err
          },
        )
        response = found === null ? { kind: 'NotFound', value: null } : { kind: 'Found', value: found.header }
        if (found !== null) chunks = found.chunks
      }
      const header = encodeSlotResponse(response)
      await send(stream, header, signal)
      let sent = header.length
      for (const c of chunks) {
        const b = encodeVideoChunk(c)
        await send(stream, b, signal)
        sent += b.length
      }
      await stream.close({ signal })
      metrics?.bytes.inc({ direction: 'sent' }, sent)
      result = { Found: 'found', NotFound: 'not_found', Busy: 'busy', BadRequest: 'bad_request' }[
        response.kind
      ]
    } catch (err) {
      logger?.debug({ peer, err: (err as Error).message }, 'slot fetch: serving failed')
      stream.abort(err as Error)
    } finally {
      signal.removeEventListener('abort', onAbort)
      const n = (this.active.get(peer) ?? 1) - 1
      if (n <= 0) this.active.delete(peer)
      else this.active.set(peer, n)
      this.total--
      metrics?.served.inc({ result })
    }
  }
}

/** The one request frame of a stream (null when it is not exactly one SlotRequest). */
async function readRequest(stream: Stream) {
  let request: Uint8Array | null = null
  try {
    for await (const f of lp.decode(stream, { maxDataLength: SLOT_REQUEST_BYTES })) {
      if (request !== null) return null
      request = f.subarray()
    }
    return request === null ? null : decodeSlotRequest(request)
  } catch {
    return null
  }
}

// -----------------------------------------------------------------------------------------------
// Fetching

export interface SlotFetcherComponents {
  libp2p: Libp2p
  archive: SlotArchive
  /** The slot's certificate, verified against the chain's elected set, or null when none is known. */
  certificate: (slot: bigint) => Promise<Certificate | null>
  /** The chain's elected set (protobuf keys) of an epoch, or null when not known yet. */
  electedFor: (epoch: bigint) => readonly Uint8Array[] | null
  currentSlot: () => bigint | null
  logger?: Logger
  metrics?: SlotFetchMetrics | null
  now?: () => number
}

/** Outcome of asking one peer for one slot. */
export type FetchOutcome = 'stored' | 'not_found' | 'busy' | 'refused' | 'error'

export class SlotFetcher {
  /** Slots with a known chain result (only slots in the window): when next to ask, and rounds asked. */
  private readonly known = new Map<bigint, { dueMs: number; rounds: number }>()
  /** Peers not asked until the given time: served bytes that did not verify. */
  private readonly penalised = new Map<string, number>()
  private timer: NodeJS.Timeout | null = null
  private sweeping: Promise<void> | null = null
  private readonly abort = new AbortController()
  /** Slots stored from peers since start. */
  fetched = 0

  constructor(
    private readonly components: SlotFetcherComponents,
    private readonly anchor: TrustAnchor,
    private readonly config: SlotFetchConfig,
  ) {}

  private now(): number {
    return (this.components.now ?? Date.now)()
  }

  /** Begin sweeping every slotFetch.sweepIntervalMs. */
  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.config.sweepIntervalMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.abort.abort()
    await this.sweeping?.catch(() => {})
  }

  /**
   * The chain recorded a result for `slot`: fetch it after slotFetch.fetchDelayMs if still missing.
   * `past`: the result was recorded before this node started, so gossip cannot bring it: at once.
   */
  noteResult(slot: bigint, past = false): void {
    if (!this.inWindow(slot) || this.known.has(slot)) return
    this.known.set(slot, { dueMs: past ? this.now() : this.now() + this.config.fetchDelayMs, rounds: 0 })
  }

  /** The window's slots below the current one (the ones a node that just started looks up). */
  windowSlots(): bigint[] {
    const current = this.components.currentSlot()
    if (current === null) return []
    const out: bigint[] = []
    for (let s = current - 1n; s >= 0n && s >= current - BigInt(this.config.slotsBehind); s--) out.push(s)
    return out
  }

  /** Peers currently not asked (PeerId strings). */
  penalisedPeers(): string[] {
    const now = this.now()
    return [...this.penalised].filter(([, until]) => until > now).map(([p]) => p)
  }

  private inWindow(slot: bigint): boolean {
    const current = this.components.currentSlot()
    return current === null || (slot <= current && slot >= current - BigInt(this.config.slotsBehind))
  }

  /** One pass over the missing slots, one request at a time (newest first). */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = null
    })
    return this.sweeping
  }

  private async sweepOnce(): Promise<void> {
    for (const s of [...this.known.keys()]) if (!this.inWindow(s)) this.known.delete(s)
    const now = this.now()
    for (const [p, until] of [...this.penalised]) if (until <= now) this.penalised.delete(p)
    const due = [...this.known]
      .filter(([s, k]) => k.dueMs <= now && !this.components.archive.has(s))
      .map(([s]) => s)
      .sort((a, b) => (a < b ? 1 : -1))
    for (const slot of due) {
      if (this.abort.signal.aborted) return
      const cert = await this.components.certificate(slot).catch(() => null)
      if (cert === null) continue
      const outcome = await this.fetchSlot(slot, cert)
      const k = this.known.get(slot)
      if (outcome === 'stored' || k === undefined) this.known.delete(slot)
      else if (outcome === 'asked') {
        // Nobody served it: ask again later, backing off (a slot no peer holds costs little).
        k.rounds++
        k.dueMs = this.now() + Math.min(MAX_RETRY_MS, this.config.sweepIntervalMs * 2 ** k.rounds)
      }
    }
  }

  /**
   * Ask the peers that speak the protocol, one after another, until one serves a verified slot. A
   * peer may hold any member's certified video (a fallback member publishes when the canonical one
   * did not, docs/protocol.md §6), so each peer is asked for the members' content hashes in rank order.
   */
  private async fetchSlot(slot: bigint, cert: Certificate): Promise<'stored' | 'asked' | 'no_peer'> {
    const { metrics } = this.components
    const hashes: Uint8Array[] = []
    for (const m of cert.members)
      if (!hashes.some((h) => equalBytes(h, m.content_hash))) hashes.push(m.content_hash)
    const peers = hashes.length === 0 ? [] : await this.candidates()
    if (peers.length === 0) {
      metrics?.requests.inc({ result: 'no_peer' })
      return 'no_peer'
    }
    for (const peer of peers) {
      for (const contentHash of hashes) {
        const outcome = await this.ask(peer, slot, contentHash)
        metrics?.requests.inc({ result: outcome })
        if (outcome === 'stored') return 'stored'
        // Only NotFound is worth another content hash at the same peer.
        if (outcome !== 'not_found') break
      }
    }
    return 'asked'
  }

  private async candidates(): Promise<PeerId[]> {
    const { libp2p } = this.components
    const out: PeerId[] = []
    for (const id of libp2p.getPeers()) {
      if (this.penalised.has(id.toString())) continue
      const peer = await libp2p.peerStore.get(id).catch(() => null)
      if (peer?.protocols.includes(SLOT_FETCH_PROTOCOL) === true) out.push(id)
    }
    // A different order each time, so one slow peer is not always asked first.
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      ;[out[i], out[j]] = [out[j]!, out[i]!]
    }
    return out
  }

  /** One request to one peer; a refusal penalises the peer. */
  async ask(peer: PeerId, slot: bigint, contentHash: Uint8Array): Promise<FetchOutcome> {
    const { libp2p, archive, logger, metrics } = this.components
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.config.requestTimeoutMs)])
    let stream: Stream | null = null
    try {
      stream = await libp2p.dialProtocol(peer, SLOT_FETCH_PROTOCOL, { signal })
      const s = stream
      const onAbort = () => s.abort(new Error('slot fetch: request deadline passed'))
      signal.addEventListener('abort', onAbort, { once: true })
      try {
        s.send(frame(encodeSlotRequest({ slot, content_hash: contentHash })))
        await s.close({ signal })
        const got = await readResponse(s, this.config.maxResponseBytes)
        metrics?.bytes.inc({ direction: 'received' }, got.bytes)
        if (got.response.kind === 'NotFound') return 'not_found'
        if (got.response.kind === 'Busy') return 'busy'
        if (got.response.kind === 'BadRequest') return 'error'
        const verified = this.verify(slot, contentHash, got.response.value, got.chunks)
        const stored = await archive.put(verified)
        if (stored) this.fetched++
        logger?.info({ slot, peer: peer.toString(), bytes: got.bytes }, 'slot fetched from a peer')
        return 'stored'
      } finally {
        signal.removeEventListener('abort', onAbort)
      }
    } catch (err) {
      if (err instanceof SlotFetchRefused) {
        metrics?.refused.inc({ reason: err.code })
        this.penalise(peer)
        stream?.abort(err)
        logger?.warn(
          { slot, peer: peer.toString(), code: err.code, err: err.message },
          'slot fetch: response refused, peer penalised',
        )
        return 'refused'
      }
      stream?.abort(err as Error)
      logger?.debug({ slot, peer: peer.toString(), err: (err as Error).message }, 'slot fetch failed')
      return 'error'
    }
  }

  private penalise(peer: PeerId): void {
    // Bounded like the request budgets: the oldest penalty is forgotten first.
    if (this.penalised.size >= MAX_TRACKED_PEERS) this.penalised.delete(this.penalised.keys().next().value!)
    this.penalised.set(peer.toString(), this.now() + this.config.penaltyMs)
  }

  /** The viewer's rules (verifySlot, docs/protocol.md §6) on a response; throws SlotFetchRefused. */
  private verify(
    slot: bigint,
    contentHash: Uint8Array,
    header: { certificate: Uint8Array; recipe: Uint8Array },
    chunks: VideoChunk[],
  ) {
    let certificate: Certificate
    try {
      certificate = decodeCertificate(header.certificate)
      const recipe = decodeRecipe(header.recipe)
      if (certificate.slot !== slot)
        throw new SlotFetchRefused('MALFORMED', `certificate of slot ${certificate.slot}, asked for ${slot}`)
      const elected = this.components.electedFor(certificate.epoch)
      if (elected === null)
        throw new SlotFetchRefused('CERTIFICATE', `epoch ${certificate.epoch}: elected set unknown`)
      const completed = verifySlot({ certificate, chunks, recipe, elected, anchor: this.anchor })
      if (!equalBytes(completed.contentHash, contentHash))
        throw new SlotFetchRefused('WRONG_CONTENT', 'verified content is not the content asked for')
      return { completed, recipe, elected, anchor: this.anchor }
    } catch (err) {
      if (err instanceof SlotFetchRefused) throw err
      if (err instanceof ArchiveVerifyError) throw new SlotFetchRefused(err.refusal.code, err.message)
      throw new SlotFetchRefused('MALFORMED', (err as Error).message)
    }
  }
}

/** Errors of undecodable frames (SCALE, or it-length-prefixed lengths beyond the bound). */
const REFUSED_ERRORS = new Set([
  'DecodeError',
  'InvalidDataLengthError',
  'InvalidDataLengthLengthError',
  'InvalidMessageLengthError',
])

/** Read a response: the header, then exactly the announced chunk frames; throws SlotFetchRefused. */
async function readResponse(
  stream: Stream,
  maxBytes: number,
): Promise<{ response: SlotResponse; chunks: VideoChunk[]; bytes: number }> {
  let response: SlotResponse | null = null
  const chunks: VideoChunk[] = []
  let bytes = 0
  const frames = lp.decode(stream, { maxDataLength: Math.max(MAX_HEADER_BYTES, MAX_CHUNK_FRAME_BYTES) })
  try {
    for await (const f of frames) {
      bytes += f.byteLength
      if (bytes > maxBytes) throw new SlotFetchRefused('TOO_LARGE', `response passed ${maxBytes} bytes`)
      if (response === null) {
        if (f.byteLength > MAX_HEADER_BYTES) throw new SlotFetchRefused('MALFORMED', 'header frame too long')
        response = decodeSlotResponse(f.subarray())
        if (response.kind === 'Found' && response.value.chunks > MAX_RESPONSE_CHUNKS)
          throw new SlotFetchRefused('MALFORMED', `${response.value.chunks} chunks announced`)
        continue
      }
      if (response.kind !== 'Found' || chunks.length >= response.value.chunks)
        throw new SlotFetchRefused('MALFORMED', 'more frames than announced')
      chunks.push(decodeVideoChunk(f.subarray(), MAX_CHUNK_FRAME_BYTES))
    }
  } catch (err) {
    if (err instanceof SlotFetchRefused) throw err
    // Bytes that are not the protocol are refused; a stream that merely ended early (a dropped
    // connection) is an error, not a refusal: an honest peer may lose its link mid-response.
    if (REFUSED_ERRORS.has((err as Error).name))
      throw new SlotFetchRefused('MALFORMED', (err as Error).message)
    throw err
  }
  if (response === null) throw new Error('stream ended before the response header')
  if (response.kind === 'Found' && chunks.length !== response.value.chunks)
    throw new Error(`stream ended after ${chunks.length} of ${response.value.chunks} chunks`)
  return { response, chunks, bytes }
}
