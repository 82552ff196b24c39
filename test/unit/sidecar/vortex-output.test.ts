import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { blake3, initBlake3 } from '../../../src/crypto/index.ts'
import {
  parsePluginStdout,
  parseVortexOutput,
  readVortexVideo,
  SidecarError,
  VORTEX_PLUGIN_NAME,
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
  })

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['no output_cid', { output_cid: undefined }, /output\.output_cid/],
    ['no video at all', { video_data: undefined }, /output\.video_path/],
    ['short embedding', { clip_embedding: [1, 0, 0] }, /output\.clip_embedding: expected 512/],
    ['NaN in embedding', { clip_embedding: [...Array(511).fill(0), 'x'] }, /clip_embedding\[511\]/],
    ['unnormalised embedding', { clip_embedding: Array(512).fill(1) }, /L2 norm/],
    ['bad proof', { determinism_proof: 'xyz' }, /output\.determinism_proof/],
    ['bad base64', { video_data: 'not base64!' }, /output\.video_data/],
    ['negative time', { generation_time_ms: -1 }, /output\.generation_time_ms/],
  ]
  for (const [name, over, re] of cases) {
    test(`refuses ${name} with BAD_OUTPUT naming the field`, () => {
      const err = expectCode(() => parseVortexOutput(enc(output(over))), SidecarError, 'BAD_OUTPUT', name)
      assert.match(err.message, re)
    })
  }
  test('refuses non-JSON', () => {
    expectCode(() => parseVortexOutput('{'), SidecarError, 'BAD_OUTPUT')
  })
})

describe('readVortexVideo', () => {
  test('reads inline and file videos and checks the content hash', async () => {
    const inline = await readVortexVideo(parseVortexOutput(enc(output())))
    assert.equal(new TextDecoder().decode(inline.video), 'video bytes')
    const dir = await mkdtemp(join(tmpdir(), 'nsn-vo-'))
    try {
      await writeFile(join(dir, 'video.mp4'), 'other bytes')
      const fileOut = parseVortexOutput(
        enc(output({ video_data: undefined, video_path: join(dir, 'video.mp4') })),
      )
      await expectRejectedWithCode(readVortexVideo(fileOut), SidecarError, 'BAD_OUTPUT', 'hash mismatch')
      const noHash = parseVortexOutput(
        enc(output({ video_data: undefined, video_path: join(dir, 'video.mp4'), content_hash: undefined })),
      )
      const r = await readVortexVideo(noHash)
      assert.deepEqual(r.contentHash, blake3(new TextEncoder().encode('other bytes')))
      await expectRejectedWithCode(
        readVortexVideo(noHash, { maxBytes: 3 }),
        SidecarError,
        'BAD_OUTPUT',
        'cap',
      )
      const gone = parseVortexOutput(
        enc(output({ video_data: undefined, video_path: join(dir, 'nope.mp4') })),
      )
      await expectRejectedWithCode(readVortexVideo(gone), SidecarError, 'BAD_OUTPUT', 'missing file')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
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
