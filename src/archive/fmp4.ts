// Fragment boundaries of a fragmented MP4 (ISO/IEC 14496-12), for HLS without re-encoding: the init
// segment is every top-level box before the first `moof`; each media segment is one `moof` and the
// boxes after it up to the next `moof` (its `mdat`, and a trailing `mfra` in the last one), so the
// segments concatenated are exactly the certified file. Durations come from the `trun` sample
// durations (or the `tfhd`/`trex` defaults) over the track's `mdhd` timescale.

export interface Fmp4Segment {
  offset: number
  length: number
  /** Seconds. */
  duration: number
}

export interface Fmp4Layout {
  init: { offset: number; length: number }
  segments: Fmp4Segment[]
}

export class Fmp4Error extends Error {
  override readonly name = 'Fmp4Error'
}

interface Box {
  type: string
  start: number
  /** First byte of the payload. */
  body: number
  end: number
}

function* boxes(b: Uint8Array, start: number, end: number): Generator<Box> {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let o = start
  while (o + 8 <= end) {
    let size = v.getUint32(o)
    const type = String.fromCharCode(b[o + 4]!, b[o + 5]!, b[o + 6]!, b[o + 7]!)
    let body = o + 8
    if (size === 1) {
      if (o + 16 > end) throw new Fmp4Error(`box ${type} at ${o}: truncated 64-bit size`)
      size = Number(v.getBigUint64(o + 8))
      body = o + 16
    } else if (size === 0) size = end - o
    if (size < body - o || o + size > end)
      throw new Fmp4Error(`box ${type} at ${o}: size ${size} overruns ${end}`)
    yield { type, start: o, body, end: o + size }
    o += size
  }
  if (o !== end) throw new Fmp4Error(`trailing ${end - o} bytes at ${o}`)
}

function child(b: Uint8Array, parent: Box, type: string): Box | undefined {
  for (const c of boxes(b, parent.body, parent.end)) if (c.type === type) return c
  return undefined
}

function children(b: Uint8Array, parent: Box, type: string): Box[] {
  return [...boxes(b, parent.body, parent.end)].filter((c) => c.type === type)
}

/** track_ID → { timescale, default sample duration from trex }. */
function tracks(b: Uint8Array, moov: Box): Map<number, { timescale: number; defaultDuration: number }> {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out = new Map<number, { timescale: number; defaultDuration: number }>()
  for (const trak of children(b, moov, 'trak')) {
    const tkhd = child(b, trak, 'tkhd')
    const mdhd = child(b, child(b, trak, 'mdia') ?? trak, 'mdhd')
    if (tkhd === undefined || mdhd === undefined) continue
    const tkv = b[tkhd.body]!
    const id = v.getUint32(tkhd.body + (tkv === 1 ? 20 : 12))
    const mdv = b[mdhd.body]!
    const timescale = v.getUint32(mdhd.body + (mdv === 1 ? 20 : 12))
    out.set(id, { timescale, defaultDuration: 0 })
  }
  const mvex = child(b, moov, 'mvex')
  if (mvex !== undefined) {
    for (const trex of children(b, mvex, 'trex')) {
      const t = out.get(v.getUint32(trex.body + 4))
      if (t !== undefined) t.defaultDuration = v.getUint32(trex.body + 12)
    }
  }
  return out
}

function fragmentSeconds(
  b: Uint8Array,
  moof: Box,
  trackInfo: Map<number, { timescale: number; defaultDuration: number }>,
): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let longest = 0
  for (const traf of children(b, moof, 'traf')) {
    const tfhd = child(b, traf, 'tfhd')
    if (tfhd === undefined) continue
    const tfFlags = v.getUint32(tfhd.body) & 0xffffff
    const track = trackInfo.get(v.getUint32(tfhd.body + 4))
    if (track === undefined || track.timescale === 0) continue
    let o = tfhd.body + 8
    if (tfFlags & 0x01) o += 8 // base_data_offset
    if (tfFlags & 0x02) o += 4 // sample_description_index
    const defaultDuration = tfFlags & 0x08 ? v.getUint32(o) : track.defaultDuration
    let ticks = 0
    for (const trun of children(b, traf, 'trun')) {
      const flags = v.getUint32(trun.body) & 0xffffff
      const count = v.getUint32(trun.body + 4)
      let p = trun.body + 8
      if (flags & 0x01) p += 4 // data_offset
      if (flags & 0x04) p += 4 // first_sample_flags
      const perSample = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4
      if (!(flags & 0x100)) ticks += count * defaultDuration
      else {
        if (p + count * perSample > trun.end)
          throw new Fmp4Error(`trun at ${trun.start}: ${count} samples overrun`)
        for (let i = 0; i < count; i++) ticks += v.getUint32(p + i * perSample)
      }
    }
    longest = Math.max(longest, ticks / track.timescale)
  }
  return longest
}

/** Split a fragmented MP4 into its init segment and media segments; throws Fmp4Error. */
export function fmp4Layout(b: Uint8Array): Fmp4Layout {
  const top = [...boxes(b, 0, b.length)]
  const firstMoof = top.findIndex((x) => x.type === 'moof')
  const moov = top.find((x) => x.type === 'moov')
  if (moov === undefined || firstMoof < 0) throw new Fmp4Error('not a fragmented MP4 (no moov, or no moof)')
  const info = tracks(b, moov)
  const segments: Fmp4Segment[] = []
  for (let i = firstMoof; i < top.length; i++) {
    const box = top[i]!
    if (box.type === 'moof')
      segments.push({
        offset: box.start,
        length: box.end - box.start,
        duration: fragmentSeconds(b, box, info),
      })
    else segments.at(-1)!.length = box.end - segments.at(-1)!.offset
  }
  return { init: { offset: 0, length: top[firstMoof]!.start }, segments }
}
