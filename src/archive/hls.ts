// HLS for standard players (docs/protocol.md §12): the archive's verified fMP4 files served as their
// own fragments, without re-encoding. `/hls/live.m3u8` is a sliding window of the newest certified
// slots, each slot a discontinuity with its own init segment; `/hls/slots/<n>/index.m3u8` is one
// slot. Segments are addressed by content hash, so they never change and are cached as immutable.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { type Fmp4Layout, fmp4Layout } from './fmp4.ts'
import { ArchiveVerifyError } from './record.ts'
import type { SlotArchive } from './store.ts'

export interface HlsInit {
  /** Slots listed in the live playlist. @default 6 */
  windowSlots?: number
  /** Parsed videos kept in memory for serving segments. @default 8 */
  cacheSlots?: number
}

interface Parsed {
  slot: bigint
  hash: string
  video: Uint8Array
  layout: Fmp4Layout
}

interface LiveEntry {
  slot: bigint
  hash: string
  layout: Fmp4Layout
  /** Media sequence number of the slot's first segment. */
  seq: number
  /** Index of the slot among all the live playlist ever listed (its discontinuity number). */
  disc: number
}

const IMMUTABLE = 'public, max-age=31536000, immutable'
const CORS = { 'access-control-allow-origin': '*' }

export class HlsService {
  private readonly cache = new Map<string, Parsed>()
  /** Reads in progress: concurrent requests for one video share one read and one verification. */
  private readonly loading = new Map<string, Promise<Parsed | null>>()
  private readonly live: LiveEntry[] = []
  private nextSeq = 0
  private nextDisc = 0
  private targetDuration = 1
  private readonly windowSlots: number
  private readonly cacheSlots: number

  constructor(
    private readonly components: { archive: SlotArchive; logger?: Logger },
    init: HlsInit = {},
  ) {
    this.windowSlots = init.windowSlots ?? 6
    this.cacheSlots = init.cacheSlots ?? 8
  }

  /** Serve the HLS paths; false when the path is not one of them. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? '/').split('?')[0]!
    if (!path.startsWith('/hls/')) return false
    if (path === '/hls/live.m3u8') {
      await this.refreshLive()
      return this.send(res, 200, this.livePlaylist(), 'application/vnd.apple.mpegurl', 'no-cache')
    }
    const slotList = /^\/hls\/slots\/([0-9]{1,19})\/index\.m3u8$/.exec(path)
    if (slotList !== null) {
      const p = await this.bySlot(BigInt(slotList[1]!))
      if (p === null)
        return this.send(res, 404, `slot ${slotList[1]} is not archived\n`, 'text/plain', 'no-cache')
      return this.send(res, 200, slotPlaylist(p), 'application/vnd.apple.mpegurl', IMMUTABLE)
    }
    const seg = /^\/hls\/content\/([0-9a-f]{64})\/(init\.mp4|([0-9]{1,6})\.m4s)$/.exec(path)
    if (seg !== null) {
      const p = await this.byHash(seg[1]!)
      const part =
        p === null ? undefined : seg[3] === undefined ? p.layout.init : p.layout.segments[Number(seg[3])]
      if (p === null || part === undefined)
        return this.send(res, 404, 'no such segment\n', 'text/plain', 'no-cache')
      const body = p.video.subarray(part.offset, part.offset + part.length)
      res.writeHead(200, {
        'content-type': 'video/mp4',
        'content-length': body.length,
        'cache-control': IMMUTABLE,
        etag: `"${seg[1]}-${seg[2]}"`,
        ...CORS,
      })
      res.end(req.method === 'HEAD' ? undefined : body)
      return true
    }
    return this.send(res, 404, 'not found\n', 'text/plain', 'no-cache')
  }

  private send(res: ServerResponse, status: number, body: string, type: string, cache: string): true {
    res.writeHead(status, { 'content-type': type, 'cache-control': cache, ...CORS }).end(body)
    return true
  }

  private async bySlot(slot: bigint): Promise<Parsed | null> {
    const s = this.components.archive.get(slot)
    return s === null ? null : this.byHash(s.contentHash)
  }

  /** The verified video of a content hash, parsed (and cached); null when not archived or invalid. */
  private async byHash(hash: string): Promise<Parsed | null> {
    const hit = this.cache.get(hash)
    if (hit !== undefined) {
      this.cache.delete(hash)
      this.cache.set(hash, hit) // most recently used last
      return hit
    }
    let p = this.loading.get(hash)
    if (p === undefined) {
      p = this.load(hash).finally(() => this.loading.delete(hash))
      this.loading.set(hash, p)
    }
    return p
  }

  private async load(hash: string): Promise<Parsed | null> {
    const slot = this.components.archive.slotOf(hash)
    if (slot === null) return null
    let stored: Awaited<ReturnType<SlotArchive['read']>>
    try {
      stored = await this.components.archive.read(slot)
    } catch (err) {
      // Only content that passes the viewer rules is listed or served (docs/protocol.md §12).
      if (err instanceof ArchiveVerifyError) return null
      throw err
    }
    if (stored === null) return null
    let layout: Fmp4Layout
    try {
      layout = fmp4Layout(stored.video)
    } catch (err) {
      this.components.logger?.warn(
        { slot, err: (err as Error).message },
        'archived video is not fragmented MP4',
      )
      return null
    }
    const p: Parsed = { slot, hash, video: stored.video, layout }
    this.cache.set(hash, p)
    while (this.cache.size > this.cacheSlots) this.cache.delete(this.cache.keys().next().value!)
    return p
  }

  private refreshing: Promise<void> | null = null

  /** Append newly archived slots (newer than the last listed) and slide the window. */
  private refreshLive(): Promise<void> {
    this.refreshing ??= this.slideWindow().finally(() => {
      this.refreshing = null
    })
    return this.refreshing
  }

  private async slideWindow(): Promise<void> {
    const last = this.live.at(-1)?.slot ?? -1n
    for (const s of this.components.archive.latest(this.windowSlots)) {
      if (s.slot <= last) continue
      const p = await this.byHash(s.contentHash)
      if (p === null || p.layout.segments.length === 0) continue
      this.live.push({
        slot: s.slot,
        hash: s.contentHash,
        layout: p.layout,
        seq: this.nextSeq,
        disc: this.nextDisc,
      })
      this.nextSeq += p.layout.segments.length
      this.nextDisc++
      for (const x of p.layout.segments)
        this.targetDuration = Math.max(this.targetDuration, Math.ceil(x.duration))
    }
    while (this.live.length > this.windowSlots) this.live.shift()
  }

  private livePlaylist(): string {
    const first = this.live[0]
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      `#EXT-X-TARGETDURATION:${this.targetDuration}`,
      `#EXT-X-MEDIA-SEQUENCE:${first?.seq ?? 0}`,
      // Every slot after the first one of the window starts with a discontinuity.
      `#EXT-X-DISCONTINUITY-SEQUENCE:${first?.disc ?? 0}`,
      '#EXT-X-INDEPENDENT-SEGMENTS',
    ]
    for (const [i, e] of this.live.entries()) {
      if (i > 0) lines.push('#EXT-X-DISCONTINUITY')
      lines.push(...segmentLines(e.hash, e.layout))
    }
    return `${lines.join('\n')}\n`
  }
}

function segmentLines(hash: string, layout: Fmp4Layout): string[] {
  const out = [`#EXT-X-MAP:URI="/hls/content/${hash}/init.mp4"`]
  for (const [i, s] of layout.segments.entries())
    out.push(`#EXTINF:${s.duration.toFixed(3)},`, `/hls/content/${hash}/${i}.m4s`)
  return out
}

function slotPlaylist(p: Parsed): string {
  const target = Math.max(1, ...p.layout.segments.map((s) => Math.ceil(s.duration)))
  return `${[
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${target}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    ...segmentLines(p.hash, p.layout),
    '#EXT-X-ENDLIST',
  ].join('\n')}\n`
}
