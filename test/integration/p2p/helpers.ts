// Helpers for the mesh integration tests: real libp2p nodes on 127.0.0.1 in this process, bounded
// polling instead of sleeps, and teardown that stops every node that was started.
import { Registry } from 'prom-client'
import type { NodeKey } from '../../../src/crypto/index.ts'
import {
  createP2PMetrics,
  type P2PMetrics,
  P2PNode,
  type P2PNodeInit,
  TOPIC_NAMES,
  type TopicName,
  validateBftDecodes,
  validateEvidenceDecodes,
  validateNonEmpty,
} from '../../../src/p2p/index.ts'

export interface TestNode {
  node: P2PNode
  registry: Registry
  metrics: P2PMetrics
}

export const LOOPBACK_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']

/**
 * Start a node on loopback with its own metrics registry; `started` collects it for teardown. These
 * mesh tests use every topic as a carrier: the node joins all six and installs decode-level
 * validators where a real node would wait for Lane 0's (bft, challenges) or not relay at all
 * (attestations, tasks); a test may replace them with setValidator.
 */
export async function startNode(
  started: TestNode[],
  key: NodeKey,
  init: Omit<P2PNodeInit, 'key'> = {},
): Promise<TestNode> {
  const registry = new Registry()
  const metrics = createP2PMetrics(registry)
  const node = new P2PNode({ listen: LOOPBACK_LISTEN, topics: TOPIC_NAMES, ...init, key }, { metrics })
  node.setValidator('bft', (d) => validateBftDecodes(d))
  node.setValidator('challenges', (d) => validateEvidenceDecodes(d))
  node.setValidator('attestations', (d) => validateNonEmpty(d))
  node.setValidator('tasks', (d) => validateNonEmpty(d))
  started.push({ node, registry, metrics })
  await node.start()
  return started[started.length - 1]!
}

export async function stopAll(started: TestNode[]): Promise<void> {
  await Promise.allSettled(started.reverse().map((t) => t.node.stop()))
  started.length = 0
}

/** The node's address on one transport, with /p2p/<PeerId>. */
export function addrOf(node: P2PNode, transport: 'tcp' | 'ws'): string {
  const a = node
    .multiaddrs()
    .find((m) => (transport === 'ws' ? m.includes('/ws/') : !m.includes('/ws')) && m.includes('127.0.0.1'))
  if (a === undefined) throw new Error(`${node.peerId} has no ${transport} address: ${node.multiaddrs()}`)
  return a
}

/** Poll `cond` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (cond()) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return cond()
}

/** Wait until every node's mesh for `topic` holds all of its connected peers. */
export async function waitForFullMesh(
  nodes: P2PNode[],
  topic: TopicName,
  timeoutMs: number,
): Promise<boolean> {
  return until(
    () =>
      nodes.every((n) => {
        const connected = new Set(n.status().connections.map((c) => c.peer))
        const mesh = new Set(n.meshPeers(topic))
        return connected.size > 0 && [...connected].every((p) => mesh.has(p))
      }),
    timeoutMs,
  )
}

/** Value of nsn_p2p_validations_total for one label set. */
export async function validationCount(
  registry: Registry,
  labels: { topic: TopicName; result: string; code?: string },
): Promise<number> {
  const metric = registry.getSingleMetric('nsn_p2p_validations_total')
  if (metric === undefined) return 0
  const { values } = await metric.get()
  let n = 0
  for (const v of values) {
    const l = v.labels as Record<string, string>
    if (
      l.topic === labels.topic &&
      l.result === labels.result &&
      (labels.code === undefined || l.code === labels.code)
    )
      n += v.value
  }
  return n
}
