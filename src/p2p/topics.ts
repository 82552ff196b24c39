// GossipSub topics of docs/protocol.md §2: exact strings, size limits, scoring weights.
import { TOPIC_MAX_BYTES } from '../types/index.ts'

export const TOPICS = {
  recipes: '/nsn/recipes/1.0.0',
  video: '/nsn/video/1.0.0',
  bft: '/nsn/bft/1.0.0',
  attestations: '/nsn/attestations/1.0.0',
  challenges: '/nsn/challenges/1.0.0',
  tasks: '/nsn/tasks/1.0.0',
} as const

export type TopicName = keyof typeof TOPICS
export type TopicString = (typeof TOPICS)[TopicName]

export interface TopicSpec {
  readonly name: TopicName
  readonly topic: TopicString
  readonly maxBytes: number
  /** Peer-scoring topic weight (docs/protocol.md §2). */
  readonly weight: number
  /** Publish to all peers, not only the mesh (BFT: latency matters more than bandwidth). */
  readonly floodPublish: boolean
}

export const TOPIC_SPECS: Readonly<Record<TopicName, TopicSpec>> = {
  recipes: {
    name: 'recipes',
    topic: TOPICS.recipes,
    maxBytes: TOPIC_MAX_BYTES.recipes,
    weight: 1.0,
    floodPublish: false,
  },
  video: {
    name: 'video',
    topic: TOPICS.video,
    maxBytes: TOPIC_MAX_BYTES.video,
    weight: 2.0,
    floodPublish: false,
  },
  bft: { name: 'bft', topic: TOPICS.bft, maxBytes: TOPIC_MAX_BYTES.bft, weight: 3.0, floodPublish: true },
  attestations: {
    name: 'attestations',
    topic: TOPICS.attestations,
    maxBytes: TOPIC_MAX_BYTES.attestations,
    weight: 2.0,
    floodPublish: false,
  },
  challenges: {
    name: 'challenges',
    topic: TOPICS.challenges,
    maxBytes: TOPIC_MAX_BYTES.challenges,
    weight: 2.5,
    floodPublish: false,
  },
  tasks: {
    name: 'tasks',
    topic: TOPICS.tasks,
    maxBytes: TOPIC_MAX_BYTES.tasks,
    weight: 1.5,
    floodPublish: false,
  },
}

/** The six topic names, in the order of docs/protocol.md §2. */
export const TOPIC_NAMES: readonly TopicName[] = Object.freeze(Object.keys(TOPICS) as TopicName[])

const NAME_BY_TOPIC = new Map<string, TopicName>(TOPIC_NAMES.map((n) => [TOPICS[n], n]))

/** The topic name of a wire topic string, or undefined for a topic that is not ours. */
export function topicNameOf(topic: string): TopicName | undefined {
  return NAME_BY_TOPIC.get(topic)
}

/**
 * Topics a node joins by default: those whose messages are authenticated (docs/protocol.md §2).
 * `attestations` and `tasks` have no signed wire type here, so they are not joined.
 */
export const RELAYED_TOPICS: readonly TopicName[] = Object.freeze(['recipes', 'video', 'bft', 'challenges'])
