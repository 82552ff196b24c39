// The wire of `/nsn/slot/1.0.0` (docs/protocol.md §12): one length-prefixed request frame, then a
// length-prefixed response header and, when found, one frame per signed chunk in chunk_index order.
// SCALE throughout (docs/protocol.md §3); every length is checked against a bound before it is read.
import {
  bytes,
  decodeScale,
  encodeScale,
  enumOf,
  fixedBytes,
  MAX_CHUNK_PAYLOAD_BYTES,
  struct,
  TOPIC_MAX_BYTES,
  u32,
  u64,
  unit,
} from '../types/index.ts'

/** The request/response protocol id (docs/protocol.md §12). */
export const SLOT_FETCH_PROTOCOL = '/nsn/slot/1.0.0'

/** `SlotRequest{slot u64, content_hash [u8;32]}`: always exactly 40 bytes. */
export interface SlotRequest {
  slot: bigint
  content_hash: Uint8Array
}

export const SLOT_REQUEST_BYTES = 40

const SlotRequestCodec = struct<SlotRequest>('SlotRequest', { slot: u64, content_hash: fixedBytes(32) })

/** The header of a found slot: its certificate and recipe (SCALE bytes) and how many chunk frames follow. */
export interface SlotFound {
  certificate: Uint8Array
  recipe: Uint8Array
  chunks: number
}

/** Largest total_chunks a response may announce (the viewer's bound, docs/protocol.md §6). */
export const MAX_RESPONSE_CHUNKS = 256

/** Largest header frame: a certificate (bft topic bound) and a recipe (recipes topic bound). */
export const MAX_HEADER_BYTES = TOPIC_MAX_BYTES.bft + TOPIC_MAX_BYTES.recipes + 16

/** Largest chunk frame: the biggest payload a director may send plus its header and signature. */
export const MAX_CHUNK_FRAME_BYTES = MAX_CHUNK_PAYLOAD_BYTES + 64 * 1024

/**
 * `SlotResponse` enum: 0 Found, 1 NotFound (not held, or not the requested content), 2 Busy (per-peer
 * concurrency or rate bound: ask later or elsewhere), 3 BadRequest (the request frame was not a
 * SlotRequest).
 */
export type SlotResponse =
  | { kind: 'Found'; value: SlotFound }
  | { kind: 'NotFound'; value: null }
  | { kind: 'Busy'; value: null }
  | { kind: 'BadRequest'; value: null }

const SlotResponseCodec = enumOf('SlotResponse', [
  {
    kind: 'Found',
    index: 0,
    codec: struct<SlotFound>('SlotFound', {
      certificate: bytes(TOPIC_MAX_BYTES.bft),
      recipe: bytes(TOPIC_MAX_BYTES.recipes),
      chunks: u32,
    }),
  },
  { kind: 'NotFound', index: 1, codec: unit },
  { kind: 'Busy', index: 2, codec: unit },
  { kind: 'BadRequest', index: 3, codec: unit },
])

export function encodeSlotRequest(r: SlotRequest): Uint8Array {
  return encodeScale(SlotRequestCodec, r, SLOT_REQUEST_BYTES)
}

/** Decodes a request frame; throws DecodeError naming the field (size, truncation, trailing bytes). */
export function decodeSlotRequest(input: Uint8Array): SlotRequest {
  return decodeScale(SlotRequestCodec, input, SLOT_REQUEST_BYTES)
}

export function encodeSlotResponse(r: SlotResponse): Uint8Array {
  return encodeScale(SlotResponseCodec, r as never, 1024)
}

/** Decodes a response header; throws DecodeError naming the field. */
export function decodeSlotResponse(input: Uint8Array): SlotResponse {
  return decodeScale(SlotResponseCodec, input, MAX_HEADER_BYTES) as SlotResponse
}
