// Relay-path tuning of @libp2p/gossipsub 17.1 for large messages, installed on one GossipSub
// instance. Nothing here changes what goes on the wire (same RPC encoding, same protocol ids,
// same peers chosen by the same mesh), only how often the node encodes, sends and verifies:
//   1. A forwarded message is encoded ONCE for all its recipients (upstream encodes the whole RPC
//      again for every peer, to piggyback control messages; those stay queued and go out with
//      the next RPC or heartbeat, as they do for a batch publish).
//   2. A message is never forwarded to its author, nor to a peer that already sent it to us
//      while we were validating it: both provably have it (upstream relies on IDONTWANT, which a
//      peer sends only after its own signature check, so near-simultaneous copies cross).
//   3. Our own published messages enter the fast message-id cache, so a copy that comes back is
//      dropped before its signature (over the whole 1 MiB message) is verified again.
//   4. Video publish striping: a video chunk is published to `videoPublishPeers` mesh peers,
//      rotating per chunk, instead of every mesh peer; the mesh forwards it on. The publisher's
//      upload per chunk drops from D copies to videoPublishPeers copies (docs/protocol.md §10's
//      propagation budget on a home uplink); every subscriber still receives every chunk through
//      the connected mesh.
// The hooks use internals of the GossipSub class (typed below, checked at install): the
// dependency is pinned to 17.1 and a missing member fails start-up loudly, not silently.
import { toString as toBase58 } from 'uint8arrays/to-string'

interface RawMessage {
  from?: Uint8Array
  seqno?: Uint8Array
  topic: string
  data?: Uint8Array
}

interface Rpc {
  messages: RawMessage[]
}

/** The members of @libp2p/gossipsub 17.1's GossipSub class that the hooks use. */
export interface GossipSubInternals {
  forwardMessage(
    msgIdStr: string,
    rawMsg: RawMessage,
    propagationSource?: string,
    excludePeers?: Set<string>,
  ): void
  selectPeersToForward(topic: string, propagationSource?: string, excludePeers?: Set<string>): Set<string>
  selectPeersToPublish(topic: string, floodPublish?: boolean): { tosend: Set<string>; tosendCount: unknown }
  sendRpcInBatch(tosend: Set<string>, rpc: Rpc): void
  idontwants: Map<string, Map<string, number>>
  score: {
    deliverMessage(from: string, msgIdStr: string, topic: string): void
    duplicateMessage(from: string, msgIdStr: string, topic: string): void
  }
  mcache: {
    put(messageId: { msgId: Uint8Array; msgIdStr: string }, msg: RawMessage, validated?: boolean): boolean
  }
  fastMsgIdCache?: { get(id: string): string | undefined; put(id: string, msgIdStr: string): boolean }
  fastMsgIdFn?: (msg: RawMessage) => string
  metrics?: { onForwardMsg(topic: string, n: number): void } | null
}

export interface GossipSubTuning {
  /** Topic string of the video topic (striping applies to it only). */
  videoTopic: string
  /** Mesh peers a video chunk is published to; 0 = every mesh peer (upstream behaviour). */
  videoPublishPeers: number
}

/** Most recent message ids for which duplicate senders are remembered (bounded memory). */
const DUPLICATE_SENDERS_MAX_MESSAGES = 512
/** Peers remembered per message id (bounded by connections anyway). */
const DUPLICATE_SENDERS_MAX_PEERS = 64

const REQUIRED = [
  'forwardMessage',
  'selectPeersToForward',
  'selectPeersToPublish',
  'sendRpcInBatch',
  'idontwants',
  'score',
  'mcache',
] as const

/** Counters of the relay path since start (for status and benchmarks). */
export interface RelayPathCounters {
  /** Copies of already-seen messages received. */
  duplicatesReceived: number
  /** Message copies forwarded (one per recipient). */
  forwarded: number
}

/** Install the hooks on `pubsub` (a GossipSub 17.1 instance, before or after start). */
export function tuneGossipSub(pubsub: unknown, tuning: GossipSubTuning): RelayPathCounters {
  const counters: RelayPathCounters = { duplicatesReceived: 0, forwarded: 0 }
  const gs = pubsub as GossipSubInternals
  for (const name of REQUIRED) {
    if ((gs as unknown as Record<string, unknown>)[name] === undefined) {
      throw new Error(
        `GossipSub tuning: the GossipSub instance has no "${name}" (not @libp2p/gossipsub 17.1?)`,
      )
    }
  }

  // 2. Peers that sent us a copy of a message we have not forwarded yet.
  const duplicateSenders = new Map<string, Set<string>>()
  const duplicateMessage = gs.score.duplicateMessage.bind(gs.score)
  gs.score.duplicateMessage = (from, msgIdStr, topic) => {
    counters.duplicatesReceived++
    let set = duplicateSenders.get(msgIdStr)
    if (set === undefined) {
      set = new Set()
      duplicateSenders.set(msgIdStr, set)
      if (duplicateSenders.size > DUPLICATE_SENDERS_MAX_MESSAGES) {
        duplicateSenders.delete(duplicateSenders.keys().next().value as string)
      }
    }
    if (set.size < DUPLICATE_SENDERS_MAX_PEERS) set.add(from)
    duplicateMessage(from, msgIdStr, topic)
  }

  // 1 + 2. Forward: same peer selection, minus author and duplicate senders, one encoding.
  gs.forwardMessage = (msgIdStr, rawMsg, propagationSource, excludePeers) => {
    if (propagationSource !== undefined) gs.score.deliverMessage(propagationSource, msgIdStr, rawMsg.topic)
    const exclude = new Set(excludePeers ?? [])
    const author = authorOf(rawMsg)
    if (author !== undefined) exclude.add(author)
    for (const p of duplicateSenders.get(msgIdStr) ?? []) exclude.add(p)
    duplicateSenders.delete(msgIdStr)
    const tosend = gs.selectPeersToForward(rawMsg.topic, propagationSource, exclude)
    for (const id of tosend) if (gs.idontwants.get(id)?.has(msgIdStr) === true) tosend.delete(id)
    if (tosend.size > 0) gs.sendRpcInBatch(tosend, { messages: [rawMsg] })
    counters.forwarded += tosend.size
    gs.metrics?.onForwardMsg(rawMsg.topic, tosend.size)
  }

  // 3. Our own messages in the fast id cache (received messages are put there before validation).
  const put = gs.mcache.put.bind(gs.mcache)
  gs.mcache.put = (messageId, msg, validated) => {
    const fast = gs.fastMsgIdFn?.(msg)
    if (fast !== undefined && fast !== '' && gs.fastMsgIdCache?.get(fast) === undefined) {
      gs.fastMsgIdCache?.put(fast, messageId.msgIdStr)
    }
    return put(messageId, msg, validated)
  }

  // 4. Video publish striping.
  if (tuning.videoPublishPeers > 0) {
    const select = gs.selectPeersToPublish.bind(gs)
    let turn = 0
    gs.selectPeersToPublish = (topic, floodPublish) => {
      const result = select(topic, floodPublish)
      if (
        topic !== tuning.videoTopic ||
        floodPublish === true ||
        result.tosend.size <= tuning.videoPublishPeers
      ) {
        return result
      }
      const all = [...result.tosend].sort()
      const start = turn++ % all.length
      const picked = new Set<string>()
      for (let i = 0; i < tuning.videoPublishPeers; i++) picked.add(all[(start + i) % all.length]!)
      return { tosend: picked, tosendCount: result.tosendCount }
    }
  }
  return counters
}

/** The author's PeerId string: a PeerId is printed as base58btc of its multihash (`from`). */
function authorOf(msg: RawMessage): string | undefined {
  return msg.from === undefined || msg.from.length === 0 ? undefined : toBase58(msg.from, 'base58btc')
}
