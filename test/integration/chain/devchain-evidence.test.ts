// Equivocation evidence against the real dev chain process (`nsn devchain`) through DevChainClient:
// commit and proposal evidence verified and recorded once per (slot, director) with a reputation
// penalty visible through chain_getAccount and chain_evidence; forged or unelected evidence refused
// with its reason; the record and the penalty survive a restart (WAL replay) without being doubled.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DevChainClient } from '../../../src/chain/index.ts'
import { EQUIVOCATION_PENALTY } from '../../../src/chain/state.ts'
import { initBlake3, type NodeKey, signCommit, signProposal } from '../../../src/crypto/index.ts'
import { encodeCommitEvidence, encodeEquivocationEvidence, hexToBytes } from '../../../src/types/index.ts'
import { testKeys, unitEmbedding } from '../../fixtures/index.ts'
import { genesisDirectors } from '../../unit/chain/chain-fixtures.ts'
import {
  type DevchainProcess,
  killAll,
  startDevchain,
  stopDevchain,
  writeGenesis,
} from './devchain-process.ts'

await initBlake3()

let dir: string
let keys: NodeKey[]
let outsider: NodeKey
let chain: DevchainProcess
let client: DevChainClient
let genesis: Uint8Array
let genesisFile: string

async function start(): Promise<void> {
  chain = await startDevchain([
    '--data-dir',
    join(dir, 'data'),
    '--listen',
    '127.0.0.1:0',
    '--block-ms',
    '50',
    '--epoch-blocks',
    '200',
    '--lookahead-blocks',
    '5',
    '--blocks-per-slot',
    '2',
    '--genesis',
    genesisFile,
  ])
  client = new DevChainClient({ url: chain.url })
  genesis = hexToBytes(chain.genesisHash)
}

const commit = (k: NodeKey, slot: bigint, fill: number) =>
  signCommit(k, genesis, { epoch: 0n, slot, canonical_hash: new Uint8Array(32).fill(fill) })

const proposal = (k: NodeKey, slot: bigint, seed: number) =>
  signProposal(k, genesis, {
    epoch: 0n,
    slot,
    recipe_hash: new Uint8Array(32).fill(1),
    content_hash: new Uint8Array(32).fill(seed),
    embedding: unitEmbedding(seed),
  })

/** An outcome for a failure message (its block is a bigint). */
const show = (o: unknown) => JSON.stringify(o, (_, v) => (typeof v === 'bigint' ? v.toString() : v))

async function reputation(k: NodeKey): Promise<bigint> {
  const a = await client.getAccount({ peer: k.publicKeyProto })
  assert.ok(a, 'account exists')
  return a.reputation
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nsn-devchain-evidence-'))
  keys = await testKeys(5)
  ;[outsider] = await testKeys(1, 30)
  genesisFile = await writeGenesis(join(dir, 'genesis.json'), genesisDirectors(keys))
  await start()
})

after(async () => {
  await client?.close()
  if (chain) await stopDevchain(chain)
  await killAll()
  await rm(dir, { recursive: true, force: true })
})

describe('dev chain equivocation evidence', () => {
  it('records commit evidence once per (slot, director) and takes reputation', async () => {
    const before = await reputation(keys[1]!)
    const ev = encodeCommitEvidence({ first: commit(keys[1]!, 3n, 0xaa), second: commit(keys[1]!, 3n, 0xbb) })
    const first = await client.submitEvidence(ev)
    assert.equal(first.status, 'accepted', show(first))
    assert.equal(await reputation(keys[1]!), before - EQUIVOCATION_PENALTY, 'penalty applied')
    const again = await client.submitEvidence(ev)
    assert.deepEqual(again, {
      status: 'accepted',
      block: (first as { block: bigint }).block,
      duplicate: true,
    })
    // A proposal equivocation by the same director in the same slot is the same offence: recorded once.
    const prop = encodeEquivocationEvidence({
      first: proposal(keys[1]!, 3n, 5),
      second: proposal(keys[1]!, 3n, 6),
    })
    assert.equal((await client.submitEvidence(prop)).status, 'accepted')
    assert.equal(await reputation(keys[1]!), before - EQUIVOCATION_PENALTY, 'penalty applied once')
    const recorded = await client.evidence(3n)
    assert.equal(recorded.length, 1)
    assert.equal(recorded[0]!.kind, 'Commit')
    assert.deepEqual(recorded[0]!.signer, keys[1]!.publicKeyProto)
    assert.equal(recorded[0]!.penalty, EQUIVOCATION_PENALTY)
  })

  it('records proposal evidence', async () => {
    const before = await reputation(keys[2]!)
    const prop = encodeEquivocationEvidence({
      first: proposal(keys[2]!, 4n, 7),
      second: proposal(keys[2]!, 4n, 8),
    })
    assert.equal((await client.submitEvidence(prop)).status, 'accepted')
    assert.equal(await reputation(keys[2]!), before - EQUIVOCATION_PENALTY)
    assert.equal((await client.evidence(4n))[0]?.kind, 'Proposal')
  })

  it('refuses evidence that does not prove an equivocation by an elected director', async () => {
    const before = await reputation(keys[3]!)
    const forged = commit(keys[3]!, 5n, 0xbb)
    forged.signature = new Uint8Array(64)
    const cases: [string, Uint8Array, string][] = [
      [
        'forged signature',
        encodeCommitEvidence({ first: commit(keys[3]!, 5n, 0xaa), second: forged }),
        'BAD_SIGNATURE',
      ],
      [
        'same hash twice',
        encodeCommitEvidence({ first: commit(keys[3]!, 5n, 0xaa), second: commit(keys[3]!, 5n, 0xaa) }),
        'BAD_EVIDENCE',
      ],
      [
        'two signers',
        encodeCommitEvidence({ first: commit(keys[3]!, 5n, 0xaa), second: commit(keys[4]!, 5n, 0xbb) }),
        'BAD_EVIDENCE',
      ],
      [
        'not elected',
        encodeCommitEvidence({ first: commit(outsider, 5n, 0xaa), second: commit(outsider, 5n, 0xbb) }),
        'NOT_ELECTED',
      ],
      ['garbage', new Uint8Array([0x11, 1, 2, 3]), 'MALFORMED'],
    ]
    for (const [what, bytes, code] of cases) {
      const o = await client.submitEvidence(bytes)
      assert.equal(o.status, 'rejected', `${what}: ${show(o)}`)
      assert.equal((o as { code: string }).code, code, `${what}: ${show(o)}`)
    }
    assert.equal(await reputation(keys[3]!), before, 'no penalty for refused evidence')
    assert.deepEqual(await client.evidence(5n), [])
  })

  it('keeps the records and the penalty across a restart, without applying it twice', async () => {
    const before = await reputation(keys[1]!)
    await client.close()
    await stopDevchain(chain)
    await start()
    assert.equal(await reputation(keys[1]!), before)
    assert.equal((await client.evidence(3n)).length, 1)
  })
})
