import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { blake3, initBlake3 } from '../../../src/crypto/index.ts'
import {
  DEFAULT_VORTEX_MIME,
  parsePluginStdout,
  parseVortexOutput,
  readVortexAudio,
  readVortexVideo,
  SidecarError,
  VORTEX_PLUGIN_NAME,
  VortexOutputError,
  vortexRequest,
} from '../../../src/sidecar/index.ts'
import { bytesToHex, recipeFromPlain } from '../../../src/types/index.ts'
import { sampleRecipe, unitEmbedding } from '../../fixtures/index.ts'
import { expectCode, expectRejectedWithCode } from '../../helpers.ts'

await initBlake3()

function output(over: Record<string, unknown> = {}): Record<string, unknown> {
  const video = new TextEncoder().encode('video bytes')
  return {
    output_cid: 'blake3:x',
    video_data: Buffer.from(video).toString('base64'),
    mime: 'video/mp4; codecs="avc1.42C01E"',
    content_hash: bytesToHex(blake3(video)),
    clip_embedding: Array.from(unitEmbedding(3)),
    determinism_proof: 'ab'.repeat(32),
    generation_time_ms: 900,
    slot_id: '42',
    seed: '18446744073709551615',
    ...over,
  }
}
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o))

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nsn-vo-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function rejectsNaming(p: Promise<unknown>, field: string, context: string): Promise<void> {
  const err = await expectRejectedWithCode(p, VortexOutputError, 'BAD_OUTPUT', context)
  assert.equal(err.field, field, context)
}

describe('vortexRequest', () => {
  test('asks vortex-lane0 on lane 0 with the recipe JSON, slot id and options', () => {
    const r = sampleRecipe()
    const req = vortexRequest(r, { taskId: 't1', seed: 2n ** 60n, embeddingNoise: { sigma: 0.01, seed: 5n } })
    assert.equal(req.pluginName, VORTEX_PLUGIN_NAME)
    assert.equal(req.lane, 0)
    assert.equal(req.timeoutMs, 45_000)
    const input = JSON.parse(new TextDecoder().decode(req.parameters))
    assert.equal(input.slot_id, 42)
    assert.equal(input.seed, (2n ** 60n).toString())
    assert.deepEqual(input.embedding_noise, { sigma: 0.01, seed: 5 })
    assert.deepEqual(recipeFromPlain(input.recipe), r)
  })

  test('takes another slot, plugin and lane; extra fields cannot replace recipe, slot_id or options', () => {
    const r = sampleRecipe()
    const req = vortexRequest(r, {
      taskId: 't2',
      slotId: 7n,
      seed: 3n,
      pluginName: 'other',
      lane: 1,
      extra: { slot_id: 'no', recipe: 'no', seed: 'no', max_resolution: '160x120' },
    })
    assert.equal(req.pluginName, 'other')
    assert.equal(req.lane, 1)
    const input = JSON.parse(new TextDecoder().decode(req.parameters))
    assert.equal(input.slot_id, 7)
    assert.equal(input.seed, 3)
    assert.equal(input.max_resolution, '160x120')
    assert.deepEqual(recipeFromPlain(input.recipe), r)
  })
})

describe('parseVortexOutput', () => {
  test('parses the plugin output: embedding, hashes, u64 fields', () => {
    const o = parseVortexOutput(enc(output()))
    assert.equal(o.clipEmbedding.length, 512)
    assert.deepEqual(o.clipEmbedding, unitEmbedding(3))
    assert.equal(o.seed, 2n ** 64n - 1n)
    assert.equal(o.slotId, 42n)
    assert.equal(o.videoPath, null)
    assert.equal(new TextDecoder().decode(o.videoData!), 'video bytes')
    assert.equal(o.determinismProof.length, 32)
    assert.equal(o.mime, 'video/mp4; codecs="avc1.42C01E"')
    assert.equal(o.generationTimeMs, 900)
  })

  test('unwraps {"output": …} and fills what the upstream plugin leaves out', () => {
    const bare = { ...output(), mime: undefined, generation_time_ms: undefined }
    const o = parseVortexOutput(enc({ output: bare, duration_ms: 99 }), { defaultGenerationTimeMs: 77 })
    assert.equal(o.outputCid, 'blake3:x')
    assert.deepEqual(o.clipEmbedding, unitEmbedding(3))
    assert.equal(o.mime, DEFAULT_VORTEX_MIME)
    assert.equal(o.generationTimeMs, 77)
  })

  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['no output_cid', { output_cid: undefined }, 'output_cid', /output\.output_cid/],
    ['no video at all', { video_data: undefined }, 'video_path', /output\.video_path/],
    ['both video forms', { video_path: '/tmp/v.mp4' }, 'video_data', /output\.video_data/],
    ['an empty video_path', { video_data: undefined, video_path: '' }, 'video_path', /output\.video_path/],
    [
      'short embedding',
      { clip_embedding: [1, 0, 0] },
      'clip_embedding',
      /output\.clip_embedding: expected 512/,
    ],
    [
      'NaN in embedding',
      { clip_embedding: [...Array(511).fill(0), 'x'] },
      'clip_embedding[511]',
      /clip_embedding\[511\]/,
    ],
    [
      'an embedding value beyond f32',
      { clip_embedding: [1e300, ...Array(511).fill(0)] },
      'clip_embedding[0]',
      /clip_embedding\[0\]/,
    ],
    ['an all-zero embedding', { clip_embedding: Array(512).fill(0) }, 'clip_embedding', /all zeros/],
    ['bad proof', { determinism_proof: 'xyz' }, 'determinism_proof', /output\.determinism_proof/],
    ['bad content_hash', { content_hash: 'ff' }, 'content_hash', /output\.content_hash/],
    ['bad base64', { video_data: 'not base64!' }, 'video_data', /output\.video_data/],
    ['bad audio base64', { audio_data: 'a b=' }, 'audio_data', /output\.audio_data/],
    ['audio_waveform of another type', { audio_waveform: 7 }, 'audio_waveform', /output\.audio_waveform/],
    ['NaN in audio_waveform', { audio_waveform: [0, null] }, 'audio_waveform[1]', /audio_waveform\[1\]/],
    ['negative time', { generation_time_ms: -1 }, 'generation_time_ms', /output\.generation_time_ms/],
  ]
  for (const [name, over, field, re] of cases) {
    test(`refuses ${name} with BAD_OUTPUT naming the field`, () => {
      const err = expectCode(
        () => parseVortexOutput(enc(output(over))),
        VortexOutputError,
        'BAD_OUTPUT',
        name,
      )
      assert.ok(err instanceof SidecarError)
      assert.equal(err.field, field)
      assert.match(err.message, re)
    })
  }
  test('refuses non-JSON, non-UTF-8 and a JSON array as result_metadata', () => {
    for (const bad of ['{', new Uint8Array([0x7b, 0xff, 0x7d]), '[]']) {
      const err = expectCode(() => parseVortexOutput(bad), VortexOutputError, 'BAD_OUTPUT', String(bad))
      assert.equal(err.field, 'result_metadata')
    }
  })
  test('bounds inline media before decoding them', () => {
    const err = expectCode(
      () => parseVortexOutput(enc(output()), { maxBytes: 10 }),
      VortexOutputError,
      'BAD_OUTPUT',
    )
    assert.equal(err.field, 'video_data')
    assert.equal(parseVortexOutput(enc(output()), { maxBytes: 11 }).videoData?.length, 11)
  })
})

describe('readVortexVideo', () => {
  test('reads inline and file videos and checks the content hash', async () => {
    const inline = await readVortexVideo(parseVortexOutput(enc(output())))
    assert.equal(new TextDecoder().decode(inline.video), 'video bytes')
    await inTempDir(async (dir) => {
      await writeFile(join(dir, 'video.mp4'), 'other bytes')
      const fileOut = parseVortexOutput(
        enc(output({ video_data: undefined, video_path: join(dir, 'video.mp4') })),
      )
      await rejectsNaming(readVortexVideo(fileOut, { outputDir: dir }), 'content_hash', 'hash mismatch')
      const noHash = parseVortexOutput(
        enc(output({ video_data: undefined, video_path: join(dir, 'video.mp4'), content_hash: undefined })),
      )
      const r = await readVortexVideo(noHash, { outputDir: dir })
      assert.deepEqual(r.contentHash, blake3(new TextEncoder().encode('other bytes')))
      await rejectsNaming(readVortexVideo(noHash, { maxBytes: 3, outputDir: dir }), 'video_path', 'cap')
      const gone = parseVortexOutput(
        enc(output({ video_data: undefined, video_path: join(dir, 'nope.mp4') })),
      )
      await rejectsNaming(readVortexVideo(gone, { outputDir: dir }), 'video_path', 'missing file')
      await rejectsNaming(
        readVortexVideo(parseVortexOutput(enc(output({ video_data: '', content_hash: undefined })))),
        'video_data',
        'empty',
      )
    })
  })
})

describe('readVortexAudio', () => {
  test('takes the audio in each form the plugins send', async () => {
    await inTempDir(async (dir) => {
      const wav = join(dir, 'audio.wav')
      await writeFile(wav, new Uint8Array([82, 73, 70, 70]))
      const file = { video_data: undefined, video_path: join(dir, 'video.mp4') }
      const audio = async (over: Record<string, unknown>) =>
        [...(await readVortexAudio(parseVortexOutput(enc(output(over))), { outputDir: dir }))] as number[]
      // vortex-lane0's file mode: audio_path and audio_waveform name the same WAV file.
      assert.deepEqual(await audio({ ...file, audio_path: wav, audio_waveform: wav }), [82, 73, 70, 70])
      assert.deepEqual(await audio({ ...file, audio_waveform: wav }), [82, 73, 70, 70])
      // Inline: vortex-lane0's audio_data, the upstream plugin's base64 audio_waveform.
      assert.deepEqual(await audio({ audio_data: 'AQIDBA==' }), [1, 2, 3, 4])
      assert.deepEqual(await audio({ audio_waveform: 'AQIDBA==' }), [1, 2, 3, 4])
      const samples = await audio({ audio_waveform: [0.5, -1] })
      assert.deepEqual([...new Float32Array(new Uint8Array(samples).buffer)], [0.5, -1])
      assert.deepEqual(await audio({}), [])
      await rejectsNaming(
        readVortexAudio(parseVortexOutput(enc(output({ ...file, audio_path: join(dir, 'nope.wav') }))), {
          outputDir: dir,
        }),
        'audio_path',
        'missing audio file',
      )
      await rejectsNaming(
        readVortexAudio(parseVortexOutput(enc(output({ ...file, audio_path: wav }))), {
          maxBytes: 3,
          outputDir: dir,
        }),
        'audio_path',
        'audio over the cap',
      )
    })
  })
})

describe('parsePluginStdout', () => {
  test('accepts the protocol document and resolves _path keys inside the task folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsn-out-'))
    try {
      await writeFile(join(dir, 'v.mp4'), 'x')
      const r = await parsePluginStdout(
        Buffer.from(JSON.stringify({ output: { output_cid: 'c', video_path: 'v.mp4' }, duration_ms: 5 })),
        dir,
      )
      assert.equal(r.durationMs, 5)
      assert.ok((r.output.video_path as string).endsWith('/v.mp4'))
      const bad: [string, string][] = [
        ['', 'stdout: empty'],
        ['log line\n{}', 'stdout: not one JSON'],
        ['[1]', 'stdout: expected a JSON object'],
        ['{"output": 3}', 'output: missing'],
        ['{"output": {}}', 'output.output_cid'],
        ['{"output": {"output_cid": "c"}, "duration_ms": "5"}', 'duration_ms'],
        ['{"output": {"output_cid": "c", "video_path": "/etc/hostname"}}', 'outside the task folder'],
        ['{"output": {"output_cid": "c", "video_path": "../x"}}', 'does not exist'],
        ['{"output": {"output_cid": "c", "audio_path": 7}}', 'output.audio_path'],
      ]
      for (const [text, msg] of bad) {
        const err = await expectRejectedWithCode(
          parsePluginStdout(Buffer.from(text), dir),
          SidecarError,
          'BAD_OUTPUT',
          text,
        )
        assert.ok(err.message.includes(msg), `${text}: ${err.message}`)
      }
      await expectRejectedWithCode(
        parsePluginStdout(Buffer.from([0xff, 0xfe]), dir),
        SidecarError,
        'BAD_OUTPUT',
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
