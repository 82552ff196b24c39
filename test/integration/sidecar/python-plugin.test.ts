// The reference Vortex contract hosted as-is: this project's Python plugin (plugins/vortex-py, VP9 in
// IVF + Opus, an embedding that is not unit length) run by `python3 -m vortex.plugins.runner` through
// the real sidecar, and the director's VortexClient turning its answer into what viewers receive —
// a WebM remuxed without re-encoding, hashed as such, with a unit embedding.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { blake3, initBlake3 } from '../../../src/crypto/index.ts'
import { VortexClient } from '../../../src/lane0/index.ts'
import { parseVortexOutput, vortexRequest } from '../../../src/sidecar/index.ts'
import { bytesToHex, encodeRecipe } from '../../../src/types/index.ts'
import { sampleRecipe } from '../../fixtures/index.ts'
import { type Harness, REPO_PLUGINS, startSidecar } from './_helpers.ts'

await initBlake3()

const PYTHONPATH = new URL('../../../plugins/python', import.meta.url).pathname
const RUNNER = ['python3', '-m', 'vortex.plugins.runner']
const recipe = sampleRecipe({
  slot_params: { slot_number: 42n, duration_sec: 5, resolution: '160x120', fps: 24 },
})
const recipeHash = blake3(encodeRecipe(recipe))

/** ffprobe's view of a file: streams (codec) and every packet's size and SHA-256. */
function probe(file: string): { codecs: string[]; packets: Map<string, string[]> } {
  const out = JSON.parse(
    execFileSync(
      'ffprobe',
      ['-v', 'error', '-show_streams', '-show_packets', '-show_data_hash', 'SHA256', '-of', 'json', file],
      { maxBuffer: 64 << 20, timeout: 30_000 },
    ).toString(),
  ) as {
    streams: { index: number; codec_name: string }[]
    packets: { stream_index: number; data_hash: string }[]
  }
  const packets = new Map<string, string[]>()
  for (const p of out.packets) {
    const codec = out.streams.find((s) => s.index === p.stream_index)!.codec_name
    packets.set(codec, [...(packets.get(codec) ?? []), p.data_hash])
  }
  return { codecs: out.streams.map((s) => s.codec_name), packets }
}

describe('the reference-shaped Python plugin through the runner command', () => {
  let h: Harness
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsn-vortex-py-'))
    h = await startSidecar({ pluginsDir: REPO_PLUGINS, runnerCommand: RUNNER, env: { PYTHONPATH } })
  })
  after(async () => {
    await h?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  test('VP9/IVF + Opus become a WebM by stream copy; content_hash is over the WebM', async () => {
    assert.ok(h.client !== undefined)
    // What the plugin itself answered (the sidecar passes it on unchanged).
    const res = await h.client.executeTask(
      vortexRequest(recipe, { taskId: 'py-raw', pluginName: 'vortex-py', timeoutMs: 40_000 }),
    )
    assert.equal(res.success, true, res.errorMessage)
    const raw = parseVortexOutput(res.resultMetadata)
    assert.equal(new TextDecoder().decode(raw.videoData!.subarray(0, 4)), 'DKIF')
    assert.ok(Math.abs(raw.clipEmbeddingNorm - 1) > 0.5, `the plugin's norm ${raw.clipEmbeddingNorm}`)

    const vc = new VortexClient({ sidecar: h.client }, { pluginName: 'vortex-py', timeoutMs: 40_000 })
    const out = await vc.generate(recipe, 42n, recipeHash)
    assert.equal(out.mime, 'video/webm; codecs="vp9,opus"')
    assert.deepEqual([...out.video.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3], 'EBML header')
    assert.equal(bytesToHex(out.contentHash), bytesToHex(blake3(out.video)))
    let norm = 0
    for (const x of out.clipEmbedding) norm += x * x
    assert.ok(Math.abs(Math.sqrt(norm) - 1) < 1e-5, `normalised: ${Math.sqrt(norm)}`)
    // Same direction as the plugin's embedding (cosine 1).
    let dot = 0
    for (let i = 0; i < 512; i++) dot += out.clipEmbedding[i]! * raw.clipEmbedding[i]!
    assert.ok(dot > 0.99999, `cosine ${dot}`)

    // No re-encode: every VP9 and Opus packet of the WebM is byte-identical to the plugin's.
    const ivf = join(dir, 'v.ivf')
    const ogg = join(dir, 'a.ogg')
    const webm = join(dir, 'out.webm')
    await writeFile(ivf, raw.videoData!)
    await writeFile(ogg, raw.audioData!)
    await writeFile(webm, out.video)
    const w = probe(webm)
    assert.deepEqual(w.codecs.sort(), ['opus', 'vp9'])
    assert.deepEqual(w.packets.get('vp9'), probe(ivf).packets.get('vp9'))
    assert.deepEqual(w.packets.get('opus'), probe(ogg).packets.get('opus'))
    assert.equal(w.packets.get('vp9')!.length, 5 * 24)

    // Deterministic: a second run gives the same WebM, so every honest director hashes the same bytes.
    const again = await vc.generate(recipe, 42n, recipeHash)
    assert.equal(bytesToHex(again.contentHash), bytesToHex(out.contentHash))
  })

  test('a payload beyond one command-line argument goes on stdin (`--payload -`)', async () => {
    const vc = new VortexClient(
      { sidecar: h.client },
      { pluginName: 'vortex-py', timeoutMs: 40_000, extraParameters: { padding: 'x'.repeat(300_000) } },
    )
    const out = await vc.generate(recipe, 42n, recipeHash)
    assert.equal(out.mime, 'video/webm; codecs="vp9,opus"')
  })
})
