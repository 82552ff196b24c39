import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Metadata, status } from '@grpc/grpc-js'
import {
  allowedLanes,
  checkPolicy,
  DEFAULT_POLICY,
  formatProgressLine,
  fromServiceError,
  laneOf,
  PolicyError,
  parseProgressLine,
  SidecarError,
  type SidecarErrorCode,
  toServiceError,
  validateManifest,
} from '../../../src/sidecar/index.ts'
import { expectCode } from '../../helpers.ts'

function manifest(over: Record<string, unknown> = {}, res: Record<string, unknown> = {}) {
  return validateManifest({
    schema_version: '1.0',
    name: 'p',
    version: '1',
    entrypoint: 'main.mjs',
    description: 'd',
    supported_lanes: ['lane0', 'lane1'],
    deterministic: true,
    resources: { vram_gb: 1, max_latency_ms: 10_000, max_concurrency: 1, ...res },
    io: { input_schema: {}, output_schema: {} },
    ...over,
  })
}

describe('plugin policy', () => {
  test('allows a deterministic plugin within the ceilings on both lanes', () => {
    assert.deepEqual(allowedLanes(manifest(), DEFAULT_POLICY).allowed, ['lane0', 'lane1'])
  })

  test('each rule refuses with its own code', () => {
    const p = DEFAULT_POLICY
    expectCode(
      () => checkPolicy(manifest({ deterministic: false }), 'lane0', p),
      PolicyError,
      'NOT_DETERMINISTIC',
    )
    checkPolicy(manifest({ deterministic: false }), 'lane1', p)
    expectCode(
      () => checkPolicy(manifest({ supported_lanes: ['lane1'] }), 'lane0', p),
      PolicyError,
      'LANE_UNSUPPORTED',
    )
    expectCode(
      () => checkPolicy(manifest({}, { max_latency_ms: p.lane0MaxLatencyMs + 1 }), 'lane0', p),
      PolicyError,
      'LATENCY_CEILING',
    )
    checkPolicy(manifest({}, { max_latency_ms: p.lane0MaxLatencyMs + 1 }), 'lane1', p)
    expectCode(() => checkPolicy(manifest({}, { vram_gb: 12 }), 'lane1', p), PolicyError, 'VRAM_CEILING')
    expectCode(
      () => checkPolicy(manifest(), 'lane1', { ...p, allowlist: ['other'] }),
      PolicyError,
      'NOT_ALLOWLISTED',
    )
    checkPolicy(manifest(), 'lane1', { ...p, allowlist: ['p'] })
  })

  test('the Lane 0 latency ceiling admits the 45 s Vortex timeout (docs/protocol.md §9)', () => {
    checkPolicy(manifest({}, { max_latency_ms: 45_000 }), 'lane0', DEFAULT_POLICY)
  })

  test('lane numbers map to lane names; others are refused', () => {
    assert.equal(laneOf(0), 'lane0')
    assert.equal(laneOf(1), 'lane1')
    assert.equal(laneOf(2), null)
  })
})

describe('progress lines', () => {
  test('format and parse round-trip, values clamped', () => {
    const line = formatProgressLine({ stage: 'encode', progress: 1.7, etaMs: 1234.4, message: 'frame 9' })
    assert.ok(line.startsWith('@nsn-progress {') && line.endsWith('\n'))
    assert.deepEqual(parseProgressLine(line.trimEnd()), {
      stage: 'encode',
      progress: 1,
      etaMs: 1234,
      message: 'frame 9',
    })
  })

  test('ordinary log lines are not progress; broken ones are malformed', () => {
    assert.equal(parseProgressLine('INFO loading model'), null)
    assert.equal(parseProgressLine('@nsn-progress {nope'), 'malformed')
    assert.equal(parseProgressLine('@nsn-progress {"stage":1,"progress":0.5}'), 'malformed')
    assert.equal(parseProgressLine('@nsn-progress {"stage":"x","progress":"half"}'), 'malformed')
    assert.deepEqual(parseProgressLine('@nsn-progress {"stage":"x","progress":-3,"eta_ms":-1}'), {
      stage: 'x',
      progress: 0,
    })
  })
})

describe('SidecarError over gRPC status', () => {
  const codes: SidecarErrorCode[] = [
    'UNKNOWN_PLUGIN',
    'POLICY_DENIED',
    'PLUGIN_FAILED',
    'PLUGIN_TIMEOUT',
    'BAD_OUTPUT',
    'CANCELLED',
    'DUPLICATE_TASK',
    'BUSY',
    'INVALID_ARGUMENT',
    'OUTPUT_TOO_LARGE',
    'NOT_FOUND',
    'UNIMPLEMENTED',
    'INTERNAL',
  ]
  for (const code of codes) {
    test(`${code} survives the trip and is not retryable`, () => {
      const wire = toServiceError(new SidecarError(code, `m ${code}`))
      const back = fromServiceError({ ...wire, message: 'x' })
      assert.equal(back.code, code)
      assert.equal(back.message, `m ${code}`)
      assert.equal(back.retryable, false)
    })
  }

  test('a transport failure (no trailer) is UNAVAILABLE and retryable; other statuses map by code', () => {
    const u = fromServiceError({
      code: status.UNAVAILABLE,
      details: 'ECONNREFUSED',
      metadata: new Metadata(),
    })
    assert.equal(u.code, 'UNAVAILABLE')
    assert.equal(u.retryable, true)
    assert.equal(fromServiceError({ code: status.PERMISSION_DENIED, details: 'x' }).code, 'POLICY_DENIED')
    assert.equal(fromServiceError({ code: status.DEADLINE_EXCEEDED, details: 'x' }).code, 'DEADLINE_EXCEEDED')
    assert.equal(fromServiceError({ code: status.DATA_LOSS, details: 'x' }).code, 'INTERNAL')
    // A server-side UNAVAILABLE (sidecar stopping) comes with the trailer and is not a transport error.
    assert.equal(
      fromServiceError(toServiceError(new SidecarError('UNAVAILABLE', 'stopping'))).retryable,
      false,
    )
  })

  test('a non-SidecarError thrown in a handler becomes INTERNAL', () => {
    const wire = toServiceError(new Error('boom'))
    assert.equal(wire.code, status.INTERNAL)
    assert.equal(fromServiceError(wire).code, 'INTERNAL')
  })
})
