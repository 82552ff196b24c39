// The config schema: defaults, precedence (profile < file < env < flags), and errors naming the key.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { LANE0_DEFAULTS } from '../../../src/lane0/index.ts'
import { CONFIG_DEFAULTS, ConfigError, configKeys, envName, loadConfig } from '../../../src/node/config.ts'
import { expectRejectedWithCode } from '../../helpers.ts'

const dir = await mkdtemp(join(tmpdir(), 'nsn-config-'))
after(() => rm(dir, { recursive: true, force: true }))

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name)
  await writeFile(p, text)
  return p
}

describe('config', () => {
  it('defaults are the protocol defaults, read from the components', async () => {
    const c = await loadConfig()
    assert.equal(c.lane0.bftTimeoutMs, 5000)
    assert.equal(c.lane0.quorum, 0, 'read from the chain')
    assert.equal(c.lane0.directors, 5)
    assert.equal(c.lane0.similarityThreshold, 0.85)
    assert.equal(c.lane0.vortexTimeoutMs, 45_000)
    assert.equal(c.lane0.vortexRetries, 1)
    assert.equal(c.lane0.chunkSize, 1024 * 1024)
    assert.equal(c.lane0.onDeckLeadMs, 120_000)
    assert.equal(c.lane0.bftTimeoutMs, LANE0_DEFAULTS.bftTimeoutMs)
    assert.equal(c.http.host, '127.0.0.1')
  })

  it('precedence: profile < file < env < flags', async () => {
    const f = await file(
      'a.yaml',
      'lane0:\n  bftTimeoutMs: 6000\n  publishGraceMs: 100\nnode:\n  role: viewer\n',
    )
    const c = await loadConfig({
      profile: { lane0: { bftTimeoutMs: 1, publishGraceMs: 1, submitGraceMs: 7 } },
      file: f,
      env: { NSN_LANE0_BFT_TIMEOUT_MS: '7000', PATH: '/bin' },
      set: [
        'lane0.bftTimeoutMs=8000',
        'p2p.bootstrap=/ip4/127.0.0.1/tcp/1/p2p/12D3KooWNL8TWgy2tE1isfEHJqU4Ws6GryDdAjd2HZP3oFmh3ckb,/ip4/127.0.0.1/tcp/2/p2p/12D3KooWKfczdL3nBTBUCK9Npwv6aUiaj7pi3GvA9hwXM7xk5EFK',
      ],
    })
    assert.equal(c.lane0.bftTimeoutMs, 8000, 'flag wins')
    assert.equal(c.lane0.publishGraceMs, 100, 'file beats profile')
    assert.equal(c.lane0.submitGraceMs, 7, 'profile beats default')
    assert.equal(c.node.role, 'viewer')
    assert.deepEqual(c.p2p.bootstrap, [
      '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWNL8TWgy2tE1isfEHJqU4Ws6GryDdAjd2HZP3oFmh3ckb',
      '/ip4/127.0.0.1/tcp/2/p2p/12D3KooWKfczdL3nBTBUCK9Npwv6aUiaj7pi3GvA9hwXM7xk5EFK',
    ])
    const e = await loadConfig({ env: { NSN_LANE0_BFT_TIMEOUT_MS: '7000' } })
    assert.equal(e.lane0.bftTimeoutMs, 7000, 'env beats default')
  })

  it('unknown keys are errors naming the key, from every source', async () => {
    const e1 = await expectRejectedWithCode(
      loadConfig({ file: await file('b.yaml', 'lane0:\n  bftTimeout: 1\n') }),
      ConfigError,
      'UNKNOWN_KEY',
    )
    assert.equal(e1.key, 'lane0.bftTimeout')
    const e2 = await expectRejectedWithCode(
      loadConfig({ file: await file('c.yaml', 'lane9:\n  x: 1\n') }),
      ConfigError,
      'UNKNOWN_KEY',
    )
    assert.equal(e2.key, 'lane9')
    const e3 = await expectRejectedWithCode(
      loadConfig({ env: { NSN_LANE0_NOPE: '1' } }),
      ConfigError,
      'UNKNOWN_KEY',
    )
    assert.equal(e3.key, 'NSN_LANE0_NOPE')
    const e4 = await expectRejectedWithCode(loadConfig({ set: ['http.nope=1'] }), ConfigError, 'UNKNOWN_KEY')
    assert.equal(e4.key, 'http.nope')
  })

  it('bad values are errors naming the key and the bound', async () => {
    const t = await expectRejectedWithCode(
      loadConfig({ set: ['lane0.bftTimeoutMs=soon'] }),
      ConfigError,
      'INVALID_TYPE',
    )
    assert.equal(t.key, 'lane0.bftTimeoutMs')
    const en = await expectRejectedWithCode(
      loadConfig({ set: ['node.role=king'] }),
      ConfigError,
      'INVALID_VALUE',
    )
    assert.equal(en.key, 'node.role')
    const q = await expectRejectedWithCode(
      loadConfig({ set: ['lane0.quorum=9'] }),
      ConfigError,
      'OUT_OF_BOUNDS',
    )
    assert.equal(q.key, 'lane0.quorum')
    assert.match(q.message, /0\.\.5/)
    const cs = await expectRejectedWithCode(
      loadConfig({ set: ['lane0.chunkSize=8388608'] }),
      ConfigError,
      'OUT_OF_BOUNDS',
    )
    assert.equal(cs.key, 'lane0.chunkSize')
    const y = await expectRejectedWithCode(
      loadConfig({ file: await file('d.yaml', 'lane0: [1,\n') }),
      ConfigError,
      'PARSE',
    )
    assert.equal(y.code, 'PARSE')
    const typ = await expectRejectedWithCode(
      loadConfig({ file: await file('e.yaml', 'p2p:\n  listen: 5\n') }),
      ConfigError,
      'INVALID_TYPE',
    )
    assert.equal(typ.key, 'p2p.listen')
  })

  it('every key has an environment name and a default', () => {
    const keys = configKeys()
    assert.ok(keys.length > 40)
    assert.equal(envName('lane0.bftTimeoutMs'), 'NSN_LANE0_BFT_TIMEOUT_MS')
    assert.equal(envName('p2p.meshDlo'), 'NSN_P2P_MESH_DLO')
    for (const k of keys) assert.notEqual(k.default, undefined, k.key)
    assert.deepEqual(Object.keys(CONFIG_DEFAULTS), [
      'node',
      'http',
      'p2p',
      'chain',
      'sidecar',
      'vortex',
      'archive',
      'slotFetch',
      'lane0',
      'recipes',
    ])
  })
})

describe('docs/config.md', () => {
  it('matches the schema (regenerate with `node --import tsx scripts/gen-config-doc.ts`)', async () => {
    const { readFile } = await import('node:fs/promises')
    const { renderConfigDoc } = await import('../../../src/node/config-doc.ts')
    const onDisk = await readFile(new URL('../../../docs/config.md', import.meta.url), 'utf8')
    assert.equal(onDisk, renderConfigDoc())
  })
})
