// Refused gossip messages in the log: one line per code per window with the count left out, the
// explanation of an installed validator's bare result by the topic's own rules, and its budget.
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import {
  GossipAction,
  GossipValidation,
  GossipValidationError,
  RefusalLog,
  TOPIC_NAMES,
  TOPIC_SPECS,
  type TopicName,
  type TopicValidatorRegistry,
} from '../../../src/p2p/index.ts'

function capture() {
  const lines: { code: string; suppressed: number; via?: string; msg: string }[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l))
      cb()
    },
  })
  return { lines, log: pino({ level: 'info' }, stream) }
}

const flush = () => new Promise((r) => setImmediate(r))

describe('RefusalLog', () => {
  it('one line per code per window, the next one counting the refusals left out', async () => {
    const { lines, log } = capture()
    let now = 0
    const r = new RefusalLog(log, { topics: ['recipes'], windowMs: 10_000, now: () => now })
    const refuse = (code: 'STALE' | 'UNAUTHORISED_AUTHOR') =>
      r.note({ topic: 'recipes', result: 'ignore', code, message: `because ${code}`, peer: 'p' })
    for (let i = 0; i < 50; i++) refuse('UNAUTHORISED_AUTHOR')
    refuse('STALE')
    now = 9_999
    refuse('UNAUTHORISED_AUTHOR')
    now = 10_000
    refuse('UNAUTHORISED_AUTHOR')
    await flush()
    assert.deepEqual(
      lines.map((l) => [l.code, l.suppressed, l.msg]),
      [
        ['UNAUTHORISED_AUTHOR', 0, 'recipe refused (UNAUTHORISED_AUTHOR): because UNAUTHORISED_AUTHOR'],
        ['STALE', 0, 'recipe refused (STALE): because STALE'],
        [
          'UNAUTHORISED_AUTHOR',
          50,
          'recipe refused (UNAUTHORISED_AUTHOR): because UNAUTHORISED_AUTHOR [50 more UNAUTHORISED_AUTHOR since the last line]',
        ],
      ],
    )
  })

  it('other topics and duplicates are not logged', async () => {
    const { lines, log } = capture()
    const r = new RefusalLog(log, { topics: ['recipes'] })
    r.note({ topic: 'video', result: 'ignore', code: 'STALE', message: 'x', peer: 'p' })
    r.note({ topic: 'recipes', result: 'ignore', code: 'DUPLICATE', message: 'x', peer: 'p' })
    await flush()
    assert.deepEqual(lines, [])
  })

  it('explains a bare result a bounded number of times per window', async () => {
    const { lines, log } = capture()
    let now = 0
    const r = new RefusalLog(log, {
      topics: ['recipes'],
      windowMs: 1000,
      explainPerWindow: 2,
      now: () => now,
    })
    let explained = 0
    const explain = () => {
      explained++
      return { code: 'UNAUTHORISED_AUTHOR' as const, message: 'not an author' }
    }
    for (let i = 0; i < 5; i++)
      r.note({
        topic: 'recipes',
        result: 'ignore',
        code: 'APP_IGNORE',
        message: 'validator: ignore',
        peer: 'p',
        explain,
      })
    assert.equal(explained, 2, 'at most explainPerWindow explanations')
    now = 1000
    r.note({
      topic: 'recipes',
      result: 'ignore',
      code: 'APP_IGNORE',
      message: 'validator: ignore',
      peer: 'p',
      explain,
    })
    assert.equal(explained, 3, 'a new window, a new budget')
    await flush()
    assert.deepEqual(
      lines.map((l) => [l.code, l.via ?? null]),
      [
        ['UNAUTHORISED_AUTHOR', 'APP_IGNORE'],
        ['APP_IGNORE', null],
        ['UNAUTHORISED_AUTHOR', 'APP_IGNORE'],
      ],
    )
  })
})

describe('GossipValidation with a refusal log', () => {
  it("an installed validator's bare ignore is logged with the code of the topic's own rules", async () => {
    const { lines, log } = capture()
    const registry = Object.fromEntries(
      TOPIC_NAMES.map((n) => [n, (d: Uint8Array) => d]),
    ) as unknown as TopicValidatorRegistry
    registry.recipes = (d) => {
      if (d[0] === 1) throw new GossipValidationError(GossipAction.IGNORE, 'STALE', 'slot 3 has passed')
      return d as never
    }
    const maxBytes = Object.fromEntries(TOPIC_NAMES.map((n) => [n, TOPIC_SPECS[n].maxBytes])) as Record<
      TopicName,
      number
    >
    const v = new GossipValidation(
      {
        maxBytes,
        rateLimiter: null,
        scoreOf: () => 0,
        metrics: null,
        log,
        refusals: new RefusalLog(log, { topics: ['recipes'] }),
      },
      registry,
    )
    v.set('recipes', () => 'ignore')
    assert.equal(await v.validate('recipes', new Uint8Array([1]), 'peerA'), 'ignore')
    assert.equal(await v.validate('recipes', new Uint8Array([2]), 'peerA'), 'ignore')
    await flush()
    const refused = lines.filter((l) => l.msg.startsWith('recipe refused'))
    assert.deepEqual(
      refused.map((l) => l.msg),
      [
        'recipe refused (STALE): slot 3 has passed',
        "recipe refused (APP_IGNORE): validator: ignore (the recipes rules accept it; the application's own rules refused it)",
      ],
    )
  })
})
