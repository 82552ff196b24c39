// VideoChunk wire type (PROTOCOL.md §3). Building, signing and verifying chunks lives in src/p2p.
import {
  bool,
  bytes,
  type Codec,
  decodeScale,
  encodeScale,
  fixedBytes,
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
  /** hex(content_hash) of the whole video (PROTOCOL.md §6). */
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

export const VideoChunkCodec: Codec<VideoChunk> = struct('VideoChunk', {
  header: VideoChunkHeaderCodec,
  payload: bytes(TOPIC_MAX_BYTES.video),
  signer: bytes(64),
  signature: bytes(64),
})

export function encodeVideoChunkHeader(header: VideoChunkHeader): Uint8Array {
  return encodeScale(VideoChunkHeaderCodec, header, 160)
}

export function encodeVideoChunk(chunk: VideoChunk): Uint8Array {
  return encodeScale(VideoChunkCodec, chunk, chunk.payload.length + 320)
}

/** Decode with the video topic's size limit (or a tighter one); the payload is a view into `input`. */
export function decodeVideoChunk(input: Uint8Array, maxBytes: number = TOPIC_MAX_BYTES.video): VideoChunk {
  return decodeScale(VideoChunkCodec, input, maxBytes)
}
