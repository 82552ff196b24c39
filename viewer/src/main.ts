// The NSN viewer page: reads gossip messages from its node over a WebSocket, verifies every chunk's
// signature and hash and every certificate in the browser (the same code the node runs), and
// plays only certified content through Media Source Extensions, slot after slot (PROTOCOL.md §6).
import { embeddingHash, initBlake3, verifyCertificate } from '../../src/crypto/index.ts'
import { FEED_TAG, type FeedInfo, VIEWER_WS_PATH } from '../../src/node/viewer-protocol.ts'
// video.ts directly, not p2p/index.ts: the index also exports the libp2p node, which is not for browsers.
import { decodeAndVerifyVideoChunk, VideoChunkError } from '../../src/p2p/video.ts'
import {
  bytesToHex,
  type Certificate,
  decodeBftSignal,
  equalBytes,
  hexToBytes,
  type Proposal,
  type VideoChunk,
} from '../../src/types/index.ts'
import { cosineMean, sniffMime } from './media.ts'

/** Bounds on what an unverified peer can make the page hold (PROTOCOL.md §6: bounded buffer). */
const MAX_SLOTS_TRACKED = 16
const MAX_PENDING_CHUNKS_PER_SLOT = 256

type SlotStatus = 'waiting' | 'certified' | 'verified' | 'rejected' | 'failed'

interface SlotView {
  slot: bigint
  prompt: string
  certificate: Certificate | null
  certError: string | null
  /** Chunks that verified (signature + hash) but wait for, or were checked against, the certificate. */
  pending: VideoChunk[]
  /** index → payload, for the certified content only. */
  parts: Map<number, Uint8Array>
  total: number
  proposals: Proposal[]
  similarity: number | null
  status: SlotStatus
  notes: string[]
  played: boolean
  row: HTMLTableRowElement
}

const state = {
  networkId: new Uint8Array(32) as Uint8Array,
  quorum: 3,
  slotsPerEpoch: 1,
  elected: new Map<bigint, Uint8Array[]>(),
  slots: new Map<bigint, SlotView>(),
  lastPlayedSlot: -1n,
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const video = $<HTMLVideoElement>('video')
const tbody = $<HTMLTableSectionElement>('slots')
const connection = $<HTMLSpanElement>('connection')

// ---------------------------------------------------------------------------------------------
// Playback: one MediaSource, one SourceBuffer in 'sequence' mode so each slot's video follows the
// previous one whatever its own timestamps.
const media = {
  source: new MediaSource(),
  buffer: null as SourceBuffer | null,
  queue: [] as Uint8Array[],
}
video.src = URL.createObjectURL(media.source)

function appendNext(): void {
  const sb = media.buffer
  if (sb === null || sb.updating || media.queue.length === 0) return
  const next = media.queue.shift()!
  sb.appendBuffer(next as BufferSource)
}

function play(bytes: Uint8Array): void {
  if (media.buffer === null) {
    const mime = sniffMime(bytes)
    if (mime === null || !MediaSource.isTypeSupported(mime)) throw new Error(`unsupported container ${mime}`)
    media.buffer = media.source.addSourceBuffer(mime)
    media.buffer.mode = 'sequence'
    media.buffer.addEventListener('updateend', appendNext)
  }
  media.queue.push(bytes)
  appendNext()
  void video.play().catch(() => {
    /* autoplay may need a click; the controls are there */
  })
}

// ---------------------------------------------------------------------------------------------
// Slot bookkeeping and rendering.

function slotView(slot: bigint): SlotView | null {
  let v = state.slots.get(slot)
  if (v !== undefined) return v
  if (slot <= state.lastPlayedSlot) return null // never reopen a slot that already played
  if (state.slots.size >= MAX_SLOTS_TRACKED) {
    const oldest = [...state.slots.keys()].sort((a, b) => (a < b ? -1 : 1))[0]!
    state.slots.get(oldest)!.row.remove()
    state.slots.delete(oldest)
  }
  const row = document.createElement('tr')
  row.dataset.slot = slot.toString()
  const later = [...tbody.children].find((r) => BigInt((r as HTMLElement).dataset.slot!) > slot)
  tbody.insertBefore(row, later ?? null)
  v = {
    slot,
    prompt: '',
    certificate: null,
    certError: null,
    pending: [],
    parts: new Map(),
    total: 0,
    proposals: [],
    similarity: null,
    status: 'waiting',
    notes: [],
    played: false,
    row,
  }
  state.slots.set(slot, v)
  return v
}

const short = (key: Uint8Array) => bytesToHex(key.subarray(4, 10))

function render(v: SlotView): void {
  const cert = v.certificate
  const directors = cert
    ? cert.members.map((m, i) => `${short(m.signer)}${i === 0 ? '★' : ''}`).join(' ')
    : '–'
  const certText = cert
    ? `verified (${cert.commits.length} commits)`
    : v.certError
      ? `invalid: ${v.certError}`
      : 'pending'
  const sim = v.similarity === null ? '–' : v.similarity.toFixed(4)
  const progress = v.total > 0 ? `${v.parts.size}/${v.total}` : `${v.pending.length} buffered`
  const cells = [
    v.slot.toString(),
    v.prompt || '–',
    directors,
    sim,
    certText,
    progress,
    v.status,
    v.notes.slice(-3).join('; '),
  ]
  v.row.replaceChildren(
    ...cells.map((text) => {
      const td = document.createElement('td')
      td.textContent = text
      return td
    }),
  )
  v.row.className = v.status
  v.row.querySelectorAll('td')[6]!.setAttribute('data-testid', 'status')
}

function note(v: SlotView, text: string): void {
  if (!v.notes.includes(text)) v.notes.push(text)
  if (v.notes.length > 8) v.notes.shift()
}

// ---------------------------------------------------------------------------------------------
// Verification: chunks (signature + hash), certificate (elected set), membership and content.

function electedFor(slot: bigint): Uint8Array[] | null {
  return state.elected.get(slot / BigInt(state.slotsPerEpoch)) ?? null
}

function onCertificate(cert: Certificate): void {
  const v = slotView(cert.slot)
  if (v === null || v.certificate !== null) return
  const elected = electedFor(cert.slot)
  if (elected === null) {
    v.certError = 'elected set of the epoch unknown'
    render(v)
    return
  }
  try {
    verifyCertificate(cert, { networkId: state.networkId, elected, quorum: state.quorum })
  } catch (err) {
    v.certError = (err as Error & { code?: string }).code ?? (err as Error).message
    render(v)
    return
  }
  v.certificate = cert
  v.certError = null
  v.status = 'certified'
  updateSimilarity(v)
  const pending = v.pending
  v.pending = []
  for (const c of pending) acceptCertified(v, c)
  render(v)
}

function updateSimilarity(v: SlotView): void {
  const cert = v.certificate
  if (cert === null) return
  const embeddings: Float32Array[] = []
  for (const m of cert.members) {
    const p = v.proposals.find(
      (x) => equalBytes(x.signer, m.signer) && equalBytes(embeddingHash(x.embedding), m.embedding_hash),
    )
    if (p === undefined) return // not every member's proposal seen: no figure rather than a wrong one
    embeddings.push(p.embedding)
  }
  v.similarity = cosineMean(embeddings)
}

/** A chunk whose signature and hash verified: play it only if the certificate vouches for it. */
function acceptCertified(v: SlotView, chunk: VideoChunk): void {
  const cert = v.certificate!
  const member = cert.members.find((m) => equalBytes(m.signer, chunk.signer))
  if (member === undefined) {
    note(v, `refused chunk from ${short(chunk.signer)}: not a certificate member`)
    return
  }
  if (chunk.header.content_id !== bytesToHex(member.content_hash)) {
    note(v, `refused chunk from ${short(chunk.signer)}: content not certified`)
    return
  }
  if (v.played || v.status === 'failed') return
  if (v.total === 0) v.total = chunk.header.total_chunks
  if (chunk.header.total_chunks !== v.total) {
    note(v, 'refused chunk: inconsistent total_chunks')
    return
  }
  v.parts.set(chunk.header.chunk_index, chunk.payload)
  if (v.parts.size === v.total) finish(v, member.content_hash)
}

function finish(v: SlotView, contentHash: Uint8Array): void {
  const size = [...v.parts.values()].reduce((n, p) => n + p.length, 0)
  const bytes = new Uint8Array(size)
  let o = 0
  for (let i = 0; i < v.total; i++) {
    const p = v.parts.get(i)!
    bytes.set(p, o)
    o += p.length
  }
  // BLAKE3(video) = content_hash before the slot counts as complete (PROTOCOL.md §6).
  if (!equalBytes(hashVideo(bytes), contentHash)) {
    v.status = 'failed'
    note(v, 'reassembled video does not match the certified content hash')
    render(v)
    return
  }
  v.status = 'verified'
  v.played = true
  if (v.slot > state.lastPlayedSlot) state.lastPlayedSlot = v.slot
  try {
    play(bytes)
  } catch (err) {
    note(v, `cannot play: ${(err as Error).message}`)
  }
  render(v)
}

let hashVideo: (b: Uint8Array) => Uint8Array = () => {
  throw new Error('BLAKE3 not ready')
}

function onChunk(bytes: Uint8Array): void {
  let chunk: VideoChunk
  try {
    chunk = decodeAndVerifyVideoChunk(bytes).chunk
  } catch (err) {
    // A chunk that fails here was forged or damaged: it is never played; say so on its slot.
    const code = err instanceof VideoChunkError ? err.code : 'MALFORMED'
    const slot = peekSlot(bytes)
    const v = slot === null ? null : slotView(slot)
    if (v !== null) {
      note(v, `rejected chunk: ${code}`)
      render(v)
    }
    return
  }
  const v = slotView(chunk.header.slot)
  if (v === null) return
  if (v.certificate === null) {
    if (v.pending.length < MAX_PENDING_CHUNKS_PER_SLOT) v.pending.push(chunk)
    else note(v, 'buffer full: chunk dropped before certificate')
  } else acceptCertified(v, chunk)
  render(v)
}

/** The slot field of a chunk that failed verification (header layout: u16 version, then u64 slot). */
function peekSlot(bytes: Uint8Array): bigint | null {
  if (bytes.length < 10) return null
  return new DataView(bytes.buffer, bytes.byteOffset + 2, 8).getBigUint64(0, true)
}

function onBft(bytes: Uint8Array): void {
  let signal: ReturnType<typeof decodeBftSignal>
  try {
    signal = decodeBftSignal(bytes)
  } catch {
    return
  }
  if (signal.kind === 'Certificate') onCertificate(signal.value)
  else if (signal.kind === 'Proposal') {
    const v = slotView(signal.value.slot)
    if (v === null || v.proposals.length >= 32) return
    v.proposals.push(signal.value)
    if (v.certificate !== null && v.similarity === null) {
      updateSimilarity(v)
      render(v)
    }
  }
}

function onInfo(info: FeedInfo): void {
  if (info.type === 'hello') {
    state.networkId = hexToBytes(info.networkId)
    state.quorum = info.quorum
    state.slotsPerEpoch = info.slotsPerEpoch
    $('node').textContent = info.node
  } else if (info.type === 'epoch') {
    state.elected.set(BigInt(info.epoch), info.directors.map(hexToBytes))
  } else if (info.type === 'recipe') {
    const v = slotView(BigInt(info.slot))
    if (v !== null) {
      v.prompt = info.prompt
      render(v)
    }
  }
}

function connect(): void {
  const ws = new WebSocket(
    `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${VIEWER_WS_PATH}`,
  )
  ws.binaryType = 'arraybuffer'
  ws.onopen = () => {
    connection.textContent = 'connected'
  }
  ws.onclose = () => {
    connection.textContent = 'reconnecting…'
    setTimeout(connect, 1000)
  }
  ws.onmessage = (ev) => {
    const frame = new Uint8Array(ev.data as ArrayBuffer)
    const payload = frame.subarray(1)
    if (frame[0] === FEED_TAG.chunk) onChunk(payload)
    else if (frame[0] === FEED_TAG.bft) onBft(payload)
    else if (frame[0] === FEED_TAG.info) onInfo(JSON.parse(new TextDecoder().decode(payload)) as FeedInfo)
  }
}
// Exposed for the end-to-end test and for curious operators (read-only summary).
;(globalThis as unknown as { nsnViewer: unknown }).nsnViewer = {
  slots: () =>
    [...state.slots.values()].map((v) => ({
      slot: v.slot.toString(),
      status: v.status,
      certified: v.certificate !== null,
      similarity: v.similarity,
      notes: [...v.notes],
    })),
}

const impl = await initBlake3()
hashVideo = impl.hash
connect()
