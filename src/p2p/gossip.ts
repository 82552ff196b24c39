// The Gossip seam (ARCHITECTURE.md): what the rest of the node needs from the mesh. The libp2p
// implementation lives in this folder; unit tests elsewhere substitute an in-process fake.
import type { TopicName } from './topics.ts'

/** Outcome of an application validator (PROTOCOL.md §2): reject lowers the sender's score. */
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
   * BFT validator this way, since p2p does not know BFT rules.
   */
  setValidator(topic: TopicName, validator: TopicValidator): void
}
