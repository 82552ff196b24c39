// The Substrate client live, against chopsticks executing a real runtime (asset hub rococo genesis,
// runtime statemine 900, offline, one block per extrinsic): transport, metadata, finalized blocks,
// the start-up runtime check, Ed25519 signing with the node's own key, nonces under concurrency,
// mortality, funding errors, finality, and a restart of the chain under a running client. The NSN
// pallets are not in this runtime: the NSN call path is exercised with System.remark_with_event.
// Skipped with one line when test/substrate's own packages are not installed.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Binary } from 'polkadot-api'
import {
  accountIdFromProtoKey,
  ChainClientError,
  type ChainEvent,
  SubstrateChainClient,
} from '../../src/chain/index.ts'
import { initBlake3, NodeKey } from '../../src/crypto/index.ts'
import { Chopsticks, chopsticksInstalled, sqliteBuilt } from './chopsticks.ts'

const installed = chopsticksInstalled()
if (!installed)
  console.log('# substrate live tests skipped: run `npm ci --prefix test/substrate` to install chopsticks')

async function until<T>(
  what: string,
  ms: number,
  probe: () => T | Promise<T>,
  ok: (v: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + ms
  let last: T | undefined
  for (let i = 0; i < 100_000; i++) {
    last = await probe()
    if (ok(last)) return last
    if (Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(
    `${what}: not within ${ms} ms; last seen: ${JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? `${v}` : v))}`,
  )
}

describe('Substrate client on a real runtime (chopsticks)', {
  skip: installed ? false : 'chopsticks not installed',
}, () => {
  let dir = ''
  let chain: Chopsticks
  let client: SubstrateChainClient
  let funded: NodeKey
  const t0 = Date.now()

  before(async () => {
    await initBlake3()
    dir = await mkdtemp(join(tmpdir(), 'nsn-chopsticks-'))
    chain = await Chopsticks.start(dir)
    client = new SubstrateChainClient({ url: chain.url, submitTimeoutMs: 90_000 })
    funded = await NodeKey.fromSeed(new Uint8Array(32).fill(7))
    // Its genesis funds no dev account: give the node key's account a balance.
    await chain.rpc('dev_setStorage', [
      {
        System: {
          Account: [
            [
              [accountIdFromProtoKey(funded.publicKeyProto)],
              { providers: 1, data: { free: `${10n ** 15n}` } },
            ],
          ],
        },
      },
    ])
  })
  after(async () => {
    await client?.close()
    await chain?.stop()
    await rm(dir, { recursive: true, force: true })
    console.log(`# substrate live suite: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  })

  test('refuses at start a runtime without the NSN pallets, naming what is missing', async () => {
    const err = await client.info().then(
      () => null,
      (e: unknown) => e,
    )
    assert.ok(err instanceof ChainClientError, String(err))
    assert.equal(err.code, 'INCOMPATIBLE_RUNTIME')
    assert.match(err.message, /pallet NsnDirector/)
    assert.match(err.message, /pallet NsnStake/)
    // The same check passes for what this runtime has, and names a single missing call.
    await client.checkRuntime({
      System: {
        calls: ['remark_with_event'],
        storage: ['Account'],
        events: ['Remarked'],
        constants: ['SS58Prefix'],
      },
    })
    await assert.rejects(
      client.checkRuntime({
        System: { calls: ['submit_bft_result'], storage: [], events: [], constants: [] },
      }),
      /System\.submit_bft_result/,
    )
  })

  test('connects and follows finalized blocks in order (metadata: read by the check above)', async () => {
    const seen: bigint[] = []
    const stop = client.subscribe((e: ChainEvent) => {
      if (e.type === 'NewBlock') seen.push(e.block)
    })
    try {
      const start = await until(
        'the first finalized block',
        30_000,
        () => seen.length,
        (n) => n > 0,
      )
      assert.ok(start > 0)
      for (let i = 0; i < 2; i++) await chain.rpc('dev_newBlock', [])
      await until(
        'two more finalized blocks',
        60_000,
        () => seen.length,
        (n) => n >= 3,
      )
      for (let i = 1; i < seen.length; i++) assert.equal(seen[i], seen[i - 1]! + 1n, `in order: ${seen}`)
    } finally {
      stop()
    }
  })

  test('an unfunded account gets a clear error', async () => {
    const poor = await NodeKey.fromSeed(new Uint8Array(32).fill(9))
    const err = await client
      .sendCall('System', 'remark_with_event', { remark: Binary.fromText('x') }, poor)
      .then(
        () => null,
        (e: unknown) => e,
      )
    assert.ok(err instanceof ChainClientError, String(err))
    assert.equal(err.code, 'INSUFFICIENT_FUNDS')
    assert.match(err.message, new RegExp(accountIdFromProtoKey(poor.publicKeyProto)))
  })

  test('concurrent submissions signed with the node key get distinct nonces, are mortal and reach finality', async () => {
    const results = await Promise.all(
      [0, 1, 2].map((i) =>
        client.sendCall('System', 'remark_with_event', { remark: Binary.fromText(`nsn ${i}`) }, funded),
      ),
    )
    const nonces = results.map((r) => r.nonce).sort((a, b) => a - b)
    assert.deepEqual(nonces, [nonces[0]!, nonces[0]! + 1, nonces[0]! + 2])
    for (const r of results) {
      assert.equal(r.ok, true, JSON.stringify(r.dispatchError))
      const remarked = r.events.find((e) => e.type === 'System' && e.value.type === 'Remarked')
      assert.ok(remarked, 'System.Remarked event')
      // Events decode addresses with the runtime's own SS58 prefix (2 on this Kusama-family runtime).
      const sender = (remarked.value.value as { sender: string }).sender
      assert.equal(sender, accountIdFromProtoKey(funded.publicKeyProto, 2), 'sender is the node key account')
      // The extrinsic in its block: signed by MultiSigner::Ed25519 and mortal.
      const block = await chain.rpc<{ block: { extrinsics: string[] } }>('chain_getBlock', [r.block.hash])
      const ext = block.block.extrinsics
        .map(hexBytes)
        .find((x) => x[0] !== undefined && payload(x)[0] === 0x84)
      assert.ok(ext, 'a signed extrinsic in the block')
      const body = payload(ext)
      assert.equal(body[1], 0x00, 'MultiAddress::Id')
      assert.deepEqual([...body.subarray(2, 34)], [...funded.publicKey], 'the node key is the account')
      assert.equal(body[34], 0x00, 'MultiSignature::Ed25519')
      assert.notEqual(body[99], 0x00, 'mortal era (0x00 would be immortal)')
    }
  })

  test('chopsticks restarted under a running client: reconnects, no finalized block missed or twice', {
    skip: sqliteBuilt()
      ? false
      : 'sqlite3 of test/substrate not built (its install script): chopsticks cannot resume',
  }, async () => {
    const seen: bigint[] = []
    const stop = client.subscribe((e: ChainEvent) => {
      if (e.type === 'NewBlock') seen.push(e.block)
    })
    try {
      await chain.rpc('dev_newBlock', [])
      await until(
        'a block before the restart',
        60_000,
        () => seen.length,
        (n) => n >= 1,
      )
      const before = seen.at(-1)!
      await chain.restart()
      await chain.rpc('dev_newBlock', [])
      await chain.rpc('dev_newBlock', [])
      await until(
        'blocks after the restart',
        90_000,
        () => seen.at(-1) ?? 0n,
        (n) => n >= before + 2n,
      )
      for (let i = 1; i < seen.length; i++)
        assert.equal(seen[i], seen[i - 1]! + 1n, `no gap, no repeat: ${seen}`)
      // And a signed call works again on the new connection.
      const r = await client.sendCall(
        'System',
        'remark_with_event',
        { remark: Binary.fromText('after') },
        funded,
      )
      assert.equal(r.ok, true)
    } finally {
      stop()
    }
  })
})

function hexBytes(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h.replace(/^0x/, ''), 'hex'))
}

/** An extrinsic without its compact length prefix. */
function payload(x: Uint8Array): Uint8Array {
  const mode = x[0]! & 3
  return x.subarray(mode === 0 ? 1 : mode === 1 ? 2 : 4)
}
