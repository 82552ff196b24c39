// The start-up window (docs/protocol.md §2): between a node joining its topics and Lane 0 installing the
// full bft and challenges validators (measured about 120 ms on a real restart), a forged proposal and
// forged evidence were accepted on a decode-only check and forwarded. Real libp2p nodes on
// 127.0.0.1: an attacker, a node whose Lane 0 validators are not installed yet, and a listener
// behind it. Nothing the attacker sends may be accepted or reach the listener.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { Registry } from 'prom-client'
import { NodeKey, signProposal } from '../../../src/crypto/index.ts'
import { createP2PMetrics, P2PNode } from '../../../src/p2p/index.ts'
import { EMBEDDING_DIM, encodeBftSignal, encodeEquivocationEvidence } from '../../../src/types/index.ts'
import { TEST_NETWORK_ID } from '../../fixtures/index.ts'
import { waitFor } from '../../helpers/network.ts'
import { addrOf, validationCount } from '../p2p/helpers.ts'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']

describe('attack: forged BFT messages in the start-up window', { timeout: 60_000 }, () => {
  const nodes: P2PNode[] = []
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()))
  })

  test('bft and challenges ignore everything until the full validators are installed', async () => {
    const attackerKey = await NodeKey.generate()
    const registry = new Registry()
    // The victim as it is right after start: default validators only (Lane 0 not installed yet).
    const victim = new P2PNode(
      { key: await NodeKey.generate(), listen: LISTEN },
      { metrics: createP2PMetrics(registry) },
    )
    const listener = new P2PNode({ key: await NodeKey.generate(), listen: LISTEN })
    const attacker = new P2PNode({ key: attackerKey, listen: LISTEN, rateLimit: false })
    nodes.push(victim, listener, attacker)
    for (const n of nodes) await n.start()
    // The listener takes whatever decodes (so that anything forwarded to it would be seen).
    listener.setValidator('bft', () => 'accept')
    listener.setValidator('challenges', () => 'accept')
    const got: string[] = []
    listener.subscribe('bft', () => got.push('bft'))
    listener.subscribe('challenges', () => got.push('challenges'))
    await listener.dial(addrOf(victim, 'tcp'))
    await attacker.dial(addrOf(victim, 'tcp'))
    for (const [n, t] of [
      [attacker, 'bft'],
      [attacker, 'challenges'],
      [listener, 'bft'],
      [listener, 'challenges'],
    ] as const) {
      assert.equal(await n.waitForMesh(t, 1, 15_000), 1, `${t} mesh`)
    }
    const proposal = (n: number) =>
      signProposal(attackerKey, TEST_NETWORK_ID, {
        epoch: 0n,
        slot: 1n,
        recipe_hash: new Uint8Array(32).fill(n),
        content_hash: new Uint8Array(32).fill(n),
        embedding: new Float32Array(EMBEDDING_DIM).fill(1 / Math.sqrt(EMBEDDING_DIM)),
      })
    await attacker.publish('bft', encodeBftSignal({ kind: 'Proposal', value: proposal(1) }))
    await attacker.publish(
      'challenges',
      encodeEquivocationEvidence({ first: proposal(1), second: proposal(2) }),
    )
    const count = async (result: string, code?: string) =>
      (await validationCount(registry, { topic: 'bft', result, code })) +
      (await validationCount(registry, { topic: 'challenges', result, code }))
    const ignored = await waitFor(
      'both forged messages ignored by the victim',
      async () => ((await count('ignore', 'VALIDATOR_PENDING')) >= 2 ? true : null),
      { timeoutMs: 10_000, seen: async () => `accepted ${await count('accept')}` },
    )
    assert.ok(ignored)
    assert.equal(await count('accept'), 0, 'nothing accepted')
    // A control message through the same path proves the listener would have seen a forward.
    victim.setValidator('bft', () => 'accept')
    await attacker.publish('bft', encodeBftSignal({ kind: 'Proposal', value: proposal(3) }))
    await waitFor('the control message forwarded', () => (got.includes('bft') ? true : null), {
      timeoutMs: 10_000,
    })
    assert.deepEqual(
      got,
      ['bft'],
      'only the message sent after the validator was installed reached the listener',
    )
  })
})
