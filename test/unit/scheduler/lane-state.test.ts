// The lane state (docs/protocol.md §8): Lane1Active → Draining on On-Deck →
// Lane0Active → Lane1Active, consecutive terms stay in Lane 0, invalid events leave the mode unchanged.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  describeLane,
  type EpochEvent,
  LaneStateMachine,
  SchedulerError,
} from '../../../src/scheduler/index.ts'
import { expectCode } from '../../helpers.ts'

const onDeck = (epoch: bigint): EpochEvent => ({
  type: 'OnDeck',
  epoch,
  directors: [],
  startBlock: 0n,
  block: 0n,
  leadMs: 0,
})
const started = (epoch: bigint, elected = true): EpochEvent => ({
  type: 'EpochStarted',
  epoch,
  directors: [],
  startBlock: 0n,
  endBlock: 0n,
  elected,
  block: 0n,
})
const ended = (epoch: bigint, elected = true): EpochEvent => ({
  type: 'EpochEnded',
  epoch,
  elected,
  block: 0n,
})

describe('LaneStateMachine', () => {
  it('walks Lane1Active → Draining → Lane0Active → Lane1Active', () => {
    const m = new LaneStateMachine()
    const changes: string[] = []
    m.events.on('change', (c) => changes.push(`${describeLane(c.from)}→${describeLane(c.to)}`))
    m.apply(onDeck(3n))
    m.apply(started(3n))
    m.apply({ type: 'SlotStarted', slot: 12n, epoch: 3n, block: 0n })
    m.apply(ended(3n))
    assert.deepEqual(changes, [
      'Lane1Active→Draining{3}',
      'Draining{3}→Lane0Active{3}',
      'Lane0Active{3}→Lane1Active',
    ])
  })

  it('stays in Lane 0 across consecutive terms', () => {
    const m = new LaneStateMachine()
    m.apply(onDeck(1n))
    m.apply(started(1n))
    assert.equal(m.apply(onDeck(2n)), null)
    assert.equal(m.pendingEpoch, 2n)
    assert.equal(m.apply(ended(1n)), null, 'no detour through Lane 1')
    assert.equal(describeLane(m.mode), 'Lane0Active{1}')
    m.apply(started(2n))
    assert.equal(describeLane(m.mode), 'Lane0Active{2}')
    assert.equal(m.pendingEpoch, null)
    m.apply(ended(2n))
    assert.equal(describeLane(m.mode), 'Lane1Active')
  })

  it('also when the chain starts N+1 before it reports N complete', () => {
    const m = new LaneStateMachine()
    m.apply(onDeck(1n))
    m.apply(started(1n))
    m.apply(onDeck(2n))
    m.apply(started(2n))
    assert.equal(m.apply(ended(1n)), null)
    assert.equal(describeLane(m.mode), 'Lane0Active{2}')
  })

  it('ignores epochs it is not elected for', () => {
    const m = new LaneStateMachine()
    assert.equal(m.apply(started(1n, false)), null)
    assert.equal(m.apply(ended(1n, false)), null)
    assert.equal(describeLane(m.mode), 'Lane1Active')
  })

  it('refuses invalid events with INVALID_TRANSITION and keeps its mode', () => {
    const cases: [string, EpochEvent[], EpochEvent][] = [
      ['start without On-Deck', [], started(1n)],
      ['end while in Lane 1', [], ended(1n)],
      ['start of another epoch while draining', [onDeck(1n)], started(2n)],
      ['On-Deck twice', [onDeck(1n)], onDeck(1n)],
      ['On-Deck two epochs ahead', [onDeck(1n), started(1n)], onDeck(3n)],
      ['end of another epoch', [onDeck(1n), started(1n)], ended(5n)],
    ]
    for (const [name, setup, bad] of cases) {
      const m = new LaneStateMachine()
      for (const e of setup) m.apply(e)
      const before = describeLane(m.mode)
      expectCode(() => m.apply(bad), SchedulerError, 'INVALID_TRANSITION', name)
      assert.equal(describeLane(m.mode), before, `${name}: mode unchanged`)
    }
  })
})
