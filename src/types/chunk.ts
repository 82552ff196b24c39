// VideoChunk wire type (docs/protocol.md §3). Building, signing and verifying chunks lives in src/p2p.
import {
  bool,
  bytes,
  type Codec,
  decodeScale,
  encodeScale,
  fixedBytes,
  ScaleWriter,
  str,
  struct,
  u16,
  u32,
  u64,
} from './codec.ts'
import { TOPIC_MAX_BYTES } from './limits.ts'

export interface VideoChunkHeader {
  version: number
  slot: bigint
  /** hex(content_hash) of the whole video (docs/protocol.md §6). */
  content_id: string
  chunk_index: number
  total_chunks: number
  timestamp_ms: bigint
  is_keyframe: boolean
  /** BLAKE3(payload). */
  payload_hash: Uint8Array
}

export interface VideoChunk {
  header: VideoChunkHeader
  payload: Uint8Array
  /** libp2p protobuf public key: 08 01 12 20 ‖ 32-byte Ed25519 key. */
  signer: Uint8Array
  /** Ed25519 over SCALE(header). */
  signature: Uint8Array
}

/** Current chunk header version. */
export const VIDEO_CHUNK_VERSION = 1

/** content_id is hex of a 32-byte hash; anything longer is refused while decoding. */
const MAX_CONTENT_ID_BYTES = 128

export const VideoChunkHeaderCodec: Codec<VideoChunkHeader> = struct('VideoChunkHeader', {
  version: u16,
  slot: u64,
  content_id: str(MAX_CONTENT_ID_BYTES),
  chunk_index: u32,
  total_chunks: u32,
  timestamp_ms: u64,
  is_keyframe: bool,
  payload_hash: fixedBytes(32),
})

const SignerCodec = bytes(64)
const SignatureCodec = bytes(64)

export const VideoChunkCodec: Codec<VideoChunk> = struct('VideoChunk', {
  header: VideoChunkHeaderCodec,
  payload: bytes(TOPIC_MAX_BYTES.video),
  signer: SignerCodec,
  signature: SignatureCodec,
})

export function encodeVideoChunkHeader(header: VideoChunkHeader): Uint8Array {
  return encodeScale(VideoChunkHeaderCodec, header, 160)
}

/** Wire bytes of chunks built in place (their payload is a view into them); see attachVideoChunkWire. */
const WIRE = new WeakMap<VideoChunk, Uint8Array>()

/**
 * Record that `wire` is SCALE(chunk) and that chunk.payload is a view into it, so that
 * encodeVideoChunk returns it without copying the payload again. The chunk and its header are
 * frozen: a later change cannot make the recorded bytes stale.
 */
export function attachVideoChunkWire(chunk: VideoChunk, wire: Uint8Array): VideoChunk {
  Object.freeze(chunk.header)
  Object.freeze(chunk)
  WIRE.set(chunk, wire)
  return chunk
}

/** SCALE compact length prefix of a `Vec<u8>` of `length` bytes. */
export function encodeLengthPrefix(length: number): Uint8Array {
  const w = new ScaleWriter(8)
  w.compact(length)
  return w.finish()
}

/** SCALE of the fields after the payload (signer, signature). */
export function encodeVideoChunkTail(signer: Uint8Array, signature: Uint8Array): Uint8Array {
  const w = new ScaleWriter(160)
  SignerCodec.encode(w, signer)
  SignatureCodec.encode(w, signature)
  return w.finish()
}

/**
 * SCALE(VideoChunk), byte-identical to encoding with VideoChunkCodec. A chunk built in place
 * (attachVideoChunkWire) returns its wire bytes as they are; otherwise the small parts are encoded
 * first and the payload is copied once into a buffer of the exact size (a growing writer would
 * zero-fill, regrow and copy a 1 MiB payload several times).
 */
export function encodeVideoChunk(chunk: VideoChunk): Uint8Array {
  const built = WIRE.get(chunk)
  if (built !== undefined) return built
  const h = encodeVideoChunkHeader(chunk.header)
  const pre = encodeLengthPrefix(chunk.payload.length)
  const t = encodeVideoChunkTail(chunk.signer, chunk.signature)
  const out = new Uint8Array(h.length + pre.length + chunk.payload.length + t.length)
  out.set(h, 0)
  out.set(pre, h.length)
  out.set(chunk.payload, h.length + pre.length)
  out.set(t, out.length - t.length)
  return out
}

/** Decode with the video topic's size limit (or a tighter one); the payload is a view into `input`. */
export function decodeVideoChunk(input: Uint8Array, maxBytes: number = TOPIC_MAX_BYTES.video): VideoChunk {
  return decodeScale(VideoChunkCodec, input, maxBytes)
}
