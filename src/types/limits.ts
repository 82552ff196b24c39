// Wire size limits of docs/protocol.md §2. Decoders and gossip validators read them from here only.

const KiB = 1024
const MiB = 1024 * KiB

/** Maximum message size per GossipSub topic, enforced on publish and on receive (docs/protocol.md §2). */
export const TOPIC_MAX_BYTES = {
  recipes: 1 * MiB,
  video: 16 * MiB,
  bft: 64 * KiB,
  attestations: 64 * KiB,
  challenges: 128 * KiB,
  tasks: 1 * MiB,
} as const

/** Default video chunk payload size (docs/protocol.md §2, §6). */
export const DEFAULT_CHUNK_SIZE = 1 * MiB

/**
 * @libp2p/gossipsub 17.1 cannot send a message of 4 MiB or more (its outbound frame cap): the whole
 * encoded RPC must stay under this, so chunk payloads are capped below it with room for the header.
 */
export const GOSSIPSUB_OUTBOUND_CAP_BYTES = 4 * MiB

/** Room kept for the chunk header, signer, signature and the gossip RPC framing. */
export const CHUNK_ENVELOPE_RESERVE_BYTES = 64 * KiB

/** Largest chunk payload that can be published (docs/protocol.md §2: send ≤ 4 MiB). */
export const MAX_CHUNK_PAYLOAD_BYTES = GOSSIPSUB_OUTBOUND_CAP_BYTES - CHUNK_ENVELOPE_RESERVE_BYTES

/** Dimension of the content embedding carried in BFT proposals (docs/protocol.md §5). */
export const EMBEDDING_DIM = 512

/** A proposal's embedding must have L2 norm within this of 1 (docs/protocol.md §5 step 2). */
export const EMBEDDING_NORM_TOLERANCE = 1e-3
