// Deterministic, reputation-weighted director election (the reference NsnDirector rules, checked
// properly): weight = isqrt(reputation + 1) × (1 ± jitter), under-represented regions boosted, at
// most `maxPerRegion` per region while others can fill the seats, recent directors drawn last.
// Pure: the same seed and candidates (in any order) give the same directors.
import { blake3, compareBytes } from '../crypto/index.ts'
import { concatBytes } from '../types/index.ts'
import { u32le } from './signing.ts'

export interface Candidate {
  /** Node key (libp2p protobuf public key): what the elected list carries. */
  key: Uint8Array
  region: string
  reputation: bigint
  /** Served in one of the last `cooldownEpochs` epochs. */
  inCooldown: boolean
}

export interface ElectionRules {
  seats: number
  /** ± percent. */
  jitterPercent: number
  maxPerRegion: number
}

const enc = new TextEncoder()
const JITTER_TAG = enc.encode('jitter')
const DRAW_TAG = enc.encode('draw')

/** Integer square root (floor), Newton's method on bigint. */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError('isqrt of a negative number')
  if (n < 2n) return n
  let x = n
  let y = (x + 1n) >> 1n
  while (y < x) {
    x = y
    y = (x + n / x) >> 1n
  }
  return x
}

function u32FromHash(h: Uint8Array): number {
  return new DataView(h.buffer, h.byteOffset, 4).getUint32(0, true)
}

/** Jitter in per mille, uniform in [-10·jitterPercent, +10·jitterPercent], fixed per (seed, candidate). */
export function jitterPermille(seed: Uint8Array, key: Uint8Array, jitterPercent: number): number {
  const span = jitterPercent * 10
  if (span === 0) return 0
  return (u32FromHash(blake3(concatBytes([seed, JITTER_TAG, key]))) % (2 * span + 1)) - span
}

/** Base weight in thousandths: isqrt(reputation + 1) × (1000 + jitter‰). Never below 1. */
export function electionWeight(reputation: bigint, jitter: number): bigint {
  const r = reputation < 0n ? 0n : reputation
  const w = isqrt(r + 1n) * BigInt(1000 + jitter)
  return w < 1n ? 1n : w
}

/** 128-bit draw k of the election: more than enough to make the modulo bias irrelevant. */
function draw(seed: Uint8Array, k: number): bigint {
  const h = blake3(concatBytes([seed, DRAW_TAG, u32le(k)]))
  let v = 0n
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(h[i]!)
  return v
}

/**
 * Region factor in quarters (reference: ×2 for a region with no director yet, ×½ for one with some,
 * excluded at the cap). When only capped regions are left and seats are still open, they are drawn
 * at ×¼ so that a small or one-region network still fills every seat.
 */
function regionFactor(count: number, maxPerRegion: number, capRelaxed: boolean): bigint {
  if (count === 0) return 8n
  if (count < maxPerRegion) return 2n
  return capRelaxed ? 1n : 0n
}

/**
 * Elect up to `rules.seats` directors. Candidates not in cooldown are drawn first; candidates in
 * cooldown only fill seats that would otherwise stay empty. Within a tier, each seat is one weighted
 * draw without replacement, with the region factor applied to the weights of the moment.
 * Returns the elected keys in draw order.
 */
export function electDirectors(
  seed: Uint8Array,
  candidates: readonly Candidate[],
  rules: ElectionRules,
): Uint8Array[] {
  const sorted = [...candidates].sort((a, b) => compareBytes(a.key, b.key))
  const pool = sorted.map((c) => ({
    c,
    weight: electionWeight(c.reputation, jitterPermille(seed, c.key, rules.jitterPercent)),
    taken: false,
  }))
  const regionCount = new Map<string, number>()
  const elected: Uint8Array[] = []
  let k = 0
  for (const cooldownTier of [false, true]) {
    for (const capRelaxed of [false, true]) {
      while (elected.length < rules.seats) {
        let total = 0n
        const eligible: { i: number; w: bigint }[] = []
        for (const [i, p] of pool.entries()) {
          if (p.taken || p.c.inCooldown !== cooldownTier) continue
          const f = regionFactor(regionCount.get(p.c.region) ?? 0, rules.maxPerRegion, capRelaxed)
          if (f === 0n) continue
          const w = p.weight * f
          eligible.push({ i, w })
          total += w
        }
        if (eligible.length === 0) break
        let r = draw(seed, k++) % total
        let chosen = eligible[eligible.length - 1]!.i
        for (const e of eligible) {
          if (r < e.w) {
            chosen = e.i
            break
          }
          r -= e.w
        }
        const p = pool[chosen]!
        p.taken = true
        regionCount.set(p.c.region, (regionCount.get(p.c.region) ?? 0) + 1)
        elected.push(p.c.key)
      }
    }
  }
  return elected
}
