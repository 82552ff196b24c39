// Archive fixtures: a slot certified by three of the given keys and verified through the viewer's
// trust rules, ready for SlotArchive.put.
import assert from 'node:assert/strict'
import type { VerifiedSlot } from '../../src/archive/index.ts'
import {
  blake3,
  canonicalHash,
  embeddingHash,
  type NodeKey,
  rankMembers,
  signCommit,
} from '../../src/crypto/index.ts'
import { buildVideoChunks } from '../../src/p2p/index.ts'
import { CertifiedSlots } from '../../src/trust/index.ts'
import { bytesToHex, type Certificate, encodeRecipe } from '../../src/types/index.ts'
import { sampleRecipe, TEST_NETWORK_ID, unitEmbedding } from '../fixtures/index.ts'

export const ARCHIVE_ANCHOR = { networkId: TEST_NETWORK_ID, quorum: 3, slotsPerEpoch: 10 }
const anchor = ARCHIVE_ANCHOR

/** A slot certified by keys[0..3] (all with the same video), verified through the trust rules. */
export function certifiedSlot(keys: NodeKey[], slot: bigint, video: Uint8Array): VerifiedSlot {
  const recipe = sampleRecipe({
    slot_params: { slot_number: slot, duration_sec: 10, resolution: '320x240', fps: 24 },
  })
  const recipeHash = blake3(encodeRecipe(recipe))
  const epoch = slot / BigInt(anchor.slotsPerEpoch)
  const members = rankMembers(
    slot,
    keys.slice(0, 3).map((k, i) => ({
      signer: k.publicKeyProto,
      content_hash: blake3(video),
      embedding_hash: embeddingHash(unitEmbedding(i + 1)),
    })),
  )
  const canonical = canonicalHash(anchor.networkId, epoch, slot, recipeHash, members)
  const certificate: Certificate = {
    epoch,
    slot,
    recipe_hash: recipeHash,
    members,
    commits: keys.slice(0, 3).map((k) => {
      const c = signCommit(k, anchor.networkId, { epoch, slot, canonical_hash: canonical })
      return { signer: c.signer, signature: c.signature }
    }),
  }
  const publisher = keys.find((k) => bytesToHex(k.publicKeyProto) === bytesToHex(members[0]!.signer))!
  const trust = new CertifiedSlots(anchor)
  trust.addCertificate(certificate)
  let completed = null
  for (const c of buildVideoChunks(bytesToHex(blake3(video)), slot, video, publisher, { chunkSize: 4000 })) {
    const r = trust.addChunk(c)
    if (r.status === 'complete') completed = r.completed
  }
  assert.ok(completed !== null, 'fixture slot did not complete')
  return { completed, recipe, elected: keys.map((k) => k.publicKeyProto), anchor }
}
