// Node configuration checks (no network): refused values name their key, and the scoring
// parameters built from TOPIC_SPECS pass GossipSub's own validation.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  createPeerScoreParams,
  createPeerScoreThresholds,
  validatePeerScoreParams,
  validatePeerScoreThresholds,
} from '@libp2p/gossipsub/score'
import {
  buildScoreParams,
  buildScoreThresholds,
  MAX_PUBLISH_BYTES,
  P2PError,
  P2PNode,
  SCORE_DEFAULTS,
  TOPIC_NAMES,
  TOPIC_SPECS,
  TOPICS,
  topicNameOf,
} from '../../../src/p2p/index.ts'
import { GOSSIPSUB_OUTBOUND_CAP_BYTES, MAX_CHUNK_PAYLOAD_BYTES } from '../../../src/types/index.ts'
import { testKey } from '../../fixtures/index.ts'
import { expectCode } from '../../helpers.ts'

describe('P2PNode configuration', async () => {
  const key = await testKey(50)

  it('refuses bad values with INVALID_CONFIG naming the key', () => {
    const cases: Array<[string, object]> = [
      ['video.chunkSize', { video: { chunkSize: 8 * 1024 * 1024 } }],
      ['bootstrap', { bootstrap: ['/ip4/127.0.0.1/tcp/9000'] }],
      ['bootstrap', { bootstrap: ['not a multiaddr'] }],
      ['maxBytes.bft', { maxBytes: { bft: 0 } }],
      ['maxBytes.video', { maxBytes: { video: 64 * 1024 * 1024 } }],
      ['mesh', { mesh: { D: 3, Dlo: 4 } }],
      ['rateLimit.messagesPerMinute', { rateLimit: { messagesPerMinute: -1 } }],
      ['video.maxContentIdsPerSlot', { electedForSlot: () => null, video: { maxContentIdsPerSlot: 0 } }],
    ]
    for (const [field, init] of cases) {
      const err = expectCode(() => new P2PNode({ key, ...init }), P2PError, 'INVALID_CONFIG', field)
      assert.ok(err.message.startsWith(field), `${field}: message names the key: ${err.message}`)
    }
  })

  it('accepts the defaults and knows its PeerId before start', () => {
    const node = new P2PNode({ key })
    assert.equal(node.peerId, key.peerId.toString())
    assert.equal(node.started, false)
    assert.equal(node.status().started, false)
  })

  it('publish cap leaves room for a maximal chunk under the 4 MiB GossipSub frame', () => {
    assert.ok(MAX_PUBLISH_BYTES < GOSSIPSUB_OUTBOUND_CAP_BYTES)
    assert.ok(MAX_CHUNK_PAYLOAD_BYTES + 512 < MAX_PUBLISH_BYTES)
  })
})

describe('topics and scoring', () => {
  it('maps topic strings back to names, and nothing else', () => {
    for (const n of TOPIC_NAMES) assert.equal(topicNameOf(TOPICS[n]), n)
    assert.equal(topicNameOf('/nsn/video/2.0.0'), undefined)
    assert.equal(TOPIC_NAMES.length, 6)
  })

  it('builds per-topic weights from TOPIC_SPECS that GossipSub accepts', () => {
    const params = createPeerScoreParams(buildScoreParams({ appSpecificScore: () => 0 }))
    assert.doesNotThrow(() => validatePeerScoreParams(params))
    const thresholds = createPeerScoreThresholds(buildScoreThresholds())
    assert.doesNotThrow(() => validatePeerScoreThresholds(thresholds))
    for (const n of TOPIC_NAMES) {
      assert.equal(params.topics[TOPIC_SPECS[n].topic]!.topicWeight, TOPIC_SPECS[n].weight, n)
    }
    assert.equal(params.topics[TOPICS.bft]!.topicWeight, 3)
  })

  it('one rejected video chunk drops a neutral peer below the gossip threshold, two below graylist', () => {
    const w = TOPIC_SPECS.video.weight * SCORE_DEFAULTS.invalidMessageDeliveriesWeight
    assert.ok(w * 1 < SCORE_DEFAULTS.gossipThreshold)
    assert.ok(w * 4 < SCORE_DEFAULTS.graylistThreshold)
  })
})
