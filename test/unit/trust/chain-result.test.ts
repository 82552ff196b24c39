// Two valid certificates for one slot (possible only with commit equivocation): the viewer's slot
// table follows the chain's accepted one (docs/protocol.md §7), even after it completed the other.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { blake3, initBlake3 } from '../../../src/crypto/index.ts'
import { buildVideoChunks } from '../../../src/p2p/index.ts'
import { CertifiedSlots } from '../../../src/trust/index.ts'
import { bytesToHex, type Certificate } from '../../../src/types/index.ts'
import { buildCertificate, testKeys } from '../../fixtures/index.ts'
import { fakeVideo } from '../lane0/fakes.ts'

await initBlake3()
const SLOT = 5n

describe("two valid certificates for one slot: the chain's wins", async () => {
  const keys = await testKeys(5)
  const videos = keys.map((_, i) => fakeVideo(2500 + i * 10, i + 7))
  const index = (signer: Uint8Array) =>
    keys.findIndex((k) => bytesToHex(k.publicKeyProto) === bytesToHex(signer))
  /** A certificate of `members` (director 2 committed to both: it equivocated), with the videos' real hashes. */
  const certificateOf = (members: number[]): Certificate => {
    const { certificate } = buildCertificate({
      epoch: 0n,
      slot: SLOT,
      memberKeys: members.map((i) => keys[i]!),
      committers: members.map((i) => keys[i]!),
    })
    for (const m of certificate.members) m.content_hash = blake3(videos[index(m.signer)]!)
    return certificate
  }
  const first = certificateOf([0, 1, 2])
  const chains = certificateOf([2, 3, 4])
  /** Every chunk of the canonical member of `cert`, fed to the table; the last outcome. */
  const playCanonical = (a: CertifiedSlots, cert: Certificate) => {
    const i = index(cert.members[0]!.signer)
    const chunks = buildVideoChunks(bytesToHex(blake3(videos[i]!)), SLOT, videos[i]!, keys[i]!, {
      chunkSize: 1000,
    })
    return chunks.map((c) => a.addChunk(c)).at(-1)
  }
  const anchor = { slotsPerEpoch: 10 }

  test('a slot completed under another certificate switches to the chain’s and plays its content', () => {
    const a = new CertifiedSlots(anchor)
    a.addCertificate(first)
    assert.equal(playCanonical(a, first)?.status, 'complete')
    assert.equal(a.adoptChainCertificate(chains).length, 0)
    assert.equal(a.completed(SLOT), null, "the other certificate's video is no longer the slot's")
    assert.equal(a.certificate(SLOT), chains)
    const done = playCanonical(a, chains)
    assert.equal(done?.status, 'complete')
    assert.deepEqual(a.completed(SLOT)?.contentHash, chains.members[0]!.content_hash)
    // The other certificate arriving again changes nothing.
    assert.deepEqual(a.addCertificate(first), [])
    assert.equal(a.certificate(SLOT), chains)
  })

  test("the chain's certificate first: the other is ignored; the same one again keeps what played", () => {
    const a = new CertifiedSlots(anchor)
    a.adoptChainCertificate(chains)
    assert.deepEqual(a.addCertificate(first), [])
    assert.equal(playCanonical(a, chains)?.status, 'complete')
    a.adoptChainCertificate({ ...chains, commits: chains.commits.slice(0, 3) })
    assert.deepEqual(a.completed(SLOT)?.contentHash, chains.members[0]!.content_hash, 'kept')
  })
})
