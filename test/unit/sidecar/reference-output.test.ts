// The reference Vortex output as the director receives it: an embedding that is not unit length
// (normalised), zero or non-finite (refused with a reason, also as Python's NaN token), and the
// runner invocation (payload by argument, by stdin beyond the argument limit).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  MAX_PAYLOAD_ARGUMENT_BYTES,
  type PluginDescriptor,
  parseVortexOutput,
  runnerInvocation,
  VortexOutputError,
} from '../../../src/sidecar/index.ts'
import { expectCode } from '../../helpers.ts'

const base = (emb: string) =>
  `{"output": {"output_cid": "x", "video_data": "AAAA", "audio_waveform": "AAAA", "clip_embedding": ${emb}, "determinism_proof": "${'ab'.repeat(32)}", "generation_time_ms": 812.5}, "duration_ms": 900}`

describe('reference plugin output', () => {
  test('a finite non-zero embedding is L2-normalised, its direction kept', () => {
    const raw = Array.from({ length: 512 }, (_, i) => (i % 7) - 3 + 0.5)
    const out = parseVortexOutput(base(JSON.stringify(raw)))
    const norm = Math.hypot(...raw)
    assert.ok(Math.abs(out.clipEmbeddingNorm - norm) < 1e-3)
    assert.ok(Math.abs(Math.hypot(...out.clipEmbedding) - 1) < 1e-6)
    for (let i = 0; i < 512; i++) assert.ok(Math.abs(out.clipEmbedding[i]! - raw[i]! / norm) < 1e-6)
    assert.equal(out.generationTimeMs, 812.5)
  })

  test('zero and non-finite embeddings are refused with a reason naming the cause', () => {
    const zero = expectCode(
      () => parseVortexOutput(base(JSON.stringify(Array(512).fill(0)))),
      VortexOutputError,
      'BAD_OUTPUT',
    )
    assert.equal(zero.reason, 'EMBEDDING_ZERO')
    assert.equal(zero.field, 'clip_embedding')
    // Python's json.dumps writes NaN / Infinity tokens: the field is named, not "not JSON".
    for (const token of ['NaN', 'Infinity', '-Infinity']) {
      const e = expectCode(
        () => parseVortexOutput(base(`[0.5, ${token}, ${Array(510).fill(0.1).join(', ')}]`)),
        VortexOutputError,
        'BAD_OUTPUT',
        token,
      )
      assert.equal(e.reason, 'EMBEDDING_NOT_FINITE', token)
      assert.equal(e.field, 'clip_embedding[1]', token)
    }
  })

  test('the runner gets the payload as an argument, or on stdin beyond the argument limit', () => {
    const plugin = {
      manifest: { name: 'vortex-py' },
      args: ['-m', 'vortex.plugins.runner', '--plugin', 'vortex-py'],
    }
    const req = { taskId: 't1', parameters: new Uint8Array(), timeoutMs: 0, pluginName: 'vortex-py', lane: 0 }
    const small = new TextEncoder().encode('{"slot_id": 18446744073709551615, "recipe": {}}')
    const a = runnerInvocation(req, plugin as PluginDescriptor, 'lane0', small, 45_000)
    const payload = a.args[a.args.indexOf('--payload') + 1]!
    assert.match(payload, /"slot_id":18446744073709551615/, 'u64 exact')
    assert.match(payload, /"task_id":"t1"/)
    assert.match(payload, /"lane":0/)
    assert.match(payload, /"plugin":"vortex-py"/)
    assert.deepEqual(a.args.slice(-2), ['--timeout-ms', '45000'])
    assert.equal(a.stdin.length, 0)
    const big = new TextEncoder().encode(JSON.stringify({ pad: 'x'.repeat(MAX_PAYLOAD_ARGUMENT_BYTES) }))
    const b = runnerInvocation(req, plugin as PluginDescriptor, 'lane0', big, 45_000)
    assert.equal(b.args[b.args.indexOf('--payload') + 1], '-')
    assert.ok(b.stdin.length > MAX_PAYLOAD_ARGUMENT_BYTES)
    assert.match(new TextDecoder().decode(b.stdin.subarray(-200)), /"task_id":"t1"/)
  })
})
