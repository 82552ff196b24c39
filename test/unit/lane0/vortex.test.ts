// VortexClient (PROTOCOL.md §9; the plan's Task 4): the ExecuteTask request, both output forms,
// strict output checks, timeout and retry policy, and the On-Deck pre-warm.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { blake3 } from '../../../src/crypto/index.ts'
import { generationSeed, parseGenerationOutput, VortexClient, VortexError } from '../../../src/lane0/index.ts'
import { ManualClock } from '../../../src/scheduler/index.ts'
import { bytesToHex, encodeRecipe } from '../../../src/types/index.ts'
import { signedSampleRecipe, unitEmbedding } from '../../fixtures/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { FakeSidecar, fakeVideo, pluginOutput, tempDir } from './fakes.ts'

const EMB = unitEmbedding(3)
const VIDEO = fakeVideo(5000)
const parseOpts = { slot: 9n, maxVideoBytes: 1 << 20, embeddingNormTolerance: 1e-3 }

describe('parseGenerationOutput', () => {
  it('reads inline base64 video and recomputes the content hash (never trusting the plugin)', async () => {
    const lying = pluginOutput({ video: VIDEO, embedding: EMB, extra: { content_hash: 'ff'.repeat(32) } })
    const err = await expectRejectedWithCode(
      parseGenerationOutput(lying, parseOpts),
      VortexError,
      'BAD_OUTPUT',
    )
    assert.equal(err.details.field, 'content_hash')
    const meta = pluginOutput({
      video: VIDEO,
      embedding: EMB,
      extra: { content_hash: bytesToHex(blake3(VIDEO)), mime: 'video/webm' },
    })
    const out = await parseGenerationOutput(meta, parseOpts)
    assert.deepEqual(out.video, VIDEO)
    assert.equal(bytesToHex(out.contentHash), bytesToHex(blake3(VIDEO)))
    assert.equal(out.clipEmbedding.length, 512)
    assert.equal(out.slotId, 9n)
    assert.equal(out.mime, 'video/webm')
    assert.equal(out.generationTimeMs, 1234)
    assert.deepEqual([...out.audioWaveform], [1, 2, 3, 4])
    assert.equal(out.videoPath, undefined)
  })

  it('reads a file-based output (video_path) and accepts the {"output": …} wrapper', async () => {
    const dir = await tempDir()
    try {
      const path = join(dir.path, 'video.mp4')
      await writeFile(path, VIDEO)
      const inner = JSON.parse(
        new TextDecoder().decode(pluginOutput({ video: VIDEO, embedding: EMB, videoPath: path })),
      )
      const wrapped = new TextEncoder().encode(JSON.stringify({ output: inner, duration_ms: 99 }))
      const out = await parseGenerationOutput(wrapped, parseOpts)
      assert.equal(out.videoPath, path)
      assert.deepEqual(out.video, VIDEO)
      // The reference plugin's file mode: audio_waveform and audio_path name a WAV file.
      const wav = join(dir.path, 'audio.wav')
      await writeFile(wav, new Uint8Array([82, 73, 70, 70]))
      const fileMode = pluginOutput({
        video: VIDEO,
        embedding: EMB,
        videoPath: path,
        extra: { audio_waveform: wav, audio_path: wav },
      })
      assert.deepEqual(
        [...(await parseGenerationOutput(fileMode, parseOpts)).audioWaveform],
        [82, 73, 70, 70],
      )
      const pathOnly = pluginOutput({
        video: VIDEO,
        embedding: EMB,
        videoPath: path,
        extra: { audio_waveform: wav },
      })
      assert.deepEqual(
        [...(await parseGenerationOutput(pathOnly, parseOpts)).audioWaveform],
        [82, 73, 70, 70],
      )
      await expectRejectedWithCode(
        parseGenerationOutput(pluginOutput({ video: VIDEO, embedding: EMB, videoPath: path }), {
          ...parseOpts,
          maxVideoBytes: 100,
        }),
        VortexError,
        'BAD_OUTPUT',
      )
      await expectRejectedWithCode(
        parseGenerationOutput(
          pluginOutput({ video: VIDEO, embedding: EMB, videoPath: join(dir.path, 'missing') }),
          parseOpts,
        ),
        VortexError,
        'BAD_OUTPUT',
      )
    } finally {
      await dir.cleanup()
    }
  })

  it('refuses wrong dimension, NaN, a norm far from 1, a missing video, bad base64, non-JSON', async () => {
    const cases: [string, Uint8Array, string][] = [
      ['511 values', pluginOutput({ video: VIDEO, embedding: Array.from(EMB).slice(1) }), 'clip_embedding'],
      [
        'NaN',
        pluginOutput({ video: VIDEO, embedding: [Number.NaN, ...Array.from(EMB).slice(1)] }),
        'clip_embedding[0]',
      ],
      ['norm 2', pluginOutput({ video: VIDEO, embedding: Array.from(EMB, (x) => x * 2) }), 'clip_embedding'],
      [
        'no video',
        new TextEncoder().encode(JSON.stringify({ clip_embedding: Array.from(EMB) })),
        'video_path',
      ],
      [
        'bad base64',
        pluginOutput({ video: VIDEO, embedding: EMB, extra: { video_data: '!!!!' } }),
        'video_data',
      ],
      ['not JSON', new TextEncoder().encode('nope'), 'result_metadata'],
      ['array', new TextEncoder().encode('[]'), 'result_metadata'],
    ]
    for (const [name, meta, field] of cases) {
      const err = await expectRejectedWithCode(
        parseGenerationOutput(meta, parseOpts),
        VortexError,
        'BAD_OUTPUT',
        name,
      )
      assert.equal(err.details.field, field, name)
    }
  })
})

describe('VortexClient', async () => {
  const recipe = await signedSampleRecipe()
  const recipeHash = blake3(encodeRecipe(recipe))

  it('calls ExecuteTask with vortex-lane0, lane 0, {recipe, slot_id, seed} and the timeout', async () => {
    const sidecar = new FakeSidecar(VIDEO, EMB)
    const vc = new VortexClient(
      { sidecar, clock: new ManualClock() },
      { extraParameters: { embedding_noise: { sigma: 0.01, seed: 3 }, slot_id: 'cannot override' } },
    )
    const out = await vc.generate(recipe, 42n, recipeHash)
    assert.equal(out.slotId, 42n)
    const req = sidecar.calls[0]!
    assert.equal(req.pluginName, 'vortex-lane0')
    assert.equal(req.lane, 0)
    assert.equal(req.timeoutMs, 45_000)
    const params = JSON.parse(new TextDecoder().decode(req.parameters))
    assert.equal(params.slot_id, 42)
    assert.deepEqual(params.embedding_noise, { sigma: 0.01, seed: 3 })
    assert.equal(params.seed, generationSeed(recipeHash))
    assert.equal(params.recipe.recipe_id, recipe.recipe_id)
    assert.equal(params.recipe.security.ed25519_signature, bytesToHex(recipe.security.ed25519_signature))
  })

  it('times out after vortexTimeoutMs, retries once, then fails with TIMEOUT', async () => {
    const clock = new ManualClock()
    const sidecar = new FakeSidecar(VIDEO, EMB)
    sidecar.behaviours = [{ kind: 'hang' }]
    const vc = new VortexClient({ sidecar, clock }, { timeoutMs: 45_000, retries: 1 })
    const p = vc.generate(recipe, 1n, recipeHash)
    const rejected = expectRejectedWithCode(p, VortexError, 'TIMEOUT')
    await clock.tick(44_999)
    assert.equal(sidecar.calls.length, 1)
    await clock.tick(1)
    assert.equal(sidecar.calls.length, 2, 'one retry')
    await clock.tick(45_000)
    const err = await rejected
    assert.equal(err.details.attempts, 2)
  })

  it('retries a retryable sidecar error and succeeds', async () => {
    const sidecar = new FakeSidecar(VIDEO, EMB)
    sidecar.behaviours = [{ kind: 'error', code: 'UNAVAILABLE', retryable: true }, { kind: 'ok' }]
    const vc = new VortexClient({ sidecar, clock: new ManualClock() })
    const out = await vc.generate(recipe, 1n, recipeHash)
    assert.equal(sidecar.calls.length, 2)
    assert.equal(out.video.length, VIDEO.length)
  })

  it('does not retry a plugin failure or a non-retryable sidecar error', async () => {
    for (const b of [
      { kind: 'fail', message: 'CUDA out of memory' } as const,
      { kind: 'error', code: 'UNKNOWN_PLUGIN', retryable: false } as const,
      { kind: 'raw', metadata: new TextEncoder().encode('{}') } as const,
    ]) {
      const sidecar = new FakeSidecar(VIDEO, EMB)
      sidecar.behaviours = [b]
      const vc = new VortexClient({ sidecar, clock: new ManualClock() })
      const code = b.kind === 'fail' ? 'PLUGIN_FAILED' : b.kind === 'raw' ? 'BAD_OUTPUT' : 'SIDECAR_ERROR'
      const err = await expectRejectedWithCode(vc.generate(recipe, 1n, recipeHash), VortexError, code, b.kind)
      assert.equal(sidecar.calls.length, 1, `${b.kind}: not retried`)
      if (b.kind === 'error') assert.equal(err.details.sidecarCode, 'UNKNOWN_PLUGIN')
    }
  })

  it('retries are configurable (0 = no retry) and an abort ends the call at once', async () => {
    const sidecar = new FakeSidecar(VIDEO, EMB)
    sidecar.behaviours = [{ kind: 'error', code: 'UNAVAILABLE', retryable: true }]
    const vc = new VortexClient({ sidecar, clock: new ManualClock() }, { retries: 0 })
    await expectRejectedWithCode(vc.generate(recipe, 1n, recipeHash), VortexError, 'SIDECAR_ERROR')
    assert.equal(sidecar.calls.length, 1)
    const hang = new FakeSidecar(VIDEO, EMB)
    hang.behaviours = [{ kind: 'hang' }]
    const ctrl = new AbortController()
    const p = new VortexClient({ sidecar: hang, clock: new ManualClock() }).generate(
      recipe,
      1n,
      recipeHash,
      ctrl.signal,
    )
    ctrl.abort()
    await expectRejectedWithCode(p, VortexError, 'ABORTED')
    assert.equal(hang.calls.length, 1)
  })

  it('pre-warm: healthy with the plugin, else a reason', async () => {
    const sidecar = new FakeSidecar(VIDEO, EMB)
    const vc = new VortexClient({ sidecar })
    assert.deepEqual(await vc.prewarm(), { ok: true })
    sidecar.plugins = ['other']
    assert.match((await vc.prewarm()).ok ? '' : 'plugin', /plugin/)
    sidecar.healthy = false
    assert.equal((await vc.prewarm()).ok, false)
    sidecar.healthThrows = true
    assert.equal((await vc.prewarm()).ok, false)
  })
})
