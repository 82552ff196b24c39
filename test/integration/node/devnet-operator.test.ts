// The devnet as an operator meets it without a terminal: progress lines from the first second,
// `--reset` refusing a folder a running devnet holds, every child ending when the devnet parent
// is killed with SIGKILL (it runs no cleanup, so the children must notice by themselves), and a
// restart on that folder losing no slot to a missing recipe.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, test } from 'node:test'
import { NSN_BIN } from '../../../src/node/processes.ts'
import { waitFor } from '../../helpers/network.ts'
import { cmdline, descendants } from '../../helpers/processes.ts'
import { cleanEnv, runNsn } from '../cli/_nsn.ts'

const dir = await mkdtemp(join(tmpdir(), 'nsn-devnet-op-'))
const started: number[] = []
after(async () => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  await rm(dir, { recursive: true, force: true })
})

test('devnet: progress from the start, --reset refuses a held folder, children end on kill -9 of the parent', async () => {
  const data = join(dir, 'net')
  const child = spawn(
    process.execPath,
    [NSN_BIN, 'devnet', '--directors', '1', '--viewer-port', '0', '--data-dir', data],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: cleanEnv(),
    },
  )
  started.push(child.pid!)
  const lines: string[] = []
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l))
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  await waitFor('devnet running', () => lines.some((l) => l.startsWith('devnet running: viewer ')), {
    timeoutMs: 120_000,
    seen: () => `${lines.join(' | ')} stderr: ${stderr}`,
  })
  // Not silent while the processes start: the first line comes before any process is ready.
  assert.match(lines[0]!, /^starting the dev chain \(/)
  assert.ok(
    lines.some((l) => /^director-0 running: 12D3KooW/.test(l)),
    lines.join('\n'),
  )

  // Per-director progress without a terminal: its state as the live view shows it.
  await waitFor(
    'a director state line',
    () => lines.some((l) => /^director-0: (Standby|OnDeck|Active|Draining)/.test(l)),
    {
      timeoutMs: 30_000,
      seen: () => lines.slice(-10).join(' | '),
    },
  )
  const reset = await runNsn(['devnet', '--reset', '--data-dir', data])
  assert.equal(reset.code, 3, reset.stderr)
  assert.match(
    reset.first,
    new RegExp(`^nsn: ${data}/[a-z0-9-]+: in use by process \\d+ \\(LOCK\\); stop that process first`),
  )
  assert.ok(existsSync(join(data, 'chain')), 'the held folder was not wiped')

  const tree = descendants(child.pid!)
  assert.ok(tree.length >= 3, `devnet children: ${JSON.stringify(tree)}`)
  child.kill('SIGKILL')
  await waitFor(
    'every devnet child to end after kill -9 of the parent',
    () => tree.every((p) => cmdline(p.pid) === null),
    {
      timeoutMs: 60_000,
      seen: () => JSON.stringify(tree.filter((p) => cmdline(p.pid) !== null)),
    },
  )
})

test('a child that stops before it is ready is reported with the cause from its log', async () => {
  const { createServer } = await import('node:net')
  const { startNsn, ProcessStartError } = await import('../../../src/node/processes.ts')
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const port = (srv.address() as { port: number }).port
  try {
    const err = await startNsn(
      'devchain',
      ['devchain', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'busy')],
      {
        logFile: join(dir, 'busy.log'),
      },
    ).then(
      () => null,
      (e: unknown) => e,
    )
    assert.ok(err instanceof ProcessStartError, String(err))
    assert.equal(
      err.message,
      `devchain: exited (3) before it was ready: nsn: --listen 127.0.0.1:${port}: address already in use; choose another port (port 0: any free port) (log: ${join(dir, 'busy.log')})`,
    )
  } finally {
    srv.close()
  }
})

// Runs after the first test: its devnet was killed with -9, so this is a restart on a used folder.
test('devnet restarted on the same folder: the slot its director is Active in gets its recipe (no NO_RECIPE)', async () => {
  const data = join(dir, 'net')
  assert.ok(existsSync(join(data, 'chain')), 'the first test left a devnet folder')
  const child = spawn(
    process.execPath,
    [NSN_BIN, 'devnet', '--directors', '1', '--viewer-port', '0', '--data-dir', data],
    { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() },
  )
  started.push(child.pid!)
  let exited = false
  child.once('exit', () => {
    exited = true
  })
  const lines: string[] = []
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l))
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const seen = () => `${lines.slice(-15).join(' | ')} stderr: ${stderr.slice(-500)}`
  try {
    // The slot the director is in when the devnet first sees its state (it is elected at genesis,
    // so Active as soon as it runs): the recipe author must have published it already.
    const active = await waitFor(
      'the director Active',
      () => {
        for (const l of lines) {
          const m = /^director-0: Active\{\d+, (\d+)\}/.exec(l)
          if (m) return BigInt(m[1]!)
        }
        return null
      },
      { timeoutMs: 180_000, seen },
    )
    const stage = await waitFor(
      `a stage of slot ${active} past waiting for its recipe`,
      () => {
        for (const l of lines) {
          const m = new RegExp(`^director-0 slot ${active}: (\\S+)`).exec(l)
          if (m && m[1] !== 'waiting-recipe') return m[1]!
        }
        return null
      },
      { timeoutMs: 60_000, seen },
    )
    assert.notEqual(stage, 'failed:NO_RECIPE', seen())
    const from = lines.map((l) => /^publishing recipes from slot (\d+)/.exec(l)).find((m) => m !== null)
    assert.ok(from, `a "publishing recipes from slot" line: ${seen()}`)
    assert.ok(BigInt(from[1]!) <= active, `recipes from slot ${from[1]}, director Active in ${active}`)
    const noRecipe = lines
      .map((l) => /^director-0 slot (\d+): failed:NO_RECIPE/.exec(l))
      .filter((m) => m !== null && BigInt(m[1]!) >= active)
    assert.deepEqual(noRecipe, [], seen())
  } finally {
    child.kill('SIGTERM')
    await waitFor('the restarted devnet to stop', () => exited, { timeoutMs: 60_000, seen })
  }
})
