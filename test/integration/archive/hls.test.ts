// HLS for standard players (docs/protocol.md §12) with real players as clients: the plugin's own
// fMP4 encoder makes the slots' videos, the node's HTTP API serves the archive, and Debian's ffprobe
// and ffmpeg pull the per-slot and live playlists. The segments are the certified bytes: a slot's
// init and media segments concatenated hash to its certified content hash.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { Registry } from 'prom-client'
import { encodeAac } from '../../../plugins/vortex-lane0/src/aac.ts'
import { SAMPLE_RATE, synthesiseVoice, wavFile } from '../../../plugins/vortex-lane0/src/audio.ts'
import { Fmp4Encoder } from '../../../plugins/vortex-lane0/src/encode.ts'
import { HlsService, SlotArchive } from '../../../src/archive/index.ts'
import { blake3, initBlake3 } from '../../../src/crypto/index.ts'
import { HttpApi } from '../../../src/node/http.ts'
import { bytesToHex } from '../../../src/types/index.ts'
import { sampleRecipe, testKeys } from '../../fixtures/index.ts'
import { certifiedSlot } from '../../helpers/archive.ts'

await initBlake3()
const run = promisify(execFile)
const FPS = 12
const SECONDS = 2

async function encodeVideo(shade: number): Promise<Uint8Array> {
  const enc = await Fmp4Encoder.create({
    width: 320,
    height: 240,
    fps: FPS,
    creationTimeUnix: 1_700_000_000n,
  })
  const frame = new Uint8Array(320 * 240 * 4)
  for (let f = 0; f < FPS * SECONDS; f++) {
    frame.fill((shade + f * 5) & 0xff)
    enc.addFrame(frame)
  }
  // With its narration track, as the plugin publishes it: each fragment carries both tracks.
  const wav = wavFile(synthesiseVoice(sampleRecipe(), SECONDS), SAMPLE_RATE)
  return (await enc.finish(encodeAac(wav, SECONDS))).bytes
}

describe('HLS from the archive, played by ffprobe/ffmpeg', () => {
  let dir = ''
  let http: HttpApi | null = null
  let base = ''
  const videos = new Map<bigint, Uint8Array>()

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsn-hls-'))
    const keys = await testKeys(5)
    const archive = await SlotArchive.open({}, { dir, maxBytes: 100_000_000 })
    for (const slot of [60n, 61n, 62n]) {
      const video = await encodeVideo(Number(slot) * 3)
      videos.set(slot, video)
      await archive.put(certifiedSlot(keys, slot, video))
    }
    http = new HttpApi(
      {
        registry: new Registry(),
        status: () => ({}),
        health: () => ({ healthy: true, reasons: [] }),
        archive,
        hls: new HlsService({ archive }, { windowSlots: 2 }),
      },
      { host: '127.0.0.1', port: 0 },
    )
    const a = await http.start()
    base = `http://127.0.0.1:${a.port}`
  })
  after(async () => {
    await http?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function probe(
    url: string,
  ): Promise<{ codec: string; width: number; height: number; duration: number; codecs: string[] }> {
    const { stdout } = await run(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'stream=codec_name,width,height:format=duration', '-of', 'json', url],
      { timeout: 60_000 },
    )
    const j = JSON.parse(stdout) as {
      streams: { codec_name: string; width: number; height: number }[]
      format: { duration: string }
    }
    const v = j.streams.find((s) => s.width !== undefined)!
    return {
      codec: v.codec_name,
      width: v.width,
      height: v.height,
      duration: Number(j.format.duration),
      codecs: j.streams.map((s) => s.codec_name),
    }
  }

  test('a slot’s playlist decodes in ffprobe, and its segments are exactly the certified bytes', async () => {
    const url = `${base}/hls/slots/61/index.m3u8`
    const p = await probe(url)
    assert.equal(p.codec, 'h264')
    assert.deepEqual(p.codecs.sort(), ['aac', 'h264'], 'the video and its narration')
    assert.equal(`${p.width}x${p.height}`, '320x240')
    assert.ok(Math.abs(p.duration - SECONDS) < 0.25, `duration ${p.duration}`)
    const playlist = await (await fetch(url)).text()
    assert.match(playlist, /#EXT-X-ENDLIST/)
    const uris = [
      /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)![1]!,
      ...playlist.split('\n').filter((l) => l.startsWith('/hls/content/') && l.endsWith('.m4s')),
    ]
    assert.ok(uris.length >= 3, `init and ${uris.length - 1} media segments`)
    const parts: Uint8Array[] = []
    for (const u of uris) {
      const r = await fetch(`${base}${u}`)
      assert.equal(r.status, 200, u)
      assert.match(r.headers.get('cache-control') ?? '', /immutable/, `${u}: cached as immutable`)
      parts.push(new Uint8Array(await r.arrayBuffer()))
    }
    const whole = Buffer.concat(parts)
    assert.equal(
      bytesToHex(blake3(whole)),
      bytesToHex(blake3(videos.get(61n)!)),
      'segments = certified content',
    )
    // ffmpeg decodes every frame of it.
    const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', url, '-f', 'null', '-'], { timeout: 60_000 })
    assert.equal(stderr.trim(), '', `ffmpeg errors: ${stderr}`)
  })

  test('the live playlist is a sliding window of the newest slots, each with its own init segment', async () => {
    const url = `${base}/hls/live.m3u8`
    const playlist = await (await fetch(url)).text()
    const maps = [...playlist.matchAll(/#EXT-X-MAP:URI="\/hls\/content\/([0-9a-f]{64})\/init\.mp4"/g)].map(
      (m) => m[1],
    )
    assert.deepEqual(
      maps,
      [61n, 62n].map((s) => bytesToHex(blake3(videos.get(s)!))),
      'the two newest slots, oldest first',
    )
    assert.equal(playlist.match(/#EXT-X-DISCONTINUITY\n/g)?.length, 1, 'a discontinuity between the slots')
    assert.doesNotMatch(playlist, /#EXT-X-ENDLIST/)
    // A live playlist never ends: start at its first segment, decode both slots across the
    // discontinuity, and stop after them (ffmpeg would otherwise wait for the next slot).
    const { stdout, stderr } = await run(
      'ffmpeg',
      [
        '-v',
        'error',
        '-live_start_index',
        '0',
        '-i',
        url,
        '-t',
        String(2 * SECONDS - 0.2),
        '-map',
        '0:v',
        '-c',
        'copy',
        '-f',
        'null',
        '-',
        '-progress',
        'pipe:1',
      ],
      { timeout: 60_000 },
    )
    assert.equal(stderr.trim(), '', `ffmpeg errors: ${stderr}`)
    const frames = Number([...stdout.matchAll(/^frame=(\d+)/gm)].at(-1)?.[1])
    assert.ok(frames >= (2 * SECONDS - 0.5) * FPS, `ffmpeg read ${frames} frames from the live window`)
    assert.equal((await fetch(`${base}/hls/slots/7/index.m3u8`)).status, 404)
  })
})
