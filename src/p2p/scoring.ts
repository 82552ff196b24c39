// GossipSub v1.1 peer-scoring parameters built from TOPIC_SPECS weights (docs/protocol.md §2) and
// SCORE_DEFAULTS. The arithmetic behind each number is in docs/p2p.md.
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'
import { SCORE_DEFAULTS } from './constants.ts'
import { TOPIC_NAMES, TOPIC_SPECS } from './topics.ts'

export interface ScoreInputs {
  /** P5: application score of a peer (our rate-limit graylist). */
  appSpecificScore: (peer: string) => number
  /** Addresses exempt from the IP-colocation penalty (P6). Loopback: a devnet runs every node on 127.0.0.1. */
  ipColocationWhitelist?: readonly string[]
}

export function topicScoreParams(weight: number): TopicScoreParams {
  const s = SCORE_DEFAULTS
  return {
    topicWeight: weight,
    timeInMeshWeight: s.timeInMeshWeight,
    timeInMeshQuantum: 1000,
    timeInMeshCap: s.timeInMeshCapSec,
    firstMessageDeliveriesWeight: s.firstMessageDeliveriesWeight,
    firstMessageDeliveriesDecay: s.firstMessageDeliveriesDecay,
    firstMessageDeliveriesCap: s.firstMessageDeliveriesCap,
    // P3/P3b off: our topics are bursty (a video at one moment of a 45 s slot, ~15 BFT messages
    // per slot), so any expected delivery rate would penalise honest mesh peers in quiet periods.
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 1,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    invalidMessageDeliveriesWeight: s.invalidMessageDeliveriesWeight,
    invalidMessageDeliveriesDecay: s.invalidMessageDeliveriesDecay,
  }
}

export function buildScoreParams(inputs: ScoreInputs): Partial<PeerScoreParams> {
  const topics: Record<string, TopicScoreParams> = {}
  for (const name of TOPIC_NAMES) topics[TOPIC_SPECS[name].topic] = topicScoreParams(TOPIC_SPECS[name].weight)
  return {
    topics,
    topicScoreCap: SCORE_DEFAULTS.topicScoreCap,
    appSpecificScore: inputs.appSpecificScore,
    appSpecificWeight: 1,
    IPColocationFactorWhitelist: new Set(inputs.ipColocationWhitelist ?? ['127.0.0.1', '::1']),
    decayInterval: 1000,
    decayToZero: 0.01,
    retainScore: SCORE_DEFAULTS.retainScoreMs,
  }
}

export function buildScoreThresholds(): PeerScoreThresholds {
  const s = SCORE_DEFAULTS
  return {
    gossipThreshold: s.gossipThreshold,
    publishThreshold: s.publishThreshold,
    graylistThreshold: s.graylistThreshold,
    acceptPXThreshold: s.acceptPXThreshold,
    opportunisticGraftThreshold: s.opportunisticGraftThreshold,
  }
}
