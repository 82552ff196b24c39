// The plan's Task 8 with five in-process directors over the fake gossip hub: On-Deck → Active →
// recipe → generation → BFT → publish → chain → epoch end → Standby, plus its error cases (sidecar
// timeout, sidecar error, BFT failure) and a director elected for two consecutive epochs.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Registry } from 'prom-client'
import { blake3 } from '../../../src/crypto/index.ts'
import { createLane0Metrics } from '../../../src/lane0/index.ts'
import { RelayVideoPolicy } from '../../../src/p2p/index.ts'
import { bytesToHex, decodeVideoChunk } from '../../../src/types/index.ts'
import { driveUntil, until } from './fakes.ts'
import { makeNetwork, type Net } from './network.ts'

/** Elect the five for epoch 1 (blocks 8..15, slots 4..7) and start it with a recipe for slot 4. */
async function runEpochOne(net: Net): Promise<void> {
  net.chain.onDeck(1n, net.elected, 6n)
  await until(() => net.nodes.every((x) => x.director.state.kind === 'OnDeck'), 'On-Deck')
  await net.publishRecipe(4n)
  await until(
    () => net.nodes.every((x) => x.director.recipes.peek(4n) !== undefined),
    'recipe queued everywhere',
  )
  net.chain.startEpoch(1n, 8n)
}

const done = (net: Net, slot: bigint, who = net.nodes) =>
  who.every((x) => x.slots.some((e) => e.slot === slot && (e.stage === 'done' || e.stage === 'failed')))

describe('director lifecycle (5 directors, fakes at the seams)', () => {
  it('On-Deck → Active → recipe → generation → BFT → publish → chain → epoch end → Standby', async () => {
    const net = await makeNetwork()
    try {
      await runEpochOne(net)
      await until(() => done(net, 4n), 'slot 4 done on every director')
      // Every director certified the same result.
      const certified = net.nodes.map((x) => net.stageOf(x, 4n, 'certified'))
      assert.ok(certified.every((c) => c?.stage === 'certified'))
      const hashes = new Set(certified.map((c) => (c?.stage === 'certified' ? c.canonicalHash : '')))
      assert.equal(hashes.size, 1)
      const canonical = net.nodes.find((x) => {
        const c = net.stageOf(x, 4n, 'certified')
        return c?.stage === 'certified' && c.rank === 0
      })!
      // Only the canonical published chunks; the viewer played exactly the certified content.
      const published = net.stageOf(canonical, 4n, 'chunks-published')
      assert.ok(
        published?.stage === 'chunks-published' && published.total === 3 && published.role === 'canonical',
      )
      assert.equal(net.hub.count('video'), 3)
      assert.equal(net.hub.count('video', `d${canonical.index}`), 3)
      await until(() => net.viewer.completed(4n) !== null, 'viewer completes slot 4')
      assert.deepEqual(net.viewer.completed(4n)!.video, net.video)
      assert.equal(bytesToHex(net.viewer.completed(4n)!.contentHash), bytesToHex(blake3(net.video)))
      // Exactly one chain submission, by the canonical director; the others observed it.
      await net.clock.tick(20_000)
      await until(
        () =>
          net.nodes.every((x) =>
            ['accepted', 'observed'].includes(x.director.journal.get(4n)?.submission.state ?? ''),
          ),
        'settled',
      )
      assert.equal(net.chain.submissions.length, 1)
      assert.equal(net.chain.submissions[0]!.submitter, bytesToHex(net.keys[canonical.index]!.publicKeyProto))
      assert.equal(canonical.director.journal.get(4n)?.submission.state, 'accepted')
      // Finality reaches every director.
      net.chain.finalize(4n)
      await until(
        () => net.nodes.every((x) => net.stageOf(x, 4n, 'finalized') !== undefined),
        'finalized events',
      )
      assert.ok(net.nodes.every((x) => x.director.journal.get(4n)?.finalized === true))
      // Stage events came in pipeline order.
      const order: string[] = canonical.slots.filter((e) => e.slot === 4n).map((e) => e.stage)
      for (const [a, b] of [
        ['recipe', 'generating'],
        ['generating', 'generated'],
        ['generated', 'certified'],
        ['certified', 'chunks-published'],
        ['chunks-published', 'done'],
      ])
        assert.ok(order.indexOf(a!) < order.indexOf(b!), `${a} before ${b}: ${order.join(',')}`)
      assert.ok(order.includes('proposals'))
      // The epoch ends: Draining then Standby, lane back to Lane 1.
      net.chain.endEpoch(1n, 16n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'Standby'), 'Standby')
      for (const x of net.nodes) {
        assert.deepEqual(x.states, ['OnDeck{1}', 'Active{1, -}', 'Active{1, 4}', 'Draining{1}', 'Standby'])
        assert.deepEqual(x.prewarm, [{ epoch: 1n, ok: true, reason: null }])
        assert.equal(x.director.laneMode.kind, 'Lane1Active')
        assert.deepEqual(x.errors, [])
      }
      // What the composition root wires into the p2p relay policy.
      assert.equal(canonical.director.electedForSlot(4n)?.length, 5)
      assert.equal(canonical.director.electedForSlot(400n), null)
      const relay = new RelayVideoPolicy({ electedForSlot: (s) => canonical.director.electedForSlot(s) })
      const chunk = net.hub.published.find((m) => m.topic === 'video')!
      assert.doesNotThrow(() => relay.check(decodeVideoChunk(chunk.data)), 'p2p relays the canonical chunks')
      const status = canonical.director.status()
      assert.equal(status.stateText, 'Standby')
      assert.equal(status.recentSlots[0]?.slot, 4n)
    } finally {
      await net.cleanup()
    }
  })

  it('pre-warm failure is reported On-Deck, before the epoch starts', async () => {
    const net = await makeNetwork()
    try {
      net.nodes[2]!.sidecar.plugins = []
      net.nodes[3]!.sidecar.healthy = false
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => net.nodes.every((x) => x.prewarm.length === 1), 'pre-warm results')
      assert.equal(net.nodes[0]!.prewarm[0]!.ok, true)
      assert.match(net.nodes[2]!.prewarm[0]!.reason ?? '', /vortex-lane0/)
      assert.equal(net.nodes[3]!.prewarm[0]!.ok, false)
      assert.ok(
        net.nodes.every((x) => x.director.state.kind === 'OnDeck'),
        'still On-Deck: the epoch has not started',
      )
    } finally {
      await net.cleanup()
    }
  })

  it('sidecar timeout at one director: it fails at generate (TIMEOUT), the other four certify', async () => {
    const net = await makeNetwork({ config: { vortexTimeoutMs: 45_000, vortexRetries: 1 } })
    try {
      net.nodes[0]!.sidecar.behaviours = [{ kind: 'hang' }]
      await runEpochOne(net)
      await driveUntil(net.clock, () => done(net, 4n), 'slot 4 done', { stepMs: 500, maxMs: 120_000 })
      const f = net.stageOf(net.nodes[0]!, 4n, 'failed')
      assert.ok(f?.stage === 'failed')
      assert.equal(f.failedStage, 'generate')
      assert.equal(f.code, 'GENERATION_FAILED')
      assert.equal(f.causeCode, 'TIMEOUT')
      assert.equal(net.nodes[0]!.sidecar.calls.length, 2, 'one retry')
      for (const x of net.nodes.slice(1)) {
        const c = net.stageOf(x, 4n, 'certified')
        assert.ok(c?.stage === 'certified' && c.members === 4)
      }
      assert.ok(await net.chain.slotResult(4n))
      assert.equal(net.nodes[0]!.director.journal.get(4n)?.stage, 'failed')
    } finally {
      await net.cleanup()
    }
  })

  it('sidecar error at one director: it fails at generate (SIDECAR_ERROR), the slot still succeeds', async () => {
    const net = await makeNetwork()
    try {
      net.nodes[1]!.sidecar.behaviours = [{ kind: 'error', code: 'PLUGIN_FAILED', retryable: false }]
      net.nodes[2]!.sidecar.behaviours = [{ kind: 'error', code: 'INTERNAL', retryable: false }]
      await runEpochOne(net)
      await driveUntil(net.clock, () => done(net, 4n), 'slot 4 done', { stepMs: 500 })
      const f1 = net.stageOf(net.nodes[1]!, 4n, 'failed')
      assert.ok(f1?.stage === 'failed' && f1.failedStage === 'generate' && f1.causeCode === 'PLUGIN_FAILED')
      const f2 = net.stageOf(net.nodes[2]!, 4n, 'failed')
      assert.ok(f2?.stage === 'failed' && f2.causeCode === 'SIDECAR_ERROR')
      assert.ok(await net.chain.slotResult(4n), 'three healthy directors are a quorum')
    } finally {
      await net.cleanup()
    }
  })

  it('BFT failure: three sidecars fail, the two others fail at bft (NO_QUORUM), nothing reaches the chain', async () => {
    const net = await makeNetwork()
    try {
      for (const i of [0, 1, 2])
        net.nodes[i]!.sidecar.behaviours = [{ kind: 'fail', message: 'out of memory' }]
      await runEpochOne(net)
      await driveUntil(net.clock, () => done(net, 4n), 'slot 4 done', { stepMs: 500 })
      for (const i of [3, 4]) {
        const f = net.stageOf(net.nodes[i]!, 4n, 'failed')
        assert.ok(f?.stage === 'failed')
        assert.equal(f.failedStage, 'bft')
        assert.equal(f.code, 'BFT_FAILED')
        assert.equal(f.causeCode, 'NO_QUORUM')
        assert.match(f.reason, /proposals 2\/5/)
      }
      assert.equal(net.chain.submissions.length, 0)
      assert.equal(net.hub.count('video'), 0)
    } finally {
      await net.cleanup()
    }
  })

  it('a slot without a recipe is skipped when the next slot starts', async () => {
    const net = await makeNetwork()
    try {
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'OnDeck'), 'On-Deck')
      net.chain.startEpoch(1n, 8n)
      await until(() => net.nodes.every((x) => net.stageOf(x, 4n, 'waiting-recipe')), 'waiting for a recipe')
      await net.publishRecipe(5n)
      net.chain.newBlock(10n)
      await until(() => done(net, 5n), 'slot 5 done')
      for (const x of net.nodes) {
        const f = net.stageOf(x, 4n, 'failed')
        assert.ok(f?.stage === 'failed' && f.code === 'NO_RECIPE')
        assert.ok(net.stageOf(x, 5n, 'done'))
      }
    } finally {
      await net.cleanup()
    }
  })

  it('a late recipe (after the cut-off, before the slot ends) is still used', async () => {
    const net = await makeNetwork()
    try {
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'OnDeck'), 'On-Deck')
      net.chain.startEpoch(1n, 8n)
      await until(() => net.nodes.every((x) => net.stageOf(x, 4n, 'waiting-recipe')), 'waiting')
      await net.publishRecipe(4n)
      await until(() => done(net, 4n), 'slot 4 done')
      assert.ok(net.nodes.every((x) => net.stageOf(x, 4n, 'done')))
    } finally {
      await net.cleanup()
    }
  })

  it('consecutive elections: epoch 1 → epoch 2 straight through, no slot missed', async () => {
    const net = await makeNetwork()
    try {
      await runEpochOne(net)
      await until(() => done(net, 4n), 'slot 4')
      for (const s of [5n, 6n, 7n]) {
        await net.publishRecipe(s)
        await until(() => net.nodes.every((x) => x.director.recipes.peek(s) !== undefined), `recipe ${s}`)
        net.chain.newBlock(s * 2n)
        await until(() => done(net, s), `slot ${s}`)
      }
      net.chain.onDeck(2n, net.elected, 14n)
      await until(
        () => net.nodes.every((x) => x.director.state.kind === 'Active' && x.director.state.nextEpoch === 2n),
        'next epoch noted',
      )
      await net.publishRecipe(8n)
      await until(
        () => net.nodes.every((x) => x.director.recipes.peek(8n) !== undefined),
        'recipe 8 kept for epoch 2',
      )
      net.chain.endEpoch(1n, 16n)
      net.chain.startEpoch(2n, 16n)
      await until(() => done(net, 8n), 'slot 8, the first of epoch 2')
      for (const x of net.nodes) {
        assert.deepEqual(x.states, [
          'OnDeck{1}',
          'Active{1, -}',
          'Active{1, 4}',
          'Active{1, 5}',
          'Active{1, 6}',
          'Active{1, 7}',
          'Active{1, 7, next 2}',
          'Draining{1, next 2}',
          'OnDeck{2}', // slot 7 had finished: drained at once, back On-Deck until epoch 2 starts
          'Active{2, -}',
          'Active{2, 8}',
        ])
        assert.equal(x.director.laneMode.kind, 'Lane0Active')
        assert.deepEqual(x.errors, [])
        for (const s of [4n, 5n, 6n, 7n, 8n])
          assert.ok(net.stageOf(x, s, 'done'), `slot ${s} done on d${x.index}`)
      }
      assert.equal(net.chain.results.size, 5)
    } finally {
      await net.cleanup()
    }
  })

  it('a lone director with quorum 1 and no peer on the video topic: certified and final, counted as done', async () => {
    const metrics = createLane0Metrics(new Registry())
    const net = await makeNetwork({
      n: 1,
      electedCount: 1,
      chain: { quorum: 1 },
      viewer: false,
      config: { quorum: 1 },
      observe: () => ({ metrics }),
    })
    try {
      const [lone] = net.nodes
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => lone!.director.state.kind === 'OnDeck', 'On-Deck')
      await net.publishRecipe(4n)
      await until(() => lone!.director.recipes.peek(4n) !== undefined, 'recipe queued')
      net.chain.startEpoch(1n, 8n)
      await until(() => done(net, 4n), 'slot 4 ended')
      const failed = net.stageOf(lone!, 4n, 'failed')
      assert.equal(
        failed,
        undefined,
        `slot 4 failed: ${failed?.stage === 'failed' ? `${failed.code}/${failed.causeCode}: ${failed.reason}` : ''}`,
      )
      assert.ok(net.stageOf(lone!, 4n, 'done'), 'slot 4 done')
      const skipped = net.stageOf(lone!, 4n, 'publish-skipped')
      assert.ok(
        skipped?.stage === 'publish-skipped' && skipped.reason === 'no-peers',
        'publication had no peer',
      )
      await until(
        () => lone!.director.journal.get(4n)?.submission.state === 'accepted',
        'submission accepted',
      )
      net.chain.finalize(4n)
      await until(() => net.stageOf(lone!, 4n, 'finalized') !== undefined, 'finalized')
      const slots = await metrics.slots.get()
      const byResult = Object.fromEntries(slots.values.map((v) => [v.labels.result, v.value]))
      assert.equal(byResult.success, 1, `slots by result: ${JSON.stringify(byResult)}`)
      assert.equal(byResult.failed ?? 0, 0, `slots by result: ${JSON.stringify(byResult)}`)
      assert.deepEqual(lone!.errors, [])
    } finally {
      await net.cleanup()
    }
  })
})
