// One quorum, read from the chain (docs/protocol.md §7): on a dev chain whose quorum is 2, a director
// configured with another quorum refuses to start with one line naming both values, and a director
// left at the default (0: read from the chain) starts. Before, a director kept its configured 3,
// refused every certificate of the chain's quorum and was penalised by viewers.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  type DevChainReady,
  type NodeReady,
  NSN_BIN,
  type NsnProcess,
  startNsn,
} from '../../../src/node/processes.ts'
import { fetchStatus } from '../../helpers/network.ts'

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NSN_') && v !== undefined) env[k] = v
  return env
}

function nodeArgs(dir: string, chainUrl: string, extra: string[] = []): string[] {
  return [
    'node',
    '--profile',
    'devnet',
    '--role',
    'director',
    '--data-dir',
    dir,
    '--chain-url',
    chainUrl,
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    ...extra,
  ]
}

describe('attack: a configured quorum that differs from the chain', { timeout: 120_000 }, () => {
  let base = ''
  let chain: NsnProcess<DevChainReady> | null = null
  let node: NsnProcess<NodeReady> | null = null

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'nsn-attack-quorum-'))
    chain = await startNsn<DevChainReady>(
      'devchain',
      [
        'devchain',
        '--data-dir',
        join(base, 'chain'),
        '--listen',
        '127.0.0.1:0',
        '--quorum',
        '2',
        '--log-level',
        'warn',
      ],
      { logFile: join(base, 'devchain.log'), env: cleanEnv() },
    )
  })
  after(async () => {
    await node?.stop().catch(() => {})
    await chain?.stop().catch(() => {})
    await rm(base, { recursive: true, force: true })
  })

  test('lane0.quorum=3 against a chain quorum of 2 is a startup error naming both values', async () => {
    const child = spawn(
      process.execPath,
      [NSN_BIN, ...nodeArgs(join(base, 'bad'), chain!.ready.url, ['--set', 'lane0.quorum=3'])],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: cleanEnv(),
      },
    )
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`nsn node still running after 60 s; stderr: ${stderr}`))
      }, 60_000)
      child.once('exit', (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    assert.notEqual(code, 0, `exit code ${code}`)
    assert.match(stderr, /quorum/, stderr)
    assert.match(stderr, /configured 3/, stderr)
    assert.match(stderr, /quorum 2/, stderr)
    assert.doesNotMatch(stderr, /^\s+at /m, `stack trace on stderr: ${stderr}`)
  })

  test('the default reads the quorum from the chain and starts', async () => {
    node = await startNsn<NodeReady>('director', nodeArgs(join(base, 'good'), chain!.ready.url), {
      logFile: join(base, 'director.log'),
      env: cleanEnv(),
    })
    const s = await fetchStatus(node.ready.http)
    assert.equal(s.role, 'director')
  })
})
