// Elections of the real dev chain process: the same seed and genesis elect the same directors in
// every epoch (two processes), another seed elects differently, and over many short epochs the
// high-reputation candidates are elected more often (the statistics proper are in the unit test).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DevChainClient } from '../../../src/chain/index.ts'
import { initBlake3, type NodeKey } from '../../../src/crypto/index.ts'
import { bytesToHex } from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { genesisDirectors } from '../../unit/chain/chain-fixtures.ts'
import {
  type DevchainProcess,
  killAll,
  startDevchain,
  stopDevchain,
  waitFor,
  writeGenesis,
} from './devchain-process.ts'

await initBlake3()

const EPOCHS = 40
let dir: string
let keys: NodeKey[]
const procs: DevchainProcess[] = []
const clients: DevChainClient[] = []

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nsn-devchain-elect-'))
  keys = await testKeys(10)
  // Reputations 0 for the first five, 9999 (isqrt 100) for the last five; seven regions.
  const genesisFile = await writeGenesis(
    join(dir, 'genesis.json'),
    genesisDirectors(keys, { reputations: keys.map((_, i) => (i < 5 ? 0n : 9_999n)) }),
  )
  const common = [
    '--listen',
    '127.0.0.1:0',
    '--block-ms',
    '10',
    '--epoch-blocks',
    '4',
    '--lookahead-blocks',
    '1',
  ]
  const args = (name: string, seed: string) => [
    ...common,
    '--data-dir',
    join(dir, name),
    '--seed',
    seed,
    '--blocks-per-slot',
    '1',
    '--directors',
    '3',
    '--quorum',
    '2',
    '--genesis',
    genesisFile,
  ]
  procs.push(
    ...(await Promise.all([
      startDevchain(args('a', 'election-seed')),
      startDevchain(args('b', 'election-seed')),
      startDevchain(args('c', 'another-seed')),
    ])),
  )
  clients.push(...procs.map((p) => new DevChainClient({ url: p.url })))
})

after(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await Promise.all(procs.map((p) => stopDevchain(p)))
  await killAll()
  await rm(dir, { recursive: true, force: true })
})

describe('elections of the dev chain process', () => {
  it('are deterministic for a seed, differ for another seed, and favour reputation', async () => {
    for (const c of clients) {
      await waitFor(
        async () => (await c.info()).currentEpoch >= BigInt(EPOCHS),
        `epoch ${EPOCHS}`,
        30_000,
        50,
      )
    }
    const [a, b, c] = clients as [DevChainClient, DevChainClient, DevChainClient]
    assert.equal(bytesToHex(await a.genesisHash()), bytesToHex(await b.genesisHash()))
    assert.notEqual(bytesToHex(await a.genesisHash()), bytesToHex(await c.genesisHash()))
    let differs = 0
    let highSeats = 0
    let seats = 0
    for (let e = 0n; e < BigInt(EPOCHS); e++) {
      const da = (await a.electedDirectors(e)).map(bytesToHex)
      const db = (await b.electedDirectors(e)).map(bytesToHex)
      const dc = (await c.electedDirectors(e)).map(bytesToHex)
      assert.equal(da.length, 3, `epoch ${e}`)
      assert.deepEqual(db, da, `epoch ${e}: same seed, same directors in the same order`)
      if (dc.join() !== da.join()) differs++
      for (const d of da) {
        seats++
        if (keys.findIndex((k) => bytesToHex(k.publicKeyProto) === d) >= 5) highSeats++
      }
    }
    assert.ok(differs >= EPOCHS / 2, `another seed elects differently (${differs}/${EPOCHS} epochs differ)`)
    // Weight 100 vs 1 per candidate: the reputation group should take nearly every seat. The region
    // rule (×2 for an empty region, ×½ for an occupied one) cannot outweigh a factor of 100.
    assert.ok(highSeats / seats > 0.85, `high-reputation share of seats: ${(highSeats / seats).toFixed(2)}`)
  })
})
