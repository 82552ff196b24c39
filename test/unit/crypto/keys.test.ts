// Node keys: libp2p protobuf file format, mode 0600, PeerId stability, signing interop.
import assert from 'node:assert/strict'
import { createPublicKey, verify } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import {
  DOMAIN,
  KeyError,
  NodeKey,
  publicKeyFromId,
  publicKeyFromProto,
  signDomain,
  syncFolder,
  verifyDomain,
  verifyWithProtoKey,
} from '../../../src/crypto/index.ts'
import { bytesToHex } from '../../../src/types/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'

const dir = await mkdtemp(join(tmpdir(), 'nsn-keys-'))
after(() => rm(dir, { recursive: true, force: true }))

describe('NodeKey', () => {
  it('saves with mode 0600 in libp2p protobuf format and loads the same identity', async () => {
    const key = await NodeKey.generate()
    const path = join(dir, 'a.key')
    await key.save(path)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    const bytes = await readFile(path)
    assert.equal(bytesToHex(bytes.subarray(0, 4)), '08011240', 'protobuf: KeyType Ed25519, 64-byte Data')
    const loaded = await NodeKey.load(path)
    assert.equal(loaded.peerId.toString(), key.peerId.toString())
    assert.equal(bytesToHex(loaded.publicKey), bytesToHex(key.publicKey))
  })

  it('refuses a key file others can read, and a missing one, with a code', async () => {
    const key = await NodeKey.generate()
    const path = join(dir, 'open.key')
    await key.save(path)
    await chmod(path, 0o644)
    await expectRejectedWithCode(NodeKey.load(path), KeyError, 'INSECURE_PERMISSIONS')
    await expectRejectedWithCode(NodeKey.load(join(dir, 'nope.key')), KeyError, 'NOT_FOUND')
    await expectRejectedWithCode(key.save(path), KeyError, 'EXISTS')
  })

  it('refuses garbage as a key', async () => {
    assert.throws(
      () => NodeKey.fromProtobuf(new Uint8Array([1, 2, 3])),
      (e: unknown) => e instanceof KeyError && e.code === 'INVALID_KEY',
    )
  })

  it('loadOrCreate creates once, then returns the same key', async () => {
    const path = join(dir, 'sub', 'node.key')
    const a = await NodeKey.loadOrCreate(path)
    const b = await NodeKey.loadOrCreate(path)
    assert.equal(a.peerId.toString(), b.peerId.toString())
  })

  it('signatures match @libp2p/crypto and verify with node:crypto', async () => {
    const seed = new Uint8Array(32).fill(9)
    const key = await NodeKey.fromSeed(seed)
    const lib = await generateKeyPairFromSeed('Ed25519', seed)
    const msg = new TextEncoder().encode('interop')
    assert.equal(bytesToHex(key.sign(msg)), bytesToHex(await lib.sign(msg)))
    const spki = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.publicKey]),
      format: 'der',
      type: 'spki',
    })
    assert.ok(verify(null, msg, spki, key.sign(msg)))
  })

  it('protobuf public key and PeerId name the same key', async () => {
    const key = await NodeKey.fromSeed(new Uint8Array(32).fill(3))
    assert.equal(bytesToHex(key.publicKeyProto.subarray(0, 4)), '08011220')
    assert.equal(bytesToHex(publicKeyFromProto(key.publicKeyProto)!), key.publicKeyHex)
    assert.equal(bytesToHex(publicKeyFromId(key.peerId.toString())!), key.publicKeyHex)
    assert.equal(bytesToHex(publicKeyFromId(key.publicKeyHex)!), key.publicKeyHex)
    assert.equal(publicKeyFromId('not-a-key'), null)
  })
})

describe('domain-separated signatures', () => {
  it('a signature for one domain does not verify in another', async () => {
    const key = await NodeKey.fromSeed(new Uint8Array(32).fill(4))
    const parts = [new Uint8Array([1, 2, 3])]
    const sig = signDomain(key, DOMAIN.bftProposal, parts)
    assert.ok(verifyDomain(key.publicKey, DOMAIN.bftProposal, parts, sig))
    assert.ok(!verifyDomain(key.publicKey, DOMAIN.bftCommit, parts, sig))
    assert.ok(!verifyDomain(key.publicKey, DOMAIN.bftProposal, [new Uint8Array([1, 2, 4])], sig))
  })

  it('malformed keys and signatures verify false, never throw', async () => {
    const key = await NodeKey.fromSeed(new Uint8Array(32).fill(5))
    const msg = new Uint8Array([1])
    assert.equal(verifyWithProtoKey(new Uint8Array(10), msg, key.sign(msg)), false)
    assert.equal(verifyWithProtoKey(key.publicKeyProto, msg, new Uint8Array(63)), false)
    assert.equal(verifyWithProtoKey(key.publicKeyProto, msg, new Uint8Array(64)), false)
  })
})

describe('syncFolder', () => {
  it('syncs a folder, and reports a real error instead of swallowing it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsn-sync-'))
    try {
      await syncFolder(dir)
      await assert.rejects(
        syncFolder(join(dir, 'missing')),
        (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
