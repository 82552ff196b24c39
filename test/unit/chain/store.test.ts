// Persistence of the dev chain (src/chain/store.ts): WAL replay, snapshots that drop old segments,
// a torn last record cut off, damage elsewhere refused, genesis parameters fixed, reset, the lock.
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import { DevChainError, registrationSigningBytes, submitSigningBytes } from '../../../src/chain/index.ts'
import { registerTxToJson, submitTxToJson } from '../../../src/chain/rpc.ts'
import type { ChainState } from '../../../src/chain/state.ts'
import { ChainStore } from '../../../src/chain/store.ts'
import { initBlake3, type NodeKey } from '../../../src/crypto/index.ts'
import { bytesToHex, encodeCertificate } from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { certificateFor, DIRECTOR_STAKE, genesisDirectors } from './chain-fixtures.ts'

await initBlake3()

let keys: NodeKey[]
let newcomer: NodeKey
let root: string
before(async () => {
  keys = await testKeys(5)
  ;[newcomer] = await testKeys(1, 20)
  root = await mkdtemp(join(tmpdir(), 'nsn-store-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

const logger = pino({ level: 'silent' })
let n = 0
const params = () => ({
  seed: 'store',
  epochLengthBlocks: 8,
  lookaheadBlocks: 2,
  blocksPerSlot: 2,
  challengePeriodBlocks: 3,
  genesisAccounts: genesisDirectors(keys),
})
const open = (dataDir: string, over: Partial<Parameters<typeof ChainStore.open>[0]> = {}) =>
  ChainStore.open({
    dataDir,
    params: params(),
    reset: false,
    eventRetentionBlocks: 1000,
    logger,
    metrics: null,
    ...over,
  })
const freshDir = () => join(root, `d${n++}`)

type Opened = Awaited<ReturnType<typeof open>>

async function block(o: Opened): Promise<void> {
  const b = o.state.sealBlock()
  const { seq, durable } = o.store.append({ t: 'blk', n: b.number.toString() })
  o.state.seq = seq
  await durable
}

async function register(o: Opened, k: NodeKey): Promise<void> {
  const s: ChainState = o.state
  const base = {
    account: k.publicKeyProto,
    peer: k.publicKeyProto,
    role: 'director' as const,
    region: 'apac' as const,
    stake: DIRECTOR_STAKE,
    nonce: 0,
  }
  const tx = { ...base, signature: k.sign(registrationSigningBytes(s.genesisHash, base)), peerBinding: null }
  s.applyRegister(tx)
  const { seq, durable } = o.store.append({ t: 'reg', p: registerTxToJson(tx) })
  s.seq = seq
  await durable
}

async function submitSlot(o: Opened, slot: bigint): Promise<void> {
  const s = o.state
  const cert = certificateFor(s.genesisHash, s.epochOfSlot(slot), slot, keys.slice(0, 3)).certificate
  const certificateScale = encodeCertificate(cert)
  const tx = {
    slot,
    certificate: cert,
    certificateScale,
    submitter: keys[0]!.publicKeyProto,
    signature: keys[0]!.sign(submitSigningBytes(s.genesisHash, slot, certificateScale)),
  }
  assert.equal(s.applySubmit(tx).outcome.status, 'accepted')
  const { seq, durable } = o.store.append({ t: 'sub', p: submitTxToJson(tx) })
  s.seq = seq
  await durable
}

async function busyChain(dir: string, blocks: number): Promise<{ bestHash: string; best: bigint }> {
  const o = await open(dir)
  await register(o, newcomer)
  for (let i = 0; i < blocks; i++) {
    await block(o)
    if (o.state.best % 2n === 1n) await submitSlot(o, (o.state.best - 1n) / 2n)
  }
  const r = { bestHash: bytesToHex(o.state.bestHash), best: o.state.best }
  await o.store.close()
  return r
}

describe('ChainStore', () => {
  it('rebuilds the same chain from the WAL', async () => {
    const dir = freshDir()
    const before = await busyChain(dir, 20)
    const o = await open(dir)
    assert.equal(o.state.best, before.best)
    assert.equal(bytesToHex(o.state.bestHash), before.bestHash)
    assert.ok(o.state.account(newcomer.publicKeyProto), 'registration replayed')
    assert.ok(o.state.result(3n), 'submission replayed')
    assert.equal(o.recovery.fromSnapshot, false)
    assert.ok(o.recovery.replayed > 20)
    await o.store.close()
  })

  it('snapshots, drops the WAL segments the snapshot covers, and replays only what follows', async () => {
    const dir = freshDir()
    const o = await open(dir)
    for (let i = 0; i < 10; i++) await block(o)
    assert.equal(await o.store.snapshot(o.state), true)
    for (let i = 0; i < 5; i++) await block(o)
    const hash = bytesToHex(o.state.bestHash)
    await o.store.close()
    const segments = (await readdir(dir)).filter((f) => f.startsWith('wal-'))
    assert.deepEqual(segments, ['wal-000000000011.log'], 'only the segment after the snapshot is left')
    const again = await open(dir)
    assert.equal(again.recovery.fromSnapshot, true)
    assert.equal(again.recovery.replayed, 5)
    assert.equal(bytesToHex(again.state.bestHash), hash)
    await again.store.close()
  })

  it('cuts off a torn last record (never acknowledged) and keeps everything before it', async () => {
    const dir = freshDir()
    const before = await busyChain(dir, 6)
    const seg = (await readdir(dir))
      .filter((f) => f.startsWith('wal-'))
      .sort()
      .at(-1)!
    await appendFile(join(dir, seg), '1234abcd {"seq":99,"t":"bl')
    const o = await open(dir)
    assert.ok(o.recovery.truncatedBytes > 0)
    assert.equal(bytesToHex(o.state.bestHash), before.bestHash)
    await block(o)
    await o.store.close()
    const again = await open(dir)
    assert.equal(again.state.best, before.best + 1n, 'appends after the cut replay cleanly')
    await again.store.close()
  })

  it('refuses to start on a damaged record that is followed by valid ones', async () => {
    const dir = freshDir()
    await busyChain(dir, 6)
    const seg = (await readdir(dir)).filter((f) => f.startsWith('wal-')).sort()[0]!
    const text = await readFile(join(dir, seg), 'utf8')
    const lines = text.split('\n')
    lines[1] = lines[1]!.replace('"t"', '"x"')
    await writeFile(join(dir, seg), lines.join('\n'))
    await expectRejectedWithCode(open(dir), DevChainError, 'CORRUPT_STATE')
  })

  it('keeps the stored genesis: a different parameter is refused, --reset starts over', async () => {
    const dir = freshDir()
    const before = await busyChain(dir, 4)
    const err = await expectRejectedWithCode(
      open(dir, { params: { ...params(), epochLengthBlocks: 16 } }),
      DevChainError,
      'CONFIG_MISMATCH',
    )
    assert.equal(err.field, 'epochLengthBlocks')
    const same = await open(dir, { params: {} })
    assert.equal(same.state.best, before.best, 'no parameters given: the stored chain')
    await same.store.close()
    const reset = await open(dir, { reset: true })
    assert.equal(reset.state.best, 0n)
    assert.equal(reset.state.account(newcomer.publicKeyProto), undefined)
    await reset.store.close()
    await expectRejectedWithCode(
      open(freshDir(), { params: { epochLengthBlocks: 10, blocksPerSlot: 3 } }),
      DevChainError,
      'INVALID_CONFIG',
    )
  })

  it('holds one process per data folder and takes over a stale lock', async () => {
    const dir = freshDir()
    const o = await open(dir)
    await expectRejectedWithCode(open(dir), DevChainError, 'DATA_DIR_LOCKED')
    await o.store.close()
    // A lock left by a process that no longer exists.
    await writeFile(join(dir, 'LOCK'), '2147483646')
    const again = await open(dir)
    await again.store.close()
    // Two takeovers of one stale lock at once: exactly one holds the folder.
    await writeFile(join(dir, 'LOCK'), '2147483646 stale')
    const both = await Promise.allSettled([open(dir), open(dir)])
    assert.equal(both.filter((r) => r.status === 'fulfilled').length, 1, 'one winner')
    for (const r of both) if (r.status === 'fulfilled') await r.value.store.close()
  })
})
