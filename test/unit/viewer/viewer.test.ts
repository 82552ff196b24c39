// The viewer page's parts that run without a browser: the esbuild bundle the node serves, the MIME
// sniffing of the plugin's real fMP4 and embedding similarity (the viewer rules: test/unit/trust).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AAC_SAMPLE_RATE, aacAvailable, encodeAac } from '../../../plugins/vortex-lane0/src/aac.ts'
import { SAMPLE_RATE, synthesiseVoice, wavFile } from '../../../plugins/vortex-lane0/src/audio.ts'
import { Fmp4Encoder } from '../../../plugins/vortex-lane0/src/encode.ts'
import { initBlake3 } from '../../../src/crypto/index.ts'
import { buildViewerAssets } from '../../../src/node/viewer-bundle.ts'
import { cosineMean, sniffMime } from '../../../viewer/src/media.ts'
import {
  decide,
  HOLD_AHEAD_S,
  liveEdge,
  type PlayoutView,
  type TimelineEntry,
} from '../../../viewer/src/playout.ts'
import { sampleRecipe, unitEmbedding } from '../../fixtures/index.ts'

await initBlake3()

describe('viewer bundle', () => {
  test('builds for the browser with the shims and no Node built-ins', async () => {
    const { html, js } = await buildViewerAssets()
    assert.match(html, /<script type="module" src="\/viewer\/app\.js"><\/script>/)
    assert.match(html, /id="video"/)
    assert.ok(js.length > 10_000, `bundle is ${js.length} bytes`)
    // No import or require of a Node module survived bundling.
    const nodeRefs = js.match(
      /(?:from|import\(|require\()\s*["'](?:node:)?(?:fs|path|crypto|child_process|os|net|http|url|stream|buffer|worker_threads)(?:\/[a-z]+)?["']/g,
    )
    assert.equal(nodeRefs, null, `Node built-ins in the bundle: ${nodeRefs?.join(', ')}`)
    const nodeSpecifier = js.match(/["']node:[a-z_/]+["']/)
    assert.equal(nodeSpecifier, null, `node: specifier in the bundle: ${nodeSpecifier?.[0]}`)
    // The browser stand-ins replaced node:crypto Ed25519 and the native BLAKE3 addon.
    assert.ok(!js.includes('@napi-rs/blake-hash'), 'native BLAKE3 addon bundled')
    assert.ok(!/createPrivateKey|createPublicKey/.test(js), 'node:crypto key objects bundled')
    assert.ok(js.includes('noble-curves'), 'the @noble/curves Ed25519 verifier is not bundled')
    assert.ok(js.includes('hash-wasm'), 'the hash-wasm BLAKE3 is not bundled')
    assert.ok(js.includes('nsnViewer'), 'the test hook nsnViewer is missing')
  })
})

describe('sniffMime', () => {
  test('reads the codec of the plugin’s real fMP4 from its avcC', async () => {
    const enc = await Fmp4Encoder.create({
      width: 320,
      height: 240,
      fps: 24,
      creationTimeUnix: 1_700_000_000n,
    })
    const frame = new Uint8Array(320 * 240 * 4)
    for (let f = 0; f < 6; f++) {
      frame.fill(40 * f)
      enc.addFrame(frame)
    }
    const video = await enc.finish()
    assert.equal(sniffMime(video.bytes), video.mime)
    assert.match(sniffMime(video.bytes)!, /^video\/mp4; codecs="avc1\.[0-9A-F]{6}"$/)
    // Only the header is needed: the viewer sniffs the first chunk of a slot.
    assert.equal(sniffMime(video.bytes.subarray(0, 2048)), video.mime)
  })

  test('names the narration track of a video with sound', {
    skip: aacAvailable() ? false : 'no ffmpeg aac encoder',
  }, async () => {
    const enc = await Fmp4Encoder.create({ width: 64, height: 48, fps: 24, creationTimeUnix: 1_700_000_000n })
    const frame = new Uint8Array(64 * 48 * 4)
    for (let f = 0; f < 24 * 4; f++) enc.addFrame(frame)
    const wav = wavFile(synthesiseVoice(sampleRecipe(), 4), SAMPLE_RATE)
    const video = await enc.finish(encodeAac(wav, 4))
    assert.equal(video.audioPackets, (4 * AAC_SAMPLE_RATE) / 1024)
    assert.equal(sniffMime(video.bytes), 'video/mp4; codecs="avc1.42C01E, mp4a.40.2"')
    assert.equal(sniffMime(video.bytes), video.mime)
  })

  test('knows WebM and refuses what is neither', () => {
    assert.equal(sniffMime(Uint8Array.of(0x1a, 0x45, 0xdf, 0xa3, 0, 0)), 'video/webm; codecs="vp8"')
    assert.equal(sniffMime(new TextEncoder().encode('<html>not a video</html>')), null)
    assert.equal(sniffMime(new Uint8Array(0)), null)
  })
})

describe('cosineMean', () => {
  test('is 1 for identical vectors and for fewer than two', () => {
    const a = unitEmbedding(1)
    assert.ok(Math.abs(cosineMean([a, a, a]) - 1) < 1e-6)
    assert.equal(cosineMean([a]), 1)
    assert.equal(cosineMean([]), 1)
  })

  test('is the mean over all pairs', () => {
    const x = Float32Array.of(1, 0)
    const y = Float32Array.of(0, 1)
    const d = Float32Array.of(1, 1)
    // pairs: x·y = 0, x·d = 1/√2, y·d = 1/√2
    assert.ok(Math.abs(cosineMean([x, y, d]) - 2 / Math.SQRT2 / 3) < 1e-6)
    assert.ok(Math.abs(cosineMean([x, Float32Array.of(-3, 0)]) + 1) < 1e-6)
  })
})

describe('playout: one slot behind live', () => {
  const slot = (n: number, appendedAtMs: number): TimelineEntry => ({
    slot: BigInt(n),
    start: (n - 10) * 12,
    end: (n - 10) * 12 + 12,
    appendedAtMs,
  })
  const view = (over: Partial<PlayoutView>): PlayoutView => ({
    nowMs: 0,
    currentTime: 0,
    playing: false,
    timeline: [],
    ...over,
  })

  test('held with one slot: waits for the next, or one slot’s length, before playing', () => {
    const one = [slot(10, 1_000)]
    assert.deepEqual(decide(view({ timeline: [] })), { action: 'none' })
    assert.deepEqual(decide(view({ nowMs: 5_000, timeline: one })), { action: 'none' })
    assert.equal(decide(view({ nowMs: 13_000, timeline: one })).action, 'play')
    assert.equal(decide(view({ nowMs: 5_000, timeline: [...one, slot(11, 4_000)] })).action, 'play')
  })

  test('playing: keeps playing while media is ahead, holds before it runs out', () => {
    const tl = [slot(10, 0), slot(11, 12_000)]
    assert.deepEqual(decide(view({ playing: true, currentTime: 20, timeline: tl })), { action: 'none' })
    assert.equal(
      decide(view({ playing: true, currentTime: 24 - HOLD_AHEAD_S / 2, timeline: tl })).action,
      'hold',
    )
    // After a hold (a slot failed), the next slot alone does not restart at once: the reserve comes back first.
    const after = [...tl, slot(13, 30_000)]
    assert.deepEqual(decide(view({ nowMs: 31_000, currentTime: 24, timeline: after })), { action: 'none' })
    // Held near the end of the last slot: its remaining second does not restart playback, however long ago it came.
    assert.deepEqual(decide(view({ nowMs: 90_000, currentTime: 23.5, timeline: tl })), { action: 'none' })
  })

  test('the live edge: the slot on screen, slots and seconds behind the newest certified one', () => {
    const tl = [slot(10, 0), slot(11, 12_000)]
    assert.deepEqual(liveEdge(view({ currentTime: 3, timeline: tl })), {
      slot: 10n,
      behindSlots: 1,
      behindSeconds: 21,
    })
    assert.deepEqual(liveEdge(view({ currentTime: 15, timeline: tl })), {
      slot: 11n,
      behindSlots: 0,
      behindSeconds: 9,
    })
    assert.equal(liveEdge(view({})), null)
  })
})
