// ops/systemd/nsn-node.service passes `systemd-analyze verify` with no warning (an unknown or
// misspelt directive is only a warning there, so stderr must be empty too), and carries the
// hardening and stop settings docs/operating.md promises.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

const root = new URL('../..', import.meta.url).pathname
const unit = readFileSync(join(root, 'ops/systemd/nsn-node.service'), 'utf8')

test('systemd-analyze verify passes on nsn-node.service', async (t) => {
  const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined) {
    t.skip('systemd-analyze is not installed here')
    return
  }
  const dir = await mkdtemp(join(tmpdir(), 'nsn-unit-'))
  try {
    // verify checks that ExecStart exists: point it at this checkout's entry point.
    const path = join(dir, 'nsn-node.service')
    await writeFile(path, unit.replace('/usr/local/bin/nsn', join(root, 'bin/nsn.js')))
    const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stderr.trim(), '', 'systemd-analyze warnings')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('the unit is hardened and stops within the node shutdown time', () => {
  for (const line of [
    'DynamicUser=yes',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ReadWritePaths=/var/lib/nsn',
    'Restart=on-failure',
    'RestartPreventExitStatus=2',
    'KillSignal=SIGTERM',
  ])
    assert.match(unit, new RegExp(`^${line}$`, 'm'), line)
  const stop = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1])
  // lane0.shutdownGraceMs (15 s) is the longest a stopping node waits on its own.
  assert.ok(stop >= 15 && stop <= 60, `TimeoutStopSec=${stop}`)
})
