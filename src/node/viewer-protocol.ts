// The node → browser viewer feed (WebSocket `/viewer/ws`). Browser-safe: the viewer imports it.
// Binary frames: one tag byte, then the payload. The browser verifies everything itself; the node
// only says which directors the chain elected (its trust anchor) and which recipe a slot plays.

export const VIEWER_WS_PATH = '/viewer/ws'

export const FEED_TAG = {
  /** A VideoChunk exactly as received on /nsn/video/1.0.0. */
  chunk: 0x01,
  /** A BftSignal (proposal, commit or certificate) exactly as received on /nsn/bft/1.0.0. */
  bft: 0x02,
  /** UTF-8 JSON `FeedInfo`. */
  info: 0x03,
} as const

export type FeedInfo =
  | {
      type: 'hello'
      /** hex network_id (genesis hash). */
      networkId: string
      quorum: number
      slotsPerEpoch: number
      /** PeerId of the node serving this page. */
      node: string
    }
  /** Elected directors of an epoch: hex protobuf public keys. */
  | { type: 'epoch'; epoch: string; directors: string[] }
  | { type: 'recipe'; slot: string; recipeId: string; prompt: string }
  /** The chain's current slot: the page tracks only a window of slots around it. */
  | { type: 'slot'; slot: string }

export function encodeFeedFrame(tag: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1)
  out[0] = tag
  out.set(payload, 1)
  return out
}

export function encodeFeedInfo(info: FeedInfo): Uint8Array {
  return encodeFeedFrame(FEED_TAG.info, new TextEncoder().encode(JSON.stringify(info)))
}
