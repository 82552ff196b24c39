// A DevChainClient subscribed to the real dev chain process keeps an exact event stream while the
// server is killed (-9) and restarted on the same port: every block's events once, in order, none
// missing (the client resumes from the last (block, index) it delivered).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type ChainEvent, DevChainClient } from '../../../src/chain/index.ts'
import { initBlake3, type NodeKey } from '../../../src/crypto/index.ts'
import { hexToBytes } from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { certificateFor, genesisDirectors } from '../../unit/chain/chain-fixtures.ts'
import { killAll, startDevchain, stopDevchain, waitFor, writeGenesis } from './devchain-process.ts'

await initBlake3()

let dir: string
let keys: NodeKey[]
let client: DevChainClient | null = null

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nsn-devchain-reconnect-'))
  keys = await testKeys(5)
})

after(async () => {
  await client?.close()
  await killAll()
  await rm(dir, { recursive: true, force: true })
})

/** Every block 0..last exactly once, NewBlock last in each, indices 0..n in order. */
function assertExactStream(events: ChainEvent[], indices: number[]): bigint {
  let block = 0n
  let expectIndex = 0
  for (const [i, e] of events.entries()) {
    assert.equal(e.block, block, `event ${i} (${e.type}): block ${e.block}, expected ${block}`)
    assert.equal(indices[i], expectIndex, `event ${i}: index`)
    expectIndex++
    if (e.type === 'NewBlock') {
      block++
      expectIndex = 0
    }
  }
  return block - 1n
}

describe('dev chain client across server restarts', () => {
  it('misses no event and duplicates none when the server is killed and restarted', async () => {
    const genesisFile = await writeGenesis(join(dir, 'genesis.json'), genesisDirectors(keys))
    const args = [
      '--data-dir',
      join(dir, 'data'),
      '--block-ms',
      '20',
      '--epoch-blocks',
      '10',
      '--lookahead-blocks',
      '3',
      '--blocks-per-slot',
      '2',
      '--challenge-blocks',
      '4',
      '--genesis',
      genesisFile,
    ]
    let server = await startDevchain([...args, '--listen', '127.0.0.1:0'])
    const port = server.port
    const genesis = hexToBytes(server.genesisHash)
    const c = new DevChainClient({ url: server.url, reconnectInitialMs: 20, reconnectMaxMs: 200 })
    client = c
    const events: ChainEvent[] = []
    const indices: number[] = []
    // The index of each event in its block is not part of ChainEvent: recompute it from the stream.
    let lastBlock = -1n
    let idx = 0
    c.subscribe((e) => {
      if (e.block !== lastBlock) {
        lastBlock = e.block
        idx = 0
      }
      events.push(e)
      indices.push(idx++)
    }, 0n)

    for (let round = 0; round < 3; round++) {
      const target = (events.at(-1)?.block ?? 0n) + 15n
      await waitFor(
        () => events.some((e) => e.type === 'NewBlock' && e.block >= target),
        `block ${target}`,
        15_000,
      )
      // Some results in flight too, so that the stream has submissions and finality in it.
      const info = await c.info()
      const slot = info.bestBlock / 2n
      const cert = certificateFor(genesis, slot / 5n, slot, keys.slice(0, 3)).certificate
      assert.equal((await c.submitBftResult(slot, cert, keys[0]!)).status, 'accepted')
      server.proc.kill('SIGKILL')
      await server.exited
      server = await startDevchain([...args, '--listen', `127.0.0.1:${port}`])
    }
    const before = events.at(-1)!.block
    await waitFor(
      () => events.some((e) => e.type === 'NewBlock' && e.block >= before + 25n),
      'blocks after the last restart',
      15_000,
    )
    const last = assertExactStream(events, indices)
    assert.ok(last > 45n, `stream reached block ${last}`)
    // Every epoch boundary and every submitted result is in the stream, once.
    const started = events
      .filter((e) => e.type === 'EpochStarted')
      .map((e) => e.type === 'EpochStarted' && e.epoch)
    assert.deepEqual(
      started,
      Array.from({ length: started.length }, (_, i) => BigInt(i)),
    )
    assert.ok(started.length >= 5)
    const submitted = events.filter((e) => e.type === 'BftResultSubmitted')
    assert.equal(submitted.length, 3)
    assert.equal(new Set(submitted.map((e) => e.type === 'BftResultSubmitted' && e.slot)).size, 3)
    assert.ok(events.filter((e) => e.type === 'BftResultFinalized').length >= 2)
    await stopDevchain(server)
  })
})
