// The narration as AAC-LC packets for the fMP4 (the published video carries its sound): Debian's
// ffmpeg encodes the WAV (native `aac` encoder, bit-exact flags, so directors running the same
// ffmpeg publish the same bytes) into ADTS, parsed here into raw packets. 32 kHz makes a clip of
// any multiple of 4 s (the devnet's 12 s slot) exactly a whole number of 1024-sample frames, so the
// audio ends where the video ends and slots follow each other without a gap.
import { spawnSync } from 'node:child_process'

export const AAC_SAMPLE_RATE = 32_000
const FRAME_SAMPLES = 1024
/** ADTS sampling_frequency_index of 32 kHz (ISO/IEC 14496-3 Table 1.18). */
const FREQ_INDEX_32K = 5

export interface AacTrack {
  /** Raw AAC frames, one per 1024 samples, the first at t = 0. */
  packets: Uint8Array[]
  sampleRate: number
  channels: number
  /** AudioSpecificConfig (the esds decoder config). */
  config: Uint8Array
  /** RFC 6381 codec string. */
  codec: 'mp4a.40.2'
}

export class AacError extends Error {
  override readonly name = 'AacError'
}

let available: boolean | null = null

/** Whether `ffmpeg` with its native AAC encoder runs here (checked once per process). */
export function aacAvailable(): boolean {
  if (available === null) {
    const r = spawnSync('ffmpeg', ['-hide_banner', '-h', 'encoder=aac'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5_000,
    })
    available = r.error === undefined && r.status === 0 && r.stdout.toString().includes('Encoder aac')
  }
  return available
}

/** Raw frames of an ADTS stream (ISO/IEC 14496-3 §1.A.2); throws AacError on anything else. */
export function parseAdts(adts: Uint8Array): { frames: Uint8Array[]; freqIndex: number; channels: number } {
  const frames: Uint8Array[] = []
  let freqIndex = -1
  let channels = -1
  let o = 0
  while (o < adts.length) {
    if (o + 7 > adts.length || adts[o] !== 0xff || (adts[o + 1]! & 0xf6) !== 0xf0)
      throw new AacError(`ADTS: no frame header at byte ${o}`)
    const protectionAbsent = adts[o + 1]! & 1
    const profile = adts[o + 2]! >> 6
    const fi = (adts[o + 2]! >> 2) & 0xf
    const ch = ((adts[o + 2]! & 1) << 2) | (adts[o + 3]! >> 6)
    const length = ((adts[o + 3]! & 3) << 11) | (adts[o + 4]! << 3) | (adts[o + 5]! >> 5)
    const blocks = (adts[o + 6]! & 3) + 1
    const header = protectionAbsent ? 7 : 9
    if (profile !== 1) throw new AacError(`ADTS: profile ${profile + 1} at byte ${o}, expected AAC-LC (2)`)
    if (blocks !== 1) throw new AacError(`ADTS: ${blocks} raw blocks in one frame at byte ${o}`)
    if (length < header || o + length > adts.length)
      throw new AacError(`ADTS: frame length ${length} at byte ${o} overruns ${adts.length}`)
    if (freqIndex === -1) {
      freqIndex = fi
      channels = ch
    } else if (fi !== freqIndex || ch !== channels) throw new AacError(`ADTS: format changes at byte ${o}`)
    frames.push(adts.slice(o + header, o + length))
    o += length
  }
  return { frames, freqIndex, channels }
}

/** AudioSpecificConfig for AAC-LC: object type 2, frequency index, channel configuration. */
export function audioSpecificConfig(freqIndex: number, channels: number): Uint8Array {
  return new Uint8Array([(2 << 3) | (freqIndex >> 1), ((freqIndex & 1) << 7) | (channels << 3)])
}

/**
 * Encode a WAV file into AAC-LC mono at 32 kHz covering exactly `seconds` (rounded up to whole
 * frames). The encoder's priming frame (its first 1024 samples of delay) is dropped, so packet i
 * plays at i·1024/32000 s in step with the video.
 */
export function encodeAac(wav: Uint8Array, seconds: number, opts: { timeoutMs?: number } = {}): AacTrack {
  const r = spawnSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-f',
      'wav',
      '-i',
      'pipe:0',
      '-fflags',
      '+bitexact',
      '-ac',
      '1',
      '-ar',
      String(AAC_SAMPLE_RATE),
      '-c:a',
      'aac',
      '-b:a',
      '48k',
      '-flags:a',
      '+bitexact',
      '-f',
      'adts',
      'pipe:1',
    ],
    { input: wav, maxBuffer: 16 * 1024 * 1024, timeout: opts.timeoutMs ?? 20_000 },
  )
  if (r.error !== undefined || r.status !== 0)
    throw new AacError(`ffmpeg (aac) failed: ${r.error?.message ?? r.stderr?.toString().slice(0, 200)}`)
  const { frames, freqIndex, channels } = parseAdts(new Uint8Array(r.stdout))
  if (freqIndex !== FREQ_INDEX_32K || channels !== 1)
    throw new AacError(
      `ffmpeg wrote frequency index ${freqIndex} with ${channels} channels, expected 32 kHz mono`,
    )
  const wanted = Math.ceil((seconds * AAC_SAMPLE_RATE) / FRAME_SAMPLES)
  if (frames.length < wanted + 1)
    throw new AacError(`ffmpeg wrote ${frames.length} AAC frames, expected at least ${wanted + 1}`)
  return {
    packets: frames.slice(1, wanted + 1),
    sampleRate: AAC_SAMPLE_RATE,
    channels: 1,
    config: audioSpecificConfig(freqIndex, channels),
    codec: 'mp4a.40.2',
  }
}

/** Seconds one AAC frame lasts at `rate`. */
export const aacFrameSeconds = (rate: number) => FRAME_SAMPLES / rate
