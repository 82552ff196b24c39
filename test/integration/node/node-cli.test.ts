// Issue 7 "Must show": `nsn node` as an operator meets it. A bad configuration (unknown key in the
// YAML file, a bad --set value, an unknown NSN_* variable) is refused with the key named, exit code
// 2 and no stack trace; --print-config shows the effective configuration; and SIGTERM stops a
// director that is generating (its embedded sidecar running the plugin) with exit 0, no child left.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import pino from 'pino'
import { DevChainClient } from '../../../src/chain/index.ts'
import { initBlake3, NodeKey, signRecipe } from '../../../src/crypto/index.ts'
import { devnetRecipe } from '../../../src/node/devnet.ts'
import {
  type DevChainReady,
  type NodeReady,
  NSN_BIN,
  type NsnProcess,
  startNsn,
} from '../../../src/node/processes.ts'
import { P2PNode } from '../../../src/p2p/index.ts'
import { bytesToHex, encodeRecipe } from '../../../src/types/index.ts'
import { cmdline, descendants } from '../../helpers/processes.ts'

await initBlake3()

/** The environment without any NSN_* variable of the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NSN_') && v !== undefined) env[k] = v
  return { ...env, ...extra }
}

interface Run {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
}

/** Run `nsn <args>` to completion (killed after `timeoutMs`). */
function runNsn(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NSN_BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: cleanEnv(env),
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
      child.kill('SIGKILL')
      reject(new Error(`nsn ${args.join(' ')}: still running after ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** A refusal as the operator sees it: exit 2, one line naming the key, nothing from a stack. */
function assertRefused(r: Run, key: string): void {
  assert.equal(r.code, 2, `exit code ${r.code}; stderr: ${r.stderr}`)
  assert.ok(r.stderr.includes(key), `stderr does not name ${key}: ${r.stderr}`)
  assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace on stderr: ${r.stderr}`)
  assert.equal(r.stderr.trim().split('\n').length, 1, `more than one line: ${r.stderr}`)
  assert.equal(r.stdout, '')
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let dir = ''
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nsn-node-cli-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('nsn node: configuration errors name the key', () => {
  test('an unknown key in the YAML file', async () => {
    const file = join(dir, 'unknown-key.yaml')
    await writeFile(file, 'lane0:\n  bftTimeoutMs: 6000\n  bftTimeoutSecs: 6\n')
    assertRefused(await runNsn(['node', '--config', file]), 'lane0.bftTimeoutSecs')
  })

  test('an unknown section in the YAML file', async () => {
    const file = join(dir, 'unknown-section.yaml')
    await writeFile(file, 'consensus:\n  quorum: 3\n')
    assertRefused(await runNsn(['node', '--config', file]), 'consensus')
  })

  test('a bad value through --set: wrong type, not an allowed value, out of bounds', async () => {
    const [type, value, bounds] = await Promise.all([
      runNsn(['node', '--print-config', '--set', 'lane0.bftTimeoutMs=soon']),
      runNsn(['node', '--print-config', '--set', 'node.role=oracle']),
      runNsn(['node', '--print-config', '--set', 'http.port=70000']),
    ])
    assertRefused(type, 'lane0.bftTimeoutMs')
    assertRefused(value, 'node.role')
    assertRefused(bounds, 'http.port')
  })

  test('an unknown NSN_* environment variable, and a bad value in a known one', async () => {
    const [unknown, bad] = await Promise.all([
      runNsn(['node', '--print-config'], { NSN_LANE0_BFT_TIMEOUT: '5000' }),
      runNsn(['node', '--print-config'], { NSN_P2P_MDNS: 'maybe' }),
    ])
    assertRefused(unknown, 'NSN_LANE0_BFT_TIMEOUT')
    assertRefused(bad, 'p2p.mdns')
  })
})

describe('nsn node --print-config', () => {
  test('prints the effective configuration: defaults < file < environment < flags', async () => {
    const file = join(dir, 'layers.yaml')
    await writeFile(
      file,
      'http:\n  port: 9200\nlane0:\n  bftTimeoutMs: 6000\n  commitTimeoutMs: 6000\nnode:\n  role: viewer\n',
    )
    const r = await runNsn(
      ['node', '--print-config', '--config', file, '--set', 'lane0.commitTimeoutMs=8000'],
      { NSN_LANE0_COMMIT_TIMEOUT_MS: '7000', NSN_LANE0_BFT_TIMEOUT_MS: '7000' },
    )
    assert.equal(r.code, 0, r.stderr)
    const c = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>
    // Defaults of docs/protocol.md where nothing overrides them; quorum 0 = the chain's (§7).
    assert.equal(c.lane0!.quorum, 0)
    assert.equal(c.lane0!.similarityThreshold, 0.85)
    assert.equal(c.lane0!.vortexTimeoutMs, 45_000)
    assert.equal(c.lane0!.vortexRetries, 1)
    assert.equal(c.http!.host, '127.0.0.1')
    // Each layer wins over the ones below it.
    assert.equal(c.http!.port, 9200) // file
    assert.equal(c.node!.role, 'viewer') // file
    assert.equal(c.lane0!.bftTimeoutMs, 7000) // environment over file
    assert.equal(c.lane0!.commitTimeoutMs, 8000) // flag over environment and file
  })

  test('the devnet profile and named flags', async () => {
    const r = await runNsn([
      'node',
      '--print-config',
      '--profile',
      'devnet',
      '--role',
      'viewer',
      '--http-port',
      '0',
      '--bootstrap',
      '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
    ])
    assert.equal(r.code, 0, r.stderr)
    const c = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>
    assert.equal(c.lane0!.bftTimeoutMs, 4000)
    assert.equal(c.node!.role, 'viewer')
    assert.equal(c.http!.port, 0)
    assert.deepEqual(c.p2p!.bootstrap, [
      '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
    ])
  })

  test('an unknown profile is a usage error', async () => {
    assertRefused(await runNsn(['node', '--print-config', '--profile', 'mainnet']), 'profile')
  })
})

describe('nsn node: SIGTERM', { timeout: 120_000 }, () => {
  let chainProc: NsnProcess<DevChainReady> | null = null
  let nodeProc: NsnProcess<NodeReady> | null = null
  let author: P2PNode | null = null
  let chain: DevChainClient | null = null

  after(async () => {
    await chain?.close().catch(() => {})
    await author?.stop().catch(() => {})
    await nodeProc?.stop(5000)
    await chainProc?.stop(5000)
  })

  test('stops a generating director with exit code 0 and no child process left', async (t) => {
    const base = join(dir, 'sigterm')
    const nodeKey = await NodeKey.loadOrCreate(join(base, 'node', 'node.key'))
    const authorKey = await NodeKey.generate()
    const genesis = join(base, 'genesis.json')
    await writeFile(
      genesis,
      JSON.stringify({
        accounts: [
          {
            peer: `0x${bytesToHex(nodeKey.publicKeyProto)}`,
            role: 'director',
            region: 'na-west',
            stake: '100000000000000000000',
          },
        ],
      }),
    )
    const log = (name: string) => join(base, `${name}.log`)
    // One director, quorum 1: it generates, decides and certifies alone.
    chainProc = await startNsn<DevChainReady>(
      'devchain',
      [
        'devchain',
        '--data-dir',
        join(base, 'chain'),
        '--listen',
        '127.0.0.1:0',
        '--block-ms',
        '250',
        '--epoch-blocks',
        '400',
        '--lookahead-blocks',
        '10',
        '--blocks-per-slot',
        '16',
        '--directors',
        '1',
        '--quorum',
        '1',
        '--genesis',
        genesis,
        '--log-level',
        'warn',
      ],
      { logFile: log('devchain'), env: cleanEnv() },
    )
    nodeProc = await startNsn<NodeReady>(
      'director',
      [
        'node',
        '--profile',
        'devnet',
        '--role',
        'director',
        '--data-dir',
        join(base, 'node'),
        '--chain-url',
        chainProc.ready.url,
        '--set',
        `lane0.recipeAuthors=${authorKey.publicKeyHex}`,
        '--set',
        'lane0.directors=1',
        '--set',
        'lane0.quorum=1',
      ],
      { logFile: log('director'), env: cleanEnv() },
    )
    const nodePid = nodeProc.child.pid!
    const tcp = nodeProc.ready.listen.find((a) => a.includes('/tcp/') && !a.includes('/ws'))!

    // A recipe author publishes for the next slots until the director starts the plugin.
    author = new P2PNode(
      {
        key: authorKey,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [tcp],
        topics: ['recipes'],
        rateLimit: false,
      },
      { logger: pino({ level: 'silent' }) },
    )
    await author.start()
    chain = new DevChainClient({ url: chainProc.ready.url })
    const info = await chain.info()
    const published = new Set<bigint>()
    const unsubscribe = chain.subscribe((ev) => {
      if (ev.type !== 'NewBlock') return
      const slot = ev.block / BigInt(info.blocksPerSlot)
      for (const target of [slot + 1n, slot + 2n]) {
        if (published.has(target)) continue
        published.add(target)
        author!
          .publish('recipes', encodeRecipe(signRecipe(devnetRecipe(target), authorKey)))
          .catch(() => published.delete(target)) // no mesh yet: the next block retries
      }
    })

    // The embedded sidecar runs the plugin as a child process of the node while it generates.
    const deadline = Date.now() + 60_000
    let running: { pid: number; cmd: string }[] = []
    while (Date.now() < deadline) {
      running = descendants(nodePid)
      if (running.some((d) => d.cmd.includes('vortex-lane0'))) break
      if (nodeProc.child.exitCode !== null) break
      await sleep(100)
    }
    unsubscribe()
    assert.ok(
      running.some((d) => d.cmd.includes('vortex-lane0')),
      `no plugin process under the node within 60 s (published recipes for slots ${[...published].join(', ')}; ` +
        `children: ${JSON.stringify(running)}; log: ${log('director')})`,
    )
    t.diagnostic(`children at SIGTERM: ${running.map((d) => `${d.pid} ${d.cmd}`).join(' | ')}`)

    const started = Date.now()
    nodeProc.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const code = await Promise.race([
      nodeProc.exited,
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('still running 20 s after SIGTERM'), 20_000)
      }),
    ])
    clearTimeout(timer)
    assert.equal(code, 0, `exit: ${code} (log: ${log('director')})`)
    t.diagnostic(`stopped in ${Date.now() - started} ms`)
    // Nothing the node started survives it: not the plugin, not anything the plugin started.
    let left: { pid: number; cmd: string }[] = []
    for (let i = 0; i < 50; i++) {
      left = running.filter((d) => {
        const now = cmdline(d.pid)
        return now !== null && now === d.cmd
      })
      if (left.length === 0) break
      await sleep(100)
    }
    assert.deepEqual(left, [], 'processes outlived the node')
    const stderr = readFileSync(log('director'), 'utf8')
    assert.doesNotMatch(stderr, /^\s+at /m, 'stack trace in the node output')
  })
})
