// The archive over HTTP: `GET /api/slots` pages through stored slots (newest first), `GET
// /api/slots/<n>` is one slot's record, `GET /api/slots/<n>/video` its verified video. A stored
// slot's bytes never change (keyed by content hash), so the video is cached as immutable.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ArchiveVerifyError } from './record.ts'
import type { SlotArchive } from './store.ts'

/** Largest page of `GET /api/slots`. */
export const MAX_SLOTS_PAGE = 100
const DEFAULT_SLOTS_PAGE = 20
const IMMUTABLE = 'public, max-age=31536000, immutable'

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))

function badRequest(res: ServerResponse, message: string): true {
  res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: message }))
  return true
}

function parseSlot(raw: string | null, field: string): bigint | null | Error {
  if (raw === null) return null
  if (!/^[0-9]{1,19}$/.test(raw))
    return new Error(`${field}: "${raw.slice(0, 24)}" is not a slot number (0..2^63)`)
  return BigInt(raw)
}

/** Serve the archive's paths; false when the path is not one of them. */
export async function serveArchive(
  req: IncomingMessage,
  res: ServerResponse,
  archive: SlotArchive,
): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const path = url.pathname
  if (path === '/api/slots') {
    const before = parseSlot(url.searchParams.get('before'), 'before')
    if (before instanceof Error) return badRequest(res, before.message)
    const rawLimit = url.searchParams.get('limit')
    const limit = rawLimit === null ? DEFAULT_SLOTS_PAGE : Number(rawLimit)
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SLOTS_PAGE)
      return badRequest(res, `limit: must be an integer in 1..${MAX_SLOTS_PAGE}`)
    const slots = archive.list(before, limit + 1)
    const page = slots.slice(0, limit)
    const next = slots.length > limit ? page.at(-1)!.slot : null
    res
      .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' })
      .end(json({ slots: page, next, count: archive.count, bytes: archive.bytes }))
    return true
  }
  const m = /^\/api\/slots\/([^/]+)(\/video)?$/.exec(path)
  if (m === null) return false
  const slot = parseSlot(m[1]!, 'slot')
  if (slot instanceof Error || slot === null) return badRequest(res, (slot as Error).message)
  let stored: Awaited<ReturnType<SlotArchive['read']>>
  try {
    stored = await archive.read(slot)
  } catch (err) {
    if (!(err instanceof ArchiveVerifyError)) throw err
    // Stored bytes that no longer verify are never served (docs/protocol.md §12).
    res.writeHead(409, { 'content-type': 'application/json' }).end(json({ error: err.message }))
    return true
  }
  if (stored === null) {
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end(json({ error: `slot ${slot} is not archived` }))
    return true
  }
  const etag = `"${stored.record.contentHash}"`
  if (m[2] === undefined) {
    const { chunks: _chunks, ...record } = stored.record
    res
      .writeHead(200, { 'content-type': 'application/json', 'cache-control': IMMUTABLE, etag })
      .end(json(record))
    return true
  }
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag, 'cache-control': IMMUTABLE }).end()
    return true
  }
  res
    .writeHead(200, {
      'content-type': 'video/mp4',
      'content-length': stored.video.length,
      'cache-control': IMMUTABLE,
      etag,
    })
    .end(req.method === 'HEAD' ? undefined : stored.video)
  return true
}
