// The real sidecar server and client on 127.0.0.1 with the fixture plugins: the RPC surface, plugin
// I/O, policy, and the honest answers of the container/model/VRAM RPCs.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { SidecarClient, SidecarError } from '../../../src/sidecar/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { type Harness, json, startSidecar, text } from './_helpers.ts'

describe('sidecar server over gRPC', () => {
  let h: Harness
  before(async () => {
    h = await startSidecar({ env: { NSN_PLUGIN_EXTRA: 'passed' } })
  })
  after(async () => {
    await h?.stop()
  })

  test('ExecuteTask: input on stdin, task context in the environment, output as result_metadata', async () => {
    const res = await h.client.executeTask({
      taskId: 'echo-1',
      parameters: json({ hello: 'world', n: 1 }),
      timeoutMs: 5_000,
      pluginName: 'echo',
      lane: 1,
      inputCid: 'cid-1',
    })
    assert.equal(res.success, true)
    assert.equal(res.outputCid, 'echo')
    assert.ok(res.executionTimeMs >= 0 && res.executionTimeMs < 5_000)
    const out = JSON.parse(text(res.resultMetadata))
    assert.deepEqual(out.input, { hello: 'world', n: 1 })
    assert.equal(out.env.NSN_TASK_ID, 'echo-1')
    assert.equal(out.env.NSN_LANE, 'lane1')
    assert.equal(out.env.NSN_INPUT_CID, 'cid-1')
    assert.equal(out.env.NSN_TIMEOUT_MS, '5000')
    assert.equal(out.env.NSN_PLUGIN_EXTRA, 'passed')
    assert.ok(existsSync(out.env.NSN_TASK_DIR), 'a successful task keeps its folder until retention')
    const st = await h.client.getTaskStatus('echo-1')
    assert.equal(st.status, 'completed')
    assert.equal(st.progress, 1)
  })

  test('the sidecar environment does not leak into plugins beyond the passthrough prefixes', async () => {
    process.env.NSN_TEST_SECRET = 'hunter2'
    try {
      const res = await h.client.executeTask({
        taskId: 'echo-2',
        parameters: json({}),
        timeoutMs: 5_000,
        pluginName: 'echo',
        lane: 0,
      })
      assert.equal(JSON.parse(text(res.resultMetadata)).secret, null)
    } finally {
      delete process.env.NSN_TEST_SECRET
    }
  })

  test('empty parameters are an empty object; a TypeScript entrypoint runs through tsx', async () => {
    const res = await h.client.executeTask({
      taskId: 'ts-1',
      parameters: new Uint8Array(),
      timeoutMs: 10_000,
      pluginName: 'tsecho',
      lane: 1,
    })
    assert.deepEqual(JSON.parse(text(res.resultMetadata)), { output_cid: 'ts', input_bytes: 2 })
  })

  test('ListPlugins lists the plugins the policy allows, with a lane filter', async () => {
    const all = (await h.client.listPlugins()).map((p) => p.name).sort()
    // greedy (40 GB VRAM) is refused by the policy, broken by its manifest, invalid/ has no manifest.
    assert.deepEqual(all, [
      'crasher',
      'echo',
      'garbage',
      'hurried',
      'inline',
      'nondet',
      'outside',
      'oversize',
      'sleeper',
      'tsecho',
    ])
    const lane0 = (await h.client.listPlugins('lane0')).map((p) => p.name).sort()
    assert.deepEqual(lane0, ['crasher', 'echo', 'garbage', 'inline', 'outside', 'oversize', 'sleeper'])
    const sleeper = (await h.client.listPlugins()).find((p) => p.name === 'sleeper')
    assert.deepEqual(sleeper, {
      name: 'sleeper',
      version: '1.0.0',
      supportedLanes: ['lane0', 'lane1'],
      deterministic: true,
      maxLatencyMs: 30_000,
      vramRequiredMb: 1024,
    })
  })

  test('HealthCheck reports real uptime and process metrics; healthCheck() adds the plugin names', async () => {
    const r = await h.client.health({ includeMetrics: true })
    assert.equal(r.healthy, true)
    assert.equal(r.status, 'serving')
    assert.ok(r.metrics !== undefined && r.metrics.memoryUsedBytes > 1_000_000)
    assert.ok(r.metrics.memoryLimitBytes >= r.metrics.memoryUsedBytes)
    assert.equal(r.metrics.gpuUtilizationPercent, 0)
    const s = await h.client.healthCheck()
    assert.equal(s.healthy, true)
    assert.ok(s.plugins.includes('echo'))
  })

  test('container and model RPCs answer UNIMPLEMENTED or the truth; VRAM is the declared budget', async () => {
    await expectRejectedWithCode(
      h.client.rawCall('StartContainer', { container_id: 'c' }),
      SidecarError,
      'UNIMPLEMENTED',
    )
    await expectRejectedWithCode(
      h.client.rawCall('StopContainer', { container_id: 'c' }),
      SidecarError,
      'UNIMPLEMENTED',
    )
    await expectRejectedWithCode(
      h.client.rawCall('LoadModel', { model_id: 'm' }),
      SidecarError,
      'UNIMPLEMENTED',
    )
    await expectRejectedWithCode(
      h.client.rawCall('UnloadModel', { model_id: 'm' }),
      SidecarError,
      'UNIMPLEMENTED',
    )
    assert.deepEqual(await h.client.rawCall('GetLoadedModels', {}), { models: [] })
    const v = await h.client.getVramStatus()
    assert.equal(v.totalVramGb, 11.5)
    assert.equal(v.usedVramGb, 0)
    assert.deepEqual(v.modelAllocations, [])
  })

  test('unknown plugin, refused manifest and bad requests are typed errors', async () => {
    const base = { parameters: json({}), timeoutMs: 1_000, lane: 1 }
    await expectRejectedWithCode(
      h.client.executeTask({ ...base, taskId: 'u1', pluginName: 'nope' }),
      SidecarError,
      'UNKNOWN_PLUGIN',
    )
    const broken = await expectRejectedWithCode(
      h.client.executeTask({ ...base, taskId: 'u2', pluginName: 'broken' }),
      SidecarError,
      'UNKNOWN_PLUGIN',
    )
    assert.match(broken.message, /resources\.vram_gb/)
    await expectRejectedWithCode(
      h.client.executeTask({ ...base, taskId: 'u3', pluginName: 'echo', lane: 7 }),
      SidecarError,
      'INVALID_ARGUMENT',
    )
    await expectRejectedWithCode(
      h.client.executeTask({ ...base, taskId: 'bad id/..', pluginName: 'echo' }),
      SidecarError,
      'INVALID_ARGUMENT',
    )
    await expectRejectedWithCode(
      h.client.executeTask({ ...base, taskId: 'u4', pluginName: 'echo', parameters: json([1, 2]) }),
      SidecarError,
      'INVALID_ARGUMENT',
    )
    await expectRejectedWithCode(
      h.client.executeTask({
        ...base,
        taskId: 'u5',
        pluginName: 'echo',
        parameters: new TextEncoder().encode('{'),
      }),
      SidecarError,
      'INVALID_ARGUMENT',
    )
    for (const id of ['u1', 'u2', 'u3', 'u4', 'u5'])
      assert.equal(h.server.runner.pidOf(id), null, `${id} never ran`)
    await expectRejectedWithCode(h.client.getTaskStatus('never-ran'), SidecarError, 'NOT_FOUND')
    assert.deepEqual(await h.client.cancelTask('never-ran'), {
      success: false,
      errorMessage: 'task_id: no task "never-ran"',
      wasRunning: false,
    })
  })

  test('policy: a non-deterministic plugin is refused on lane 0 but runs on lane 1; over-VRAM never runs', async () => {
    const base = { parameters: json({}), timeoutMs: 5_000 }
    const e = await expectRejectedWithCode(
      h.client.executeTask({ ...base, taskId: 'p1', pluginName: 'nondet', lane: 0 }),
      SidecarError,
      'POLICY_DENIED',
    )
    assert.match(e.message, /NOT_DETERMINISTIC/)
    const ok = await h.client.executeTask({ ...base, taskId: 'p2', pluginName: 'nondet', lane: 1 })
    assert.match(ok.outputCid, /^nondet-/)
    const g = await expectRejectedWithCode(
      h.client.executeTask({ ...base, taskId: 'p3', pluginName: 'greedy', lane: 1 }),
      SidecarError,
      'POLICY_DENIED',
    )
    assert.match(g.message, /VRAM_CEILING/)
    await expectRejectedWithCode(
      h.client.executeTask({ ...base, taskId: 'p4', pluginName: 'hurried', lane: 0 }),
      SidecarError,
      'POLICY_DENIED',
    )
    for (const id of ['p1', 'p3', 'p4'])
      assert.equal(h.server.runner.pidOf(id), null, `${id}: refused before it ran`)
  })

  test('the upstream inline base64 output passes through unchanged', async () => {
    const res = await h.client.executeTask({
      taskId: 'inl',
      parameters: json({}),
      timeoutMs: 5_000,
      pluginName: 'inline',
      lane: 0,
    })
    const out = JSON.parse(text(res.resultMetadata))
    assert.equal(
      Buffer.from(out.video_data, 'base64').toString(),
      'not really a video, but bytes all the same',
    )
    assert.equal(out.clip_embedding.length, 512)
  })
})

describe('sidecar allowlist', () => {
  test('a plugin outside the allowlist is refused before it runs, and not listed', async () => {
    const h = await startSidecar({ policy: { allowlist: ['echo'] } })
    try {
      assert.deepEqual(
        (await h.client.listPlugins()).map((p) => p.name),
        ['echo'],
      )
      const e = await expectRejectedWithCode(
        h.client.executeTask({
          taskId: 'a1',
          parameters: json({}),
          timeoutMs: 1_000,
          pluginName: 'crasher',
          lane: 1,
        }),
        SidecarError,
        'POLICY_DENIED',
      )
      assert.match(e.message, /NOT_ALLOWLISTED/)
      await h.client.executeTask({
        taskId: 'a2',
        parameters: json({}),
        timeoutMs: 5_000,
        pluginName: 'echo',
        lane: 1,
      })
    } finally {
      await h.stop()
    }
  })
})

describe('sidecar client connection', () => {
  test('an unreachable sidecar: UNAVAILABLE after the retries, healthCheck reports unhealthy', async () => {
    // Bind and release a port so that nothing listens on it.
    const h = await startSidecar()
    const address = h.server.address
    await h.stop()
    const client = new SidecarClient({ address, connectTimeoutMs: 200, retries: 1, retryDelayMs: 50 })
    try {
      const t0 = Date.now()
      const e = await expectRejectedWithCode(
        client.executeTask({
          taskId: 'x',
          parameters: json({}),
          timeoutMs: 1_000,
          pluginName: 'echo',
          lane: 1,
        }),
        SidecarError,
        'UNAVAILABLE',
      )
      assert.equal(e.retryable, true)
      assert.ok(Date.now() - t0 >= 400, 'two connect attempts of 200 ms each')
      assert.deepEqual(await client.healthCheck(), { healthy: false, plugins: [] })
    } finally {
      client.close()
    }
  })

  test('a transport failure is retried: the call succeeds once the sidecar comes up', async () => {
    const probe = await startSidecar()
    const port = probe.server.port
    await probe.stop()
    const lines: string[] = []
    const { pino } = await import('pino')
    const logger = pino({ level: 'warn' }, { write: (s: string) => lines.push(s) })
    const client = new SidecarClient({
      address: `127.0.0.1:${port}`,
      connectTimeoutMs: 200,
      retries: 8,
      retryDelayMs: 100,
      logger,
    })
    let h: Harness | undefined
    try {
      const call = client.executeTask({
        taskId: 'late',
        parameters: json({}),
        timeoutMs: 5_000,
        pluginName: 'echo',
        lane: 1,
      })
      await new Promise((r) => setTimeout(r, 500))
      h = await startSidecar({ port })
      const res = await call
      assert.equal(res.outputCid, 'echo')
      assert.ok(lines.length >= 1, 'at least one retry was logged')
      assert.match(lines[0]!, /UNAVAILABLE/)
    } finally {
      client.close()
      await h?.stop()
    }
  })
})
