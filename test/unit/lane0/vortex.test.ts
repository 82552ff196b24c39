// VortexClient (docs/protocol.md §9): the ExecuteTask request, the plugin output mapped
// into a GenerationOutput (the output checks themselves: test/unit/sidecar/vortex-output.test.ts),
// timeout and retry policy, and the On-Deck pre-warm.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { blake3 } from '../../../src/crypto/index.ts'
import { generationSeed, VortexClient, VortexError } from '../../../src/lane0/index.ts'
import { ManualClock } from '../../../src/scheduler/index.ts'
import { bytesToHex, encodeRecipe } from '../../../src/types/index.ts'
import { signedSampleRecipe, unitEmbedding } from '../../fixtures/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { FakeSidecar, fakeVideo, pluginOutput, tempDir } from './fakes.ts'

const EMB = unitEmbedding(3)
const VIDEO = fakeVideo(5000)
describe('VortexClient', async () => {
  const recipe = await signedSampleRecipe()
  const recipeHash = blake3(encodeRecipe(recipe))

  it('calls ExecuteTask with vortex-lane0, lane 0, {recipe, slot_id, seed} and the timeout', async () => {
    const sidecar = new FakeSidecar(VIDEO, EMB)
    const vc = new VortexClient(
      { sidecar, clock: new ManualClock() },
      { extraParameters: { embedding_noise: { sigma: 0.01, seed: 3 } } },
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

  it('maps inline and file outputs into a GenerationOutput with its limits and the execution time', async () => {
    const sidecar = new FakeSidecar(VIDEO, EMB)
    const vc = new VortexClient({ sidecar, clock: new ManualClock() })
    sidecar.behaviours = [
      {
        kind: 'raw',
        metadata: pluginOutput({
          video: VIDEO,
          embedding: EMB,
          extra: { content_hash: bytesToHex(blake3(VIDEO)), mime: 'video/webm' },
        }),
      },
    ]
    const out = await vc.generate(recipe, 9n, recipeHash)
    assert.deepEqual(out.video, VIDEO)
    assert.equal(bytesToHex(out.contentHash), bytesToHex(blake3(VIDEO)))
    assert.deepEqual(out.clipEmbedding, EMB)
    assert.equal(out.slotId, 9n)
    assert.equal(out.mime, 'video/webm')
    assert.equal(out.generationTimeMs, 1234)
    assert.deepEqual([...out.audioWaveform], [1, 2, 3, 4])
    assert.equal(out.videoPath, undefined)
    assert.equal(out.outputCid, 'bafy-test')
    assert.equal(out.determinismProof, 'ab'.repeat(32))

    const dir = await tempDir()
    try {
      const path = join(dir.path, 'video.mp4')
      const wav = join(dir.path, 'audio.wav')
      await writeFile(path, VIDEO)
      await writeFile(wav, new Uint8Array([82, 73, 70, 70]))
      const fileMode = pluginOutput({
        video: VIDEO,
        embedding: EMB,
        videoPath: path,
        extra: { audio_path: wav, generation_time_ms: undefined },
      })
      sidecar.behaviours = [{ kind: 'raw', metadata: fileMode }]
      const inDir = new VortexClient({ sidecar, clock: new ManualClock() }, { outputDir: dir.path })
      const file = await inDir.generate(recipe, 9n, recipeHash)
      assert.equal(file.videoPath, path)
      assert.deepEqual(file.video, VIDEO)
      assert.deepEqual([...file.audioWaveform], [82, 73, 70, 70])
      assert.equal(file.generationTimeMs, 5, "no generation_time_ms: the sidecar's execution time")
      const small = new VortexClient(
        { sidecar, clock: new ManualClock() },
        { maxVideoBytes: 100, outputDir: dir.path },
      )
      const err = await expectRejectedWithCode(
        small.generate(recipe, 9n, recipeHash),
        VortexError,
        'BAD_OUTPUT',
      )
      assert.equal(err.details.field, 'video_path')
    } finally {
      await dir.cleanup()
    }
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
      if (b.kind === 'raw') {
        // The sidecar's VortexOutputError, mapped with its field and its field-naming message.
        assert.equal(err.details.field, 'output_cid')
        assert.match(err.message, /output\.output_cid/)
      }
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
