// The director state machine (docs/protocol.md §8): every transition, invalid ones
// (typed error, state unchanged), back-to-back epochs; and the service's invalid-input handling,
// graceful shutdown (finish or abandon the current slot) and an epoch switch with a slot in flight.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type DirectorInput,
  type DirectorState,
  DirectorStateError,
  DirectorStateMachine,
  describeState,
  LANE0_DEFAULTS,
  Lane0ConfigError,
  nextDirectorState,
  resolveLane0Config,
} from '../../../src/lane0/index.ts'
import { expectCode } from '../../helpers.ts'
import { driveUntil, until } from './fakes.ts'
import { makeNetwork } from './network.ts'

const standby: DirectorState = { kind: 'Standby' }
const onDeck = (epoch: bigint): DirectorState => ({ kind: 'OnDeck', epoch })
const active = (
  epoch: bigint,
  slot: bigint | null = null,
  nextEpoch: bigint | null = null,
): DirectorState => ({
  kind: 'Active',
  epoch,
  slot,
  nextEpoch,
})
const draining = (epoch: bigint, nextEpoch: bigint | null = null): DirectorState => ({
  kind: 'Draining',
  epoch,
  nextEpoch,
})

describe('director state machine', () => {
  it('every valid transition', () => {
    const cases: [DirectorState, DirectorInput, DirectorState][] = [
      [standby, { type: 'OnDeck', epoch: 3n }, onDeck(3n)],
      [onDeck(3n), { type: 'EpochStarted', epoch: 3n }, active(3n)],
      [active(3n), { type: 'SlotStarted', epoch: 3n, slot: 12n }, active(3n, 12n)],
      [active(3n, 12n), { type: 'SlotStarted', epoch: 3n, slot: 13n }, active(3n, 13n)],
      [active(3n, 13n), { type: 'EpochEnded', epoch: 3n }, draining(3n)],
      [draining(3n), { type: 'Drained', epoch: 3n }, standby],
      // §8 fix: consecutive epochs.
      [active(3n, 13n), { type: 'OnDeck', epoch: 4n }, active(3n, 13n, 4n)],
      [active(3n, 15n, 4n), { type: 'EpochEnded', epoch: 3n }, draining(3n, 4n)],
      [active(3n, 15n, 4n), { type: 'EpochStarted', epoch: 4n }, active(4n)],
      [draining(3n, 4n), { type: 'EpochStarted', epoch: 4n }, active(4n)],
      [draining(3n, 4n), { type: 'Drained', epoch: 3n }, onDeck(4n)],
      [draining(3n), { type: 'OnDeck', epoch: 4n }, draining(3n, 4n)],
    ]
    for (const [from, input, to] of cases) {
      assert.deepEqual(nextDirectorState(from, input), to, `${describeState(from)} + ${input.type}`)
    }
  })

  it('invalid transitions throw DirectorStateError and leave the state unchanged', () => {
    const cases: [DirectorInput[], DirectorInput][] = [
      [[], { type: 'EpochStarted', epoch: 1n }],
      [[], { type: 'SlotStarted', epoch: 1n, slot: 4n }],
      [[], { type: 'EpochEnded', epoch: 1n }],
      [[], { type: 'Drained', epoch: 1n }],
      [[{ type: 'OnDeck', epoch: 1n }], { type: 'OnDeck', epoch: 1n }],
      [[{ type: 'OnDeck', epoch: 1n }], { type: 'EpochStarted', epoch: 2n }],
      [[{ type: 'OnDeck', epoch: 1n }], { type: 'SlotStarted', epoch: 1n, slot: 4n }],
      [[{ type: 'OnDeck', epoch: 1n }], { type: 'EpochEnded', epoch: 1n }],
      [
        [
          { type: 'OnDeck', epoch: 1n },
          { type: 'EpochStarted', epoch: 1n },
        ],
        { type: 'SlotStarted', epoch: 2n, slot: 8n },
      ],
      [
        [
          { type: 'OnDeck', epoch: 1n },
          { type: 'EpochStarted', epoch: 1n },
          { type: 'SlotStarted', epoch: 1n, slot: 5n },
        ],
        { type: 'SlotStarted', epoch: 1n, slot: 5n },
      ],
      [
        [
          { type: 'OnDeck', epoch: 1n },
          { type: 'EpochStarted', epoch: 1n },
        ],
        { type: 'EpochEnded', epoch: 2n },
      ],
      [
        [
          { type: 'OnDeck', epoch: 1n },
          { type: 'EpochStarted', epoch: 1n },
        ],
        { type: 'OnDeck', epoch: 3n },
      ],
      [
        [
          { type: 'OnDeck', epoch: 1n },
          { type: 'EpochStarted', epoch: 1n },
        ],
        { type: 'EpochStarted', epoch: 2n },
      ],
      [
        [
          { type: 'OnDeck', epoch: 1n },
          { type: 'EpochStarted', epoch: 1n },
        ],
        { type: 'Drained', epoch: 1n },
      ],
      [
        [
          { type: 'OnDeck', epoch: 1n },
          { type: 'EpochStarted', epoch: 1n },
          { type: 'EpochEnded', epoch: 1n },
        ],
        { type: 'SlotStarted', epoch: 1n, slot: 6n },
      ],
      [
        [
          { type: 'OnDeck', epoch: 1n },
          { type: 'EpochStarted', epoch: 1n },
          { type: 'EpochEnded', epoch: 1n },
        ],
        { type: 'EpochStarted', epoch: 2n },
      ],
    ]
    for (const [setup, bad] of cases) {
      const m = new DirectorStateMachine()
      for (const i of setup) m.apply(i)
      const before = m.state
      const err = expectCode(
        () => m.apply(bad),
        DirectorStateError,
        'INVALID_TRANSITION',
        `${describeState(before)} + ${bad.type}`,
      )
      assert.equal(err.from, describeState(before))
      assert.equal(m.state, before, 'state unchanged')
    }
  })

  it('back-to-back epochs cycle cleanly', () => {
    const m = new DirectorStateMachine()
    for (const e of [1n, 2n, 3n]) {
      m.apply({ type: 'OnDeck', epoch: e })
      m.apply({ type: 'EpochStarted', epoch: e })
      m.apply({ type: 'SlotStarted', epoch: e, slot: e * 4n })
      m.apply({ type: 'EpochEnded', epoch: e })
      m.apply({ type: 'Drained', epoch: e })
      assert.deepEqual(m.state, standby)
    }
  })
})

describe('Lane 0 config', () => {
  it('defaults live in LANE0_DEFAULTS; bad overrides name the field', () => {
    assert.equal(LANE0_DEFAULTS.bftTimeoutMs, 5000)
    assert.equal(LANE0_DEFAULTS.quorum, 0, 'read from the chain')
    assert.equal(LANE0_DEFAULTS.directors, 5)
    assert.equal(LANE0_DEFAULTS.similarityThreshold, 0.85)
    assert.equal(LANE0_DEFAULTS.vortexTimeoutMs, 45_000)
    assert.equal(LANE0_DEFAULTS.vortexRetries, 1)
    assert.equal(LANE0_DEFAULTS.publishGraceMs, 3000)
    assert.equal(LANE0_DEFAULTS.chunkSize, 1024 * 1024)
    assert.equal(LANE0_DEFAULTS.onDeckLeadMs, 120_000)
    assert.equal(LANE0_DEFAULTS.recipeQueueMax, 10)
    assert.equal(resolveLane0Config({ bftTimeoutMs: 100 }).bftTimeoutMs, 100)
    assert.equal(
      expectCode(() => resolveLane0Config({ quorum: 9 }), Lane0ConfigError, 'OUT_OF_BOUNDS').field,
      'quorum',
    )
    assert.equal(
      expectCode(() => resolveLane0Config({ chunkSize: 8 * 1024 * 1024 }), Lane0ConfigError, 'OUT_OF_BOUNDS')
        .field,
      'chunkSize',
    )
    expectCode(() => resolveLane0Config({ bogus: 1 } as never), Lane0ConfigError, 'INVALID_VALUE')
  })
})

describe('DirectorService', () => {
  it('an invalid chain sequence is reported as an error event, the state stays', async () => {
    const net = await makeNetwork({ n: 5 })
    try {
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'OnDeck'), 'On-Deck')
      net.chain.startEpoch(1n, 8n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'Active'), 'Active')
      // The chain skips epoch 2 and announces epoch 3 while epoch 1 runs: not a valid next term.
      net.chain.onDeck(3n, net.elected, 9n)
      await until(() => net.nodes.every((x) => x.errors.length > 0), 'error events')
      for (const x of net.nodes) {
        assert.equal(x.errors[0]!.code, 'INVALID_TRANSITION')
        assert.equal(describeState(x.director.state), 'Active{1, 4}')
      }
    } finally {
      await net.cleanup()
    }
  })

  it('the same instance can stop and start again, and a failed start leaves nothing running', async () => {
    const net = await makeNetwork({ n: 5 })
    try {
      const d0 = net.nodes[0]!
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => d0.director.state.kind === 'OnDeck', 'On-Deck')
      await d0.director.stop()
      assert.equal(net.chain.subscribers, 4)
      await d0.director.start()
      assert.equal(net.chain.subscribers, 5)
      // Restarted mid-lookahead: the tracker rebuilds On-Deck from the chain's elected sets.
      await until(() => d0.director.state.kind === 'OnDeck', 'On-Deck again')
      const broken = net.restart(0, d0.journalDir)
      broken.chainClient.info = async () => {
        throw new Error('chain unreachable')
      }
      await assert.rejects(broken.director.start(), /chain unreachable/)
      assert.equal(net.chain.subscribers, 5, 'the failed start subscribed to nothing')
    } finally {
      await net.cleanup()
    }
  })

  it('graceful stop finishes the slot in flight', async () => {
    const net = await makeNetwork()
    try {
      for (const x of net.nodes) x.sidecar.behaviours = [{ kind: 'delay', ms: 2000 }]
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'OnDeck'), 'On-Deck')
      await net.publishRecipe(4n)
      await until(() => net.nodes.every((x) => x.director.recipes.peek(4n) !== undefined), 'recipe')
      net.chain.startEpoch(1n, 8n)
      await until(() => net.nodes.every((x) => net.stageOf(x, 4n, 'generating')), 'generating')
      const d0 = net.nodes[0]!
      let stopped = false
      const stopping = d0.director.stop({ finishSlot: true, timeoutMs: 60_000 }).then(() => {
        stopped = true
      })
      await net.clock.tick(1000)
      assert.equal(stopped, false, 'waits for the slot')
      await driveUntil(net.clock, () => stopped, 'stop', { stepMs: 200, maxMs: 60_000 })
      await stopping
      assert.ok(net.stageOf(d0, 4n, 'done'), 'the slot finished before the director stopped')
      assert.equal(net.chain.subscribers, 4, 'd0 no longer follows the chain')
    } finally {
      await net.cleanup()
    }
  })

  it('stop without finishing abandons the slot cleanly (journalled, no error escapes)', async () => {
    const net = await makeNetwork()
    try {
      net.nodes[0]!.sidecar.behaviours = [{ kind: 'hang' }]
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'OnDeck'), 'On-Deck')
      await net.publishRecipe(4n)
      await until(() => net.nodes[0]!.director.recipes.peek(4n) !== undefined, 'recipe')
      net.chain.startEpoch(1n, 8n)
      const d0 = net.nodes[0]!
      await until(() => net.stageOf(d0, 4n, 'generating') !== undefined, 'generating')
      await d0.director.stop({ finishSlot: false })
      const f = net.stageOf(d0, 4n, 'failed')
      assert.ok(f?.stage === 'failed' && f.code === 'ABANDONED' && f.failedStage === 'generate')
      assert.equal(d0.director.journal.get(4n)?.stage, 'abandoned')
      assert.deepEqual(d0.errors, [])
    } finally {
      await net.cleanup()
    }
  })

  it('graceful stop gives up after its timeout', async () => {
    const net = await makeNetwork()
    try {
      net.nodes[0]!.sidecar.behaviours = [{ kind: 'hang' }]
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'OnDeck'), 'On-Deck')
      await net.publishRecipe(4n)
      await until(() => net.nodes[0]!.director.recipes.peek(4n) !== undefined, 'recipe')
      net.chain.startEpoch(1n, 8n)
      const d0 = net.nodes[0]!
      await until(() => net.stageOf(d0, 4n, 'generating') !== undefined, 'generating')
      let stopped = false
      void d0.director.stop({ finishSlot: true, timeoutMs: 5000 }).then(() => {
        stopped = true
      })
      await net.clock.tick(4000)
      assert.equal(stopped, false)
      await driveUntil(net.clock, () => stopped, 'stop after the grace', { stepMs: 500, maxMs: 5000 })
      assert.equal(net.stageOf(d0, 4n, 'failed')?.stage, 'failed')
    } finally {
      await net.cleanup()
    }
  })

  it('epoch N+1 starts while a slot of N is still generating: both slots complete', async () => {
    const net = await makeNetwork()
    try {
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'OnDeck'), 'On-Deck')
      net.chain.startEpoch(1n, 8n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'Active'), 'Active')
      for (const x of net.nodes) x.sidecar.behaviours = [{ kind: 'delay', ms: 3000 }, { kind: 'ok' }]
      net.chain.onDeck(2n, net.elected, 13n)
      await net.publishRecipe(7n)
      await net.publishRecipe(8n)
      await until(() => net.nodes.every((x) => x.director.recipes.peek(8n) !== undefined), 'recipes')
      net.chain.newBlock(14n) // slot 7, the last of epoch 1
      await until(() => net.nodes.every((x) => net.stageOf(x, 7n, 'generating')), 'slot 7 generating')
      // The chain starts epoch 2 before it reports epoch 1 complete.
      net.chain.startEpoch(2n, 16n)
      net.chain.endEpoch(1n, 16n)
      await until(
        () => net.nodes.every((x) => x.director.state.kind === 'Active' && x.director.state.epoch === 2n),
        'Active{2}',
      )
      await driveUntil(
        net.clock,
        () => net.nodes.every((x) => net.stageOf(x, 7n, 'done') && net.stageOf(x, 8n, 'done')),
        'slots 7 and 8',
      )
      for (const x of net.nodes) {
        assert.deepEqual(x.errors, [])
        assert.ok(x.states.includes('Active{2, 8}'))
      }
      assert.ok(net.chain.results.has(7n) && net.chain.results.has(8n))
    } finally {
      await net.cleanup()
    }
  })
})
