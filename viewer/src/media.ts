// Small pure helpers of the viewer page: container sniffing for MSE, and embedding similarity.

/** MSE type of a complete video file: fragmented MP4 (codecs from avcC and the audio sample entry) or WebM. */
export function sniffMime(bytes: Uint8Array): string | null {
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) {
    // Matroska CodecID strings in the Tracks element: VP9 and Opus as the director remuxes them.
    const head = String.fromCharCode(...bytes.subarray(0, Math.min(bytes.length, 4096)))
    const video = head.includes('V_VP9') ? 'vp9' : 'vp8'
    return `video/webm; codecs="${head.includes('A_OPUS') ? `${video},opus` : video}"`
  }
  if (bytes.length >= 8 && String.fromCharCode(...bytes.subarray(4, 8)) === 'ftyp') {
    // avcC box: 'avcC' then configurationVersion, AVCProfileIndication, profile_compatibility, level.
    // An 'mp4a' sample entry is the narration track (AAC-LC from the reference plugin); 'Opus' too.
    const limit = Math.min(bytes.length - 8, 64 * 1024)
    const at = (i: number, tag: string) =>
      bytes[i] === tag.charCodeAt(0) &&
      bytes[i + 1] === tag.charCodeAt(1) &&
      bytes[i + 2] === tag.charCodeAt(2) &&
      bytes[i + 3] === tag.charCodeAt(3)
    let video = 'avc1.42E01E'
    let audio = ''
    for (let i = 0; i < limit; i++) {
      if (at(i, 'avcC')) {
        const hex = (b: number) => b.toString(16).padStart(2, '0').toUpperCase()
        video = `avc1.${hex(bytes[i + 5]!)}${hex(bytes[i + 6]!)}${hex(bytes[i + 7]!)}`
      } else if (at(i, 'mp4a')) audio = ', mp4a.40.2'
      else if (at(i, 'Opus')) audio = ', opus'
      else if (at(i, 'moof')) break
    }
    return `video/mp4; codecs="${video}${audio}"`
  }
  return null
}

/** Mean pairwise cosine similarity (the BftResult `similarity` of docs/protocol.md §5). */
export function cosineMean(vs: readonly Float32Array[]): number {
  if (vs.length < 2) return 1
  let sum = 0
  let pairs = 0
  for (let i = 0; i < vs.length; i++) {
    for (let j = i + 1; j < vs.length; j++) {
      const a = vs[i]!
      const b = vs[j]!
      let dot = 0
      let na = 0
      let nb = 0
      for (let k = 0; k < a.length; k++) {
        dot += a[k]! * b[k]!
        na += a[k]! * a[k]!
        nb += b[k]! * b[k]!
      }
      sum += dot / Math.sqrt(na * nb)
      pairs++
    }
  }
  return sum / pairs
}
