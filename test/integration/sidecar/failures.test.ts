// Plugin failures through the real server, client and plugin processes: each is a typed error and
// no process of the plugin's tree outlives the call.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type ExecuteTaskRequest, SidecarError } from '../../../src/sidecar/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { type Harness, json, pidAlive, startSidecar, text, waitFor, waitGone } from './_helpers.ts'

describe('plugin failures', () => {
  let h: Harness
  let scratch: string
  const pidFile = (name: string) => join(scratch, `${name}.pids`)
  const pids = (name: string): number[] => JSON.parse(readFileSync(pidFile(name), 'utf8'))
  const req = (
    taskId: string,
    pluginName: string,
    input: unknown,
    timeoutMs = 10_000,
    lane = 1,
  ): ExecuteTaskRequest => ({
    taskId,
    pluginName,
    parameters: json(input),
    timeoutMs,
    lane,
  })

  /** The failed task's plugin process is gone (the runner keeps the pid in the task record). */
  const assertGone = async (...taskIds: string[]) => {
    for (const id of taskIds) {
      const pid = h.server.runner.pidOf(id)
      assert.ok(pid !== null && pid > 0, `${id} had a process`)
      assert.deepEqual(await waitGone([pid]), [], `${id}: pid ${pid} is gone`)
    }
  }

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'nsn-fail-'))
    h = await startSidecar({ maxStdoutBytes: 1024 * 1024, maxOutputFileBytes: 1024 * 1024, killGraceMs: 300 })
  })
  after(async () => {
    await h?.stop()
    await rm(scratch, { recursive: true, force: true })
  })

  test('timeout (the request is smaller than the manifest): PLUGIN_TIMEOUT, the whole tree is killed', async () => {
    const t0 = Date.now()
    const e = await expectRejectedWithCode(
      h.client.executeTask(
        req('to-1', 'sleeper', { ms: 60_000, spawn_child: true, pid_file: pidFile('to1') }, 600),
      ),
      SidecarError,
      'PLUGIN_TIMEOUT',
    )
    assert.match(e.message, /600 ms/)
    assert.ok(Date.now() - t0 < 5_000)
    const tree = pids('to1')
    assert.equal(tree.length, 2, 'plugin and its grandchild')
    assert.deepEqual(await waitGone(tree), [], 'no orphan left')
    assert.equal((await h.client.getTaskStatus('to-1')).status, 'failed')
  })

  test('timeout from the manifest (request 0): its max_latency_ms of 400 ms applies', async () => {
    const t0 = Date.now()
    await expectRejectedWithCode(
      h.client.executeTask(req('to-2', 'hurried', { ms: 60_000, pid_file: pidFile('to2') }, 0)),
      SidecarError,
      'PLUGIN_TIMEOUT',
    )
    assert.ok(Date.now() - t0 < 3_000)
    assert.deepEqual(await waitGone(pids('to2')), [])
  })

  test('a plugin that ignores SIGTERM is killed after the grace period', async () => {
    await expectRejectedWithCode(
      h.client.executeTask(
        req(
          'to-3',
          'sleeper',
          { ms: 60_000, ignore_term: true, spawn_child: true, pid_file: pidFile('to3') },
          500,
        ),
      ),
      SidecarError,
      'PLUGIN_TIMEOUT',
    )
    assert.deepEqual(await waitGone(pids('to3')), [])
  })

  test('crash: PLUGIN_FAILED with the exit code and the end of stderr; not retried', async () => {
    const count = join(scratch, 'crash.count')
    const e = await expectRejectedWithCode(
      h.client.executeTask(req('crash-1', 'crasher', { mode: 'exit', count_file: count })),
      SidecarError,
      'PLUGIN_FAILED',
    )
    assert.match(e.message, /exited with code 3/)
    assert.match(e.message, /the model exploded/)
    assert.equal(e.retryable, false)
    assert.equal(readFileSync(count, 'utf8').trim().split('\n').length, 1, 'a plugin failure is not retried')
    await assertGone('crash-1')
    const st = await h.client.getTaskStatus('crash-1')
    assert.equal(st.status, 'failed')
    assert.match(st.errorMessage, /code 3/)
  })

  test('crash by signal, and a plugin refusing its input (exit 2 → INVALID_ARGUMENT)', async () => {
    const s = await expectRejectedWithCode(
      h.client.executeTask(req('crash-2', 'crasher', { mode: 'signal' })),
      SidecarError,
      'PLUGIN_FAILED',
    )
    assert.match(s.message, /killed by SIGKILL/)
    const r = await expectRejectedWithCode(
      h.client.executeTask(req('crash-3', 'crasher', { mode: 'refuse' })),
      SidecarError,
      'INVALID_ARGUMENT',
    )
    assert.match(r.message, /recipe: missing/)
    await assertGone('crash-2', 'crash-3')
  })

  test('malformed stdout: BAD_OUTPUT for each kind, the task folder is removed', async () => {
    for (const mode of ['mixed', 'no-output', 'no-cid', 'empty']) {
      const e = await expectRejectedWithCode(
        h.client.executeTask(req(`bad-${mode}`, 'garbage', { mode }, 10_000, 0)),
        SidecarError,
        'BAD_OUTPUT',
        mode,
      )
      assert.ok(e.message.length > 0)
      await assertGone(`bad-${mode}`)
    }
    await expectRejectedWithCode(
      h.client.executeTask(req('bad-path', 'outside', {}, 10_000, 0)),
      SidecarError,
      'BAD_OUTPUT',
    )
    await assertGone('bad-path')
  })

  test('oversize stdout: OUTPUT_TOO_LARGE as soon as the cap is passed, the process is killed', async () => {
    const t0 = Date.now()
    await expectRejectedWithCode(
      h.client.executeTask(req('big-1', 'oversize', { bytes: 8 * 1024 * 1024 }, 20_000, 0)),
      SidecarError,
      'OUTPUT_TOO_LARGE',
    )
    assert.ok(Date.now() - t0 < 10_000, 'killed at the cap, not at the timeout')
    assert.equal(h.server.runner.runningCount, 0)
    await assertGone('big-1')
  })

  test('oversize files in the task folder: OUTPUT_TOO_LARGE', async () => {
    await expectRejectedWithCode(
      h.client.executeTask(req('big-2', 'oversize', { file_bytes: 2 * 1024 * 1024 }, 10_000, 0)),
      SidecarError,
      'OUTPUT_TOO_LARGE',
    )
    await assertGone('big-2')
  })

  test('cancellation mid-run: progress seen, CancelTask reports was_running, the tree is gone', async () => {
    const call = h.client.executeTask(
      req('cancel-1', 'sleeper', { ms: 30_000, spawn_child: true, pid_file: pidFile('c1') }),
    )
    const rejected = expectRejectedWithCode(call, SidecarError, 'CANCELLED')
    const st = await waitFor(
      async () => {
        const s = await h.client.getTaskStatus('cancel-1').catch(() => undefined)
        return s !== undefined && s.progress > 0 ? s : undefined
      },
      10_000,
      'progress from the sleeper',
    )
    assert.equal(st.status, 'running')
    assert.equal(st.currentStage, 'sleeping')
    assert.ok(st.etaMs > 20_000 && st.etaMs <= 30_000, `eta ${st.etaMs}`)
    const vram = await h.client.getVramStatus()
    assert.deepEqual(vram.modelAllocations, [{ modelId: 'sleeper', vramGb: 1, containerId: 'cancel-1' }])
    assert.equal(vram.usedVramGb, 1)

    const c = await h.client.cancelTask('cancel-1', 'slot abandoned')
    assert.deepEqual(c, { success: true, errorMessage: '', wasRunning: true })
    const e = await rejected
    assert.match(e.message, /slot abandoned/)
    assert.deepEqual(await waitGone(pids('c1')), [])
    assert.equal((await h.client.getTaskStatus('cancel-1')).status, 'cancelled')
    const again = await h.client.cancelTask('cancel-1')
    assert.equal(again.success, false)
    assert.equal(again.wasRunning, false)
  })

  test('duplicate running task id is refused; per-plugin max_concurrency answers BUSY', async () => {
    const a = h.client.executeTask(req('dup', 'sleeper', { ms: 30_000, pid_file: pidFile('d1') }))
    const aDone = expectRejectedWithCode(a, SidecarError, 'CANCELLED')
    await waitFor(() => (existsSync(pidFile('d1')) ? true : undefined), 10_000, 'first sleeper')
    await expectRejectedWithCode(h.client.executeTask(req('dup', 'echo', {})), SidecarError, 'DUPLICATE_TASK')
    const b = h.client.executeTask(req('second', 'sleeper', { ms: 30_000, pid_file: pidFile('d2') }))
    const bDone = expectRejectedWithCode(b, SidecarError, 'CANCELLED')
    await waitFor(() => (existsSync(pidFile('d2')) ? true : undefined), 10_000, 'second sleeper')
    const busy = await expectRejectedWithCode(
      h.client.executeTask(req('third', 'sleeper', { ms: 10 })),
      SidecarError,
      'BUSY',
    )
    assert.match(busy.message, /max_concurrency is 2/)
    assert.equal(busy.retryable, false)
    await h.client.cancelTask('dup')
    await h.client.cancelTask('second')
    await Promise.all([aDone, bDone])
    assert.deepEqual(await waitGone([...pids('d1'), ...pids('d2')]), [])
  })

  test('a caller that aborts (or whose deadline passes) gets CANCELLED and the plugin is killed', async () => {
    const ac = new AbortController()
    const call = h.client.executeTask(
      req('abort-1', 'sleeper', { ms: 30_000, spawn_child: true, pid_file: pidFile('a1') }),
      {
        signal: ac.signal,
      },
    )
    await waitFor(() => (existsSync(pidFile('a1')) ? true : undefined), 10_000, 'sleeper start')
    ac.abort()
    await expectRejectedWithCode(call, SidecarError, 'CANCELLED')
    assert.deepEqual(await waitGone(pids('a1')), [], 'the server saw the call cancelled and killed the tree')
    await waitFor(
      async () => ((await h.client.getTaskStatus('abort-1')).status === 'cancelled' ? true : undefined),
      3_000,
      'cancelled',
    )
  })
})

describe('plugin limits that need their own server', () => {
  test('the VRAM budget counts declared VRAM of running tasks', async () => {
    const h = await startSidecar({ policy: { maxVramGb: 1.5 } })
    const scratch = await mkdtemp(join(tmpdir(), 'nsn-vram-'))
    try {
      const first = h.client.executeTask({
        taskId: 'v1',
        pluginName: 'sleeper',
        parameters: json({ ms: 30_000, pid_file: join(scratch, 'p') }),
        timeoutMs: 20_000,
        lane: 1,
      })
      const done = expectRejectedWithCode(first, SidecarError, 'UNAVAILABLE')
      await waitFor(() => (existsSync(join(scratch, 'p')) ? true : undefined), 10_000, 'sleeper start')
      const e = await expectRejectedWithCode(
        h.client.executeTask({
          taskId: 'v2',
          pluginName: 'sleeper',
          parameters: json({ ms: 10 }),
          timeoutMs: 5_000,
          lane: 1,
        }),
        SidecarError,
        'BUSY',
      )
      assert.match(e.message, /1 of the 1\.5 GB budget/)
      const tree: number[] = JSON.parse(readFileSync(join(scratch, 'p'), 'utf8'))
      await h.stop() // stopping kills running tasks: their callers get UNAVAILABLE
      await done
      assert.deepEqual(await waitGone(tree), [])
      assert.ok(!tree.some(pidAlive))
    } finally {
      await h.stop()
      await rm(scratch, { recursive: true, force: true })
    }
  })

  test('finished task records and their folders are pruned after the retention period', async () => {
    const h = await startSidecar({ taskRetentionMs: 300 })
    try {
      const res = await h.client.executeTask({
        taskId: 'r1',
        pluginName: 'echo',
        parameters: json({}),
        timeoutMs: 5_000,
        lane: 1,
      })
      const dir = JSON.parse(text(res.resultMetadata)).env.NSN_TASK_DIR as string
      assert.ok(existsSync(dir))
      assert.equal((await h.client.getTaskStatus('r1')).status, 'completed')
      await waitFor(async () => (existsSync(dir) ? undefined : true), 5_000, 'task folder removal')
      await expectRejectedWithCode(h.client.getTaskStatus('r1'), SidecarError, 'NOT_FOUND')
    } finally {
      await h.stop()
    }
  })
})
