// A hostile peer for the attack tests: a libp2p node in the test process that joins the mesh under
// its own key or under an elected director's key (whose real process is then not started) and sends
// what the attack needs — junk on any topic, tiny validly signed chunks for slots of its choice.
// It relays nothing it was not asked to and never throws on a refused publish: the honest nodes'
// verdicts are what the tests measure.
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import type { NodeKey } from '../../src/crypto/index.ts'
import { buildVideoChunks, P2PNode, TOPIC_NAMES, type TopicName } from '../../src/p2p/index.ts'
import { bytesToHex, encodeVideoChunk, type VideoChunk } from '../../src/types/index.ts'

export interface AttackerInit {
  key: NodeKey
  /** Multiaddrs (with /p2p/) of the honest nodes it connects to. */
  bootstrap: string[]
  /** Elected set of a slot (protobuf keys), for its own video relay policy; null when unknown. */
  electedForSlot?: (slot: bigint) => readonly Uint8Array[] | null
}

export interface PublishTally {
  sent: number
  refused: number
  /** The first refusal's message, if any. */
  firstError: string | null
}

export class Attacker {
  readonly p2p: P2PNode

  constructor(private readonly init: AttackerInit) {
    this.p2p = new P2PNode(
      {
        key: init.key,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: init.bootstrap,
        // An attacker joins every topic, including those honest nodes do not relay.
        topics: TOPIC_NAMES,
        rateLimit: false,
        electedForSlot: init.electedForSlot ?? (() => null),
      },
      { logger: pino({ level: 'silent' }) },
    )
  }

  get peerId(): string {
    return this.p2p.peerId
  }

  start(): Promise<void> {
    return this.p2p.start()
  }

  stop(): Promise<void> {
    return this.p2p.stop()
  }

  /** Publish `count` distinct junk messages of `bytes` each on `topic`; refusals are counted, not thrown. */
  async flood(topic: TopicName, count: number, bytes = 64): Promise<PublishTally> {
    const tally: PublishTally = { sent: 0, refused: 0, firstError: null }
    for (let i = 0; i < count; i++) {
      try {
        await this.p2p.publish(topic, new Uint8Array(randomBytes(bytes)))
        tally.sent++
      } catch (err) {
        tally.refused++
        tally.firstError ??= (err as Error).message
      }
    }
    return tally
  }

  /** One validly signed one-chunk video of `bytes` random bytes for `slot` (content id = random hex). */
  tinyChunk(slot: bigint, bytes = 16): VideoChunk {
    const contentId = bytesToHex(randomBytes(32))
    return buildVideoChunks(contentId, slot, new Uint8Array(randomBytes(bytes)), this.init.key)[0]!
  }

  async publishChunks(chunks: readonly VideoChunk[]): Promise<PublishTally> {
    const tally: PublishTally = { sent: 0, refused: 0, firstError: null }
    for (const c of chunks) {
      try {
        await this.p2p.publish('video', encodeVideoChunk(c))
        tally.sent++
      } catch (err) {
        tally.refused++
        tally.firstError ??= (err as Error).message
      }
    }
    return tally
  }
}
