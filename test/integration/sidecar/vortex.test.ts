// The reference generator through the real sidecar: recipe → playable fMP4 (probed with mediabunny),
// WAV audio, 512-d unit embedding, hashes; byte-identical across runs; controlled embedding noise.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { ALL_FORMATS, BufferSource, EncodedPacketSink, Input } from 'mediabunny'
import { aacAvailable } from '../../../plugins/vortex-lane0/src/aac.ts'
import { readWav } from '../../../plugins/vortex-lane0/src/audio.ts'
import { blake3, initBlake3 } from '../../../src/crypto/index.ts'
import {
  parseVortexOutput,
  readVortexAudio,
  readVortexVideo,
  SidecarError,
  type VortexOutput,
  type VortexRequestOptions,
  vortexRequest,
} from '../../../src/sidecar/index.ts'
import { bytesToHex, encodeRecipe, type Recipe } from '../../../src/types/index.ts'
import { sampleRecipe } from '../../fixtures/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { type Harness, REPO_PLUGINS, startSidecar } from './_helpers.ts'

await initBlake3()

interface Probe {
  format: string
  mime: string
  codec: string | null
  width: number
  height: number
  duration: number
  frames: number
  keyframes: number
  fragmented: boolean
}

/** Parse the container with mediabunny: what a player would find in it. */
async function probe(bytes: Uint8Array): Promise<Probe> {
  const input = new Input({ source: new BufferSource(bytes), formats: ALL_FORMATS })
  const track = await input.getPrimaryVideoTrack()
  assert.ok(track !== null, 'a video track')
  let frames = 0
  let keyframes = 0
  let last = -1
  for await (const p of new EncodedPacketSink(track).packets()) {
    assert.ok(p.timestamp > last, 'timestamps increase')
    last = p.timestamp
    frames++
    if (p.type === 'key') keyframes++
  }
  // Top-level boxes: a fragmented MP4 has moof/mdat pairs after the moov.
  const boxes: string[] = []
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let o = 0; o + 8 <= bytes.length; o += dv.getUint32(o))
    boxes.push(new TextDecoder().decode(bytes.subarray(o + 4, o + 8)))
  return {
    format: (await input.getFormat()).name,
    mime: await input.getMimeType(),
    codec: await track.getCodecParameterString(),
    width: track.codedWidth,
    height: track.codedHeight,
    duration: await input.computeDuration(),
    frames,
    keyframes,
    fragmented: boxes[0] === 'ftyp' && boxes[1] === 'moov' && boxes.includes('moof'),
  }
}

const cos = (a: Float32Array, b: Float32Array) => {
  let d = 0
  for (let i = 0; i < a.length; i++) d += a[i]! * b[i]!
  return d
}

describe('vortex-lane0 through the sidecar', () => {
  let h: Harness
  let n = 0
  const run = async (recipe: Recipe, opts: Partial<VortexRequestOptions> = {}) => {
    const res = await h.client.executeTask(
      vortexRequest(recipe, { taskId: `vortex-${++n}`, timeoutMs: 40_000, audioMode: 'synth', ...opts }),
    )
    return { res, out: parseVortexOutput(res.resultMetadata) }
  }
  let first: { out: VortexOutput; video: Uint8Array; meta: Record<string, unknown> }

  before(async () => {
    h = await startSidecar({ pluginsDir: REPO_PLUGINS })
    const { res, out } = await run(sampleRecipe())
    const { video } = await readVortexVideo(out, { outputDir: h.server.runner.workDir })
    first = { out, video, meta: JSON.parse(new TextDecoder().decode(res.resultMetadata)) }
  })
  after(async () => {
    await h?.stop()
  })

  test('a 10 s 24 fps recipe becomes a playable fragmented MP4 of 240 H.264 frames at 320x240', async () => {
    const p = await probe(first.video)
    assert.equal(p.format, 'MP4')
    assert.ok(p.fragmented, 'ftyp, moov, then moof/mdat fragments (what MSE consumes)')
    assert.equal(p.codec?.toLowerCase(), 'avc1.42c01e')
    // The narration is muxed in as AAC-LC when ffmpeg is installed (docs/sidecar.md).
    assert.equal(
      first.out.mime,
      aacAvailable() ? 'video/mp4; codecs="avc1.42C01E, mp4a.40.2"' : 'video/mp4; codecs="avc1.42C01E"',
    )
    assert.equal(p.width, 320)
    assert.equal(p.height, 240)
    // The audio track ends within one AAC frame (32 ms) after the video, never before it.
    assert.ok(p.duration >= 10 && p.duration - 10 < 0.033, `duration ${p.duration}`)
    assert.equal(p.frames, 240)
    assert.equal(p.keyframes, 10, 'one IDR frame per second')
    assert.equal(first.out.frameCount, 240)
    assert.equal(first.out.fps, 24)
    assert.ok(first.out.videoPath?.endsWith('/video.mp4'))
  })

  test('hashes, proof and embedding are what the protocol expects', async () => {
    const { out, video } = first
    assert.equal(bytesToHex(out.contentHash!), bytesToHex(blake3(video)))
    assert.equal(out.outputCid, `blake3:${bytesToHex(blake3(video))}`)
    assert.equal(first.meta.recipe_hash, bytesToHex(blake3(encodeRecipe(sampleRecipe()))))
    assert.equal(out.clipEmbedding.length, 512)
    let norm = 0
    for (const v of out.clipEmbedding) {
      assert.ok(Number.isFinite(v))
      norm += v * v
    }
    assert.ok(Math.abs(Math.sqrt(norm) - 1) < 1e-6, `norm ${Math.sqrt(norm)}`)
    assert.equal(out.embeddingMethod, 'nsn-perceptual-v1')
    assert.equal(out.slotId, 42n)
    assert.ok(out.generationTimeMs > 0)
    const audio = readWav(await readVortexAudio(out, { outputDir: h.server.runner.workDir }))
    assert.equal(audio?.rate, 22_050)
    assert.equal(audio?.samples.length, 10 * 22_050)
    assert.equal(first.meta.audio_waveform, out.audioPath)
    assert.equal(out.audioSource, 'synth')
  })

  test('same recipe and seed: byte-identical video, audio, embedding and proof', async () => {
    const { out } = await run(sampleRecipe())
    const { video } = await readVortexVideo(out, { outputDir: h.server.runner.workDir })
    assert.equal(Buffer.compare(Buffer.from(video), Buffer.from(first.video)), 0, 'video bytes')
    assert.equal(bytesToHex(out.determinismProof), bytesToHex(first.out.determinismProof))
    assert.deepEqual(out.clipEmbedding, first.out.clipEmbedding)
    assert.deepEqual(await readFile(out.audioPath!), await readFile(first.out.audioPath!))
    assert.notEqual(out.videoPath, first.out.videoPath, 'each task has its own folder')
  })

  test('embedding noise: the same video, a nearby but different embedding', async () => {
    const { out } = await run(sampleRecipe(), { embeddingNoise: { sigma: 0.01, seed: 7n } })
    assert.equal(bytesToHex(out.contentHash!), bytesToHex(first.out.contentHash!))
    const c = cos(out.clipEmbedding, first.out.clipEmbedding)
    assert.ok(c < 0.999 && c > 0.93, `cosine ${c} (expected ≈ 0.975)`)
    assert.notEqual(bytesToHex(out.determinismProof), bytesToHex(first.out.determinismProof))
  })

  test('another seed or prompt changes the video; inline mode carries the bytes in the output', async () => {
    const short = sampleRecipe({
      slot_params: { slot_number: 42n, duration_sec: 5, resolution: '1920x1080', fps: 30 },
    })
    const a = await run(short, { seed: 1n, outputMode: 'inline' })
    const b = await run(
      sampleRecipe({
        slot_params: short.slot_params,
        visual_track: { ...short.visual_track, prompt: 'neon city at night, rain', motion_preset: 'orbit' },
      }),
      { seed: 1n },
    )
    assert.equal(a.out.videoPath, null)
    assert.equal(
      readWav(await readVortexAudio(a.out, { outputDir: h.server.runner.workDir }))?.samples.length,
      5 * 22_050,
      'inline audio_data',
    )
    const va = await readVortexVideo(a.out, { outputDir: h.server.runner.workDir })
    const vb = await readVortexVideo(b.out, { outputDir: h.server.runner.workDir })
    assert.notEqual(bytesToHex(va.contentHash), bytesToHex(vb.contentHash))
    const p = await probe(va.video)
    assert.deepEqual(
      [p.width, p.height, p.frames],
      [320, 180, 150],
      '1920x1080 scaled into 320x240, 5 s at 30 fps',
    )
    assert.ok(
      cos(a.out.clipEmbedding, b.out.clipEmbedding) < cos(a.out.clipEmbedding, first.out.clipEmbedding),
    )
  })

  test('bad input is refused by the plugin with INVALID_ARGUMENT naming the field', async () => {
    const req = vortexRequest(sampleRecipe(), { taskId: 'vortex-bad' })
    const input = JSON.parse(new TextDecoder().decode(req.parameters))
    input.slot_id = 43
    const e = await expectRejectedWithCode(
      h.client.executeTask({ ...req, parameters: new TextEncoder().encode(JSON.stringify(input)) }),
      SidecarError,
      'INVALID_ARGUMENT',
    )
    assert.match(e.message, /slot_id: 43 differs/)
  })
})
