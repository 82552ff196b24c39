// `npm run build` gives a runnable dist/: its own entry point (dist/bin/nsn.js, no tsx) and the
// sidecar's proto beside the compiled code, so the gRPC sidecar starts from compiled JavaScript.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { waitFor } from '../helpers/network.ts'

const root = new URL('../../', import.meta.url).pathname

test('npm run build: dist/bin/nsn.js runs, and the sidecar starts from dist with its proto', async () => {
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8', timeout: 600_000 })
  assert.equal(build.status, 0, build.stdout + build.stderr)
  const bin = join(root, 'dist/bin/nsn.js')
  assert.ok(existsSync(join(root, 'dist/src/sidecar/sidecar.proto')), 'the proto is copied')
  const v = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(v.status, 0, v.stderr)
  assert.match(v.stdout, /^\d+\.\d+\.\d+/)

  const work = await mkdtemp(join(tmpdir(), 'nsn-dist-'))
  const child = spawn(process.execPath, [bin, 'sidecar', '--listen', '127.0.0.1:0', '--work-dir', work], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l))
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  let exited = false
  child.once('exit', () => {
    exited = true
  })
  try {
    const line = await waitFor(
      'the compiled sidecar listening',
      () => lines.find((l) => l.startsWith('sidecar listening on ')),
      {
        timeoutMs: 60_000,
        seen: () => `${lines.join(' | ')} stderr: ${stderr}`,
      },
    )
    assert.match(line, /^sidecar listening on 127\.0\.0\.1:\d+ \(plugins: .*vortex-lane0/)
  } finally {
    child.kill('SIGTERM')
    await waitFor('the compiled sidecar to stop', () => exited, { timeoutMs: 30_000 })
    await rm(work, { recursive: true, force: true })
  }
})
