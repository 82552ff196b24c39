// The NSN viewer page: reads gossip messages from its node over a WebSocket, verifies every chunk's
// signature and hash and every certificate in the browser (the same code the node runs), and
// plays only certified content through Media Source Extensions, slot after slot (docs/protocol.md §6).
import { blake3, embeddingHash, initBlake3 } from '../../src/crypto/index.ts'
import { FEED_TAG, type FeedInfo, VIEWER_WS_PATH } from '../../src/node/viewer-protocol.ts'
// video.ts directly, not p2p/index.ts: the index also exports the libp2p node, which is not for browsers.
import { decodeAndVerifyVideoChunk, VideoChunkError } from '../../src/p2p/video.ts'
import {
  CertifiedSlots,
  type ChunkOutcome,
  type CompletedSlot,
  checkCertificate,
  REFUSAL_TEXT,
  type RefusalCode,
} from '../../src/trust/index.ts'
import {
  bytesToHex,
  type Certificate,
  decodeBftSignal,
  decodeCertificate,
  equalBytes,
  hexToBytes,
  type Proposal,
  type VideoChunk,
} from '../../src/types/index.ts'
import { cosineMean, sniffMime } from './media.ts'
import { decide, liveEdge, type PlayoutView, slotsAhead, type TimelineEntry } from './playout.ts'

/**
 * Bounds on what an unverified peer can make the page hold (docs/protocol.md §6: bounded buffer).
 * Rows are created only for slots inside the trust window around the chain's current slot; the
 * pending chunks are bounded per signer in items and bytes by CertifiedSlots.
 */
const MAX_SLOTS_TRACKED = 16
/** Slots followed behind the current one: the previous minute and a half of 12 s slots. */
const TRUST_WINDOW = { slotsBehind: 8, slotsAhead: 2 }
const MAX_WAITING_CERTIFICATES = 16
const MAX_REFUSALS_PER_SLOT = 32
/** Played media older than this (seconds behind the playhead) is dropped from the SourceBuffer. */
const KEEP_BEHIND_S = 30
/** A certified slot whose chunks have not completed this long after its certificate is fetched
 * from the node's archive (its bytes are checked here against the certified content hash). */
const ARCHIVE_FALLBACK_MS = 8_000

type SlotStatus = 'waiting' | 'certified' | 'verified' | 'rejected' | 'failed'

interface Refusal {
  code: RefusalCode
  /** Short hex of the signer's key, when the chunk decoded. */
  signer: string | null
  contentId: string | null
  index: number | null
}

interface SlotView {
  slot: bigint
  prompt: string
  certificate: Certificate | null
  certError: string | null
  proposals: Proposal[]
  similarity: number | null
  /** The verified video handed to MSE: how many chunks it had (the bytes live in MSE only). */
  played: { total: number } | null
  /** BLAKE3 of exactly the bytes handed to MSE. */
  playedHash: string | null
  /** Hex key of the member whose chunks were played. */
  playedSigner: string | null
  /** Verified but not played (e.g. after a later slot already played, or MSE refused it). */
  notPlayed: string | null
  /** A later slot played before this one had a verified video: the stream moved on without it. */
  skipped: string | null
  refusals: Refusal[]
  notes: string[]
  row: HTMLTableRowElement
}

const state = {
  networkId: new Uint8Array(32) as Uint8Array,
  quorum: 3,
  slotsPerEpoch: 1,
  elected: new Map<bigint, Uint8Array[]>(),
  slots: new Map<bigint, SlotView>(),
  /** The viewer rules of docs/protocol.md §6: certified membership, reassembly, BLAKE3, bounds. */
  trust: new CertifiedSlots({ slotsPerEpoch: 1 }, TRUST_WINDOW),
  /** Certificates whose epoch's elected set is not known yet: verified when it arrives. */
  waitingCerts: [] as Certificate[],
  lastPlayedSlot: -1n,
}

/** The last videos handed to MSE, in order: what the page actually played. */
const appended: { slot: string; hash: string; bytes: number }[] = []

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const video = $<HTMLVideoElement>('video')
const tbody = $<HTMLTableSectionElement>('slots')
const connection = $<HTMLSpanElement>('connection')
const playback = $<HTMLSpanElement>('playback')

// ---------------------------------------------------------------------------------------------
// Playback: one MediaSource, one SourceBuffer in 'sequence' mode so each slot's video (and its
// narration track) follows the previous one whatever its own timestamps. Appends wait for
// 'sourceopen' and for each other. The page plays one slot behind live (playout.ts): it starts,
// and restarts after a hold, only with a slot in reserve, so slots follow each other without gaps.
const media = {
  source: new MediaSource(),
  open: false,
  buffer: null as SourceBuffer | null,
  /** The MSE type of the SourceBuffer: a slot of another type starts a new MediaSource. */
  mime: null as string | null,
  queue: [] as { slot: bigint; bytes: Uint8Array; hash: string }[],
  error: null as string | null,
  /** The slot being appended, and each appended slot's place on the media timeline (sequence mode). */
  appending: null as bigint | null,
  timeline: [] as TimelineEntry[],
  /** Whether the page wants the video playing (false: held for the reserve slot). */
  playing: false,
  holdReason: 'waiting for the first certified slot',
}
const live = $<HTMLSpanElement>('live')
const unmute = $<HTMLButtonElement>('unmute')

function openMedia(): void {
  media.source = new MediaSource()
  media.open = false
  media.buffer = null
  media.mime = null
  media.timeline = []
  media.playing = false
  media.source.addEventListener('sourceopen', () => {
    media.open = true
    appendNext()
  })
  video.src = URL.createObjectURL(media.source)
}
openMedia()
video.addEventListener('error', () => {
  media.error = `video element: ${video.error?.message || `code ${video.error?.code}`}`
  playback.textContent = media.error
})
/** Stalls after playback first started: what a gapless stream keeps at zero. */
const stalls = { started: false, waiting: 0, stalledSeconds: 0, since: null as number | null, holds: 0 }
video.addEventListener('playing', () => {
  playback.textContent = 'playing'
  if (stalls.since !== null) stalls.stalledSeconds += (performance.now() - stalls.since) / 1000
  stalls.since = null
  stalls.started = true
})
video.addEventListener('waiting', () => {
  // A seek (the jump to the live edge) waits for its own data: not a stall of the stream.
  if (!stalls.started || !media.playing || video.seeking) return
  playback.textContent = 'stalled: waiting for data'
  stalls.waiting++
  stalls.since = performance.now()
})

function appendNext(): void {
  if (!media.open || media.queue.length === 0 || media.error !== null) return
  const first = media.queue[0]!.bytes
  const mime = sniffMime(first)
  if (media.buffer !== null && mime !== media.mime) {
    // Another track layout (e.g. a slot without sound): MSE cannot switch it in place.
    openMedia()
    return
  }
  if (media.buffer === null) {
    if (mime === null || !MediaSource.isTypeSupported(mime)) {
      media.error = `unsupported container ${mime}`
      playback.textContent = media.error
      return
    }
    media.mime = mime
    media.buffer = media.source.addSourceBuffer(mime)
    media.buffer.mode = 'sequence'
    media.buffer.addEventListener('updateend', onAppended)
    media.buffer.addEventListener('error', () => {
      media.error = 'SourceBuffer append failed'
      playback.textContent = media.error
    })
  }
  const sb = media.buffer
  if (sb.updating) return
  // A long session would otherwise fill the SourceBuffer's quota; keep only recent media.
  const t = video.currentTime
  if (sb.buffered.length > 0 && sb.buffered.start(0) < t - KEEP_BEHIND_S) {
    sb.remove(sb.buffered.start(0), t - KEEP_BEHIND_S / 2)
    return // updateend calls back here
  }
  try {
    sb.appendBuffer(first as BufferSource)
    const q = media.queue.shift()!
    media.appending = q.slot
    appended.push({ slot: q.slot.toString(), hash: q.hash, bytes: q.bytes.length })
    if (appended.length > 64) appended.shift()
  } catch (err) {
    media.error = `append: ${(err as Error).name}`
    playback.textContent = media.error
  }
}

/** Where the slot just appended sits on the timeline; a page far behind jumps towards the live edge. */
function onAppended(): void {
  const sb = media.buffer!
  if (media.appending !== null && sb.buffered.length > 0) {
    const end = sb.buffered.end(sb.buffered.length - 1)
    const start = media.timeline.at(-1)?.end ?? sb.buffered.start(0)
    media.timeline.push({ slot: media.appending, start, end, appendedAtMs: performance.now() })
    if (media.timeline.length > 64) media.timeline.shift()
    media.appending = null
    // More than two slots ahead (a replayed backlog): go to the slot before the newest, keeping
    // one slot in reserve.
    const reserve = media.timeline.at(-2)
    if (reserve !== undefined && slotsAhead(playoutView()).length > 2 && media.queue.length === 0)
      video.currentTime = reserve.start
  }
  appendNext()
  tick()
}

function playoutView(): PlayoutView {
  return {
    nowMs: performance.now(),
    currentTime: video.currentTime,
    playing: media.playing,
    timeline: media.timeline,
  }
}

/** Play or hold as playout.ts decides, and show the slot on screen and how far behind live. */
function tick(): void {
  if (media.error !== null) return
  const d = decide(playoutView())
  if (d.action === 'play') {
    media.playing = true
    startPlaying()
  } else if (d.action === 'hold') {
    media.playing = false
    media.holdReason = d.reason
    stalls.holds++
    video.pause()
  }
  if (!media.playing) playback.textContent = `held: ${media.holdReason}`
  showLiveEdge()
}
setInterval(tick, 100)

/** Unmuted if the browser allows it; else muted with a visible unmute button (autoplay policy). */
function startPlaying(): void {
  if (!video.paused) return
  video.play().catch((err: Error) => {
    if (err.name !== 'NotAllowedError' || video.muted) return
    video.muted = true
    unmute.hidden = false
    void video.play().catch(() => {
      /* the controls are there */
    })
  })
}
unmute.addEventListener('click', () => {
  video.muted = false
  unmute.hidden = true
  if (media.playing) void video.play().catch(() => {})
})
video.addEventListener('volumechange', () => {
  if (!video.muted) unmute.hidden = true
})

function showLiveEdge(): void {
  const edge = liveEdge(playoutView())
  const current = state.trust.currentSlot
  if (edge === null) return
  const chain = current === null ? '' : `; chain at slot ${current}`
  live.textContent = `slot ${edge.slot}, ${edge.behindSlots} slot${edge.behindSlots === 1 ? '' : 's'} (${edge.behindSeconds.toFixed(0)} s) behind live${chain}`
  live.dataset.slot = edge.slot.toString()
  live.dataset.behind = String(edge.behindSlots)
  live.dataset.behindSeconds = edge.behindSeconds.toFixed(1)
  if (current !== null) live.dataset.behindChain = (current - edge.slot).toString()
}

function play(slot: bigint, bytes: Uint8Array, hash: string): void {
  // A backlog not yet appended is skipped: only the newest verified slot waits (the live edge).
  media.queue = media.queue.filter((q) => q.slot >= slot)
  media.queue.push({ slot, bytes, hash })
  appendNext()
}

// ---------------------------------------------------------------------------------------------
// Slot bookkeeping and rendering.

function slotView(slot: bigint): SlotView | null {
  let v = state.slots.get(slot)
  if (v !== undefined) return v
  if (slot <= state.lastPlayedSlot) return null // never reopen a slot that already played
  if (!state.trust.inWindow(slot)) return null // attacker-chosen slot numbers create no rows
  if (state.slots.size >= MAX_SLOTS_TRACKED) {
    const oldest = [...state.slots.keys()].sort((a, b) => (a < b ? -1 : 1))[0]!
    if (slot < oldest) return null
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
    proposals: [],
    similarity: null,
    played: null,
    playedHash: null,
    playedSigner: null,
    notPlayed: null,
    skipped: null,
    refusals: [],
    notes: [],
    row,
  }
  state.slots.set(slot, v)
  return v
}

const short = (key: Uint8Array) => bytesToHex(key.subarray(4, 10))

function statusOf(v: SlotView): SlotStatus {
  if (v.certificate === null)
    return v.certError !== null ? 'rejected' : v.skipped !== null ? 'failed' : 'waiting'
  if (v.played !== null || v.notPlayed !== null) return 'verified'
  return state.trust.progress(v.slot)?.failed || v.skipped !== null ? 'failed' : 'certified'
}

function render(v: SlotView): void {
  const cert = v.certificate
  const status = statusOf(v)
  const directors = cert
    ? cert.members.map((m, i) => `${short(m.signer)}${i === 0 ? '★' : ''}`).join(' ')
    : '–'
  const certText = cert
    ? `verified (${cert.commits.length} commits)`
    : v.certError
      ? `invalid: ${v.certError}`
      : 'pending'
  const sim = v.similarity === null ? '–' : v.similarity.toFixed(4)
  const p = state.trust.progress(v.slot)
  const progress = p === null ? '–' : p.total > 0 ? `${p.received}/${p.total}` : `${p.pending} buffered`
  const statusText =
    status === 'verified' && v.played !== null
      ? 'verified, played'
      : status === 'verified'
        ? `verified, not played (${v.notPlayed})`
        : status === 'failed'
          ? `failed: ${v.skipped ?? 'not played'}`
          : status
  const refusalText =
    v.refusals.length > 0
      ? `refused ${v.refusals.length} chunk(s): ${[...new Set(v.refusals.map((r) => r.code))]
          .map((c) => `${REFUSAL_TEXT[c]} (${c})`)
          .join(', ')}`
      : ''
  const cells = [
    v.slot.toString(),
    v.prompt || '–',
    directors,
    sim,
    certText,
    progress,
    statusText,
    [refusalText, ...v.notes.slice(-3)].filter((s) => s !== '').join('; '),
  ]
  v.row.replaceChildren(
    ...cells.map((text) => {
      const td = document.createElement('td')
      td.textContent = text
      return td
    }),
  )
  v.row.className = status
  v.row.dataset.status = status
  v.row.dataset.refusals = String(v.refusals.length)
  const tds = v.row.querySelectorAll('td')
  tds[6]!.dataset.testid = 'status'
  tds[7]!.dataset.testid = 'notes'
}

function note(v: SlotView, text: string): void {
  if (!v.notes.includes(text)) v.notes.push(text)
  if (v.notes.length > 8) v.notes.shift()
}

function refuse(v: SlotView, code: RefusalCode, chunk: VideoChunk | null): void {
  if (v.refusals.length >= MAX_REFUSALS_PER_SLOT) v.refusals.shift()
  v.refusals.push({
    code,
    signer: chunk === null ? null : short(chunk.signer),
    contentId: chunk?.header.content_id ?? null,
    index: chunk?.header.chunk_index ?? null,
  })
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
    // The election may be announced after the certificate: verify it then.
    if (state.waitingCerts.length >= MAX_WAITING_CERTIFICATES) state.waitingCerts.shift()
    state.waitingCerts.push(cert)
    note(v, 'certificate waits for the epoch’s elected set')
    render(v)
    return
  }
  try {
    checkCertificate(cert, state, elected)
  } catch (err) {
    // An invalid certificate does not block a valid one that may still come.
    v.certError = (err as Error & { code?: string }).code ?? (err as Error).message
    render(v)
    return
  }
  v.certificate = cert
  v.certError = null
  setTimeout(() => void fromArchive(v), ARCHIVE_FALLBACK_MS)
  updateSimilarity(v)
  for (const { chunk, outcome } of state.trust.addCertificate(cert)) after(v, chunk, outcome)
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

/** What the trust rules said about a chunk: a refusal is shown on its slot, a complete slot plays. */
function after(v: SlotView, chunk: VideoChunk, outcome: ChunkOutcome): void {
  if (outcome.status === 'refused') {
    refuse(v, outcome.code, chunk)
    if (outcome.code === 'CONTENT_HASH')
      note(v, 'reassembled video does not match the certified content hash: not played')
  } else if (outcome.status === 'complete') finish(v, outcome.completed)
}

function finish(v: SlotView, done: CompletedSlot): void {
  if (v.slot < state.lastPlayedSlot) {
    v.notPlayed = 'arrived after a later slot'
    return
  }
  v.played = { total: done.chunks.length }
  v.playedSigner = bytesToHex(done.signer)
  playVerified(v, done.contentHash, done.video)
}

function playVerified(v: SlotView, contentHash: Uint8Array, bytes: Uint8Array): void {
  v.playedHash = bytesToHex(contentHash)
  // The slots in between had no verified video in time: say so on their rows, and move on.
  for (const other of state.slots.values()) {
    if (other.slot <= state.lastPlayedSlot || other.slot >= v.slot || other.played !== null) continue
    if (other.notPlayed !== null || other.skipped !== null) continue
    other.skipped =
      other.certificate === null
        ? `no certificate before slot ${v.slot} was ready: skipped`
        : `chunks incomplete before slot ${v.slot} was ready: skipped`
    render(other)
  }
  state.lastPlayedSlot = v.slot
  play(v.slot, bytes, v.playedHash)
}

/**
 * A certified slot whose chunks did not arrive (a page opened late, a lost chunk): the node's
 * archive has the video; it plays only if its BLAKE3 is a certified member's content_hash.
 */
async function fromArchive(v: SlotView, attempt = 1): Promise<void> {
  if (v.played !== null || v.certificate === null || v.slot < state.lastPlayedSlot) return
  let bytes: Uint8Array
  try {
    // Asked through the listing first: a slot the node has not archived yet is no 404 (which the
    // browser reports as a console error); it is asked again once, a fallback period later.
    const l = await fetch(`/api/slots?limit=1&before=${v.slot + 1n}`)
    const listed = l.ok ? ((await l.json()) as { slots: { slot: string }[] }).slots[0]?.slot : undefined
    if (listed !== v.slot.toString()) {
      if (attempt < 2) setTimeout(() => void fromArchive(v, attempt + 1), ARCHIVE_FALLBACK_MS)
      else {
        note(v, 'chunks missing and not in the node’s archive: skipped')
        render(v)
      }
      return
    }
    const r = await fetch(`/api/slots/${v.slot}/video`)
    if (!r.ok) {
      note(v, `chunks missing and not in the node’s archive (${r.status}): skipped`)
      render(v)
      return
    }
    bytes = new Uint8Array(await r.arrayBuffer())
  } catch {
    return
  }
  if (v.played !== null || v.slot < state.lastPlayedSlot) return
  const hash = blake3(bytes)
  if (!v.certificate.members.some((m) => equalBytes(m.content_hash, hash))) {
    refuse(v, 'CONTENT_HASH', null)
    note(v, 'the archive’s video does not match the certified content hash: not played')
    render(v)
    return
  }
  v.played = { total: 0 }
  note(v, 'played from the node’s archive (hash checked here)')
  playVerified(v, hash, bytes)
  render(v)
}

function onChunk(bytes: Uint8Array): void {
  let chunk: VideoChunk
  try {
    chunk = decodeAndVerifyVideoChunk(bytes).chunk
  } catch (err) {
    // Forged or damaged: never played. Say so on its slot, but only on a slot the page already
    // shows: an unverified slot number must not create (or evict) rows.
    const code = err instanceof VideoChunkError ? err.code : 'MALFORMED'
    const slot = peekSlot(bytes)
    const v = slot === null ? undefined : state.slots.get(slot)
    if (v !== undefined) {
      refuse(v, code, null)
      render(v)
    }
    return
  }
  const slot = chunk.header.slot
  const elected = electedFor(slot)
  if (elected !== null && !elected.some((k) => equalBytes(k, chunk.signer))) {
    const existing = state.slots.get(slot)
    if (existing !== undefined) {
      refuse(existing, 'NOT_ELECTED', chunk)
      render(existing)
    }
    return
  }
  const v = slotView(slot)
  if (v === null) return
  after(v, chunk, state.trust.addChunk(chunk))
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
    const p = signal.value
    const v = slotView(p.slot)
    if (v === null || v.proposals.length >= 32) return
    if (v.proposals.some((x) => equalBytes(x.signer, p.signer) && equalBytes(x.content_hash, p.content_hash)))
      return // replayed after a reconnect
    v.proposals.push(p)
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
    // A reconnect says hello again: keep what was verified unless the epoch length changed.
    if (info.slotsPerEpoch !== state.slotsPerEpoch)
      state.trust = new CertifiedSlots({ slotsPerEpoch: info.slotsPerEpoch }, TRUST_WINDOW)
    state.slotsPerEpoch = info.slotsPerEpoch
    $('node').textContent = info.node
  } else if (info.type === 'slot') {
    state.trust.setCurrentSlot(BigInt(info.slot))
  } else if (info.type === 'epoch') {
    const epoch = BigInt(info.epoch)
    const directors = info.directors.map(hexToBytes)
    state.elected.set(epoch, directors)
    state.trust.setElected(epoch, directors)
    // The page remembers the elected sets of a few epochs only, like the trust rules.
    while (state.elected.size > 4)
      state.elected.delete([...state.elected.keys()].sort((a, b) => (a < b ? -1 : 1))[0]!)
    const waiting = state.waitingCerts.filter((c) => c.slot / BigInt(state.slotsPerEpoch) === epoch)
    state.waitingCerts = state.waitingCerts.filter((c) => !waiting.includes(c))
    for (const c of waiting) onCertificate(c)
  } else if (info.type === 'recipe') {
    const v = slotView(BigInt(info.slot))
    if (v !== null) {
      v.prompt = info.prompt
      render(v)
    }
  }
}

function onFrame(frame: Uint8Array): void {
  const payload = frame.subarray(1)
  if (frame[0] === FEED_TAG.chunk) onChunk(payload)
  else if (frame[0] === FEED_TAG.bft) onBft(payload)
  else if (frame[0] === FEED_TAG.info) onInfo(JSON.parse(new TextDecoder().decode(payload)) as FeedInfo)
}

// ---------------------------------------------------------------------------------------------
// History: the node's archive (GET /api/slots). A past slot plays only once its certificate
// verified here against the epoch's elected set (when the page knows it) and BLAKE3 of its video
// is that certificate's content hash.

const history = $<HTMLUListElement>('history')
const archiveVideo = $<HTMLVideoElement>('archive-video')
const archiveStatus = $<HTMLParagraphElement>('archive-status')

async function loadHistory(): Promise<void> {
  let page: { slots: { slot: string; contentHash: string; bytes: number }[] }
  try {
    const r = await fetch('/api/slots?limit=20')
    if (!r.ok) return
    page = (await r.json()) as typeof page
  } catch {
    return
  }
  history.replaceChildren(
    ...page.slots.map((s) => {
      const li = document.createElement('li')
      const b = document.createElement('button')
      b.textContent = `slot ${s.slot}`
      b.dataset.slot = s.slot
      b.onclick = () => void playArchived(BigInt(s.slot))
      li.append(b, ` ${(s.bytes / 1024).toFixed(0)} KiB, ${s.contentHash.slice(0, 12)}…`)
      return li
    }),
  )
}

async function playArchived(slot: bigint): Promise<void> {
  archiveStatus.textContent = `slot ${slot}: fetching…`
  try {
    const record = (await (await fetch(`/api/slots/${slot}`)).json()) as { certificate: string }
    const cert = decodeCertificate(hexToBytes(record.certificate))
    const elected = state.elected.get(cert.epoch) ?? null
    let how = 'certificate verified here'
    if (elected === null)
      how = 'certificate not checked here (its epoch’s elected set is older than this page)'
    else checkCertificate(cert, state, elected)
    const bytes = new Uint8Array(await (await fetch(`/api/slots/${slot}/video`)).arrayBuffer())
    const hash = blake3(bytes)
    if (cert.slot !== slot || !cert.members.some((m) => equalBytes(m.content_hash, hash))) {
      archiveStatus.textContent = `slot ${slot}: the video does not match its certificate: not played`
      archiveStatus.dataset.verdict = 'refused'
      return
    }
    archiveVideo.hidden = false
    archiveVideo.src = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'video/mp4' }))
    void archiveVideo.play().catch(() => {})
    archiveStatus.textContent = `slot ${slot}: BLAKE3 matches the certified content hash; ${how}`
    archiveStatus.dataset.verdict = 'played'
    archiveStatus.dataset.slot = slot.toString()
    archiveStatus.dataset.hash = bytesToHex(hash)
  } catch (err) {
    archiveStatus.textContent = `slot ${slot}: not played (${(err as Error & { code?: string }).code ?? (err as Error).message})`
    archiveStatus.dataset.verdict = 'refused'
  }
}

let frameErrors = 0

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
    // One bad frame must not stop the page: count it and carry on.
    try {
      onFrame(new Uint8Array(ev.data as ArrayBuffer))
    } catch {
      frameErrors++
    }
  }
}
// Exposed for the end-to-end test and for curious operators (read-only summary).
;(globalThis as unknown as { nsnViewer: unknown }).nsnViewer = {
  slots: () =>
    [...state.slots.values()].map((v) => ({
      slot: v.slot.toString(),
      status: statusOf(v),
      prompt: v.prompt,
      certified: v.certificate !== null,
      certError: v.certError,
      members: v.certificate?.members.map((m) => ({
        signer: bytesToHex(m.signer),
        contentHash: bytesToHex(m.content_hash),
      })),
      similarity: v.similarity,
      played: v.played !== null,
      playedHash: v.playedHash,
      playedSigner: v.playedSigner,
      playedChunks: v.played?.total ?? null,
      notPlayed: v.notPlayed,
      skipped: v.skipped,
      refusals: v.refusals.map((r) => ({ ...r })),
      notes: [...v.notes],
    })),
  playback: () => ({
    currentTime: video.currentTime,
    error: media.error,
    queued: media.queue.length,
    waiting: stalls.waiting,
    stalledSeconds:
      stalls.stalledSeconds + (stalls.since === null ? 0 : (performance.now() - stalls.since) / 1000),
    holds: stalls.holds,
    playing: media.playing,
    onScreen: live.dataset.slot ?? null,
    behindLive: live.dataset.behind === undefined ? null : Number(live.dataset.behind),
    behindSeconds: live.dataset.behindSeconds === undefined ? null : Number(live.dataset.behindSeconds),
    behindChain: live.dataset.behindChain === undefined ? null : Number(live.dataset.behindChain),
    muted: video.muted,
    mime: media.mime,
    // Chromium's count of decoded audio bytes: the narration track is there and decodes.
    audioDecodedBytes:
      (video as HTMLVideoElement & { webkitAudioDecodedByteCount?: number }).webkitAudioDecodedByteCount ??
      null,
    timeline: media.timeline.map((e) => ({ slot: e.slot.toString(), start: e.start, end: e.end })),
    frameErrors,
    appended: appended.map((a) => ({ ...a })),
  }),
}

await initBlake3()
void loadHistory()
setInterval(() => void loadHistory(), 15_000)
connect()
