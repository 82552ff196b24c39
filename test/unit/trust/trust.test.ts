// The viewer rules of docs/protocol.md §6 in one module (src/trust): which certificate member vouches
// for a chunk, reassembly that keeps the first payload of an index, BLAKE3 of the whole, and the
// bounds on what waits for a certificate (per signer, items and bytes; a window of slots).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { blake3, CertificateError, initBlake3, type NodeKey } from '../../../src/crypto/index.ts'
import { buildVideoChunks } from '../../../src/p2p/index.ts'
import {
  CertifiedSlots,
  ContentAssembly,
  certifiedMember,
  checkCertificate,
} from '../../../src/trust/index.ts'
import { bytesToHex, type Certificate } from '../../../src/types/index.ts'
import { buildCertificate, TEST_NETWORK_ID, testKeys } from '../../fixtures/index.ts'
import { fakeVideo } from '../lane0/fakes.ts'

await initBlake3()
const SLOT = 5n

describe('certificate rule and reassembly', () => {
  const video = new Uint8Array(10_000).map((_, i) => (i * 7) % 251)
  const contentHash = blake3(video)
  const contentId = bytesToHex(contentHash)

  function cert(members: NodeKey[]): Certificate {
    return {
      epoch: 0n,
      slot: 5n,
      recipe_hash: new Uint8Array(32),
      members: members.map((k) => ({
        signer: k.publicKeyProto,
        content_hash: contentHash,
        embedding_hash: new Uint8Array(32),
      })),
      commits: [],
    }
  }

  test('a member’s chunk of its certified content is vouched for; others are refused by code', async () => {
    const [a, b, outsider] = await testKeys(3)
    const c = cert([a!, b!])
    const [good] = buildVideoChunks(contentId, 5n, video, b!, { chunkSize: 4096 })
    const check = certifiedMember(c, good!)
    assert.ok('member' in check && check.member.signer === c.members[1]!.signer && check.rank === 1)
    const [foreign] = buildVideoChunks(contentId, 5n, video, outsider!, { chunkSize: 4096 })
    assert.deepEqual(certifiedMember(c, foreign!), { refusal: 'NOT_MEMBER' })
    const other = new Uint8Array(video).fill(1, 0, 10)
    const [uncertified] = buildVideoChunks(bytesToHex(blake3(other)), 5n, other, a!, { chunkSize: 4096 })
    assert.deepEqual(certifiedMember(c, uncertified!), { refusal: 'NOT_CERTIFIED' })
  })

  test('reassembles by index, keeps the first payload of an index and reports a conflict', async () => {
    const [a] = await testKeys(1)
    const chunks = buildVideoChunks(contentId, 5n, video, a!, { chunkSize: 4096 })
    assert.equal(chunks.length, 3)
    const asm = new ContentAssembly(contentHash, 3)
    assert.equal(asm.add(chunks[2]!), 'added')
    assert.equal(asm.add(chunks[2]!), 'duplicate')
    // Same index, different (correctly signed) bytes: refused, the first stays.
    const forged = buildVideoChunks(contentId, 5n, new Uint8Array(video).fill(9), a!, { chunkSize: 4096 })
    assert.equal(asm.add(forged[2]!), 'CONFLICT')
    const other = buildVideoChunks(contentId, 5n, video, a!, { chunkSize: 2048 })
    assert.equal(asm.add(other[0]!), 'TOTAL_MISMATCH')
    assert.equal(asm.complete, false)
    assert.throws(() => asm.bytes(), /incomplete: 1\/3/)
    assert.equal(asm.add(chunks[0]!), 'added')
    assert.equal(asm.add(chunks[1]!), 'added')
    assert.equal(asm.complete, true)
    assert.deepEqual(asm.bytes(), video)
    assert.deepEqual(blake3(asm.bytes()), contentHash)
    // Complete: a forged copy of any index is still a conflict, never a replacement.
    assert.equal(asm.add(forged[0]!), 'CONFLICT')
    assert.deepEqual(asm.bytes(), video)
  })

  test('a conflicting chunk that arrived first makes the content fail its hash check', async () => {
    const [a] = await testKeys(1)
    const chunks = buildVideoChunks(contentId, 5n, video, a!, { chunkSize: 4096 })
    const forged = buildVideoChunks(contentId, 5n, new Uint8Array(video).fill(9), a!, { chunkSize: 4096 })
    const asm = new ContentAssembly(contentHash, 3)
    assert.equal(asm.add(forged[1]!), 'added')
    assert.equal(asm.add(chunks[1]!), 'CONFLICT')
    asm.add(chunks[0]!)
    asm.add(chunks[2]!)
    assert.notDeepEqual(blake3(asm.bytes()), contentHash)
  })
})

describe('checkCertificate', async () => {
  const keys = await testKeys(5)
  const anchor = { networkId: TEST_NETWORK_ID, quorum: 3, slotsPerEpoch: 10 }
  const elected = keys.map((k) => k.publicKeyProto)
  const { certificate, canonicalHash } = buildCertificate({
    epoch: 0n,
    slot: SLOT,
    memberKeys: keys.slice(0, 3),
    committers: keys.slice(0, 3),
  })

  test('accepts a certificate of the elected set and returns its canonical hash', () => {
    assert.deepEqual(checkCertificate(certificate, anchor, elected), canonicalHash)
  })

  test('refuses one whose elected set is unknown, from another epoch, or with outsiders', () => {
    const code = (fn: () => unknown) => {
      try {
        fn()
      } catch (err) {
        assert.ok(err instanceof CertificateError, `not a CertificateError: ${err}`)
        return err.code
      }
      return 'accepted'
    }
    assert.equal(
      code(() => checkCertificate(certificate, anchor, null)),
      'UNELECTED_MEMBER',
    )
    assert.equal(
      code(() => checkCertificate({ ...certificate, epoch: 1n }, anchor, elected)),
      'UNELECTED_MEMBER',
    )
    assert.equal(
      code(() => checkCertificate(certificate, anchor, elected.slice(1))),
      'UNELECTED_MEMBER',
    )
  })
})

describe('CertifiedSlots', async () => {
  const keys = await testKeys(6)
  const videos = keys.map((_, i) => fakeVideo(2500 + i * 10, i + 7))
  const { certificate } = buildCertificate({
    epoch: 0n,
    slot: SLOT,
    memberKeys: keys.slice(0, 3),
    committers: keys.slice(0, 3),
  })
  // The fixture's content hashes replaced by the real ones of our videos (members stay in rank order).
  for (const m of certificate.members) {
    const i = keys.findIndex((k) => bytesToHex(k.publicKeyProto) === bytesToHex(m.signer))
    m.content_hash = blake3(videos[i]!)
  }
  const chunksOf = (i: number, video = videos[i]!, contentHash = blake3(videos[i]!), slot = SLOT) =>
    buildVideoChunks(bytesToHex(contentHash), slot, video, keys[i]!, { chunkSize: 1000 })
  const anchor = { slotsPerEpoch: 10 }

  test('buffers chunks until the certificate, then completes with the verified video', () => {
    const a = new CertifiedSlots(anchor)
    const chunks = chunksOf(1)
    assert.deepEqual(a.addChunk(chunks[2]!), { status: 'buffered' })
    assert.deepEqual(a.addChunk(chunks[0]!), { status: 'buffered' })
    assert.deepEqual(a.addChunk(chunks[0]!), { status: 'duplicate' })
    const placed = a.addCertificate(certificate)
    assert.deepEqual(
      placed.map((r) => r.outcome.status),
      ['accepted', 'accepted'],
    )
    const last = a.addChunk(chunks[1]!)
    assert.equal(last.status, 'complete')
    assert.deepEqual(a.completed(SLOT)?.video, videos[1])
    assert.deepEqual(a.addChunk(chunks[0]!), { status: 'duplicate' })
  })

  test('plays nothing uncertified: non-members, wrong content ids, forged chunks, wrong hashes', () => {
    const a = new CertifiedSlots(anchor)
    a.addCertificate(certificate)
    const outsider = chunksOf(4)
    assert.deepEqual(a.addChunk(outsider[0]!), { status: 'refused', code: 'NOT_MEMBER' })
    const otherContent = chunksOf(0, fakeVideo(2500, 99), blake3(fakeVideo(2500, 99)))
    assert.deepEqual(a.addChunk(otherContent[0]!), { status: 'refused', code: 'NOT_CERTIFIED' })
    const forged = { ...chunksOf(0)[0]!, payload: new Uint8Array(1000) }
    assert.deepEqual(a.addChunk(forged), { status: 'refused', code: 'BAD_HASH' })
    // A member signing chunks of a different video under its certified content id.
    const liar = chunksOf(2, fakeVideo(2520, 1234), blake3(videos[2]!))
    for (const c of liar.slice(0, -1)) assert.equal(a.addChunk(c).status, 'accepted')
    assert.deepEqual(a.addChunk(liar.at(-1)!), { status: 'refused', code: 'CONTENT_HASH' })
    assert.equal(a.completed(SLOT), null)
    assert.equal(a.progress(SLOT)?.failed, true)
    for (const c of chunksOf(2)) a.addChunk(c)
    assert.equal(
      a.completed(SLOT)?.rank,
      certificate.members.findIndex((m) => bytesToHex(m.signer) === bytesToHex(keys[2]!.publicKeyProto)),
    )
  })

  test('refuses chunks of signers the chain did not elect', () => {
    const a = new CertifiedSlots(anchor)
    a.setElected(
      0n,
      keys.slice(0, 3).map((k) => k.publicKeyProto),
    )
    assert.deepEqual(a.addChunk(chunksOf(4)[0]!), { status: 'refused', code: 'NOT_ELECTED' })
    assert.deepEqual(a.addChunk(chunksOf(1)[0]!), { status: 'buffered' })
  })

  test('one signer filling its pending budget (items or bytes) does not take another’s', () => {
    const a = new CertifiedSlots(anchor, { maxPendingChunksPerSigner: 2, maxPendingBytesPerSigner: 2500 })
    a.setElected(
      0n,
      keys.slice(0, 3).map((k) => k.publicKeyProto),
    )
    const flood = chunksOf(0)
    assert.equal(a.addChunk(flood[0]!).status, 'buffered')
    assert.equal(a.addChunk(flood[1]!).status, 'buffered')
    assert.deepEqual(a.addChunk(flood[2]!), { status: 'refused', code: 'BUFFER_FULL' })
    // Bytes: 3 × 1000 bytes exceed 2500 even under the item bound of another window slot.
    const big = buildVideoChunks(bytesToHex(blake3(videos[2]!)), SLOT, videos[2]!, keys[2]!, {
      chunkSize: 1300,
    })
    assert.equal(a.addChunk(big[0]!).status, 'buffered')
    assert.deepEqual(a.addChunk(big[1]!), { status: 'refused', code: 'BUFFER_FULL' })
    // The honest member's chunks still wait and complete once the certificate arrives.
    const honest = chunksOf(1)
    assert.equal(a.addChunk(honest[0]!).status, 'buffered')
    assert.equal(a.addChunk(honest[1]!).status, 'buffered')
    a.addCertificate(certificate)
    assert.equal(a.addChunk(honest[2]!).status, 'complete')
  })

  test('tracks only a window of slots around the current one', () => {
    const a = new CertifiedSlots(anchor, { slotsBehind: 2, slotsAhead: 1 })
    a.setCurrentSlot(SLOT)
    assert.deepEqual(a.addChunk(chunksOf(1, videos[1], blake3(videos[1]!), SLOT + 2n)[0]!), {
      status: 'refused',
      code: 'STALE_SLOT',
    })
    assert.deepEqual(a.addChunk(chunksOf(1, videos[1], blake3(videos[1]!), SLOT - 3n)[0]!), {
      status: 'refused',
      code: 'STALE_SLOT',
    })
    // Far-future slot numbers (an attacker's choice) never create state.
    for (let i = 0n; i < 1000n; i++)
      a.addChunk(chunksOf(1, videos[1], blake3(videos[1]!), SLOT + 100n + i)[0]!)
    assert.equal(a.progress(SLOT + 100n), null)
    assert.equal(a.addChunk(chunksOf(1)[0]!).status, 'buffered')
    // The chain moves on: the slot leaves the window and its pending chunks are released.
    a.setCurrentSlot(SLOT + 3n)
    assert.equal(a.progress(SLOT), null)
  })
})
