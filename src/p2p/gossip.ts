// The Gossip seam: what the rest of the node needs from the mesh. The libp2p
// implementation lives in this folder; unit tests elsewhere substitute an in-process fake.
import type { VideoChunk } from '../types/index.ts'
import type { TopicName } from './topics.ts'
import type { GossipValidatorFn } from './validators.ts'

/** Outcome of an application validator (docs/protocol.md §2): reject lowers the sender's score. */
export type ValidationResult = 'accept' | 'reject' | 'ignore'

/**
 * Application validator for one topic: runs before a message is forwarded. It receives the raw
 * bytes (already within the topic's size limit) and the sending peer's id string.
 */
export type TopicValidator = (data: Uint8Array, from: string) => ValidationResult | Promise<ValidationResult>

/** A message that passed validation. */
export interface GossipMessage {
  topic: TopicName
  data: Uint8Array
  /** PeerId (string) of the peer that forwarded it to us. */
  from: string
}

export type GossipHandler = (msg: GossipMessage) => void

export interface PublishResult {
  /** Number of peers the message was sent to. */
  recipients: number
}

export interface Gossip {
  /** Publish raw bytes; throws a P2PError when the message is over-size or reached no peer. */
  publish(topic: TopicName, data: Uint8Array): Promise<PublishResult>
  /** Deliver validated messages of `topic`; returns an unsubscribe function. */
  subscribe(topic: TopicName, handler: GossipHandler): () => void
  /**
   * Install the application validator of `topic` (replacing the default one). Lane 0 installs the
   * BFT validator this way, since p2p does not know BFT rules. A validator either answers with a
   * bare result or returns the decoded value and throws GossipValidationError to refuse.
   */
  setValidator(topic: TopicName, validator: TopicValidator | GossipValidatorFn<unknown>): void
}

/** Outcome of publishing one video's chunks (with timings). */
export interface PublishVideoReport {
  /** Chunks given. */
  total: number
  /** Chunks that reached at least one peer. */
  published: number
  /** Chunks that could not be published (over-size, no peers, not sent). */
  failed: number
  /** Slowest chunk acknowledgement (ms): publish until its bytes left every recipient's stream buffer. */
  maxAckMs: number
  /** Mean acknowledgement over published chunks (ms); 0 when none was published. */
  avgAckMs: number
  /** Error code of each failed chunk, by chunk index (absent when none failed). */
  errors?: Array<{ index: number; code: string }>
}

/** The Gossip seam plus video publication: what the Lane 0 chunk publisher needs. */
export interface VideoGossip extends Gossip {
  /** Publish signed chunks in order on /nsn/video/1.0.0; never throws for a single chunk's failure. */
  publishVideo(chunks: readonly VideoChunk[]): Promise<PublishVideoReport>
}
