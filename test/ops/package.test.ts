// The installable package: `npm pack`, `npm install -g <tarball>` into a clean prefix, then the
// installed `nsn` runs from an empty folder with no checkout: --version, and a devnet to one final
// slot. Nothing is written into the installed package folder while it runs.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { cleanEnv } from '../integration/cli/_nsn.ts'

const root = new URL('../..', import.meta.url).pathname
const dir = await mkdtemp(join(tmpdir(), 'nsn-package-'))
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Every file below `d` with its size and mtime (to see that nothing changed). */
function listing(d: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (p: string) => {
    for (const name of readdirSync(p)) {
      const f = join(p, name)
      const s = statSync(f)
      if (s.isDirectory()) walk(f)
      else out.set(f, `${s.size}:${s.mtimeMs}`)
    }
  }
  walk(d)
  return out
}

test('npm pack → npm install -g into a clean prefix → nsn devnet --slots 1 from an empty folder', async () => {
  const pack = spawnSync('npm', ['pack', '--pack-destination', dir, '--json'], {
    cwd: root,
    encoding: 'utf8',
  })
  assert.equal(pack.status, 0, pack.stderr)
  const tarball = join(dir, (JSON.parse(pack.stdout) as { filename: string }[])[0]!.filename)
  const prefix = join(dir, 'prefix')
  const install = spawnSync(
    'npm',
    ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball],
    { encoding: 'utf8', timeout: 600_000 },
  )
  assert.equal(install.status, 0, install.stderr)
  const nsn = join(prefix, 'bin/nsn')
  const pkgDir = join(prefix, 'lib/node_modules/nsn-lane0')
  const work = join(dir, 'empty')
  await mkdir(work)
  const env = cleanEnv({ PATH: `${join(prefix, 'bin')}:${process.env.PATH}` })

  const version = spawnSync(nsn, ['--version'], { cwd: work, encoding: 'utf8', env })
  assert.equal(version.status, 0, version.stderr)
  assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/)

  const before = listing(pkgDir)
  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(nsn, ['devnet', '--slots', '1', '--directors', '3', '--viewer-port', '0'], {
        cwd: work,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString()
      })
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
      })
      const timer = setTimeout(() => {
        child.kill('SIGTERM')
        reject(new Error(`installed nsn devnet: no final slot within 400 s; stdout: ${stdout.slice(-2000)}`))
      }, 400_000)
      child.once('exit', (code) => {
        clearTimeout(timer)
        resolve({ code, stdout, stderr })
      })
    },
  )
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-2000))
  assert.match(run.stdout, /^devnet stopped; 1 slot\(s\) final: \d+$/m)
  assert.ok(
    statSync(join(work, '.nsn-devnet', 'chain')).isDirectory(),
    'the devnet wrote into the working folder',
  )
  assert.deepEqual(
    [...listing(pkgDir)].filter(([f, v]) => before.get(f) !== v),
    [],
    'files written into the package folder',
  )
})
