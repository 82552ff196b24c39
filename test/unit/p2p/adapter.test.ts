// The one validation adapter: order of the gates (size, rate, duplicate, validator), mapping of
// every outcome to accept/reject/ignore, counting in metrics, and the decoded-value hand-off.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import {
  createP2PMetrics,
  GossipAction,
  GossipValidation,
  GossipValidationError,
  PeerRateLimiter,
  TOPIC_NAMES,
  TOPIC_SPECS,
  type TopicName,
  type TopicValidatorRegistry,
} from '../../../src/p2p/index.ts'

const maxBytes = Object.fromEntries(TOPIC_NAMES.map((n) => [n, TOPIC_SPECS[n].maxBytes])) as Record<
  TopicName,
  number
>

function setup(opts: { rateLimiter?: PeerRateLimiter | null; calls?: string[] } = {}) {
  const calls = opts.calls ?? []
  const accept =
    (name: string) =>
    (data: Uint8Array): Uint8Array => {
      calls.push(name)
      return data
    }
  const registry: TopicValidatorRegistry = {
    recipes: () => {
      throw new Error('not used')
    },
    video: () => {
      throw new Error('not used')
    },
    bft: () => {
      throw new Error('not used')
    },
    attestations: accept('attestations'),
    challenges: () => {
      throw new Error('not used')
    },
    tasks: accept('tasks'),
  }
  const prom = new Registry()
  const metrics = createP2PMetrics(prom)
  const v = new GossipValidation(
    {
      maxBytes: { ...maxBytes, tasks: 10 },
      rateLimiter: opts.rateLimiter ?? null,
      scoreOf: () => 0,
      metrics,
      log: pino({ level: 'silent' }),
    },
    registry,
  )
  const count = async (labels: Record<string, string>) => {
    const { values } = await prom.getSingleMetric('nsn_p2p_validations_total')!.get()
    return values
      .filter((x) =>
        Object.entries(labels).every(([k, val]) => (x.labels as Record<string, string>)[k] === val),
      )
      .reduce((a, x) => a + x.value, 0)
  }
  return { v, calls, count }
}

describe('GossipValidation adapter', () => {
  it('accepts, counts, and hands the decoded value to subscribers', async () => {
    const { v, calls, count } = setup()
    const data = new Uint8Array([1, 2])
    assert.equal(await v.validate('tasks', data, 'peerA'), 'accept')
    assert.deepEqual(calls, ['tasks'])
    assert.equal(v.decoded(data), data)
    assert.equal(await count({ topic: 'tasks', result: 'accept', code: '' }), 1)
    assert.deepEqual(v.snapshot().tasks, { accept: 1, reject: 0, ignore: 0 })
  })

  it('rejects over-size before the validator runs', async () => {
    const { v, calls, count } = setup()
    assert.equal(await v.validate('tasks', new Uint8Array(11), 'peerA'), 'reject')
    assert.deepEqual(calls, [], 'validator not called')
    assert.equal(await count({ topic: 'tasks', result: 'reject', code: 'OVERSIZE' }), 1)
  })

  it('ignores identical bytes once accepted, but re-validates what was only ignored', async () => {
    const { v, calls, count } = setup()
    const data = new Uint8Array([9, 9])
    assert.equal(await v.validate('tasks', data, 'a'), 'accept')
    assert.equal(await v.validate('tasks', new Uint8Array([9, 9]), 'b'), 'ignore')
    assert.equal(await count({ topic: 'tasks', result: 'ignore', code: 'DUPLICATE' }), 1)
    assert.deepEqual(calls, ['tasks'])
    v.set('attestations', () => 'ignore')
    assert.equal(await v.validate('attestations', new Uint8Array([7]), 'a'), 'ignore')
    v.set('attestations', (d) => d)
    assert.equal(await v.validate('attestations', new Uint8Array([7]), 'a'), 'accept')
  })

  it('rate limit: ignores over budget, graylists repeated offenders, before the validator', async () => {
    const rl = new PeerRateLimiter({ messagesPerMinute: 2, graylistAfterViolations: 2 })
    const { v, calls, count } = setup({ rateLimiter: rl })
    const results = []
    for (let i = 0; i < 5; i++) results.push(await v.validate('tasks', new Uint8Array([i]), 'spammer'))
    assert.deepEqual(results, ['accept', 'accept', 'ignore', 'ignore', 'ignore'])
    assert.equal(calls.length, 2)
    assert.equal(await count({ code: 'RATE_LIMITED' }), 1)
    assert.equal(await count({ code: 'GRAYLISTED' }), 2)
    assert.ok(rl.isGraylisted('spammer'))
    assert.equal(await v.validate('tasks', new Uint8Array([42]), 'someone-else'), 'accept')
  })

  it('maps installed validators: coded errors, bare results, and crashes', async () => {
    const { v, count } = setup()
    v.set('attestations', (d) => {
      if (d[0] === 1) throw new GossipValidationError(GossipAction.REJECT, 'BAD_SIGNATURE', 'test')
      if (d[0] === 2) throw new GossipValidationError(GossipAction.IGNORE, 'STALE', 'test')
      if (d[0] === 3) return 'reject'
      if (d[0] === 4) throw new TypeError('validator bug')
      return 'accept'
    })
    assert.equal(await v.validate('attestations', new Uint8Array([1]), 'p'), 'reject')
    assert.equal(await v.validate('attestations', new Uint8Array([2]), 'p'), 'ignore')
    assert.equal(await v.validate('attestations', new Uint8Array([3]), 'p'), 'reject')
    assert.equal(await v.validate('attestations', new Uint8Array([4]), 'p'), 'ignore')
    const five = new Uint8Array([5])
    assert.equal(await v.validate('attestations', five, 'p'), 'accept')
    assert.equal(v.decoded(five), undefined, 'a bare accept carries no decoded value')
    for (const [result, code] of [
      ['reject', 'BAD_SIGNATURE'],
      ['ignore', 'STALE'],
      ['reject', 'APP_REJECT'],
      ['ignore', 'VALIDATOR_ERROR'],
    ]) {
      assert.equal(
        await count({ topic: 'attestations', result: result!, code: code! }),
        1,
        `${result} ${code}`,
      )
    }
  })

  it('async validators are awaited', async () => {
    const { v } = setup()
    v.set('tasks', async (d) => {
      await new Promise((r) => setTimeout(r, 5))
      if (d[0] === 0) throw new GossipValidationError(GossipAction.REJECT, 'MALFORMED', 'test')
      return d
    })
    assert.equal(await v.validate('tasks', new Uint8Array([0]), 'p'), 'reject')
    assert.equal(await v.validate('tasks', new Uint8Array([1]), 'p'), 'accept')
  })
})

describe('budgets are charged to the author, reference BFT variants are ignored', () => {
  it('a relay forwarding two authors, each under its budget, is never limited or graylisted', async () => {
    const limiter = new PeerRateLimiter({ messagesPerMinute: 5, graylistAfterViolations: 2 }, () => 0)
    const { v } = setup({ rateLimiter: limiter })
    for (let i = 0; i < 4; i++) {
      assert.equal(await v.validate('tasks', new Uint8Array([1, i]), 'relayA', 'authorX'), 'accept')
      assert.equal(await v.validate('tasks', new Uint8Array([2, i]), 'relayA', 'authorY'), 'accept')
    }
    assert.equal(limiter.isGraylisted('relayA'), false)
    // The same volume from one author: over its budget, then graylisted (the author, not the relay).
    for (let i = 0; i < 4; i++) await v.validate('tasks', new Uint8Array([3, i]), 'relayA', 'authorX')
    assert.equal(limiter.isGraylisted('authorX'), true)
    assert.equal(limiter.isGraylisted('relayA'), false)
    assert.equal(await v.validate('tasks', new Uint8Array([4]), 'relayA', 'authorY'), 'accept')
  })

  it('bft variants 0 (Embedding) and 1 (Vote) are ignored and counted, never rejected', async () => {
    const calls: string[] = []
    const { v, count } = setup({ calls })
    // Hand-written reference bytes: variant index, then an arbitrary body.
    assert.equal(await v.validate('bft', new Uint8Array([0, 1, 2, 3]), 'p'), 'ignore')
    assert.equal(await v.validate('bft', new Uint8Array([1, 0x10, 0, 0, 0]), 'p'), 'ignore')
    assert.equal(await count({ topic: 'bft', result: 'ignore', code: 'REFERENCE_MESSAGE' }), 2)
    assert.equal(await count({ topic: 'bft', result: 'reject' }), 0)
    assert.deepEqual(calls, [], 'the bft validator never saw them')
  })
})
