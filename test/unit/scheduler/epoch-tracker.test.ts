// EpochTracker (docs/protocol.md §7, §8): chain events → DirectorElected / OnDeck / EpochStarted /
// EpochEnded / SlotStarted, with the On-Deck lead time, late announcements and consecutive elections.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type EpochEvent,
  EpochTracker,
  EpochTrackerCore,
  SchedulerError,
  SlotClock,
} from '../../../src/scheduler/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { expectCode } from '../../helpers.ts'
import { FakeChain, protoKeys } from '../lane0/fakes.ts'

const brief = (e: EpochEvent) =>
  e.type === 'SlotStarted'
    ? `Slot ${e.slot}`
    : e.type === 'EpochEnded' || e.type === 'OnDeck'
      ? `${e.type} ${e.epoch}`
      : `${e.type} ${e.epoch}${e.elected ? '*' : ''}`

describe('EpochTrackerCore', async () => {
  const keys = await testKeys(7)
  const self = keys[0]!.publicKeyProto
  const elected = protoKeys(keys.slice(0, 5))
  const others = protoKeys(keys.slice(2, 7))
  // 1 s blocks, 2 blocks per slot, 4 slots per epoch → epochs of 8 blocks.
  const core = (onDeckLeadMs: number) =>
    new EpochTrackerCore({ self, onDeckLeadMs, blockTimeMs: 1000, slotClock: new SlotClock(2, 4) })

  it('emits On-Deck when the lead time is reached, not at the election', () => {
    const t = core(3000) // 3 blocks of lead
    const out: string[] = []
    const feed = (ev: Parameters<EpochTrackerCore['handle']>[0]) => out.push(...t.handle(ev).map(brief))
    feed({ type: 'NewBlock', block: 2n })
    feed({ type: 'OnDeckElection', block: 3n, epoch: 1n, directors: elected, startBlock: 8n })
    feed({ type: 'NewBlock', block: 4n })
    feed({ type: 'NewBlock', block: 5n })
    feed({ type: 'EpochStarted', block: 8n, epoch: 1n, directors: elected, endBlock: 16n })
    feed({ type: 'EpochCompleted', block: 16n, epoch: 1n })
    assert.deepEqual(out, [
      'Slot 1',
      'DirectorElected 1*',
      'Slot 2',
      'OnDeck 1', // block 5: 3 blocks before block 8
      'EpochStarted 1*',
      'Slot 4',
      'EpochEnded 1',
      'Slot 8',
    ])
  })

  it('goes On-Deck at once when the election comes later than the lead time (default 120 s)', () => {
    const t = core(120_000)
    const evs = t.handle({ type: 'OnDeckElection', block: 6n, epoch: 1n, directors: elected, startBlock: 8n })
    assert.deepEqual(evs.map(brief), ['DirectorElected 1*', 'OnDeck 1', 'Slot 3'])
    const onDeck = evs.find((e) => e.type === 'OnDeck')
    assert.ok(onDeck?.type === 'OnDeck')
    assert.equal(onDeck.leadMs, 2000)
  })

  it('synthesises On-Deck before EpochStarted when the announcement was missed', () => {
    const t = core(120_000)
    const evs = t.handle({ type: 'EpochStarted', block: 8n, epoch: 1n, directors: elected, endBlock: 16n })
    assert.deepEqual(evs.map(brief), ['OnDeck 1', 'EpochStarted 1*', 'Slot 4'])
  })

  it('reports epochs it is not elected for without On-Deck', () => {
    const t = core(120_000)
    const evs = [
      ...t.handle({ type: 'OnDeckElection', block: 6n, epoch: 1n, directors: others, startBlock: 8n }),
      ...t.handle({ type: 'EpochStarted', block: 8n, epoch: 1n, directors: others, endBlock: 16n }),
      ...t.handle({ type: 'EpochCompleted', block: 16n, epoch: 1n }),
    ]
    assert.deepEqual(evs.map(brief), [
      'DirectorElected 1',
      'Slot 3',
      'EpochStarted 1',
      'Slot 4',
      'EpochEnded 1',
      'Slot 8',
    ])
    assert.equal(t.isElected(1n), false)
    assert.equal(t.directors(1n)?.length, 5)
  })

  it('handles consecutive elections (§8): On-Deck for N+1 while N runs, no slot lost', () => {
    const t = core(120_000)
    const evs = [
      ...t.handle({ type: 'EpochStarted', block: 8n, epoch: 1n, directors: elected, endBlock: 16n }),
      ...t.handle({ type: 'OnDeckElection', block: 14n, epoch: 2n, directors: elected, startBlock: 16n }),
      ...t.handle({ type: 'EpochCompleted', block: 16n, epoch: 1n }),
      ...t.handle({ type: 'EpochStarted', block: 16n, epoch: 2n, directors: elected, endBlock: 24n }),
      ...t.handle({ type: 'NewBlock', block: 18n }),
    ]
    assert.deepEqual(evs.map(brief), [
      'OnDeck 1',
      'EpochStarted 1*',
      'Slot 4',
      'DirectorElected 2*',
      'OnDeck 2',
      'Slot 7',
      'EpochEnded 1',
      'Slot 8',
      'EpochStarted 2*',
      'Slot 9',
    ])
  })

  it('announces only the newest slot after a gap and never a slot twice', () => {
    const t = core(0)
    assert.deepEqual(t.handle({ type: 'NewBlock', block: 0n }).map(brief), ['Slot 0'])
    assert.deepEqual(t.handle({ type: 'NewBlock', block: 1n }).map(brief), [])
    assert.deepEqual(t.handle({ type: 'NewBlock', block: 9n }).map(brief), ['Slot 4'])
    assert.deepEqual(
      t.handle({ type: 'NewBlock', block: 8n }).map(brief),
      [],
      'an older block changes nothing',
    )
  })

  it('ignores a repeated EpochStarted and EpochCompleted', () => {
    const t = core(0)
    t.handle({ type: 'EpochStarted', block: 8n, epoch: 1n, directors: elected, endBlock: 16n })
    assert.deepEqual(
      t.handle({ type: 'EpochStarted', block: 8n, epoch: 1n, directors: elected, endBlock: 16n }),
      [],
    )
    assert.equal(
      t.handle({ type: 'EpochCompleted', block: 16n, epoch: 1n }).filter((e) => e.type === 'EpochEnded')
        .length,
      1,
    )
    assert.equal(t.handle({ type: 'EpochCompleted', block: 16n, epoch: 1n }).length, 0)
  })

  it('refuses a non-positive block time', () => {
    expectCode(
      () => new EpochTrackerCore({ self, onDeckLeadMs: 0, blockTimeMs: 0, slotClock: new SlotClock(1, 1) }),
      SchedulerError,
      'INVALID_CHAIN_INFO',
    )
  })
})

describe('EpochTracker over a ChainClient', async () => {
  const keys = await testKeys(5)
  const elected = protoKeys(keys)

  it('reconstructs the present on start (restart mid-epoch) and then follows events', async () => {
    const chain = new FakeChain({ currentEpoch: 1n, bestBlock: 10n })
    chain.elected.set(1n, elected)
    chain.elected.set(2n, elected)
    const tracker = new EpochTracker({ chain }, { self: keys[1]!.publicKeyProto })
    const seen: string[] = []
    tracker.events.on('epoch', (e) => seen.push(brief(e)))
    expectCode(() => tracker.slotClock, SchedulerError, 'NOT_STARTED')
    await tracker.start()
    assert.deepEqual(seen, ['OnDeck 1', 'EpochStarted 1*', 'Slot 5', 'DirectorElected 2*', 'OnDeck 2'])
    assert.equal(tracker.currentEpoch, 1n)
    assert.equal(tracker.currentSlot, 5n)
    assert.equal(tracker.isElected(2n), true)
    chain.newBlock(12n)
    assert.deepEqual(seen.slice(5), ['Slot 6'])
    tracker.stop()
    assert.equal(chain.subscribers, 0)
    chain.newBlock(14n)
    assert.equal(seen.length, 6, 'no events after stop')
  })

  it('a node elected for nothing only sees slots', async () => {
    const chain = new FakeChain({ currentEpoch: 0n, bestBlock: 0n })
    const tracker = new EpochTracker({ chain }, { self: keys[0]!.publicKeyProto })
    const seen: string[] = []
    tracker.events.on('epoch', (e) => seen.push(brief(e)))
    await tracker.start()
    assert.deepEqual(seen, ['Slot 0'])
    tracker.stop()
  })
})
