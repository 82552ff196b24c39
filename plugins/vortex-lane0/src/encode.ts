// H.264 in fragmented MP4, the container Chromium plays through Media Source Extensions, from npm
// packages only: h264-mp4-encoder (WASM minih264e + minimp4) encodes RGBA frames into
// a plain MP4; mediabunny remuxes its packets into fMP4 with correct key-frame flags, a truthful
// level, and the creation time pinned to the recipe's timestamp (mediabunny writes the wall clock,
// which would make two directors' bytes differ).
import HME from 'h264-mp4-encoder'
import {
  ALL_FORMATS,
  BufferSource,
  BufferTarget,
  EncodedAudioPacketSource,
  EncodedPacket,
  EncodedPacketSink,
  EncodedVideoPacketSource,
  Input,
  Mp4OutputFormat,
  Output,
} from 'mediabunny'
import { type AacTrack, aacFrameSeconds } from './aac.ts'

export interface EncoderOptions {
  width: number
  height: number
  fps: number
  /** Key-frame interval in frames. @default fps (one second: a fragment and a seek point per second) */
  gop?: number
  /** H.264 quantiser, 10 (best) … 51. @default 30 */
  qp?: number
  /** Written as the MP4 creation/modification time (Unix seconds). */
  creationTimeUnix: bigint
}

export interface EncodedVideo {
  bytes: Uint8Array
  /** RFC 6381 codec string of the video, e.g. `avc1.42C01E`. */
  codec: string
  /** What MediaSource.addSourceBuffer takes: every track's codec. */
  mime: string
  frameCount: number
  keyframeCount: number
  /** AAC frames muxed beside the video (0: video only). */
  audioPackets: number
}

/** H.264 levels (Table A-1): level_idc, max macroblocks per second, max frame size in macroblocks. */
const LEVELS: [number, number, number][] = [
  [30, 40_500, 1_620],
  [31, 108_000, 3_600],
  [32, 216_000, 5_120],
  [40, 245_760, 8_192],
  [42, 522_240, 8_704],
  [50, 589_824, 22_080],
  [51, 983_040, 36_864],
  [52, 2_073_600, 36_864],
]

/**
 * The smallest level from 3.0 up that admits the stream. minih264e writes level 1.1 whatever the
 * size, which 320x240 at 24 fps already exceeds; 3.0 is the floor every MSE implementation accepts.
 */
export function h264Level(width: number, height: number, fps: number): number {
  const mbs = Math.ceil(width / 16) * Math.ceil(height / 16)
  for (const [idc, mbps, fs] of LEVELS) if (mbs <= fs && mbs * fps <= mbps) return idc
  return 52
}

/** avcC with profile compatibility and level rewritten, in the record and in its first SPS. */
function patchAvcC(avcc: Uint8Array, level: number): Uint8Array {
  const out = avcc.slice()
  if (out.length < 12 || out[0] !== 1 || (out[5]! & 0x1f) < 1) throw new Error('avcC: unexpected layout')
  const sps = 8 // configurationVersion, profile, compat, level, lengthSize, numSps, spsLength(2)
  // Baseline from minih264e uses no FMO/ASO/redundant slices: it is Constrained Baseline
  // (constraint_set0 and constraint_set1), the profile every decoder supports.
  if (out[1] === 66) {
    out[2] = out[2]! | 0xc0
    out[sps + 2] = out[sps + 2]! | 0xc0
  }
  out[3] = level
  // level_idc is a whole byte at a fixed offset in the SPS (before any Exp-Golomb field), and the
  // new bytes form no 00 00 0x run, so no emulation-prevention byte changes.
  out[sps + 3] = level
  return out
}

function codecString(avcc: Uint8Array): string {
  const h = (b: number) => b.toString(16).padStart(2, '0').toUpperCase()
  return `avc1.${h(avcc[1]!)}${h(avcc[2]!)}${h(avcc[3]!)}`
}

/** True when an AVCC (length-prefixed) sample holds an IDR slice (NAL type 5). */
function isIdr(sample: Uint8Array, lengthSize: number): boolean {
  let o = 0
  while (o + lengthSize < sample.length) {
    let len = 0
    for (let i = 0; i < lengthSize; i++) len = len * 256 + sample[o + i]!
    if ((sample[o + lengthSize]! & 0x1f) === 5) return true
    o += lengthSize + len
  }
  return false
}

const MP4_EPOCH_OFFSET = 2_082_844_800n // seconds from 1904-01-01 to 1970-01-01

/** Overwrite creation and modification times of mvhd, tkhd and mdhd with `unixSeconds`. */
export function pinCreationTime(mp4: Uint8Array, unixSeconds: bigint): void {
  const dv = new DataView(mp4.buffer, mp4.byteOffset, mp4.byteLength)
  const t = unixSeconds + MP4_EPOCH_OFFSET
  const walk = (start: number, end: number): void => {
    let o = start
    while (o + 8 <= end) {
      let size = dv.getUint32(o)
      const type = String.fromCharCode(mp4[o + 4]!, mp4[o + 5]!, mp4[o + 6]!, mp4[o + 7]!)
      let header = 8
      if (size === 1) {
        size = Number(dv.getBigUint64(o + 8))
        header = 16
      } else if (size === 0) size = end - o
      if (size < header || o + size > end) return
      if (type === 'moov' || type === 'trak' || type === 'mdia') walk(o + header, o + size)
      else if (type === 'mvhd' || type === 'tkhd' || type === 'mdhd') {
        const p = o + header
        if (mp4[p] === 1) {
          dv.setBigUint64(p + 4, t)
          dv.setBigUint64(p + 12, t)
        } else {
          const v = t <= 0xffffffffn ? Number(t) : 0
          dv.setUint32(p + 4, v)
          dv.setUint32(p + 8, v)
        }
      }
      o += size
    }
  }
  walk(0, mp4.length)
}

interface Hme {
  width: number
  height: number
  frameRate: number
  speed: number
  quantizationParameter: number
  groupOfPictures: number
  temporalDenoise: boolean
  outputFilename: string
  initialize(): void
  addFrameRgba(buf: Uint8Array): void
  finalize(): void
  delete(): void
  FS: { readFile(path: string): Uint8Array; unlink(path: string): void }
}

/** Frame-by-frame H.264 → fMP4 encoder (one per process: the WASM file system is shared). */
export class Fmp4Encoder {
  private frames = 0

  private constructor(
    private readonly enc: Hme,
    private readonly opts: EncoderOptions & { gop: number },
  ) {}

  static async create(opts: EncoderOptions): Promise<Fmp4Encoder> {
    if (opts.width % 2 !== 0 || opts.height % 2 !== 0) throw new RangeError('width and height must be even')
    const enc = (await (
      HME as unknown as { createH264MP4Encoder(): Promise<Hme> }
    ).createH264MP4Encoder()) as Hme
    const gop = opts.gop ?? opts.fps
    enc.width = opts.width
    enc.height = opts.height
    enc.frameRate = opts.fps
    // Fastest setting: ~1 ms per 320x240 frame on this machine.
    enc.speed = 10
    enc.quantizationParameter = opts.qp ?? 30
    enc.groupOfPictures = gop
    enc.temporalDenoise = false
    enc.outputFilename = 'vortex.mp4'
    enc.initialize()
    return new Fmp4Encoder(enc, { ...opts, gop })
  }

  /** Add one RGBA frame (width × height × 4 bytes; alpha ignored). */
  addFrame(rgba: Uint8Array): void {
    this.enc.addFrameRgba(rgba)
    this.frames++
  }

  /** The fMP4, with `audio` as a second track when given (one moof carries both per fragment). */
  async finish(audio: AacTrack | null = null): Promise<EncodedVideo> {
    this.enc.finalize()
    const plain = this.enc.FS.readFile(this.enc.outputFilename)
    this.enc.FS.unlink(this.enc.outputFilename)
    this.enc.delete()

    const input = new Input({ source: new BufferSource(plain), formats: ALL_FORMATS })
    const track = await input.getPrimaryVideoTrack()
    if (track === null) throw new Error('encoder produced no video track')
    const cfg = await track.getDecoderConfig()
    if (cfg === null || !(cfg.description instanceof Uint8Array || ArrayBuffer.isView(cfg.description)))
      throw new Error('encoder produced no avcC record')
    const desc = cfg.description as Uint8Array
    const avcc = patchAvcC(
      new Uint8Array(desc.buffer, desc.byteOffset, desc.byteLength),
      h264Level(this.opts.width, this.opts.height, this.opts.fps),
    )
    const codec = codecString(avcc)
    const lengthSize = (avcc[4]! & 3) + 1

    const target = new BufferTarget()
    const output = new Output({
      format: new Mp4OutputFormat({
        fastStart: 'fragmented',
        minimumFragmentDuration: this.opts.gop / this.opts.fps,
      }),
      target,
    })
    const source = new EncodedVideoPacketSource('avc')
    output.addVideoTrack(source, { frameRate: this.opts.fps })
    const audioSource = audio === null ? null : new EncodedAudioPacketSource('aac')
    if (audioSource !== null) output.addAudioTrack(audioSource)
    await output.start()
    // Audio packets go in between the video frames in time order, so the muxer never holds a whole
    // track in its queue waiting for the other one.
    const audioStep = audio === null ? 0 : aacFrameSeconds(audio.sampleRate)
    let a = 0
    const audioUpTo = async (t: number) => {
      if (audio === null || audioSource === null) return
      for (; a < audio.packets.length && a * audioStep <= t; a++)
        await audioSource.add(
          new EncodedPacket(audio.packets[a]!, 'key', a * audioStep, audioStep),
          a === 0
            ? {
                decoderConfig: {
                  codec: audio.codec,
                  sampleRate: audio.sampleRate,
                  numberOfChannels: audio.channels,
                  description: audio.config,
                },
              }
            : undefined,
        )
    }
    let i = 0
    let keys = 0
    for await (const p of new EncodedPacketSink(track).packets()) {
      await audioUpTo(i / this.opts.fps)
      // minimp4 writes no stss box, so every sample reads back as a key frame: derive it from the NALs.
      const key = isIdr(p.data, lengthSize)
      if (key) keys++
      if (i === 0 && !key) throw new Error('first encoded frame is not an IDR frame')
      const pkt = new EncodedPacket(p.data, key ? 'key' : 'delta', i / this.opts.fps, 1 / this.opts.fps)
      await source.add(
        pkt,
        i === 0
          ? {
              decoderConfig: {
                codec,
                codedWidth: this.opts.width,
                codedHeight: this.opts.height,
                description: avcc,
              },
            }
          : undefined,
      )
      i++
    }
    await audioUpTo(Number.POSITIVE_INFINITY)
    await output.finalize()
    if (i !== this.frames) throw new Error(`muxed ${i} frames of ${this.frames}`)
    if (target.buffer === null) throw new Error('muxer produced no bytes')
    const bytes = new Uint8Array(target.buffer)
    pinCreationTime(bytes, this.opts.creationTimeUnix)
    const codecs = audio === null ? codec : `${codec}, ${audio.codec}`
    return {
      bytes,
      codec,
      mime: `video/mp4; codecs="${codecs}"`,
      frameCount: i,
      keyframeCount: keys,
      audioPackets: a,
    }
  }
}
