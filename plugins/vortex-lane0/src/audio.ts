// The audio track from the recipe's script, as a WAV file of exactly the clip's duration: speech
// from `espeak-ng` when it is installed (and allowed), else a deterministic synthesised "voice" —
// one harmonic tone per word, pitch from voice_id and emotion, pace from speed — over a quiet pad.
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Recipe } from '../../../src/types/index.ts'
import { fnv1a, sinTurns } from './det.ts'

export const SAMPLE_RATE = 22_050

export type AudioMode = 'auto' | 'synth' | 'espeak'
export type AudioSource = 'synth' | 'espeak-ng'

export interface AudioTrackOut {
  wav: Uint8Array
  source: AudioSource
  sampleRate: number
}

export class AudioError extends Error {
  override readonly name = 'AudioError'
  constructor(
    readonly code: 'ESPEAK_UNAVAILABLE' | 'ESPEAK_FAILED',
    message: string,
  ) {
    super(message)
  }
}

/** 16-bit mono PCM WAV. */
export function wavFile(samples: Int16Array, rate: number): Uint8Array {
  const data = samples.length * 2
  const out = new Uint8Array(44 + data)
  const dv = new DataView(out.buffer)
  const ascii = (o: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[o + i] = s.charCodeAt(i)
  }
  ascii(0, 'RIFF')
  dv.setUint32(4, 36 + data, true)
  ascii(8, 'WAVE')
  ascii(12, 'fmt ')
  dv.setUint32(16, 16, true)
  dv.setUint16(20, 1, true) // PCM
  dv.setUint16(22, 1, true) // mono
  dv.setUint32(24, rate, true)
  dv.setUint32(28, rate * 2, true)
  dv.setUint16(32, 2, true)
  dv.setUint16(34, 16, true)
  ascii(36, 'data')
  dv.setUint32(40, data, true)
  out.set(new Uint8Array(samples.buffer, samples.byteOffset, data), 44)
  return out
}

/** PCM samples of a 16-bit mono WAV, or null for anything else. */
export function readWav(bytes: Uint8Array): { samples: Int16Array; rate: number } | null {
  if (bytes.length < 12) return null
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const tag = (o: number) => String.fromCharCode(bytes[o]!, bytes[o + 1]!, bytes[o + 2]!, bytes[o + 3]!)
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') return null
  let o = 12
  let rate = 0
  let ok = false
  while (o + 8 <= bytes.length) {
    const id = tag(o)
    let size = dv.getUint32(o + 4, true)
    if (id === 'fmt ') {
      ok =
        dv.getUint16(o + 8, true) === 1 &&
        dv.getUint16(o + 10, true) === 1 &&
        dv.getUint16(o + 22, true) === 16
      rate = dv.getUint32(o + 12, true)
    } else if (id === 'data') {
      // espeak-ng streaming to a file may leave the size at 0 or 0xffffffff: take what is there.
      if (size === 0 || o + 8 + size > bytes.length) size = bytes.length - o - 8
      if (!ok || rate === 0) return null
      const n = Math.floor(size / 2)
      const samples = new Int16Array(n)
      for (let i = 0; i < n; i++) samples[i] = dv.getInt16(o + 8 + i * 2, true)
      return { samples, rate }
    }
    o += 8 + size + (size & 1)
  }
  return null
}

const EMOTION_PITCH: Record<string, number> = {
  calm: 0.92,
  sad: 0.85,
  serious: 0.9,
  neutral: 1,
  happy: 1.12,
  excited: 1.22,
  angry: 1.05,
  joy: 1.15,
}

/** Deterministic synthesised voice track of `seconds` at SAMPLE_RATE. */
export function synthesiseVoice(recipe: Recipe, seconds: number): Int16Array {
  const n = Math.round(seconds * SAMPLE_RATE)
  const out = new Float64Array(n)
  const at = recipe.audio_track
  const speed = at.speed > 0 ? at.speed : 1
  const f0 = (100 + (fnv1a(at.voice_id) % 100)) * (EMOTION_PITCH[at.emotion.toLowerCase()] ?? 1)
  const words = at.script.split(/\s+/).filter((w) => w !== '')
  let t = 0.25
  let phase = 0
  for (const word of words) {
    const letters = word.toLowerCase().replace(/[^a-z0-9]/g, '')
    const dur = (0.12 + 0.055 * Math.max(1, letters.length)) / speed
    if (t >= seconds) break
    // Vowels colour the harmonics: a/e open (2nd–3rd), i/y bright (4th–5th), o/u dark (1st–2nd).
    let open = 0
    let bright = 0
    let dark = 0
    for (const ch of letters) {
      if (ch === 'a' || ch === 'e') open++
      else if (ch === 'i' || ch === 'y') bright++
      else if (ch === 'o' || ch === 'u') dark++
    }
    const vs = open + bright + dark || 1
    const amps = [
      0.5 + (0.5 * dark) / vs,
      0.35 + (0.4 * (open + dark)) / vs,
      0.2 + (0.5 * open) / vs,
      0.1 + (0.5 * bright) / vs,
      0.05 + (0.4 * bright) / vs,
    ]
    const rising = word.endsWith('?')
    const falling = word.endsWith('.') || word.endsWith('!')
    const s0 = Math.floor(t * SAMPLE_RATE)
    const s1 = Math.min(n, Math.floor((t + dur) * SAMPLE_RATE))
    const len = s1 - s0
    const wordPitch = f0 * (1 + ((fnv1a(letters) % 21) - 10) / 100)
    for (let s = s0; s < s1; s++) {
      const k = (s - s0) / (len || 1)
      const contour = rising ? 1 + 0.25 * k : falling ? 1 - 0.2 * k : 1 + 0.04 * sinTurns(k * 1.5)
      phase += (wordPitch * contour) / SAMPLE_RATE
      const env = Math.min(1, (s - s0) / (0.015 * SAMPLE_RATE), (s1 - s) / (0.04 * SAMPLE_RATE))
      let v = 0
      for (let h = 0; h < amps.length; h++) v += amps[h]! * sinTurns(phase * (h + 1))
      out[s] = out[s]! + 0.22 * env * v
    }
    t += dur + (falling ? 0.3 : 0.07) / speed
  }
  // A quiet pad under the voice, pitched from the prompt, so silence is never digital zero.
  const padF = 55 * (1 + (fnv1a(recipe.visual_track.prompt) % 12) / 12)
  for (let s = 0; s < n; s++) {
    const tt = s / SAMPLE_RATE
    const trem = 0.5 + 0.5 * sinTurns(tt * 0.25)
    out[s] = out[s]! + 0.04 * trem * (sinTurns(padF * tt) + 0.5 * sinTurns(padF * 1.5 * tt))
  }
  const pcm = new Int16Array(n)
  for (let s = 0; s < n; s++) {
    const v = Math.round(out[s]! * 32767)
    pcm[s] = v > 32767 ? 32767 : Math.max(v, -32768)
  }
  return pcm
}

function espeakAvailable(): boolean {
  const r = spawnSync('espeak-ng', ['--version'], { stdio: 'ignore', timeout: 5_000 })
  return r.error === undefined && r.status === 0
}

/** Speech by espeak-ng into `dir`, padded or cut to `seconds` (silence after the speech). */
function espeak(recipe: Recipe, seconds: number, dir: string): Int16Array {
  const at = recipe.audio_track
  const voice = /^[A-Za-z0-9+_-]{1,32}$/.test(at.voice_id) ? at.voice_id : 'en'
  const wpm = String(Math.round(Math.min(450, Math.max(80, 175 * (at.speed || 1)))))
  const file = join(dir, `espeak-${process.pid}.wav`)
  // The script goes in after `--`, as one argument, never through a shell.
  const r = spawnSync('espeak-ng', ['-v', voice, '-s', wpm, '-w', file, '--', at.script], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 20_000,
  })
  if (r.error !== undefined || r.status !== 0)
    throw new AudioError(
      'ESPEAK_FAILED',
      `espeak-ng failed: ${r.error?.message ?? r.stderr?.toString().slice(0, 200)}`,
    )
  const parsed = readWav(readFileSync(file))
  rmSync(file, { force: true })
  if (parsed === null) throw new AudioError('ESPEAK_FAILED', 'espeak-ng wrote no 16-bit mono PCM WAV')
  if (parsed.rate !== SAMPLE_RATE)
    throw new AudioError('ESPEAK_FAILED', `espeak-ng wrote ${parsed.rate} Hz, expected ${SAMPLE_RATE}`)
  const n = Math.round(seconds * SAMPLE_RATE)
  const out = new Int16Array(n)
  out.set(parsed.samples.subarray(0, n))
  return out
}

/** The audio track for `recipe`, `seconds` long. `dir` is scratch space for espeak-ng. */
export function audioTrack(recipe: Recipe, seconds: number, mode: AudioMode, dir: string): AudioTrackOut {
  if (mode !== 'synth') {
    if (espeakAvailable()) {
      try {
        return {
          wav: wavFile(espeak(recipe, seconds, dir), SAMPLE_RATE),
          source: 'espeak-ng',
          sampleRate: SAMPLE_RATE,
        }
      } catch (err) {
        if (mode === 'espeak') throw err
      }
    } else if (mode === 'espeak') {
      throw new AudioError(
        'ESPEAK_UNAVAILABLE',
        'audio_mode: "espeak" requested but espeak-ng is not installed',
      )
    }
  }
  return {
    wav: wavFile(synthesiseVoice(recipe, seconds), SAMPLE_RATE),
    source: 'synth',
    sampleRate: SAMPLE_RATE,
  }
}
