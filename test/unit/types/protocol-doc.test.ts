// The worked examples of docs/protocol.md §3 are the bytes this node's codecs and signers produce:
// a doc that drifted from the code would mislead whoever implements a compatible node from it.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { before, describe, it } from 'node:test'
import {
  blake3,
  initBlake3,
  NodeKey,
  rankKey,
  signCommit,
  signProposal,
  signRecipe,
} from '../../../src/crypto/index.ts'
import { buildVideoChunks } from '../../../src/p2p/index.ts'
import {
  bytesToHex,
  COMMIT_EVIDENCE_MAX_BYTES,
  decodeChallenge,
  encodeBftSignal,
  encodeCommitEvidence,
  encodeEquivocationEvidence,
  encodeRecipe,
  encodeVideoChunk,
  encodeVideoChunkHeader,
  PROPOSAL_EVIDENCE_MIN_BYTES,
  type Recipe,
  unsignedRecipe,
} from '../../../src/types/index.ts'

const docPath = new URL('../../../docs/protocol.md', import.meta.url)

/** The hex of every fenced block made of annotated hex lines: hex at the start, two spaces, a note. */
function hexBlocks(doc: string): string[] {
  const out: string[] = []
  for (const m of doc.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)) {
    const lines = m[1]!.split('\n').filter((l) => l.length > 0)
    const hex = lines.map((l) => /^([0-9a-f]{2}(?: ?[0-9a-f]{2})*)(?:\s{2,}|$)/.exec(l)?.[1])
    if (hex.every((h) => h !== undefined)) out.push(hex.join('').replace(/ /g, ''))
  }
  return out
}

describe('docs/protocol.md worked examples', () => {
  let doc: string
  let blocks: string[]
  let key: NodeKey

  before(async () => {
    await initBlake3()
    doc = await readFile(docPath, 'utf8')
    blocks = hexBlocks(doc)
    key = await NodeKey.fromSeed(new Uint8Array(32).map((_, i) => i))
  })

  it('names the example key', () => {
    assert.ok(doc.includes(key.peerId.toString()), 'PeerId')
    assert.ok(doc.includes(bytesToHex(key.publicKeyProto).slice(8)), 'protobuf key')
    assert.ok(doc.includes(bytesToHex(rankKey(42n, key.publicKeyProto))), 'rank key in slot 42')
  })

  it('shows the one-chunk video as the codec encodes it', () => {
    const video = new TextEncoder().encode('nsn example video')
    const contentId = bytesToHex(blake3(video))
    const [chunk] = buildVideoChunks(contentId, 42n, video, key, { timestampMs: 1767225600000n })
    const header = encodeVideoChunkHeader(chunk!.header)
    const whole = encodeVideoChunk(chunk!)
    assert.ok(blocks.includes(bytesToHex(header)), 'SCALE(header) block')
    assert.ok(blocks.includes(bytesToHex(whole.subarray(header.length))), 'rest of the chunk block')
    assert.ok(doc.includes(contentId), 'content hash')
  })

  it('shows the recipe, unsigned and signed, as the codec encodes it', () => {
    const recipe: Recipe = {
      recipe_id: 'r1',
      version: '1.0',
      slot_params: { slot_number: 42n, duration_sec: 5, resolution: '320x240', fps: 24 },
      audio_track: { script: 'Hi', voice_id: 'en', speed: 1, emotion: 'calm' },
      visual_track: {
        prompt: 'sea',
        negative_prompt: '',
        motion_preset: 'static',
        expression_sequence: [],
        camera_motion: 'static',
      },
      semantic_constraints: { min_clip_score: 0.5, banned_concepts: [], required_concepts: [] },
      security: { director_id: '', ed25519_signature: new Uint8Array(0), timestamp: 1767225600n },
    }
    const signed = signRecipe(recipe, key)
    const unsigned = bytesToHex(encodeRecipe(unsignedRecipe(signed)))
    const full = bytesToHex(encodeRecipe(signed))
    assert.ok(blocks.includes(unsigned), 'unsigned recipe block')
    // The signed form replaces the empty signature (one 00 byte before the 8-byte timestamp).
    const sigBlock = `0101${bytesToHex(signed.security.ed25519_signature)}`
    assert.ok(blocks.includes(sigBlock), 'signature block')
    assert.equal(`${unsigned.slice(0, -18)}${sigBlock}${unsigned.slice(-16)}`, full)
    assert.ok(doc.includes(bytesToHex(blake3(encodeRecipe(signed)))), 'recipe_hash')
  })

  it('shows the commit as the codec encodes it', () => {
    const commit = signCommit(key, new Uint8Array(32).fill(0xab), {
      epoch: 0n,
      slot: 42n,
      canonical_hash: new Uint8Array(32).fill(0xcd),
    })
    assert.ok(blocks.includes(bytesToHex(encodeBftSignal({ kind: 'Commit', value: commit }))), 'commit block')
  })

  it('shows the commit evidence as the codec encodes it', () => {
    const networkId = new Uint8Array(32).fill(0xab)
    const c = (fill: number) =>
      signCommit(key, networkId, { epoch: 0n, slot: 42n, canonical_hash: new Uint8Array(32).fill(fill) })
    const first = encodeBftSignal({ kind: 'Commit', value: c(0xcd) })
    const evidence = encodeCommitEvidence({ first: c(0xcd), second: c(0xef) })
    assert.equal(evidence.length, 303)
    // The tag and the first commit are the gossiped Commit exactly; the annotated block is the rest.
    assert.deepEqual(evidence.subarray(0, first.length), first)
    assert.ok(blocks.includes(bytesToHex(evidence.subarray(first.length))), 'second commit block')
    assert.equal(decodeChallenge(evidence).kind, 'Commit')
  })

  it('keeps proposal evidence untagged and tells the two variants apart by length', () => {
    const p = (fill: number) =>
      signProposal(key, new Uint8Array(32).fill(0xab), {
        epoch: 0n,
        slot: 42n,
        recipe_hash: new Uint8Array(32).fill(1),
        content_hash: new Uint8Array(32).fill(fill),
        embedding: new Float32Array(512).fill(fill / 1000),
      })
    const value = { first: p(2), second: p(3) }
    const bytes = encodeEquivocationEvidence(value)
    // Byte-identical to the original struct: epoch first, no tag.
    assert.deepEqual(bytes.subarray(0, 8), new Uint8Array(8))
    assert.ok(
      bytes.length >= PROPOSAL_EVIDENCE_MIN_BYTES && PROPOSAL_EVIDENCE_MIN_BYTES > COMMIT_EVIDENCE_MAX_BYTES,
    )
    assert.deepEqual(decodeChallenge(bytes), { kind: 'Proposal', value })
    assert.ok(
      doc.includes(String(PROPOSAL_EVIDENCE_MIN_BYTES).replace(/(\d)(\d{3})$/, '$1 $2')),
      'doc names the bound',
    )
  })
})
