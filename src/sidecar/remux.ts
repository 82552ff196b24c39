// What viewers receive (docs/protocol.md §9): the reference Vortex answers VP9 in IVF and Opus in
// Ogg, which no browser plays as such; the director remuxes them into one WebM — stream copy, never
// a re-encode — before it hashes (content_hash) and publishes. Other containers (this project's
// fMP4) pass through unchanged. Debian's ffmpeg does the remux: mediabunny (already a dependency)
// reads no IVF, and a hand-written IVF demuxer plus VP9 keyframe parsing would be more code to own.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VortexOutputError } from './vortex.ts'

export interface PlayableMedia {
  /** The bytes viewers receive and content_hash is computed over. */
  video: Uint8Array
  mime: string
  /** True when the video was remuxed from IVF (+ Ogg Opus) here. */
  remuxed: boolean
}

export interface RemuxOptions {
  /** @default 'ffmpeg' */
  ffmpeg?: string
  /** Kill ffmpeg after this long. @default 30000 */
  timeoutMs?: number
  /** Largest WebM accepted. @default 256 MiB */
  maxBytes?: number
}

const IVF_CODECS: Record<string, string> = { VP90: 'vp9', VP80: 'vp8' }

const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, to))

/** `DKIF` signature, header length 32 and a VP8/VP9 fourcc, or null when the bytes are not IVF. */
export function ivfCodec(video: Uint8Array): string | null {
  if (video.length < 32 || ascii(video, 0, 4) !== 'DKIF') return null
  return IVF_CODECS[ascii(video, 8, 12)] ?? `unsupported:${ascii(video, 8, 12)}`
}

const isOgg = (b: Uint8Array) => b.length >= 4 && ascii(b, 0, 4) === 'OggS'

/**
 * IVF (+ Ogg Opus) → WebM by stream copy; any other video is returned as it is with `mime`. Audio
 * that is not Ogg Opus is left out (the reference plugin's `audio_waveform` is Opus). The output is
 * bit-exact (no muxer version, date or random UIDs), so directors remuxing the same plugin output
 * publish the same bytes.
 */
export async function toPlayable(
  video: Uint8Array,
  audio: Uint8Array,
  mime: string,
  opts: RemuxOptions = {},
): Promise<PlayableMedia> {
  const codec = ivfCodec(video)
  if (codec === null) return { video, mime, remuxed: false }
  if (codec.startsWith('unsupported:'))
    throw new VortexOutputError(
      'video_data',
      `IVF with ${codec.slice(12)} cannot go into WebM (VP8/VP9 only)`,
    )
  const withAudio = isOgg(audio)
  const dir = await mkdtemp(join(tmpdir(), 'nsn-remux-'))
  try {
    const ivf = join(dir, 'video.ivf')
    const ogg = join(dir, 'audio.ogg')
    const webm = join(dir, 'out.webm')
    await writeFile(ivf, video)
    if (withAudio) await writeFile(ogg, audio)
    const args = [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'ivf',
      '-i',
      ivf,
      ...(withAudio ? ['-f', 'ogg', '-i', ogg, '-map', '0:v:0', '-map', '1:a:0'] : ['-map', '0:v:0']),
      '-c',
      'copy',
      '-map_metadata',
      '-1',
      '-fflags',
      '+bitexact',
      '-flags',
      '+bitexact',
      '-f',
      'webm',
      webm,
    ]
    await new Promise<void>((resolve, reject) => {
      execFile(
        opts.ffmpeg ?? 'ffmpeg',
        args,
        { timeout: opts.timeoutMs ?? 30_000, killSignal: 'SIGKILL', maxBuffer: 1 << 20 },
        (err, _stdout, stderr) => {
          if (err === null) resolve()
          else reject(new Error(`${err.message.split('\n')[0]} ${String(stderr).slice(-300)}`.trim()))
        },
      )
    })
    const out = new Uint8Array(await readFile(webm))
    const max = opts.maxBytes ?? 256 * 1024 * 1024
    if (out.length > max)
      throw new VortexOutputError('video_data', `WebM of ${out.length} bytes exceeds ${max}`)
    return {
      video: out,
      mime: `video/webm; codecs="${withAudio ? `${codec},opus` : codec}"`,
      remuxed: true,
    }
  } catch (err) {
    if (err instanceof VortexOutputError) throw err
    throw new VortexOutputError(
      'video_data',
      `cannot remux VP9/IVF into WebM: ${(err as Error).message}`,
      'REMUX_FAILED',
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
