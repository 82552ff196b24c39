// Crash and resume (the Deliver 7): a director dies between certificate and chain submission
// — its process state discarded, a new service started on the same journal folder — and the slot is
// submitted exactly once; nothing acknowledged is lost.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bytesToHex } from '../../../src/types/index.ts'
import { driveUntil, until } from './fakes.ts'
import { makeNetwork, type Net, type NetNode } from './network.ts'

async function certifySlot4(net: Net): Promise<NetNode> {
  net.chain.onDeck(1n, net.elected, 6n)
  await until(() => net.nodes.every((x) => x.director.state.kind === 'OnDeck'), 'On-Deck')
  await net.publishRecipe(4n)
  await until(() => net.nodes.every((x) => x.director.recipes.peek(4n) !== undefined), 'recipe')
  net.chain.startEpoch(1n, 8n)
  await until(
    () => net.nodes.every((x) => net.stageOf(x, 4n, 'certified') !== undefined),
    'certified everywhere',
  )
  return net.nodes.find((x) => {
    const c = net.stageOf(x, 4n, 'certified')
    return c?.stage === 'certified' && c.rank === 0
  })!
}

async function restartAndSettle(net: Net, canonical: NetNode): Promise<NetNode> {
  net.crash(canonical)
  const reborn = net.restart(canonical.index, canonical.journalDir)
  await reborn.director.start()
  await until(
    () => ['accepted', 'observed'].includes(reborn.director.journal.get(4n)?.submission.state ?? ''),
    'resumed submission settled',
  )
  // Let every other director's delayed turn come and go.
  await driveUntil(
    net.clock,
    () =>
      net.nodes
        .filter((x) => x !== canonical)
        .every((x) => ['accepted', 'observed'].includes(x.director.journal.get(4n)?.submission.state ?? '')),
    'others settled',
    { stepMs: 1000, maxMs: 60_000 },
  )
  return reborn
}

describe('director crash between certificate and submission', () => {
  it('the call never reached the chain: after restart it is submitted exactly once', async () => {
    const net = await makeNetwork()
    try {
      net.chain.script.push('hang') // the canonical's call is lost in the crash
      const canonical = await certifySlot4(net)
      await until(() => canonical.director.journal.get(4n)?.submission.state === 'inflight', 'call in flight')
      assert.equal(net.chain.results.size, 0)
      const reborn = await restartAndSettle(net, canonical)
      const accepted = net.chain.submissions.filter((s) => s.outcome === 'accepted')
      assert.equal(accepted.length, 1, 'exactly one accepted submission')
      assert.equal(accepted[0]!.submitter, bytesToHex(net.keys[canonical.index]!.publicKeyProto))
      assert.equal(reborn.director.journal.get(4n)?.submission.state, 'accepted')
      assert.equal(
        net.chain.submissions.length,
        2,
        'the lost call and the resumed one; no director sent another',
      )
      const certified = net.stageOf(net.nodes[(canonical.index + 1) % 5]!, 4n, 'certified')
      assert.ok(certified?.stage === 'certified')
      assert.equal(bytesToHex(net.chain.results.get(4n)!.canonicalHash), certified.canonicalHash)
    } finally {
      await net.cleanup()
    }
  })

  it('the chain recorded it but the answer was lost: the restart asks and does not send again', async () => {
    const net = await makeNetwork()
    try {
      net.chain.script.push('hang-after-record')
      const canonical = await certifySlot4(net)
      await until(() => net.chain.results.size === 1, 'recorded on chain')
      const reborn = await restartAndSettle(net, canonical)
      assert.equal(net.chain.submissions.length, 1, 'one call in total')
      assert.equal(reborn.director.journal.get(4n)?.submission.state, 'observed')
    } finally {
      await net.cleanup()
    }
  })

  it('crash after the certificate was journalled, before any call (stuck publishing): sent once after restart', async () => {
    const net = await makeNetwork()
    try {
      // Whoever is canonical gets stuck publishing its chunks, so it never reaches its submission.
      for (let i = 0; i < 5; i++) net.hub.stalled.add(`d${i}|video`)
      const canonical = await certifySlot4(net)
      await until(() => canonical.director.journal.get(4n)?.submission.state === 'scheduled', 'scheduled')
      assert.equal(net.chain.submissions.length, 0)
      net.hub.stalled.clear()
      await restartAndSettle(net, canonical)
      assert.equal(net.chain.submissions.length, 1)
      assert.equal(net.chain.submissions[0]!.outcome, 'accepted')
    } finally {
      await net.cleanup()
    }
  })

  it('a restart with nothing owed submits nothing; an unfinished (uncertified) slot is marked abandoned', async () => {
    const net = await makeNetwork()
    try {
      const canonical = await certifySlot4(net)
      await until(() => canonical.director.journal.get(4n)?.submission.state === 'accepted', 'accepted')
      const d1 = net.nodes.find((x) => x !== canonical)!
      d1.sidecar.behaviours = [{ kind: 'hang' }]
      await net.publishRecipe(5n)
      await until(() => d1.director.recipes.peek(5n) !== undefined, 'recipe 5')
      net.chain.newBlock(10n)
      await until(() => net.stageOf(d1, 5n, 'generating') !== undefined, 'd1 generating slot 5')
      net.crash(canonical)
      net.crash(d1)
      const before = net.chain.submissions.length
      const r0 = net.restart(canonical.index, canonical.journalDir)
      const r1 = net.restart(d1.index, d1.journalDir)
      await r0.director.start()
      await r1.director.start()
      await net.clock.tick(1000)
      assert.equal(net.chain.submissions.length, before)
      assert.equal(r1.director.journal.get(5n)?.stage, 'abandoned')
      assert.equal(r0.director.journal.get(4n)?.submission.state, 'accepted')
    } finally {
      await net.cleanup()
    }
  })
})
