// The dev chain server started in-process (manual blocks) with DevChainClient on 127.0.0.1:
// registration and PeerId binding through the ChainClient seam, idempotent retries, subscriptions
// (unsubscribe, pruned history), a reset chain detected by the client, loopback-only by default.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Registry } from 'prom-client'
import {
  ChainClientError,
  type ChainEvent,
  createChainClientMetrics,
  createDevChainMetrics,
  DevChainClient,
  DevChainError,
  DevChainServer,
  NSN_UNIT,
  peerBindingBytes,
} from '../../../src/chain/index.ts'
import { initBlake3, type NodeKey } from '../../../src/crypto/index.ts'
import { bytesToHex } from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { DIRECTOR_STAKE, genesisDirectors } from '../../unit/chain/chain-fixtures.ts'
import { waitFor } from './devchain-process.ts'

await initBlake3()

let dir: string
let keys: NodeKey[]
let others: NodeKey[]
const servers: DevChainServer[] = []
const clients: DevChainClient[] = []

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nsn-devchain-server-'))
  keys = await testKeys(5)
  others = await testKeys(4, 40)
})

after(async () => {
  await Promise.all(clients.map((c) => c.close()))
  for (const s of servers) await s.stop()
  await rm(dir, { recursive: true, force: true })
})

async function start(
  name: string,
  extra: Partial<Parameters<typeof DevChainServer.start>[0]> = {},
  register?: Registry,
) {
  const s = await DevChainServer.start(
    {
      dataDir: join(dir, name),
      port: 0,
      blockMs: 0,
      params: {
        seed: name,
        epochLengthBlocks: 8,
        lookaheadBlocks: 2,
        blocksPerSlot: 2,
        genesisAccounts: genesisDirectors(keys),
      },
      // The keys these tests register are admitted by the operator (registration is not open).
      registrationAllowlist: others.map((k) => bytesToHex(k.publicKeyProto)),
      ...extra,
    },
    register ? { metrics: createDevChainMetrics(register), register } : {},
  )
  servers.push(s)
  return s
}

function client(url: string, extra: Partial<ConstructorParameters<typeof DevChainClient>[0]> = {}) {
  const c = new DevChainClient({
    url,
    requestTimeoutMs: 3000,
    reconnectInitialMs: 20,
    reconnectMaxMs: 100,
    ...extra,
  })
  clients.push(c)
  return c
}

describe('registration through the ChainClient seam', () => {
  it('registers, is idempotent, and enforces one account per PeerId and one PeerId per account', async () => {
    const s = await start('reg')
    const c = client(s.url)
    const [node, acctA, acctB, node2] = others as [NodeKey, NodeKey, NodeKey, NodeKey]
    const genesis = await c.genesisHash()
    const reg = {
      publicKey: node.publicKeyProto,
      role: 'director' as const,
      region: 'apac',
      stake: DIRECTOR_STAKE,
    }
    await expectRejectedWithCode(
      c.register({ ...reg, stake: NSN_UNIT }, node),
      ChainClientError,
      'STAKE_TOO_LOW',
    )
    await expectRejectedWithCode(
      c.register({ ...reg, region: 'moon' }, node),
      ChainClientError,
      'INVALID_PARAMS',
    )
    await c.register(reg, node)
    await c.register(reg, node) // the same registration again: nothing to do
    assert.equal((await c.getAccount({ account: node.publicKeyProto }))?.nonce, 1)
    await c.register({ ...reg, stake: 2n * DIRECTOR_STAKE }, node)
    assert.equal((await c.getAccount({ peer: node.publicKeyProto }))?.stake, 2n * DIRECTOR_STAKE)

    // node2 bound to account A (with node2's consent); account B cannot take it, A cannot move.
    const bindTo = (acct: NodeKey) => ({
      publicKey: node2.publicKeyProto,
      account: acct.publicKeyProto,
      peerBinding: node2.sign(peerBindingBytes(genesis, acct.publicKeyProto)),
      role: 'validator' as const,
      region: 'mena',
      stake: 10n * NSN_UNIT,
    })
    await expectRejectedWithCode(
      c.register({ ...bindTo(acctA), peerBinding: undefined }, acctA),
      ChainClientError,
      'BAD_PEER_BINDING',
    )
    await c.register(bindTo(acctA), acctA)
    await expectRejectedWithCode(c.register(bindTo(acctB), acctB), ChainClientError, 'PEER_TAKEN')
    await expectRejectedWithCode(
      c.register({ ...reg, publicKey: node2.publicKeyProto }, node2),
      ChainClientError,
      'PEER_TAKEN',
    )
    await expectRejectedWithCode(
      c.register(
        {
          ...bindTo(acctA),
          publicKey: node.publicKeyProto,
          peerBinding: node.sign(peerBindingBytes(genesis, acctA.publicKeyProto)),
        },
        acctA,
      ),
      ChainClientError,
      'ACCOUNT_BOUND',
    )
    // A registered director joins the next election.
    for (let i = 0; i < 8; i++) await s.produceBlock()
    assert.equal((await c.electedDirectors(1n)).length, 5)
  })
})

describe('subscriptions', () => {
  it('stops delivering after unsubscribe, and refuses history that is no longer kept', async () => {
    const s = await start('subs', { eventRetentionBlocks: 5 })
    const c = client(s.url)
    const seen: ChainEvent[] = []
    const unsubscribe = c.subscribe((e) => seen.push(e))
    await c.connect()
    await waitFor(() => c.connected, 'connected', 3000)
    // The subscription is registered on the server before the next block.
    await new Promise((r) => setTimeout(r, 50))
    await s.produceBlock()
    await waitFor(() => seen.some((e) => e.type === 'NewBlock' && e.block === 1n), 'block 1')
    unsubscribe()
    await new Promise((r) => setTimeout(r, 50))
    await s.produceBlock()
    await new Promise((r) => setTimeout(r, 100))
    assert.ok(!seen.some((e) => e.block === 2n), 'nothing after unsubscribe')
    for (let i = 0; i < 10; i++) await s.produceBlock()
    // History before the retention window: the client logs it and resumes from the oldest kept.
    const late: ChainEvent[] = []
    c.subscribe((e) => late.push(e), 0n)
    await waitFor(() => late.length > 0, 'events from the oldest kept block')
    assert.ok(
      late[0]!.block >= s.chain.oldestEventBlock && late[0]!.block > 0n,
      `first block ${late[0]!.block}`,
    )
  })
})

describe('client safety', () => {
  it('refuses a chain whose genesis changed (reset behind the same address)', async () => {
    const s = await start('genesis')
    const c = client(s.url)
    await c.info()
    const port = s.port
    await s.stop()
    servers.splice(servers.indexOf(s), 1)
    const reset = await start('genesis', { port, reset: true, params: { seed: 'something-else' } })
    assert.equal(reset.port, port)
    await waitFor(
      () =>
        c.info().then(
          () => false,
          (err) => err instanceof ChainClientError && err.code === 'GENESIS_CHANGED',
        ),
      'GENESIS_CHANGED',
      5000,
      50,
    )
    const o = await c.submitBftResult(
      0n,
      { epoch: 0n, slot: 0n, recipe_hash: new Uint8Array(32), members: [], commits: [] },
      keys[0]!,
    )
    assert.equal(o.status, 'unknown')
  })

  it('serves loopback only unless allowed, and exposes nsn_chain_* metrics', async () => {
    await expectRejectedWithCode(start('remote', { host: '0.0.0.0' }), DevChainError, 'REMOTE_NOT_ALLOWED')
    const register = new Registry()
    const s = await start('metrics', {}, register)
    const c = client(s.url, { metrics: createChainClientMetrics(register) })
    await c.info()
    await s.produceBlock()
    const res = await fetch(`http://127.0.0.1:${s.port}/metrics`)
    const text = await res.text()
    assert.match(text, /nsn_chain_best_block 1/)
    assert.match(text, /nsn_chain_wal_sync_seconds_count [1-9]/)
    assert.match(text, /nsn_chain_client_connected 1/)
    const health = (await (await fetch(`http://127.0.0.1:${s.port}/health`)).json()) as { bestBlock: string }
    assert.equal(health.bestBlock, '1')
  })

  it('a client with nothing listening times out instead of hanging, and close() ends pending calls', async () => {
    const c = client('ws://127.0.0.1:9', { requestTimeoutMs: 300 })
    await expectRejectedWithCode(c.info(), ChainClientError, 'TIMEOUT')
    const pending = c.info()
    await c.close()
    await expectRejectedWithCode(pending, ChainClientError, 'CLOSED')
  })
})
