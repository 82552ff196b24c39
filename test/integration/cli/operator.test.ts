// The rough edges a new operator hit, each as a real `nsn` process with its exact exit code and
// the first line of its message: keygen output, --version, bad flags, busy ports, a bad bootstrap
// PeerId, a missing key file, a second node on a data folder, registration, /health (unregistered
// director, chain down), `nsn status` against a chain URL, and `nsn inspect` on endless input.
import assert from 'node:assert/strict'
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { DevChainClient } from '../../../src/chain/index.ts'
import { initBlake3, NodeKey } from '../../../src/crypto/index.ts'
import { type DevChainReady, type NodeReady, type NsnProcess, startNsn } from '../../../src/node/processes.ts'
import { waitFor } from '../../helpers/network.ts'
import { noStack, runNsn } from './_nsn.ts'

await initBlake3()

let dir = ''
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nsn-operator-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A TCP server holding a port on 127.0.0.1 (a "busy port"). */
async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return { port: (server.address() as { port: number }).port, server }
}

describe('commands without a chain', () => {
  test('keygen prints the PeerId, the registration public key and the author key; again needs --force', async () => {
    const out = join(dir, 'k1.key')
    const r = await runNsn(['keygen', '--out', out])
    assert.equal(r.code, 0, r.stderr)
    const [peer, pub, author] = r.stdout.trim().split('\n')
    const key = await NodeKey.load(out)
    assert.equal(peer, key.peerId.toString())
    assert.equal(pub, `publicKey 0x${Buffer.from(key.publicKeyProto).toString('hex')}`)
    assert.match(pub!, /^publicKey 0x08011220[0-9a-f]{64}$/)
    assert.equal(author, `authorKey ${key.publicKeyHex}`)
    const again = await runNsn(['keygen', '--out', out])
    assert.equal(again.code, 3)
    assert.equal(again.first, `nsn: ${out}: a key file already exists; --force overwrites it`)
    const forced = await runNsn(['keygen', '--out', out, '--force'])
    assert.equal(forced.code, 0, forced.stderr)
  })

  test('--version prints the package version', async () => {
    const r = await runNsn(['--version'])
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8'))
    assert.equal(r.code, 0)
    assert.equal(r.stdout.trim(), pkg.version)
  })

  test('devnet refuses --slots 0 and --directors 0', async () => {
    const slots = await runNsn(['devnet', '--slots', '0', '--data-dir', join(dir, 'dn0')])
    assert.equal(slots.code, 2)
    assert.equal(
      slots.first,
      "error: option '--slots <n>' argument '0' is invalid. must be a whole number >= 1",
    )
    const dirs = await runNsn(['devnet', '--directors', '0', '--data-dir', join(dir, 'dn0')])
    assert.equal(dirs.code, 2)
    assert.equal(
      dirs.first,
      "error: option '--directors <n>' argument '0' is invalid. must be a whole number >= 1",
    )
  })

  test('status against a chain URL says which address it wants', async () => {
    const r = await runNsn(['status', '--url', 'ws://127.0.0.1:9955'])
    assert.equal(r.code, 2)
    assert.equal(
      r.first,
      "nsn status: --url ws://127.0.0.1:9955: expected the node's http:// address (http.port, e.g. http://127.0.0.1:9100), not a chain URL",
    )
  })

  test('status against an HTTP server that is not a node: one line, no JSON parse error', async () => {
    const { createServer: http } = await import('node:http')
    const srv = http((_req, res) => res.writeHead(200).end(''))
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
    try {
      const port = (srv.address() as { port: number }).port
      const r = await runNsn(['status', '--url', `http://127.0.0.1:${port}`])
      assert.equal(r.code, 3)
      assert.match(r.first, /^nsn: http:\/\/127\.0\.0\.1:\d+\/api\/status is not an nsn node's HTTP API/)
      assert.ok(noStack(r))
    } finally {
      srv.close()
    }
  })

  test('a bootstrap address with a bad PeerId is refused naming p2p.bootstrap, also by --print-config', async () => {
    const r = await runNsn(['node', '--print-config', '--bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWbad0'])
    assert.equal(r.code, 2)
    assert.equal(
      r.first,
      'nsn: configuration: p2p.bootstrap: "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWbad0" has an invalid PeerId "12D3KooWbad0" (a base58btc PeerId such as 12D3KooW…)',
    )
    const noPeer = await runNsn(['node', '--print-config', '--bootstrap', '/ip4/127.0.0.1/tcp/1'])
    assert.equal(noPeer.code, 2)
    assert.equal(
      noPeer.first,
      'nsn: configuration: p2p.bootstrap: "/ip4/127.0.0.1/tcp/1" must end in /p2p/<PeerId>',
    )
  })

  test('devchain on a busy port: exit 3 and one line naming --listen', async () => {
    const { port, server } = await holdPort()
    try {
      const r = await runNsn([
        'devchain',
        '--listen',
        `127.0.0.1:${port}`,
        '--data-dir',
        join(dir, 'busy-chain'),
      ])
      assert.equal(r.code, 3, r.stderr)
      assert.equal(
        r.first,
        `nsn: --listen 127.0.0.1:${port}: address already in use; choose another port (port 0: any free port)`,
      )
      assert.ok(noStack(r), r.stderr)
    } finally {
      server.close()
    }
  })

  test('inspect stops reading at its size limit (endless input ends with exit 2)', async () => {
    const r = await runNsn(['inspect', 'recipe', '-'], { stdinFile: '/dev/zero', timeoutMs: 60_000 })
    assert.equal(r.code, 2)
    assert.match(
      r.first,
      /^nsn inspect: cannot read -: larger than \d+ bytes, the largest message a node accepts$/,
    )
  })
})

describe('a node against a dev chain', () => {
  let chain: NsnProcess<DevChainReady>
  const procs: NsnProcess<NodeReady>[] = []
  const node = (name: string, args: string[]) =>
    startNsn<NodeReady>(name, ['node', '--profile', 'devnet', ...args], {
      logFile: join(dir, `${name}.log`),
      env: { NSN_NODE_LOG_FORMAT: 'json' },
    }).then((p) => {
      procs.push(p)
      return p
    })
  const health = async (http: string) => {
    const res = await fetch(`${http}/health`, { signal: AbortSignal.timeout(3000) })
    return { status: res.status, body: (await res.json()) as { healthy: boolean; reasons: string[] } }
  }

  // Registration is admitted, not open: the key the /health test registers is on the allowlist.
  let d1Key = ''
  before(async () => {
    d1Key = join(dir, 'd1.key')
    const gen = await runNsn(['keygen', '--out', d1Key])
    assert.equal(gen.code, 0, gen.stderr)
    const publicKey = gen.stdout.split('\n')[1]!.replace(/^publicKey /, '')
    chain = await startNsn<DevChainReady>(
      'devchain',
      [
        'devchain',
        '--allow-register',
        publicKey,
        '--data-dir',
        join(dir, 'chain'),
        '--listen',
        '127.0.0.1:0',
        '--block-ms',
        '300',
        '--epoch-blocks',
        '40',
        '--lookahead-blocks',
        '10',
        '--blocks-per-slot',
        '4',
        '--directors',
        '1',
        '--quorum',
        '1',
        '--log-level',
        'warn',
      ],
      { logFile: join(dir, 'devchain.log') },
    )
  })
  after(async () => {
    for (const p of procs.reverse()) await p.stop()
    await chain.stop()
  })

  test('a configured node.keyFile that does not exist is refused (not created)', async () => {
    const keyFile = join(dir, 'missing.key')
    const r = await runNsn([
      'node',
      '--profile',
      'devnet',
      '--role',
      'viewer',
      '--data-dir',
      join(dir, 'nk'),
      '--chain-url',
      chain.ready.url,
      '--set',
      `node.keyFile=${keyFile}`,
    ])
    assert.equal(r.code, 3)
    assert.equal(
      r.first,
      `nsn: cannot start: node key: node.keyFile ${keyFile} does not exist; create it with \`nsn keygen --out ${keyFile}\`, or set node.createKeyFile=true`,
    )
  })

  test('a node creating its key logs it loudly with the PeerId; a second node on the folder is refused', async () => {
    const data = join(dir, 'v1')
    const v1 = await node('v1', ['--role', 'viewer', '--data-dir', data, '--chain-url', chain.ready.url])
    const log = await readFile(join(dir, 'v1.log'), 'utf8')
    assert.match(
      log,
      new RegExp(`created a NEW node key .*node\\.key: this node is a new identity ${v1.ready.peerId}`),
    )
    const second = await runNsn([
      'node',
      '--profile',
      'devnet',
      '--role',
      'viewer',
      '--data-dir',
      data,
      '--chain-url',
      chain.ready.url,
    ])
    assert.equal(second.code, 3)
    assert.equal(
      second.first,
      `nsn: cannot start: node.dataDir ${data}: in use by process ${v1.child.pid} (LOCK); stop that process first, or use another folder`,
    )
  })

  test("recipe submit refuses a past slot (checked on chain) and a node's own key", async () => {
    const v1 = procs.find((p) => p.name === 'v1')!
    const addr = v1.ready.listen.find((a) => !a.includes('/ws'))!
    const author = join(dir, 'author.key')
    assert.equal((await runNsn(['keygen', '--out', author])).code, 0)
    const past = await runNsn([
      'recipe',
      'submit',
      '--key',
      author,
      '--slot',
      '0',
      '--chain-url',
      chain.ready.url,
      '--bootstrap',
      addr,
    ])
    assert.equal(past.code, 3, past.stderr)
    assert.match(
      past.first,
      /^nsn: slot 0 has begun or passed \(the chain is in slot \d+\): every director drops it; use --slot \d+ or later$/,
    )
    const own = await runNsn([
      'recipe',
      'submit',
      '--key',
      join(dir, 'v1', 'node.key'),
      '--slot',
      '999',
      '--bootstrap',
      addr,
    ])
    assert.equal(own.code, 2, own.stderr)
    assert.equal(
      own.first,
      `nsn recipe submit: --key is the node key of ${addr}: a node cannot dial itself, so the recipe would reach no peer; sign with a separate author key (nsn keygen --out author.key) listed in lane0.recipeAuthors, or publish through another node`,
    )
  })

  test('a busy p2p port names p2p.listen, without libp2p advice about options nsn does not have', async () => {
    const { port, server } = await holdPort()
    const keyFile = join(dir, 'busy-p2p.key')
    assert.equal((await runNsn(['keygen', '--out', keyFile])).code, 0)
    try {
      const r = await runNsn([
        'node',
        '--profile',
        'devnet',
        '--role',
        'viewer',
        '--data-dir',
        join(dir, 'busy-p2p'),
        '--chain-url',
        chain.ready.url,
        '--set',
        `p2p.listen=/ip4/127.0.0.1/tcp/${port}`,
        '--set',
        `node.keyFile=${keyFile}`,
      ])
      assert.equal(r.code, 3, r.stderr)
      assert.equal(
        r.first,
        `nsn: cannot start: p2p.listen: an address is already in use (/ip4/127.0.0.1/tcp/${port}); choose free ports in p2p.listen (--listen)`,
      )
      assert.doesNotMatch(r.stderr, /transportManager/)
    } finally {
      server.close()
    }
  })

  test('/health: an unregistered director is unhealthy until `nsn register`', async () => {
    const keyFile = d1Key
    const d1 = await node('d1', [
      '--data-dir',
      join(dir, 'd1'),
      '--chain-url',
      chain.ready.url,
      '--set',
      `node.keyFile=${keyFile}`,
    ])
    await waitFor(
      'an unregistered director reported as unhealthy',
      async () => (await health(d1.ready.http)).body.reasons.some((r) => r.startsWith('registration: ')),
      { timeoutMs: 30_000 },
    )
    const h = await health(d1.ready.http)
    assert.equal(h.status, 503)
    const reg = await runNsn([
      'register',
      '--key',
      keyFile,
      '--chain-url',
      chain.ready.url,
      '--region',
      'eu-west',
    ])
    assert.equal(reg.code, 0, reg.stderr)
    const line = JSON.parse(reg.stdout) as { event: string; peerId: string; role: string; region: string }
    assert.deepEqual(
      { event: line.event, peerId: line.peerId, role: line.role, region: line.region },
      { event: 'registered', peerId: d1.ready.peerId, role: 'director', region: 'eu-west' },
    )
    // Registering again is a no-op, not an error.
    assert.equal(
      (await runNsn(['register', '--key', keyFile, '--chain-url', chain.ready.url, '--region', 'eu-west']))
        .code,
      0,
    )
    let seen: string[] = []
    await waitFor(
      'registration to clear from /health',
      async () => {
        seen = (await health(d1.ready.http)).body.reasons
        return !seen.some((r) => r.startsWith('registration: '))
      },
      { timeoutMs: 30_000, seen: () => seen.join('; ') },
    )
    // A viewer bootstrapped to it gives both a peer: the director is then healthy.
    await node('v2', [
      '--role',
      'viewer',
      '--data-dir',
      join(dir, 'v2'),
      '--chain-url',
      chain.ready.url,
      '--bootstrap',
      `${d1.ready.listen.find((a) => !a.includes('/ws'))}`,
    ])
    await waitFor(
      'the registered director with a peer to be healthy',
      async () => {
        const r = await health(d1.ready.http)
        seen = r.body.reasons
        return r.status === 200
      },
      {
        timeoutMs: 30_000,
        seen: () => seen.join('; '),
      },
    )

    // `nsn doctor` on this running, healthy node passes every check.
    const doc = await runNsn([
      'doctor',
      '--profile',
      'devnet',
      '--data-dir',
      join(dir, 'd1'),
      '--chain-url',
      chain.ready.url,
      '--set',
      `node.keyFile=${keyFile}`,
      '--http-port',
      new URL(d1.ready.http).port,
    ])
    assert.equal(doc.code, 0, doc.stdout + doc.stderr)
    assert.match(doc.stdout, /^ok {3}registration: registered as director/m)
    assert.match(doc.stdout, /^ok {3}clock: within 2000 ms of the chain's block timestamps/m)
    assert.match(doc.stdout, /^all checks passed$/m)
  })

  test("recipe submit warns when its key is not an elected director of the slot's epoch", async () => {
    const v1 = procs.find((p) => p.name === 'v1')!
    const addr = v1.ready.listen.find((a) => !a.includes('/ws'))!
    const author = join(dir, 'author-warn.key')
    assert.equal((await runNsn(['keygen', '--out', author])).code, 0)
    const key = await NodeKey.load(author)
    const client = new DevChainClient({ url: chain.ready.url })
    try {
      // The last slot of the next epoch, once the chain has elected it (d1, registered above): 12 s
      // or more ahead, so the command's start-up does not outrun it.
      const { slot, epoch } = await waitFor(
        'the next epoch elected',
        async () => {
          const info = await client.info()
          const per = BigInt(info.slotsPerEpoch)
          const next = info.bestBlock / BigInt(info.blocksPerSlot) / per + 1n
          const elected = await client.electedDirectors(next)
          return elected.length > 0 ? { slot: next * per + per - 1n, epoch: next } : null
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      )
      const r = await runNsn([
        'recipe',
        'submit',
        '--key',
        author,
        '--slot',
        String(slot),
        '--chain-url',
        chain.ready.url,
        '--bootstrap',
        addr,
      ])
      assert.ok(
        r.stderr.includes(
          `nsn recipe submit: warning: ${key.peerId} is not an elected director of epoch ${epoch}; directors accept it only if their lane0.recipeAuthors lists ${key.publicKeyHex}`,
        ),
        r.stderr,
      )
      assert.ok(noStack(r), r.stderr)
    } finally {
      await client.close()
    }
  })

  test('/health: the chain down makes any node unhealthy', async () => {
    const v2 = procs.find((p) => p.name === 'v2')!
    let seen: string[] = []
    await chain.kill()
    await waitFor(
      'the viewer unhealthy with the chain down',
      async () => {
        const r = await health(v2.ready.http)
        seen = r.body.reasons
        return r.status === 503 && seen.some((x) => x.startsWith('chain: no chain block for'))
      },
      {
        timeoutMs: 30_000,
        seen: () => seen.join('; '),
      },
    )
  })
})

describe('nsn doctor on broken setups', () => {
  test('each problem is reported with its fix, exit 1', async () => {
    const base = join(dir, 'doc')
    const keyFile = join(base, 'node.key')
    // No key, no chain: both reported, each with its fix.
    const r = await runNsn([
      'doctor',
      '--data-dir',
      base,
      '--chain-url',
      'ws://127.0.0.1:1',
      '--set',
      `node.keyFile=${keyFile}`,
      '--http-port',
      '0',
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
    ])
    assert.equal(r.code, 1, r.stdout)
    assert.match(
      r.stdout,
      new RegExp(`^FAIL key file: ${keyFile} does not exist\\n {5}fix: nsn keygen --out ${keyFile}`, 'm'),
    )
    assert.match(
      r.stdout,
      /^FAIL chain: ws:\/\/127\.0\.0\.1:1: .*\n {5}fix: start the chain \(nsn devchain\) or fix chain\.url$/m,
    )
    assert.match(r.stdout, /^ok {3}sidecar: embedded; plugins in .*: (.*, )?vortex-lane0(, .*)?$/m)

    // A readable key: chmod 600.
    await runNsn(['keygen', '--out', keyFile])
    await chmod(keyFile, 0o644)
    const loose = await runNsn([
      'doctor',
      '--data-dir',
      base,
      '--chain-url',
      'ws://127.0.0.1:1',
      '--set',
      `node.keyFile=${keyFile}`,
    ])
    assert.match(loose.stdout, new RegExp(`^FAIL key file: .*\\n {5}fix: chmod 600 ${keyFile}$`, 'm'))

    // Busy ports.
    const { port, server } = await holdPort()
    try {
      const busy = await runNsn([
        'doctor',
        '--data-dir',
        base,
        '--chain-url',
        'ws://127.0.0.1:1',
        '--http-port',
        String(port),
      ])
      assert.match(
        busy.stdout,
        new RegExp(`^FAIL ports: in use by another process: http\\.port 127\\.0\\.0\\.1:${port}`, 'm'),
      )
    } finally {
      server.close()
    }

    // A bad configuration.
    const bad = await runNsn(['doctor', '--set', 'lane0.bftTimeout=1'])
    assert.equal(bad.code, 1)
    assert.match(bad.stdout, /^FAIL configuration: lane0\.bftTimeout: unknown configuration key$/m)
  })
})
