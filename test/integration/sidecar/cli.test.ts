// `nsn sidecar` as an operator runs it: a real process, a real client, a clean stop on SIGTERM.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { describe, test } from 'node:test'
import { SidecarClient } from '../../../src/sidecar/index.ts'
import { FIXTURE_PLUGINS, waitFor } from './_helpers.ts'

const BIN = new URL('../../../bin/nsn.js', import.meta.url).pathname

function nsn(args: string[]): {
  child: ChildProcess
  out: () => string
  err: () => string
  exit: Promise<number | null>
} {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', (b) => {
    out += b
  })
  child.stderr?.on('data', (b) => {
    err += b
  })
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  return { child, out: () => out, err: () => err, exit }
}

describe('nsn sidecar', () => {
  test('serves the plugins folder on the given address and stops cleanly on SIGTERM', async () => {
    const p = nsn([
      'sidecar',
      '--plugins-dir',
      FIXTURE_PLUGINS,
      '--listen',
      '127.0.0.1:0',
      '--allow',
      'echo,sleeper',
    ])
    let client: SidecarClient | undefined
    try {
      const address = await waitFor(
        () => /listening on (\S+)/.exec(p.out())?.[1],
        15_000,
        'the listening line',
      )
      assert.match(p.out(), /plugins: echo, sleeper/)
      client = new SidecarClient({ address })
      assert.deepEqual(await client.healthCheck(), { healthy: true, plugins: ['echo', 'sleeper'] })
      p.child.kill('SIGTERM')
      assert.equal(await p.exit, 0)
      assert.match(p.err(), /sidecar stopped/)
    } finally {
      client?.close()
      p.child.kill('SIGKILL')
    }
  })

  test('usage errors exit 2; an unreadable plugins folder exits 3 with one clear line', async () => {
    const bad = nsn(['sidecar', '--listen', 'nowhere'])
    assert.equal(await bad.exit, 2)
    assert.match(bad.err(), /HOST:PORT/)
    const missing = nsn(['sidecar', '--plugins-dir', '/nonexistent/plugins', '--listen', '127.0.0.1:0'])
    assert.equal(await missing.exit, 3)
    assert.match(missing.err(), /nsn: .*plugins folder cannot be read/)
    assert.ok(!missing.err().includes('    at '), 'no stack trace')
  })
})
