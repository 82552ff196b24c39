// The small rough edges an operator hit, each checked where it shows: the devnet's live view
// explains its state notation and counts finality per session, nested loggers print `module` once,
// `nsn sidecar --help` shows its listen default as host:port, the repository root holds no media
// files, docs/lane0.md names the journal folder the node creates, and the README's sample
// configuration names the key file; the dev chain and a node log on stderr alike (stdout is the ready line).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { pino } from 'pino'
import { renderView } from '../../../src/cli/devnet.ts'
import { logStream } from '../../../src/node/logging.ts'
import { NSN_BIN } from '../../../src/node/processes.ts'
import { waitFor } from '../../helpers/wait.ts'
import { cleanEnv, runNsn } from './_nsn.ts'

const root = new URL('../../../', import.meta.url).pathname

describe('small rough edges', () => {
  test('the devnet view explains Active{epoch, slot} and counts final slots since its start', () => {
    const text = renderView({
      chainUrl: 'ws://127.0.0.1:1',
      viewerUrl: 'http://127.0.0.1:2/viewer/',
      block: 276n,
      slot: 11n,
      finalized: [],
      directors: [{ name: 'director-0', http: '', state: 'Active{0, 11}', slots: new Map() }],
      log: [],
    })
    const lines = text.split('\n')
    assert.equal(lines[0], 'chain ws://127.0.0.1:1  block 276  slot 11  final since start 0')
    assert.equal(lines[2], 'directors (state: Standby, OnDeck{epoch}, Active{epoch, slot}, Draining{epoch}):')
  })

  test('a key bound by nested child loggers (module) is printed once', () => {
    const out: string[] = []
    const log = pino({ level: 'info' }, logStream('json', { write: (s: string) => out.push(s) }))
    log.child({ module: 'p2p' }).child({ module: 'p2p.gossip' }).info('hello')
    assert.equal(out.length, 1)
    assert.equal(out[0]!.match(/"module":/g)?.length, 1, out[0])
    assert.equal(JSON.parse(out[0]!).module, 'p2p.gossip')
  })

  test('nsn sidecar --help shows the listen default as host:port', async () => {
    const r = await runNsn(['sidecar', '--help'])
    assert.equal(r.code, 0, r.stderr)
    const line = r.stdout.split('\n').find((l) => l.includes('--listen'))
    assert.ok(line, r.stdout)
    assert.match(line, /\(default: "?127\.0\.0\.1:\d+"?\)/)
    assert.doesNotMatch(r.stdout, /\{"host"/)
  })

  test('no media files at the repository root; docs name the journal folder; the README sample names node.keyFile', () => {
    for (const f of ['audio.wav', 'video.mp4']) assert.ok(!existsSync(join(root, f)), `${f} at the root`)
    const lane0 = readFileSync(join(root, 'docs/lane0.md'), 'utf8')
    assert.doesNotMatch(lane0, /lane0-journal/)
    assert.match(lane0, /join\(dataDir, 'journal'\)/)
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    assert.match(readme, /^\s+keyFile: \S+node\.key/m)
  })
})

/** Start `nsn <args>`, collecting both streams, until its ready line and a first log record are seen. */
async function startCollecting(args: string[]) {
  const child = spawn(process.execPath, [NSN_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv({ NSN_PARENT_PID: String(process.pid) }),
  })
  const out = { stdout: '', stderr: '' }
  child.stdout!.on('data', (d: Buffer) => {
    out.stdout += d.toString()
  })
  child.stderr!.on('data', (d: Buffer) => {
    out.stderr += d.toString()
  })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
  }
  const ready = await waitFor(
    `nsn ${args[0]}: its ready line on stdout and a log record on stderr`,
    () => {
      const line = out.stdout.split('\n').find((l) => l.startsWith('{"event"'))
      return line !== undefined && /"level":/.test(out.stderr) ? (JSON.parse(line) as { url?: string }) : null
    },
    { timeoutMs: 90_000, seen: () => JSON.stringify(out).slice(-600) },
  ).catch(async (err) => {
    await stop()
    throw err
  })
  return { out, ready, stop }
}

describe('where logs go', () => {
  test('the dev chain and a node both log on stderr; stdout carries only the ready line', {
    timeout: 200_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsn-streams-'))
    const procs: { stop(): Promise<void> }[] = []
    try {
      const chain = await startCollecting([
        'devchain',
        '--data-dir',
        join(dir, 'chain'),
        '--listen',
        '127.0.0.1:0',
        '--log-level',
        'info',
        '--log-format',
        'json',
      ])
      procs.push(chain)
      const node = await startCollecting([
        'node',
        '--profile',
        'devnet',
        '--role',
        'viewer',
        '--data-dir',
        join(dir, 'node'),
        '--chain-url',
        chain.ready.url!,
        '--http-port',
        '0',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--log-format',
        'json',
      ])
      procs.push(node)
      for (const [name, p] of [
        ['devchain', chain],
        ['node', node],
      ] as const) {
        const lines = p.out.stdout.split('\n').filter((l) => l !== '')
        assert.ok(
          lines.every((l) => l.startsWith('{"event"')),
          `${name} stdout holds only ready reports: ${lines.join(' | ')}`,
        )
        const records = p.out.stderr.split('\n').filter((l) => l.startsWith('{'))
        assert.ok(
          records.length > 0 && records.every((l) => 'level' in JSON.parse(l)),
          `${name} stderr: log records`,
        )
      }
    } finally {
      for (const p of procs.reverse()) await p.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
