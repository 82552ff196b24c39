// Two valid certificates for one slot (possible only with commit equivocation): the archive records
// the content of the chain's accepted one (docs/protocol.md §7), not the one gossip brought first.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { ArchiveRecorder, SlotArchive } from '../../../src/archive/index.ts'
import {
  blake3,
  canonicalHash,
  embeddingHash,
  initBlake3,
  rankMembers,
  signCommit,
} from '../../../src/crypto/index.ts'
import { buildVideoChunks } from '../../../src/p2p/index.ts'
import {
  bytesToHex,
  type Certificate,
  encodeBftSignal,
  encodeRecipe,
  encodeVideoChunk,
} from '../../../src/types/index.ts'
import { signedSampleRecipe, TEST_NETWORK_ID, testKeys, unitEmbedding } from '../../fixtures/index.ts'
import { FakeGossipHub, fakeVideo } from '../lane0/fakes.ts'

await initBlake3()
const SLOT = 5n
const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

describe('archive recorder: two valid certificates for one slot', async () => {
  const keys = await testKeys(5)
  const videos = keys.map((_, i) => fakeVideo(2500 + i * 10, i + 7))
  const recipe = await signedSampleRecipe({
    slot_params: { slot_number: SLOT, duration_sec: 5, resolution: '320x240', fps: 24 },
  })
  const recipeHash = blake3(encodeRecipe(recipe))
  /** A valid certificate whose members are `members` with their videos' real hashes. */
  const certificateOf = (members: number[]): Certificate => {
    const ranked = rankMembers(
      SLOT,
      members.map((i) => ({
        signer: keys[i]!.publicKeyProto,
        content_hash: blake3(videos[i]!),
        embedding_hash: embeddingHash(unitEmbedding(i + 1)),
      })),
    )
    const hash = canonicalHash(TEST_NETWORK_ID, 0n, SLOT, recipeHash, ranked)
    const commits = members.map((i) => {
      const c = signCommit(keys[i]!, TEST_NETWORK_ID, { epoch: 0n, slot: SLOT, canonical_hash: hash })
      return { signer: c.signer, signature: c.signature }
    })
    return { epoch: 0n, slot: SLOT, recipe_hash: recipeHash, members: ranked, commits }
  }
  // Director 2 committed to both results: it equivocated.
  const gossipFirst = certificateOf([0, 1, 2])
  const chains = certificateOf([2, 3, 4])

  test("stores the chain's content although the other certificate came first", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsn-recorder-chain-'))
    dirs.push(dir)
    const archive = await SlotArchive.open({}, { dir, maxBytes: 64 * 1024 * 1024 })
    const hub = new FakeGossipHub()
    const gossip = hub.join('recorder')
    const recorder = new ArchiveRecorder(
      { gossip, archive, electedFor: () => keys.map((k) => k.publicKeyProto) },
      { networkId: TEST_NETWORK_ID, quorum: 3, slotsPerEpoch: 10 },
    )
    recorder.start()
    recorder.setCurrentSlot(SLOT)
    await gossip.receive('recipes', encodeRecipe(recipe))
    await gossip.receive('bft', encodeBftSignal({ kind: 'Certificate', value: gossipFirst }))
    recorder.followChain(chains)
    // Every member's video arrives, the gossip certificate's canonical one first.
    for (const cert of [gossipFirst, chains]) {
      const i = keys.findIndex((k) => bytesToHex(k.publicKeyProto) === bytesToHex(cert.members[0]!.signer))
      const chunks = buildVideoChunks(bytesToHex(blake3(videos[i]!)), SLOT, videos[i]!, keys[i]!, {
        chunkSize: 1000,
      })
      for (const c of chunks) await gossip.receive('video', encodeVideoChunk(c))
    }
    const deadline = Date.now() + 5000
    while (archive.get(SLOT) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    const stored = archive.get(SLOT)
    assert.ok(stored !== null, `slot stored within 5 s (stored ${recorder.stored})`)
    assert.equal(
      stored.contentHash,
      bytesToHex(chains.members[0]!.content_hash),
      "the chain's canonical content",
    )
    recorder.stop()
  })
})
