// Director election (src/chain/election.ts): determinism, the isqrt(reputation+1) weighting with
// ±20% jitter (statistically, over thousands of seeds), region diversity with a soft cap, cooldown.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type Candidate,
  electDirectors,
  electionWeight,
  isqrt,
  jitterPermille,
} from '../../../src/chain/index.ts'
import { blake3, initBlake3 } from '../../../src/crypto/index.ts'
import { bytesToHex } from '../../../src/types/index.ts'

await initBlake3()

const key = (i: number) => {
  const k = new Uint8Array(36)
  k.set([0x08, 0x01, 0x12, 0x20])
  k.fill(i + 1, 4)
  return k
}
const seed = (i: number) => blake3(new TextEncoder().encode(`seed-${i}`))
const rules = { seats: 5, jitterPercent: 20, maxPerRegion: 2 }
const cand = (i: number, region: string, reputation = 0n, inCooldown = false): Candidate => ({
  key: key(i),
  region,
  reputation,
  inCooldown,
})
const ids = (keys: Uint8Array[]) => keys.map(bytesToHex)

describe('isqrt', () => {
  it('is the floor square root for small and huge values', () => {
    for (let n = 0n; n < 2000n; n++) {
      const r = isqrt(n)
      assert.ok(r * r <= n && (r + 1n) * (r + 1n) > n, `isqrt(${n}) = ${r}`)
    }
    const big = (1n << 127n) + 12345n
    const r = isqrt(big)
    assert.ok(r * r <= big && (r + 1n) * (r + 1n) > big)
  })
})

describe('jitter', () => {
  it('stays within ±20% and covers the range, centred on 0', () => {
    let min = Infinity
    let max = -Infinity
    let sum = 0
    const n = 20_000
    for (let i = 0; i < n; i++) {
      const j = jitterPermille(seed(i), key(i % 7), 20)
      min = Math.min(min, j)
      max = Math.max(max, j)
      sum += j
    }
    assert.ok(min >= -200 && max <= 200, `range ${min}..${max}`)
    assert.ok(min < -190 && max > 190, `covers the range: ${min}..${max}`)
    assert.ok(Math.abs(sum / n) < 5, `mean ${sum / n}`)
    assert.equal(jitterPermille(seed(1), key(1), 0), 0)
  })

  it('weight is isqrt(rep+1) scaled by the jitter', () => {
    assert.equal(electionWeight(0n, 0), 1000n)
    assert.equal(electionWeight(99n, 0), 10_000n)
    assert.equal(electionWeight(99n, -200), 8_000n)
    assert.equal(electionWeight(99n, 200), 12_000n)
  })
})

describe('electDirectors', () => {
  it('is deterministic for a seed and independent of candidate order', () => {
    const cs = Array.from({ length: 12 }, (_, i) => cand(i, `r${i % 4}`, BigInt(i * 37)))
    const a = electDirectors(seed(1), cs, rules)
    const b = electDirectors(seed(1), [...cs].reverse(), rules)
    assert.deepEqual(ids(a), ids(b))
    assert.equal(a.length, 5)
    let differs = 0
    for (let i = 2; i < 22; i++)
      if (ids(electDirectors(seed(i), cs, rules)).join() !== ids(a).join()) differs++
    assert.ok(differs >= 15, `other seeds give other elections (${differs}/20)`)
  })

  it('selects one seat in proportion to isqrt(reputation + 1) (statistical, 6000 seeds)', () => {
    // isqrt weights 1, 2, 4, 10 → expected 1/17, 2/17, 4/17, 10/17.
    const reps = [0n, 3n, 15n, 99n]
    const cs = reps.map((r, i) => cand(i, 'same', r))
    const counts = new Map<string, number>()
    const n = 6000
    for (let i = 0; i < n; i++) {
      const [k] = electDirectors(seed(i), cs, { ...rules, seats: 1 })
      counts.set(bytesToHex(k!), (counts.get(bytesToHex(k!)) ?? 0) + 1)
    }
    const expected = [1, 2, 4, 10].map((w) => w / 17)
    for (const [i, c] of cs.entries()) {
      const f = (counts.get(bytesToHex(c.key)) ?? 0) / n
      assert.ok(
        Math.abs(f - expected[i]!) < 0.025,
        `reputation ${reps[i]}: frequency ${f.toFixed(3)} vs ${expected[i]!.toFixed(3)}`,
      )
    }
  })

  it('favours reputation with several seats (high-reputation candidates elected far more often)', () => {
    // Every candidate in its own region so the region factor is neutral.
    const cs = Array.from({ length: 10 }, (_, i) => cand(i, `region-${i}`, i < 5 ? 0n : 9_999n))
    let high = 0
    const n = 500
    for (let i = 0; i < n; i++) {
      for (const k of electDirectors(seed(i), cs, rules)) if (k[4]! > 5) high++
    }
    // Weights 1 vs 100: almost every seat goes to the high group.
    assert.ok(high / n > 4.5, `high-reputation seats per election: ${high / n}`)
  })

  it('keeps at most 2 directors per region while other regions can fill the seats', () => {
    const cs = [
      ...Array.from({ length: 5 }, (_, i) => cand(i, 'eu-west', 1_000_000n)),
      cand(10, 'na-east'),
      cand(11, 'apac'),
      cand(12, 'latam'),
    ]
    for (let i = 0; i < 200; i++) {
      const elected = electDirectors(seed(i), cs, rules)
      const eu = elected.filter((k) => k[4]! <= 5).length
      assert.equal(eu, 2, `seed ${i}: ${eu} directors from eu-west`)
      assert.equal(elected.length, 5)
    }
  })

  it('still fills every seat when all candidates share one region (soft cap)', () => {
    const cs = Array.from({ length: 5 }, (_, i) => cand(i, 'eu-west'))
    const elected = electDirectors(seed(3), cs, rules)
    assert.equal(elected.length, 5)
    assert.deepEqual(new Set(ids(elected)), new Set(ids(cs.map((c) => c.key))))
  })

  it('elects everyone when there are at most as many candidates as seats (consecutive epochs)', () => {
    const cs = Array.from({ length: 3 }, (_, i) => cand(i, `r${i}`))
    for (let i = 0; i < 20; i++) assert.equal(electDirectors(seed(i), cs, rules).length, 3)
    assert.deepEqual(electDirectors(seed(1), [], rules), [])
  })

  it('draws candidates in cooldown only for seats nobody else can fill', () => {
    const fresh = Array.from({ length: 5 }, (_, i) => cand(i, `r${i}`))
    const served = Array.from({ length: 5 }, (_, i) => cand(20 + i, `r${i}`, 1_000_000n, true))
    for (let i = 0; i < 50; i++) {
      const elected = electDirectors(seed(i), [...fresh, ...served], rules)
      assert.deepEqual(new Set(ids(elected)), new Set(ids(fresh.map((c) => c.key))), `seed ${i}`)
    }
    const fewFresh = fresh.slice(0, 2)
    const elected = electDirectors(seed(9), [...fewFresh, ...served], rules)
    assert.equal(elected.length, 5)
    assert.deepEqual(ids(elected.slice(0, 2)).sort(), ids(fewFresh.map((c) => c.key)).sort())
  })
})
