// The dev chain's rules against the real process (`nsn devchain`) through DevChainClient: On-Deck
// lead time, consecutive elections, forged certificates rejected with the reason, a second result
// refused, finality after the challenge period, and JSON-RPC errors that name the parameter.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { WebSocket } from 'ws'
import {
  type ChainEvent,
  DevChainClient,
  RPC_ERROR_CODES,
  type SubmitOutcome,
} from '../../../src/chain/index.ts'
import { initBlake3, type NodeKey } from '../../../src/crypto/index.ts'
import { bytesToHex, type Certificate, hexToBytes } from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { certificateFor, genesisDirectors } from '../../unit/chain/chain-fixtures.ts'
import {
  type DevchainProcess,
  killAll,
  startDevchain,
  stopDevchain,
  waitFor,
  writeGenesis,
} from './devchain-process.ts'

await initBlake3()

const BLOCK_MS = 50
const EPOCH = 20
const LOOKAHEAD = 5
const BPS = 2
const CHALLENGE = 5

let dir: string
let keys: NodeKey[]
let outsider: NodeKey
let chain: DevchainProcess
let client: DevChainClient
let genesis: Uint8Array
const events: { e: ChainEvent; at: number }[] = []

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nsn-devchain-rules-'))
  keys = await testKeys(5)
  ;[outsider] = await testKeys(1, 30)
  const genesisFile = await writeGenesis(join(dir, 'genesis.json'), genesisDirectors(keys))
  chain = await startDevchain([
    '--data-dir',
    join(dir, 'data'),
    '--listen',
    '127.0.0.1:0',
    '--block-ms',
    String(BLOCK_MS),
    '--epoch-blocks',
    String(EPOCH),
    '--lookahead-blocks',
    String(LOOKAHEAD),
    '--blocks-per-slot',
    String(BPS),
    '--challenge-blocks',
    String(CHALLENGE),
    '--genesis',
    genesisFile,
  ])
  client = new DevChainClient({ url: chain.url })
  genesis = hexToBytes(chain.genesisHash)
  client.subscribe((e) => events.push({ e, at: Date.now() }), 0n)
})

after(async () => {
  await client?.close()
  if (chain) await stopDevchain(chain)
  await killAll()
  await rm(dir, { recursive: true, force: true })
})

const hexSet = (ks: Uint8Array[]) => new Set(ks.map(bytesToHex))
const code = (o: SubmitOutcome) => (o.status === 'rejected' ? o.code : o.status)

/** A slot that has started in the current epoch, with enough of the epoch left to test in. */
async function currentSlot(): Promise<{ slot: bigint; epoch: bigint }> {
  const info = await client.info()
  const slot = info.bestBlock / BigInt(BPS)
  return { slot, epoch: slot / BigInt(info.slotsPerEpoch) }
}

describe('dev chain process', () => {
  it('reports its parameters and genesis', async () => {
    const info = await client.info()
    assert.equal(bytesToHex(info.genesisHash), chain.genesisHash.slice(2))
    assert.equal(info.epochLengthBlocks, EPOCH)
    assert.equal(info.lookaheadBlocks, LOOKAHEAD)
    assert.equal(info.slotsPerEpoch, EPOCH / BPS)
    assert.equal(info.quorum, 3)
    assert.equal(info.blockTimeMs, BLOCK_MS)
  })

  it('announces the On-Deck election lookahead blocks before the switch, and re-elects (consecutive epochs)', async () => {
    const started1 = await waitFor(
      () => events.find((x) => x.e.type === 'EpochStarted' && x.e.epoch === 1n),
      'EpochStarted 1',
    )
    const onDeck1 = events.find((x) => x.e.type === 'OnDeckElection' && x.e.epoch === 1n)!
    assert.ok(onDeck1.e.type === 'OnDeckElection' && started1.e.type === 'EpochStarted')
    assert.equal(onDeck1.e.startBlock, BigInt(EPOCH))
    assert.equal(started1.e.block - onDeck1.e.block, BigInt(LOOKAHEAD), 'On-Deck block = start − lookahead')
    // Wall clock: lookahead blocks of BLOCK_MS each (lower bound only: the machine may be slow).
    assert.ok(started1.at - onDeck1.at >= (LOOKAHEAD - 1) * BLOCK_MS, `lead ${started1.at - onDeck1.at} ms`)
    const started0 = events.find((x) => x.e.type === 'EpochStarted' && x.e.epoch === 0n)!
    assert.ok(started0.e.type === 'EpochStarted')
    assert.deepEqual(hexSet(started1.e.directors), hexSet(started0.e.directors))
    assert.deepEqual(hexSet(started1.e.directors), hexSet(keys.map((k) => k.publicKeyProto)))
    assert.deepEqual(hexSet(await client.electedDirectors(1n)), hexSet(keys.map((k) => k.publicKeyProto)))
    const completed0 = events.find((x) => x.e.type === 'EpochCompleted' && x.e.epoch === 0n)!
    assert.equal(completed0.e.block, started1.e.block)
  })

  it('rejects forged certificates with the reason, accepts the real one once, refuses a second result', async () => {
    const { slot, epoch } = await currentSlot()
    const [a, b, c] = keys as [NodeKey, NodeKey, NodeKey]
    const forged: [string, Certificate, string][] = []
    const badSig = certificateFor(genesis, epoch, slot, [a, b, c]).certificate
    badSig.commits[0] = { ...badSig.commits[0]!, signature: new Uint8Array(64).fill(1) }
    forged.push(['bad signature', badSig, 'BAD_SIGNATURE'])
    forged.push([
      'unelected signer',
      certificateFor(genesis, epoch, slot, [a, b, c], [a, b, outsider]).certificate,
      'UNELECTED_SIGNER',
    ])
    forged.push([
      'duplicate signer',
      certificateFor(genesis, epoch, slot, [a, b, c], [a, a, b]).certificate,
      'DUPLICATE_SIGNER',
    ])
    forged.push([
      'too few',
      certificateFor(genesis, epoch, slot, [a, b, c], [a, b]).certificate,
      'TOO_FEW_COMMITS',
    ])
    for (const [name, cert, certCode] of forged) {
      const o = await client.submitBftResult(slot, cert, a)
      assert.equal(code(o), 'BAD_CERTIFICATE', name)
      assert.equal(o.status === 'rejected' && o.certificateCode, certCode, name)
    }
    const honest = certificateFor(genesis, epoch, slot, [a, b, c])
    assert.equal(code(await client.submitBftResult(slot, honest.certificate, outsider)), 'NOT_ELECTED')
    assert.equal(code(await client.submitBftResult(slot + 1000n, honest.certificate, a)), 'SLOT_MISMATCH')
    const first = await client.submitBftResult(slot, honest.certificate, a)
    assert.equal(first.status, 'accepted')
    const retry = await client.submitBftResult(slot, honest.certificate, b)
    assert.deepEqual(
      retry,
      { ...first, duplicate: true },
      'identical result: accepted with the original block',
    )
    const other = certificateFor(genesis, epoch, slot, [a, b, c], [a, b, c], 8).certificate
    assert.equal(code(await client.submitBftResult(slot, other, c)), 'ALREADY_SUBMITTED')
    const stored = await client.slotResult(slot)
    assert.ok(stored)
    assert.equal(bytesToHex(stored.canonicalHash), bytesToHex(honest.canonicalHash))
    assert.equal(stored.finalized, false)
    assert.equal(bytesToHex(stored.submitter), bytesToHex(a.publicKeyProto))
    assert.equal(stored.certificate.commits.length, 3)

    // Finality exactly one challenge period after the recording block.
    assert.ok(first.status === 'accepted')
    const fin = await waitFor(
      () => events.find((x) => x.e.type === 'BftResultFinalized' && x.e.slot === slot),
      'BftResultFinalized',
    )
    const sub = events.find((x) => x.e.type === 'BftResultSubmitted' && x.e.slot === slot)!
    assert.equal(sub.e.block, first.block)
    assert.equal(fin.e.block, first.block + BigInt(CHALLENGE))
    assert.equal((await client.slotResult(slot))?.finalized, true)
  })

  it('answers malformed JSON-RPC calls with an error that names the parameter', async () => {
    const ws = new WebSocket(chain.url)
    await new Promise((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    const answers = new Map<unknown, Record<string, unknown>>()
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Record<string, unknown>
      answers.set(m.id, m)
    })
    const call = async (id: number, raw: string) => {
      ws.send(raw)
      return waitFor(() => answers.get(id), `answer ${id}`, 5000)
    }
    const err = (m: Record<string, unknown>) => m.error as { code: number; data?: { field?: string } }
    ws.send('{not json')
    const parse = await waitFor(() => answers.get(null), 'parse error', 5000)
    assert.equal(err(parse).code, RPC_ERROR_CODES.PARSE_ERROR)
    assert.equal(
      err(await call(1, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_nope' }))).code,
      RPC_ERROR_CODES.METHOD_NOT_FOUND,
    )
    const badSlot = err(
      await call(
        2,
        JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'chain_slotResult', params: { slot: 'x' } }),
      ),
    )
    assert.equal(badSlot.code, RPC_ERROR_CODES.INVALID_PARAMS)
    assert.equal(badSlot.data?.field, 'slot')
    const missing = err(
      await call(
        3,
        JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'chain_submitBftResult', params: { slot: '1' } }),
      ),
    )
    assert.equal(missing.data?.field, 'certificate')
    const badCert = err(
      await call(
        4,
        JSON.stringify({
          jsonrpc: '2.0',
          id: 4,
          method: 'chain_submitBftResult',
          params: {
            slot: '1',
            certificate: '0x0102',
            submitter: `0x${bytesToHex(keys[0]!.publicKeyProto)}`,
            signature: `0x${'00'.repeat(64)}`,
          },
        }),
      ),
    )
    assert.ok(badCert.data?.field?.startsWith('certificate'), `field ${badCert.data?.field}`)
    const epochTypo = err(
      await call(
        5,
        JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'chain_electedDirectors', params: { epoc: 1 } }),
      ),
    )
    assert.equal(epochTypo.data?.field, 'epoc')
    assert.equal(
      err(await call(6, JSON.stringify({ jsonrpc: '1.0', id: 6, method: 'chain_info' }))).code,
      RPC_ERROR_CODES.INVALID_REQUEST,
    )
    ws.close()
  })

  it('refuses a non-loopback listen address and bad flags with one line naming them', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['bin/nsn.js', 'devchain', '--data-dir', join(dir, 'refused'), ...args], {
        cwd: new URL('../../../', import.meta.url).pathname,
        encoding: 'utf8',
        timeout: 20_000,
      })
    const remote = run(['--listen', '0.0.0.0:0'])
    assert.equal(remote.status, 3)
    assert.match(remote.stderr, /^nsn: listen: /)
    const bad = run(['--listen', '127.0.0.1:0', '--blocks-per-slot', '7'])
    assert.equal(bad.status, 3)
    assert.match(bad.stderr, /^nsn: blocksPerSlot: /)
    const usage = run(['--block-ms', 'soon'])
    assert.equal(usage.status, 2)
    assert.match(usage.stderr, /--block-ms/)
  })
})
