// The injected clock and the block → slot → epoch arithmetic.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AbortError, ManualClock, SchedulerError, SlotClock, sleep } from '../../../src/scheduler/index.ts'
import { expectCode } from '../../helpers.ts'

describe('ManualClock', () => {
  it('fires timers in time order, including ones created by earlier timers', () => {
    const c = new ManualClock(0)
    const fired: string[] = []
    c.setTimeout(() => fired.push('b@20'), 20)
    c.setTimeout(() => {
      fired.push('a@10')
      c.setTimeout(() => fired.push('c@15'), 5)
    }, 10)
    const cancelled = c.setTimeout(() => fired.push('never'), 12)
    c.clearTimeout(cancelled)
    c.advance(25)
    assert.deepEqual(fired, ['a@10', 'c@15', 'b@20'])
    assert.equal(c.now(), 25)
    assert.equal(c.pending(), 0)
  })

  it('sleep resolves on the clock and rejects on abort', async () => {
    const c = new ManualClock(0)
    let done = false
    const p = sleep(c, 1000).then(() => {
      done = true
    })
    await c.tick(999)
    assert.equal(done, false)
    await c.tick(1)
    await p
    assert.equal(done, true)
    const ctrl = new AbortController()
    const q = sleep(c, 1000, ctrl.signal)
    ctrl.abort()
    await assert.rejects(q, (e: Error) => e instanceof AbortError || e.name === 'AbortError')
    assert.equal(c.pending(), 0, 'the aborted sleep removed its timer')
  })
})

describe('SlotClock', () => {
  const sc = new SlotClock(3, 4) // 3 blocks per slot, 4 slots per epoch: epochs of 12 blocks

  it('maps blocks to slots and slots to epochs', () => {
    assert.equal(sc.slotOfBlock(0n), 0n)
    assert.equal(sc.slotOfBlock(2n), 0n)
    assert.equal(sc.slotOfBlock(3n), 1n)
    assert.equal(sc.epochOfSlot(3n), 0n)
    assert.equal(sc.epochOfSlot(4n), 1n)
    assert.equal(sc.epochOfBlock(11n), 0n)
    assert.equal(sc.epochOfBlock(12n), 1n)
    assert.equal(sc.firstSlotOfEpoch(2n), 8n)
    assert.equal(sc.lastSlotOfEpoch(2n), 11n)
    assert.equal(sc.firstBlockOfEpoch(2n), 24n)
    assert.equal(sc.firstBlockOfSlot(5n), 15n)
    assert.equal(sc.isSlotStart(15n), true)
    assert.equal(sc.isSlotStart(16n), false)
  })

  it('handles u64 values beyond 2^53', () => {
    const big = 2n ** 60n + 7n
    assert.equal(sc.slotOfBlock(big * 3n), big)
  })

  it('refuses unusable chain parameters', () => {
    expectCode(() => new SlotClock(0, 4), SchedulerError, 'INVALID_CHAIN_INFO')
    expectCode(() => new SlotClock(2, 1.5), SchedulerError, 'INVALID_CHAIN_INFO')
  })
})
