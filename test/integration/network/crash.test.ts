// Crash safety of chain submission on a real network: a director is killed with
// SIGKILL between its certificate and the chain's answer, restarted on the same data folder and key,
// and must submit exactly once. Each director reaches the chain through a proxy in this process that
// can hold a call (it never reaches the chain) or lose its answer (the chain acts, the director never
// hears). Every director's submitGraceMs is 10 minutes, so only the slot's canonical director (rank 0,
// which submits at once) sends anything during the test: one forwarded call per slot is the bound.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bytesToHex } from '../../../src/types/index.ts'
import { ChainProxy, fetchMetric, type ProxyAction, TestNetwork, waitFor } from '../../helpers/network.ts'

const SUBMIT = 'chain_submitBftResult'

describe('network: a director killed between certificate and chain submission', () => {
  let net: TestNetwork | null = null
  const proxies: ChainProxy[] = []
  /** slot (decimal string) → what the proxies do with its submissions. */
  const rules = new Map<string, ProxyAction>()

  before(async () => {
    for (let i = 0; i < 5; i++) {
      const p = await ChainProxy.start()
      p.rule = (method, params) => (method === SUBMIT ? (rules.get(String(params.slot)) ?? 'pass') : 'pass')
      proxies.push(p)
    }
    net = await TestNetwork.start({
      name: 'crash',
      chainUrlFor: (i, url) => {
        proxies[i]!.upstream = url
        return proxies[i]!.url
      },
      directorSet: () => ['lane0.submitGraceMs=600000'],
    })
    await net.waitForCertified(90_000)
  })

  after(async () => {
    await net?.stop()
    for (const p of proxies) await p.stop()
  })

  /** The director whose proxy saw a submission of `slot` (the slot's canonical director). */
  function submitterOf(slot: bigint): Promise<number> {
    return waitFor(
      `a submission of slot ${slot}`,
      () => {
        const i = proxies.findIndex((p) =>
          p.calls.some((c) => c.method === SUBMIT && c.params.slot === String(slot)),
        )
        return i < 0 ? null : i
      },
      { timeoutMs: 45_000, intervalMs: 100, seen: () => net!.describe() },
    )
  }

  function forwarded(slot: bigint): number {
    return proxies.reduce((n, p) => n + p.forwarded(SUBMIT, slot).length, 0)
  }

  /** Kill director `i` once its journal says `slot` is certified with the submission in flight. */
  async function killInFlight(i: number, slot: bigint): Promise<void> {
    const n = net!
    const entry = await waitFor(
      `director-${i} journal: slot ${slot} certified, submission in flight`,
      async () => {
        const e = await n.journalEntry(i, slot)
        return e !== null && e.certificate !== null && e.submission.state === 'inflight' ? e : null
      },
      {
        timeoutMs: 10_000,
        intervalMs: 50,
        seen: async () => JSON.stringify((await n.journalEntry(i, slot))?.submission),
      },
    )
    assert.ok(['certified', 'published'].includes(entry.stage), `journal stage ${entry.stage}`)
    assert.equal(await n.devnet.directorProc(i)!.kill(), 'SIGKILL')
    // What the restart will read: the certificate, and a call that may or may not have gone out.
    const left = await n.journalEntry(i, slot)
    assert.equal(left?.submission.state, 'inflight', 'the journal still owes the chain this slot')
  }

  test('killed before the call reaches the chain: after restart it submits once', {
    timeout: 120_000,
  }, async () => {
    const n = net!
    const slot = n.currentSlot + 1n
    rules.set(String(slot), 'hold')
    const i = await submitterOf(slot)
    await killInFlight(i, slot)
    assert.equal(await n.chain!.slotResult(slot), null, 'nothing reached the chain')
    assert.equal(forwarded(slot), 0)

    rules.delete(String(slot))
    await n.devnet.restartDirector(i)
    const result = await waitFor(`slot ${slot} on chain after the restart`, () => n.chain!.slotResult(slot), {
      timeoutMs: 40_000,
      intervalMs: 250,
      seen: () => n.describe(),
    })
    const key = await n.directorKey(i)
    assert.equal(
      bytesToHex(result.submitter),
      bytesToHex(key.publicKeyProto),
      'submitted by the restarted director',
    )
    assert.equal(forwarded(slot), 1, 'exactly one call reached the chain')
    const entry = await waitFor(
      `director-${i} journal: slot ${slot} accepted`,
      async () => {
        const e = await n.journalEntry(i, slot)
        return e?.submission.state === 'accepted' ? e : null
      },
      { timeoutMs: 10_000, seen: async () => JSON.stringify((await n.journalEntry(i, slot))?.submission) },
    )
    assert.equal(entry.submission.block, result.submittedBlock)
    await waitFor(`slot ${slot} recorded once`, () => n.submittedEvents(slot).length >= 1, {
      timeoutMs: 5_000,
    })
    assert.equal(n.submittedEvents(slot).length, 1)
    // The restarted director rejoins its epoch mid-way.
    await waitFor(
      `director-${i} active again`,
      async () => /^Active/.test((await n.directorStatus(i)).director?.stateText ?? ''),
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        seen: async () => (await n.directorStatus(i)).director?.stateText ?? '',
      },
    )
  })

  test('killed after the chain accepted, before the answer came: after restart it does not submit again', {
    timeout: 120_000,
  }, async () => {
    const n = net!
    const slot = n.currentSlot + 1n
    rules.set(String(slot), 'lose-answer')
    const i = await submitterOf(slot)
    // The chain has the result; the director has not heard (its call waits for an answer that is lost).
    await waitFor(`slot ${slot} on chain`, () => n.chain!.slotResult(slot), {
      timeoutMs: 5_000,
      intervalMs: 50,
    })
    await killInFlight(i, slot)
    rules.delete(String(slot))
    await n.devnet.restartDirector(i)
    const entry = await waitFor(
      `director-${i} journal: slot ${slot} settled`,
      async () => {
        const e = await n.journalEntry(i, slot)
        return e?.submission.state === 'observed' || e?.submission.state === 'accepted' ? e : null
      },
      { timeoutMs: 40_000, seen: async () => JSON.stringify((await n.journalEntry(i, slot))?.submission) },
    )
    // It asked the chain first and found its own result: no second call.
    assert.equal(entry.submission.state, 'observed')
    assert.equal(forwarded(slot), 1, 'exactly one call reached the chain')
    assert.equal(n.submittedEvents(slot).length, 1)
  })

  test('no slot was submitted twice and the chain saw no duplicate', { timeout: 30_000 }, async () => {
    const n = net!
    const recorded = n.events.flatMap((e) => (e.event.type === 'BftResultSubmitted' ? [e.event.slot] : []))
    assert.ok(recorded.length >= 2, `results recorded: ${recorded.join(',')}`)
    assert.equal(new Set(recorded).size, recorded.length, 'one result event per slot')
    for (const slot of recorded) assert.equal(forwarded(slot), 1, `slot ${slot}: one call reached the chain`)
    const chainHttp = n.devnet.chainProc!.ready.url.replace('ws://', 'http://')
    assert.equal(await fetchMetric(chainHttp, 'nsn_chain_submissions_total', { outcome: 'duplicate' }), 0)
    assert.equal(
      await fetchMetric(chainHttp, 'nsn_chain_submissions_total', { outcome: 'ALREADY_SUBMITTED' }),
      0,
    )
    assert.equal(
      await fetchMetric(chainHttp, 'nsn_chain_submissions_total', { outcome: 'accepted' }),
      recorded.length,
    )
  })
})
