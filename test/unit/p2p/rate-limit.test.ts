// Per-peer rate limiter: budgets, refill, doubling for high scores, graylist, and the honest
// director streaming a 45 s video that must never trip it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { P2PError, PeerRateLimiter, RATE_LIMIT_DEFAULTS } from '../../../src/p2p/index.ts'
import { expectCode } from '../../helpers.ts'

function clock(start = 1_000_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

describe('PeerRateLimiter', () => {
  it('allows the per-minute budget at once, then limits', () => {
    const c = clock()
    const rl = new PeerRateLimiter({ messagesPerMinute: 10 }, c.now)
    for (let i = 0; i < 10; i++) assert.equal(rl.check('p', 'control'), 'ok', `message ${i}`)
    assert.equal(rl.check('p', 'control'), 'limited')
    assert.equal(rl.check('other', 'control'), 'ok', 'budgets are per peer')
  })

  it('refills continuously', () => {
    const c = clock()
    const rl = new PeerRateLimiter({ messagesPerMinute: 60 }, c.now)
    for (let i = 0; i < 60; i++) rl.check('p', 'control')
    assert.equal(rl.check('p', 'control'), 'limited')
    c.advance(1000) // one token per second at 60/min
    assert.equal(rl.check('p', 'control'), 'ok')
    assert.equal(rl.check('p', 'control'), 'limited')
  })

  it('keeps video and control budgets apart', () => {
    const c = clock()
    const rl = new PeerRateLimiter({ messagesPerMinute: 2, videoChunksPerMinute: 3 }, c.now)
    for (let i = 0; i < 3; i++) assert.equal(rl.check('p', 'video'), 'ok')
    assert.equal(rl.check('p', 'video'), 'limited')
    assert.equal(rl.check('p', 'control'), 'ok')
  })

  it('doubles the budget for a peer at or above the high-score threshold', () => {
    const c = clock()
    const rl = new PeerRateLimiter(
      { messagesPerMinute: 10, highScoreThreshold: 5, graylistAfterViolations: 1000 },
      c.now,
    )
    let ok = 0
    for (let i = 0; i < 30; i++) if (rl.check('good', 'control', 7) === 'ok') ok++
    // The bucket starts with the base budget and may fill to the doubled one over a minute.
    c.advance(60_000)
    for (let i = 0; i < 30; i++) if (rl.check('good', 'control', 7) === 'ok') ok++
    assert.equal(ok, 10 + 20)
    let low = 0
    c.advance(60_000)
    for (let i = 0; i < 30; i++) if (rl.check('low', 'control', 4.9) === 'ok') low++
    assert.equal(low, 10)
  })

  it('graylists after repeated violations within the window, for graylistMs', () => {
    const c = clock()
    const rl = new PeerRateLimiter(
      { messagesPerMinute: 1, graylistAfterViolations: 3, graylistMs: 10_000, violationWindowMs: 5_000 },
      c.now,
    )
    assert.equal(rl.check('p', 'control'), 'ok')
    assert.equal(rl.check('p', 'control'), 'limited')
    assert.equal(rl.check('p', 'control'), 'limited')
    assert.equal(rl.check('p', 'control'), 'graylisted')
    assert.ok(rl.isGraylisted('p'))
    assert.deepEqual(rl.graylisted(), ['p'])
    c.advance(5_000)
    assert.equal(rl.check('p', 'control'), 'graylisted', 'still graylisted, no token spent')
    rl.forget('p')
    assert.ok(rl.isGraylisted('p'), 'forget keeps a graylisted peer')
    c.advance(5_001)
    assert.ok(!rl.isGraylisted('p'))
    assert.equal(rl.check('p', 'control'), 'limited', 'judged by its bucket again (1/min: not refilled yet)')
    c.advance(60_000)
    assert.equal(rl.check('p', 'control'), 'ok')
    rl.forget('p')
    assert.equal(rl.size, 0)
  })

  it('forgets violations outside the window', () => {
    const c = clock()
    const rl = new PeerRateLimiter(
      { messagesPerMinute: 1, graylistAfterViolations: 3, violationWindowMs: 1_000 },
      c.now,
    )
    rl.check('p', 'control')
    assert.equal(rl.check('p', 'control'), 'limited')
    assert.equal(rl.check('p', 'control'), 'limited')
    c.advance(1_001) // a new window; 1/min refills only 0.017 tokens
    assert.equal(rl.check('p', 'control'), 'limited')
    assert.equal(rl.check('p', 'control'), 'limited')
    assert.ok(!rl.isGraylisted('p'))
  })

  it('refuses non-positive options with INVALID_CONFIG', () => {
    expectCode(() => new PeerRateLimiter({ messagesPerMinute: 0 }), P2PError, 'INVALID_CONFIG')
    expectCode(() => new PeerRateLimiter({ graylistMs: Number.NaN }), P2PError, 'INVALID_CONFIG')
  })

  it('defaults: an honest director streaming 45 s videos through one relay never trips it', () => {
    // One neighbour may be first to hand us everything, so this is the whole network's traffic:
    // per 45 s slot, three 45 s 1080p videos at 20 Mbit/s (107 chunks of 1 MiB each, the
    // canonical one and two fallbacks, docs/protocol.md §6), 15 BFT messages and 10 recipes, each
    // burst arriving within one second, for 20 slots in a row, from a peer with a neutral score.
    const c = clock()
    const rl = new PeerRateLimiter({}, c.now)
    const chunksPerVideo = Math.ceil((45 * 20e6) / 8 / (1024 * 1024))
    assert.equal(chunksPerVideo, 108)
    for (let slot = 0; slot < 20; slot++) {
      for (let v = 0; v < 3; v++) {
        for (let i = 0; i < chunksPerVideo; i++) {
          assert.equal(rl.check('relay', 'video', 0), 'ok', `slot ${slot} video ${v} chunk ${i}`)
        }
      }
      for (let i = 0; i < 25; i++)
        assert.equal(rl.check('relay', 'control', 0), 'ok', `slot ${slot} control ${i}`)
      c.advance(45_000)
    }
    assert.deepEqual(rl.graylisted(), [])
    assert.equal(RATE_LIMIT_DEFAULTS.messagesPerMinute, 100)
  })

  it('defaults: a flood of chunks is cut at the budget', () => {
    const c = clock()
    const rl = new PeerRateLimiter({}, c.now)
    let ok = 0
    for (let i = 0; i < 2000; i++) if (rl.check('flooder', 'video') === 'ok') ok++
    assert.equal(ok, RATE_LIMIT_DEFAULTS.videoChunksPerMinute)
    assert.ok(rl.isGraylisted('flooder'))
  })
})
