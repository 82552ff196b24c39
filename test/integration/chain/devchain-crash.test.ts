// Durability of the real dev chain process: `kill -9` while submissions are in flight, restart on
// the same data folder, and every acknowledged submission is still there with the same block; a
// submission cut off before its answer is reported `unknown` and is safe to resubmit.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DevChainClient, type SubmitOutcome } from '../../../src/chain/index.ts'
import { initBlake3, type NodeKey } from '../../../src/crypto/index.ts'
import { bytesToHex, type Certificate, hexToBytes } from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { certificateFor, genesisDirectors } from '../../unit/chain/chain-fixtures.ts'
import { killAll, startDevchain, stopDevchain, waitFor, writeGenesis } from './devchain-process.ts'

await initBlake3()

let dir: string
let keys: NodeKey[]
let genesisFile: string
const clients: DevChainClient[] = []

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nsn-devchain-crash-'))
  keys = await testKeys(5)
  genesisFile = await writeGenesis(join(dir, 'genesis.json'), genesisDirectors(keys))
})

after(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await killAll()
  await rm(dir, { recursive: true, force: true })
})

// One block per slot and long epochs, so that hundreds of slots are open for submissions quickly.
const chainArgs = (data: string, extra: string[] = []) => [
  '--data-dir',
  data,
  '--block-ms',
  '5',
  '--epoch-blocks',
  '100000',
  '--blocks-per-slot',
  '1',
  '--challenge-blocks',
  '20',
  '--snapshot-every',
  '50',
  '--genesis',
  genesisFile,
  ...extra,
]

function newClient(url: string): DevChainClient {
  const c = new DevChainClient({ url, requestTimeoutMs: 3000, reconnectInitialMs: 20, reconnectMaxMs: 200 })
  clients.push(c)
  return c
}

describe('dev chain durability', () => {
  it('keeps every acknowledged submission across kill -9 and restart', async () => {
    const data = join(dir, 'kill9')
    const first = await startDevchain([...chainArgs(data), '--listen', '127.0.0.1:0'])
    const genesis = hexToBytes(first.genesisHash)
    const client = newClient(first.url)
    await waitFor(async () => (await client.info()).bestBlock >= 400n, 'block 400', 20_000, 20)

    const acked = new Map<bigint, { block: bigint; hash: string; cert: Certificate }>()
    let next = 1n
    let inFlight = 0
    let killed = false
    // Eight concurrent submitters, each slot once, until the chain is killed under them.
    const worker = async () => {
      while (!killed && next < 400n) {
        const slot = next++
        const { certificate, canonicalHash } = certificateFor(genesis, 0n, slot, keys.slice(0, 3))
        inFlight++
        const o = await client.submitBftResult(slot, certificate, keys[slot % 5n === 0n ? 1 : 0]!)
        inFlight--
        if (o.status === 'accepted')
          acked.set(slot, { block: o.block, hash: bytesToHex(canonicalHash), cert: certificate })
        else assert.equal(o.status, 'unknown', `slot ${slot}: ${JSON.stringify(o)}`)
      }
    }
    const workers = Array.from({ length: 8 }, worker)
    await waitFor(
      () => acked.size >= 60 && inFlight > 0,
      '60 acknowledged submissions with more in flight',
      20_000,
      1,
    )
    first.proc.kill('SIGKILL')
    killed = true
    await first.exited
    await Promise.all(workers)
    const lastAckedBlock = [...acked.values()].reduce((m, a) => (a.block > m ? a.block : m), 0n)

    const second = await startDevchain([...chainArgs(data), '--listen', '127.0.0.1:0'])
    assert.equal(second.genesisHash, first.genesisHash, 'the same chain continues')
    const after = newClient(second.url)
    const info = await after.info()
    assert.ok(
      info.bestBlock >= lastAckedBlock - 1n,
      `best ${info.bestBlock} vs last acknowledged block ${lastAckedBlock}`,
    )
    for (const [slot, a] of acked) {
      const r = await after.slotResult(slot)
      assert.ok(r, `slot ${slot}: acknowledged at block ${a.block} but missing after restart`)
      assert.equal(bytesToHex(r.canonicalHash), a.hash, `slot ${slot}`)
      assert.equal(r.submittedBlock, a.block, `slot ${slot}`)
    }
    // Retrying an acknowledged submission is recognised, never recorded twice.
    const [slot, a] = [...acked][0]!
    assert.deepEqual(await after.submitBftResult(slot, a.cert, keys[2]!), {
      status: 'accepted',
      block: a.block,
      duplicate: true,
    })
    // Acknowledged results still reach finality after the restart.
    await waitFor(async () => (await after.slotResult(slot))?.finalized, `slot ${slot} finalized`, 10_000, 20)
    await stopDevchain(second)
  })

  it('reports `unknown` when the connection drops before the answer; the resubmission is accepted', async () => {
    const data = join(dir, 'unknown')
    const first = await startDevchain([...chainArgs(data), '--listen', '127.0.0.1:0'])
    const genesis = hexToBytes(first.genesisHash)
    const client = newClient(first.url)
    await waitFor(async () => (await client.info()).bestBlock >= 10n, 'block 10', 20_000, 20)
    const { certificate, canonicalHash } = certificateFor(genesis, 0n, 5n, keys.slice(0, 3))
    // Frozen: the request sits in the socket unanswered; then the process dies.
    first.proc.kill('SIGSTOP')
    const pending = client.submitBftResult(5n, certificate, keys[0]!)
    await new Promise((r) => setTimeout(r, 100))
    first.proc.kill('SIGKILL')
    await first.exited
    const o: SubmitOutcome = await pending
    assert.equal(o.status, 'unknown', JSON.stringify(o))

    const second = await startDevchain([...chainArgs(data), '--listen', '127.0.0.1:0'])
    const again = newClient(second.url)
    const retry = await again.submitBftResult(5n, certificate, keys[0]!)
    assert.equal(retry.status, 'accepted')
    assert.equal(bytesToHex((await again.slotResult(5n))!.canonicalHash), bytesToHex(canonicalHash))
    await stopDevchain(second)
  })
})
