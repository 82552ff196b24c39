// Every default of the mesh, once: node/config.ts and docs/p2p.md read them from here.
// Each number says where it comes from: docs/protocol.md, a library limit, or a measurement.
import { DEFAULT_CHUNK_SIZE, GOSSIPSUB_OUTBOUND_CAP_BYTES, TOPIC_MAX_BYTES } from '../types/index.ts'

const KiB = 1024
const MiB = 1024 * KiB

export interface GossipMeshOptions {
  D: number
  Dlo: number
  Dhi: number
  heartbeatMs: number
}

/** GossipSub mesh parameters of docs/protocol.md §2. */
export const GOSSIP_MESH_DEFAULTS: Readonly<GossipMeshOptions> = Object.freeze({
  /** Target mesh degree. @default 6 */
  D: 6,
  /** Below this many mesh peers the heartbeat grafts more. @default 4 */
  Dlo: 4,
  /** Above this many mesh peers the heartbeat prunes. @default 12 */
  Dhi: 12,
  /** @default 1000 */
  heartbeatMs: 1000,
})

/**
 * Mesh peers a video chunk is published to, rotating per chunk (the mesh forwards it on): the
 * publisher uploads this many copies of its video instead of one per mesh peer (D). 0 = every
 * mesh peer. See docs/p2p.md "Relay path".
 */
export const DEFAULT_VIDEO_PUBLISH_PEERS = 2

/**
 * Room left in the 4 MiB outbound frame (its outbound frame cap) for the GossipSub RPC envelope
 * (from, seqno, topic, signature, key: about 200 bytes) and control messages piggybacked on a
 * forwarded message. A chunk of MAX_CHUNK_PAYLOAD_BYTES (4 MiB − 64 KiB) plus its header fits.
 */
export const RPC_ENVELOPE_RESERVE_BYTES = 32 * KiB

/** Largest `data` this node will publish on any topic: GossipSub 17.1 silently drops a frame ≥ 4 MiB. */
export const MAX_PUBLISH_BYTES = GOSSIPSUB_OUTBOUND_CAP_BYTES - RPC_ENVELOPE_RESERVE_BYTES

/**
 * Largest length-prefixed RPC accepted from a peer: the largest topic limit (video, 16 MiB,
 * docs/protocol.md §2) plus framing. A larger frame is refused by the stream decoder and never
 * reaches a validator. it-length-prefixed's own default would be 4 MiB.
 */
export const MAX_INBOUND_RPC_BYTES = Math.max(...Object.values(TOPIC_MAX_BYTES)) + 64 * KiB

/**
 * Yamux aborts a stream whose unread data passes `maxReadBufferLength` (yamux read-buffer cap,
 * 4 MiB by default). GossipSub reads its streams as soon as its handler is attached, but data that
 * arrives before that (right after the protocol is negotiated, while a publisher is already
 * streaming 1 MiB chunks) sits in that buffer, and yamux grants window on receipt, not on read.
 * Two maximal RPCs of headroom.
 */
export const YAMUX_MAX_READ_BUFFER_BYTES = 2 * MAX_INBOUND_RPC_BYTES

/**
 * libp2p's connection monitor pings every connection (every 10 s by default) and aborts it when a
 * ping takes longer than an adaptive timeout (5 s minimum). The ping shares the yamux connection
 * with queued gossip data, so a connection busy relaying a video (tens of MiB behind a slow link,
 * or a loaded CPU) fails that ping while perfectly healthy: measured in bench/gossip.ts, where it
 * aborted mesh links mid-stream and lost chunks. The timeout must also stay below the interval:
 * a second ping while the first is pending exceeds the ping protocol's one outbound stream and
 * that error aborts the connection too. A dead peer is still detected within two minutes.
 */
export const CONNECTION_MONITOR_DEFAULTS = Object.freeze({
  pingIntervalMs: 60_000,
  pingTimeoutMinMs: 30_000,
  pingTimeoutMaxMs: 50_000,
  /** The responder side of /ipfs/ping (10 s by default) must wait as long as the initiator. */
  pingServiceTimeoutMs: 60_000,
})

/** Default TCP and WebSocket ports (the WebSocket listener lets browsers join as viewers). */
export const DEFAULT_TCP_PORT = 9000
export const DEFAULT_WS_PORT = 9001

/** All interfaces, so that peers on other hosts can connect; also the `p2p.listen` config default. */
export const DEFAULT_LISTEN_ADDRS: readonly string[] = Object.freeze([
  `/ip4/0.0.0.0/tcp/${DEFAULT_TCP_PORT}`,
  `/ip4/0.0.0.0/tcp/${DEFAULT_WS_PORT}/ws`,
])

/** Delay before the bootstrap list is dialled after start. @libp2p/bootstrap's default is 1000 ms. */
export const DEFAULT_BOOTSTRAP_DELAY_MS = 100

/**
 * Video relay bounds of docs/protocol.md §6. `maxVideoBytes` is not fixed by the protocol: 45 s of
 * 1080p H.264 at a generous 20 Mbit/s is 107 MiB, so 128 MiB leaves headroom; with 1 MiB chunks
 * that is at most 128 chunks per content id.
 */
export interface VideoBoundsOptions {
  maxVideoBytes: number
  chunkSize: number
  maxContentIdsPerSlot: number
  maxTrackedSlots: number
  slotsBehind: number
  slotsAhead: number
}

export const VIDEO_BOUNDS_DEFAULTS: Readonly<VideoBoundsOptions> = Object.freeze({
  /** Largest video one content id may carry. @default 128 MiB */
  maxVideoBytes: 128 * MiB,
  /** Network chunk size (docs/protocol.md §2). @default 1 MiB */
  chunkSize: DEFAULT_CHUNK_SIZE,
  /** At most this many content ids per director per slot: the quorum q (docs/protocol.md §5, §6). @default 3 */
  maxContentIdsPerSlot: 3,
  /**
   * Slots whose counters are kept per director (docs/protocol.md §2: one signer never evicts another's
   * state); beyond it the director's own oldest slot is dropped. The window is 5 slots. @default 5
   */
  maxTrackedSlots: 5,
  /** Chunks for slots before current − this are ignored as stale (docs/protocol.md §2). @default 2 */
  slotsBehind: 2,
  /** Chunks for slots after current + this are ignored (docs/protocol.md §2). @default 2 */
  slotsAhead: 2,
})

/**
 * Per-peer rate limits, counted per propagation source on messages that are new to us (GossipSub
 * drops duplicates before validation, so relayed copies of one message are counted once). Since
 * one fast neighbour may be the first to hand us everything, each peer's budget must hold the
 * whole network's honest traffic:
 *  - control topics (recipes, bft, attestations, challenges, tasks): the reference
 *    100 messages/min. One 45 s slot carries at most 5 proposals + 5 commits + 5 certificates
 *    (n = 5) and a few recipes: about 20/min.
 *  - video: a 45 s 1080p video is 43 chunks of 1 MiB at 8 Mbit/s, 107 at 20 Mbit/s; a slot may
 *    see the canonical video and fallbacks (docs/protocol.md §6). The budget is the relay bound itself:
 *    q (3) content ids × 128 chunks per 45 s slot = 384 per slot = 512/min, which the 100/min
 *    reference would not hold (one 20 Mbit/s video is 107 chunks in about a second).
 * Buckets refill continuously; capacity = one minute's budget, so a whole video may arrive at once.
 */
export const RATE_LIMIT_DEFAULTS = Object.freeze({
  /** Non-video messages per peer per minute (issue reference). @default 100 */
  messagesPerMinute: 100,
  /** Video chunks per peer per minute: 3 content ids × 128 chunks per 45 s slot. @default 512 */
  videoChunksPerMinute: 512,
  /** Peers whose GossipSub score is at least this get `highScoreMultiplier` × the budget. @default 10 */
  highScoreThreshold: 10,
  /** @default 2 */
  highScoreMultiplier: 2,
  /** This many rate-limit violations within `violationWindowMs` graylist the peer. @default 20 */
  graylistAfterViolations: 20,
  /** @default 60000 */
  violationWindowMs: 60_000,
  /** How long a graylisted peer's messages are refused (and its score held below the GossipSub graylist threshold). @default 300000 */
  graylistMs: 300_000,
})

/**
 * Peer-scoring parameters (GossipSub v1.1). Topic weights come from TOPIC_SPECS (docs/protocol.md §2);
 * the rest is chosen here, see docs/p2p.md for the arithmetic.
 */
export const SCORE_DEFAULTS = Object.freeze({
  /** P1: per second in the mesh, capped at 300 s: at most 3 × topic weight. */
  timeInMeshWeight: 0.01,
  timeInMeshCapSec: 300,
  /** P2: per first delivery, capped at 20 (10 × topic weight), halving every minute. */
  firstMessageDeliveriesWeight: 0.5,
  firstMessageDeliveriesCap: 20,
  firstMessageDeliveriesDecay: 0.5 ** (1 / 60),
  /**
   * P4: per rejected message, squared, halving every 10 minutes. One rejected video chunk
   * (weight 2) gives −40: below the gossip threshold; two give −160: graylisted.
   */
  invalidMessageDeliveriesWeight: -20,
  invalidMessageDeliveriesDecay: 0.5 ** (1 / 600),
  /** Cap on the positive topic part of a score. */
  topicScoreCap: 50,
  /** P5 for a peer our rate limiter graylisted: far below graylistThreshold. */
  graylistedAppScore: -1000,
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 5,
  /** Keep a disconnected peer's score for an hour, so that reconnecting does not wash it. */
  retainScoreMs: 3_600_000,
})

/** publishVideo waits this long at most for a chunk to leave the per-peer stream buffers. */
export const VIDEO_ACK_TIMEOUT_MS = 10_000

/** Accepted messages remembered (by BLAKE3 of their bytes) to ignore re-publications of them. */
export const DEDUP_CACHE_SIZE = 4096
