// Observability (the Deliver 8): prom-client metrics named nsn_lane0_* with bounded labels,
// and one structured log line per slot stage carrying epoch and slot.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { createLane0Metrics } from '../../../src/lane0/index.ts'
import { until } from './fakes.ts'
import { makeNetwork } from './network.ts'

describe('Lane 0 observability', () => {
  it('metrics and per-stage log lines for a certified slot', async () => {
    const registers = Array.from({ length: 5 }, () => new Registry())
    const lines: Record<string, unknown>[] = []
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) })
    const net = await makeNetwork({
      observe: (i) => ({ metrics: createLane0Metrics(registers[i]!), logger: i === 0 ? logger : undefined }),
    })
    try {
      net.chain.onDeck(1n, net.elected, 6n)
      await until(() => net.nodes.every((x) => x.director.state.kind === 'OnDeck'), 'On-Deck')
      await net.publishRecipe(4n)
      await until(() => net.nodes.every((x) => x.director.recipes.peek(4n) !== undefined), 'recipe')
      net.chain.startEpoch(1n, 8n)
      await until(() => net.nodes.every((x) => net.stageOf(x, 4n, 'done')), 'slot done')

      const all = (await Promise.all(registers.map((r) => r.metrics()))).join('\n')
      const value = (re: RegExp) =>
        all
          .split('\n')
          .filter((l) => re.test(l))
          .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)
      assert.equal(value(/^nsn_lane0_bft_rounds_total\{outcome="certified"\}/), 5)
      assert.equal(value(/^nsn_lane0_slot_stage_duration_seconds_count\{stage="generate"\}/), 5)
      assert.equal(value(/^nsn_lane0_slot_stage_duration_seconds_count\{stage="total"\}/), 5)
      assert.equal(value(/^nsn_lane0_chunks_published_total\{role="canonical"\}/), 3)
      assert.equal(value(/^nsn_lane0_chain_submissions_total\{outcome="accepted"\}/), 1)
      assert.equal(
        value(/^nsn_lane0_bft_proposals_received_total\{result="accept"\}/),
        20,
        'each hears 4 others',
      )
      assert.equal(value(/^nsn_lane0_slots_total\{result="success"\}/), 5)
      assert.equal(value(/^nsn_lane0_director_state\{state="Active"\}/), 5)
      assert.equal(value(/^nsn_lane0_bft_similarity_ratio_count/), 5)
      for (const name of all
        .split('\n')
        .filter((l) => l.startsWith('# TYPE'))
        .map((l) => l.split(' ')[2]!)) {
        assert.match(name, /^nsn_lane0_[a-z_]+$/)
      }

      const stages = new Set(
        lines.filter((l) => l.slot === 4 && l.epoch === 1 && typeof l.stage === 'string').map((l) => l.stage),
      )
      for (const s of ['recipe', 'generate', 'bft', 'publish', 'submit'])
        assert.ok(stages.has(s), `a log line for ${s}`)
      assert.ok(lines.some((l) => l.msg === 'director state' && l.to === 'OnDeck{1}'))
    } finally {
      await net.cleanup()
    }
  })
})
