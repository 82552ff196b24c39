// Signed video chunks (docs/protocol.md §3, §6): the header is signed, the
// payload is bound to it by BLAKE3. Hot path: one copy, one hash and one signature per chunk; the
// chunk is built directly in its wire encoding.
import { blake3, type NodeKey, publicKeyFromProto, verifyWithProtoKey } from '../crypto/index.ts'
import {
  attachVideoChunkWire,
  DEFAULT_CHUNK_SIZE,
  DecodeError,
  decodeVideoChunk,
  encodeLengthPrefix,
  encodeVideoChunkHeader,
  encodeVideoChunkTail,
  equalBytes,
  MAX_CHUNK_PAYLOAD_BYTES,
  TOPIC_MAX_BYTES,
  VIDEO_CHUNK_VERSION,
  type VideoChunk,
  type VideoChunkHeader,
} from '../types/index.ts'

export type VideoChunkErrorCode =
  | 'MALFORMED'
  | 'UNSUPPORTED_VERSION'
  | 'BAD_INDEX'
  | 'BAD_CONTENT_ID'
  | 'BAD_SIGNER'
  | 'BAD_HASH'
  | 'BAD_SIGNATURE'
  | 'CHUNK_SIZE'

export class VideoChunkError extends Error {
  override readonly name = 'VideoChunkError'
  constructor(
    readonly code: VideoChunkErrorCode,
    message: string,
    /** The decode error behind a MALFORMED chunk. */
    override readonly cause?: DecodeError,
  ) {
    super(message)
  }
}

export interface BuildVideoChunksOptions {
  /** Payload bytes per chunk. @default DEFAULT_CHUNK_SIZE (1 MiB) */
  chunkSize?: number
  /** Every n-th chunk is flagged as a keyframe; chunk 0 always is. 0 = only chunk 0. @default 0 */
  keyframeInterval?: number
  /** Header timestamp, Unix ms. @default Date.now() */
  timestampMs?: bigint
}

/** Check a configured chunk size against the GossipSub outbound cap (its outbound frame cap). */
export function checkChunkSize(chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_PAYLOAD_BYTES) {
    throw new VideoChunkError(
      'CHUNK_SIZE',
      `chunk_size: ${chunkSize} must be an integer in 1..${MAX_CHUNK_PAYLOAD_BYTES} bytes ` +
        '(GossipSub cannot send a message of 4 MiB or more)',
    )
  }
}

/**
 * Split `video` into signed, wire-ready chunks. Each chunk's payload is copied once, into the
 * buffer that is its wire encoding (SCALE, docs/protocol.md §3), and hashed there; encodeVideoChunk then
 * returns those bytes without another copy. The chunks are frozen.
 */
export function buildVideoChunks(
  contentId: string,
  slot: bigint,
  video: Uint8Array,
  key: NodeKey,
  options: BuildVideoChunksOptions = {},
): VideoChunk[] {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  checkChunkSize(chunkSize)
  const keyframeInterval = options.keyframeInterval ?? 0
  const timestampMs = options.timestampMs ?? BigInt(Date.now())
  const total = Math.max(1, Math.ceil(video.length / chunkSize))
  const chunks: VideoChunk[] = new Array(total)
  const signer = key.publicKeyProto
  // The header's length does not depend on its values here (fixed-width fields, one content_id).
  const headerLength = encodeVideoChunkHeader({
    version: VIDEO_CHUNK_VERSION,
    slot,
    content_id: contentId,
    chunk_index: 0,
    total_chunks: total,
    timestamp_ms: timestampMs,
    is_keyframe: true,
    payload_hash: new Uint8Array(32),
  }).length
  const tailLength = encodeVideoChunkTail(signer, new Uint8Array(64)).length
  for (let i = 0; i < total; i++) {
    const source = video.subarray(i * chunkSize, Math.min(video.length, (i + 1) * chunkSize))
    const prefix = encodeLengthPrefix(source.length)
    const at = headerLength + prefix.length
    const wire = new Uint8Array(at + source.length + tailLength)
    wire.set(source, at)
    const payload = wire.subarray(at, at + source.length)
    const header: VideoChunkHeader = {
      version: VIDEO_CHUNK_VERSION,
      slot,
      content_id: contentId,
      chunk_index: i,
      total_chunks: total,
      timestamp_ms: timestampMs,
      is_keyframe: i === 0 || (keyframeInterval > 0 && i % keyframeInterval === 0),
      payload_hash: blake3(payload),
    }
    const headerBytes = encodeVideoChunkHeader(header)
    const signature = key.sign(headerBytes)
    wire.set(headerBytes, 0)
    wire.set(prefix, headerLength)
    wire.set(encodeVideoChunkTail(signer, signature), at + source.length)
    chunks[i] = attachVideoChunkWire({ header, payload, signer, signature }, wire)
  }
  return chunks
}

/**
 * Verify a decoded chunk: structure, payload hash, and the signature over SCALE(header). It says
 * nothing about whether the signer may publish: that is the caller's policy (docs/protocol.md §6).
 * Returns the signer's raw public key.
 */
export function verifyVideoChunk(chunk: VideoChunk): Uint8Array {
  const h = chunk.header
  if (h.version !== VIDEO_CHUNK_VERSION) {
    throw new VideoChunkError(
      'UNSUPPORTED_VERSION',
      `header.version: ${h.version} is not ${VIDEO_CHUNK_VERSION}`,
    )
  }
  if (h.total_chunks === 0 || h.chunk_index >= h.total_chunks) {
    throw new VideoChunkError(
      'BAD_INDEX',
      `header.chunk_index: ${h.chunk_index} must be below total_chunks ${h.total_chunks} (and total_chunks >= 1)`,
    )
  }
  if (h.content_id.length === 0)
    throw new VideoChunkError('BAD_CONTENT_ID', 'header.content_id: must not be empty')
  const signer = publicKeyFromProto(chunk.signer)
  if (signer === null) {
    throw new VideoChunkError(
      'BAD_SIGNER',
      'signer: not a libp2p protobuf Ed25519 public key (36 bytes, 08 01 12 20 ‖ key)',
    )
  }
  if (!equalBytes(blake3(chunk.payload), h.payload_hash)) {
    throw new VideoChunkError('BAD_HASH', 'header.payload_hash: does not match BLAKE3(payload)')
  }
  if (!verifyWithProtoKey(chunk.signer, encodeVideoChunkHeader(h), chunk.signature)) {
    throw new VideoChunkError('BAD_SIGNATURE', 'signature: does not verify over SCALE(header) with signer')
  }
  return signer
}

/** Decode (with the topic's size limit) and verify wire bytes; every failure is a VideoChunkError. */
export function decodeAndVerifyVideoChunk(
  bytes: Uint8Array,
  maxBytes: number = TOPIC_MAX_BYTES.video,
): { chunk: VideoChunk; signer: Uint8Array } {
  let chunk: VideoChunk
  try {
    chunk = decodeVideoChunk(bytes, maxBytes)
  } catch (err) {
    if (err instanceof DecodeError) throw new VideoChunkError('MALFORMED', err.message, err)
    throw err
  }
  return { chunk, signer: verifyVideoChunk(chunk) }
}
