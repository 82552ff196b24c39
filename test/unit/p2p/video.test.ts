// Signed video chunks: build/verify round trip and tamper tests, each rejected for the right reason.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  buildVideoChunks,
  checkChunkSize,
  decodeAndVerifyVideoChunk,
  VideoChunkError,
  verifyVideoChunk,
} from '../../../src/p2p/index.ts'
import {
  bytesToHex,
  concatBytes,
  DEFAULT_CHUNK_SIZE,
  encodeScale,
  encodeVideoChunk,
  VideoChunkCodec,
} from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { expectCode } from '../../helpers.ts'

describe('signed video chunks', async () => {
  const [key, other] = await testKeys(2)
  const video = Uint8Array.from({ length: 2.5 * DEFAULT_CHUNK_SIZE }, (_, i) => (i * 31) % 256)
  const contentId = 'c0'.repeat(32)
  const chunks = buildVideoChunks(contentId, 123n, video, key!, { timestampMs: 1000n, keyframeInterval: 2 })

  it('splits into 1 MiB chunks that reassemble to the video', () => {
    assert.equal(chunks.length, 3)
    assert.deepEqual(
      chunks.map((c) => c.payload.length),
      [DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE / 2],
    )
    assert.deepEqual(
      chunks.map((c) => c.header.is_keyframe),
      [true, false, true],
    )
    assert.ok(chunks.every((c) => c.header.total_chunks === 3 && c.header.slot === 123n))
    assert.equal(bytesToHex(concatBytes(chunks.map((c) => c.payload))), bytesToHex(video))
  })

  it('is built in its wire encoding: the same bytes as the codec, payload a view into them', () => {
    for (const c of chunks) {
      const wire = encodeVideoChunk(c)
      assert.equal(bytesToHex(wire), bytesToHex(encodeScale(VideoChunkCodec, c)))
      assert.equal(c.payload.buffer, wire.buffer, 'payload shares the wire buffer (no second copy)')
      assert.equal(encodeVideoChunk(c), wire, 'encoding again returns the same bytes')
      // A copy of the chunk (not built in place) encodes to the same bytes.
      assert.equal(bytesToHex(encodeVideoChunk({ ...c, header: { ...c.header } })), bytesToHex(wire))
      assert.ok(Object.isFrozen(c) && Object.isFrozen(c.header), 'frozen: recorded bytes cannot go stale')
    }
  })

  it('round-trips through the wire and verifies', () => {
    for (const c of chunks) {
      const { chunk, signer } = decodeAndVerifyVideoChunk(encodeVideoChunk(c))
      assert.equal(bytesToHex(signer), key!.publicKeyHex)
      assert.equal(bytesToHex(chunk.payload), bytesToHex(c.payload))
    }
  })

  it('one payload byte flipped → BAD_HASH', () => {
    const payload = new Uint8Array(chunks[0]!.payload)
    payload[1000] = payload[1000]! ^ 1
    expectCode(() => verifyVideoChunk({ ...chunks[0]!, payload }), VideoChunkError, 'BAD_HASH')
  })

  it('signature from another key → BAD_SIGNATURE', () => {
    const forged = buildVideoChunks(contentId, 123n, video, other!, { timestampMs: 1000n })[0]!
    expectCode(
      () => verifyVideoChunk({ ...chunks[0]!, signature: forged.signature }),
      VideoChunkError,
      'BAD_SIGNATURE',
    )
    // the other key's own chunk claims our key as signer
    expectCode(
      () => verifyVideoChunk({ ...forged, signer: key!.publicKeyProto }),
      VideoChunkError,
      'BAD_SIGNATURE',
    )
  })

  it('a header field changed after signing → BAD_SIGNATURE', () => {
    const c = chunks[1]!
    expectCode(
      () => verifyVideoChunk({ ...c, header: { ...c.header, slot: 124n } }),
      VideoChunkError,
      'BAD_SIGNATURE',
    )
  })

  it('truncated and trailing bytes → MALFORMED with the decode error', () => {
    const wire = encodeVideoChunk(chunks[2]!)
    const e = expectCode(
      () => decodeAndVerifyVideoChunk(wire.subarray(0, wire.length - 10)),
      VideoChunkError,
      'MALFORMED',
    )
    assert.equal(e.cause?.code, 'TRUNCATED')
    const e2 = expectCode(
      () => decodeAndVerifyVideoChunk(new Uint8Array([...wire.subarray(0, 200), ...wire.subarray(200), 0])),
      VideoChunkError,
      'MALFORMED',
    )
    assert.equal(e2.cause?.code, 'TRAILING_BYTES')
    const e3 = expectCode(() => decodeAndVerifyVideoChunk(wire, 1000), VideoChunkError, 'MALFORMED')
    assert.equal(e3.cause?.code, 'OVERSIZE')
  })

  it('bad index and bad signer key are named', () => {
    const c = chunks[0]!
    expectCode(
      () => verifyVideoChunk({ ...c, header: { ...c.header, chunk_index: 3 } }),
      VideoChunkError,
      'BAD_INDEX',
    )
    expectCode(() => verifyVideoChunk({ ...c, signer: key!.publicKey }), VideoChunkError, 'BAD_SIGNER')
  })

  it('a chunk size over the GossipSub outbound cap is refused', () => {
    expectCode(() => checkChunkSize(4 * 1024 * 1024), VideoChunkError, 'CHUNK_SIZE')
    expectCode(
      () => buildVideoChunks(contentId, 1n, video, key!, { chunkSize: 8 * 1024 * 1024 }),
      VideoChunkError,
      'CHUNK_SIZE',
    )
    assert.doesNotThrow(() => checkChunkSize(2 * 1024 * 1024))
  })

  it('an empty video is one empty chunk', () => {
    const [c, ...rest] = buildVideoChunks(contentId, 1n, new Uint8Array(0), key!)
    assert.equal(rest.length, 0)
    assert.equal(c!.header.total_chunks, 1)
    assert.doesNotThrow(() => verifyVideoChunk(c!))
  })
})
