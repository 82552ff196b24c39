// Deterministic numerics for the generator: an integer PRNG and a sine table built with IEEE basic
// operations only. Math.sin/exp/pow are implementation-defined in ECMAScript and may differ between
// V8 versions; +, −, ×, ÷ and sqrt are correctly rounded everywhere, so frames built from these are
// the same bytes on every director (docs/protocol.md §5 compares their outputs).

/** xoshiro128** seeded from 16 bytes (e.g. a BLAKE3 digest). */
export class Rng {
  private s0: number
  private s1: number
  private s2: number
  private s3: number

  constructor(seed: Uint8Array) {
    if (seed.length < 16) throw new RangeError('Rng: seed must have at least 16 bytes')
    const dv = new DataView(seed.buffer, seed.byteOffset, seed.byteLength)
    this.s0 = dv.getUint32(0, true)
    this.s1 = dv.getUint32(4, true)
    this.s2 = dv.getUint32(8, true)
    this.s3 = dv.getUint32(12, true)
    // The all-zero state is a fixed point of xoshiro.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 0x9e3779b9
  }

  /** Next unsigned 32-bit integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0
    const t = this.s1 << 9
    this.s2 ^= this.s0
    this.s3 ^= this.s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= t
    this.s3 = rotl(this.s3, 11)
    return result
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  float(): number {
    return this.u32() / 4294967296
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float()
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }

  /** Approximately N(0, 1): Irwin–Hall sum of 12 uniforms (basic operations only). */
  gauss(): number {
    let s = 0
    for (let i = 0; i < 12; i++) s += this.float()
    return s - 6
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

const TABLE_BITS = 12
const TABLE_SIZE = 1 << TABLE_BITS
const TWO_PI = 6.283185307179586

/** sin over one period, TABLE_SIZE + 1 entries, by Taylor series on [−π, π] (basic operations only). */
const SIN_TABLE: Float64Array = (() => {
  const t = new Float64Array(TABLE_SIZE + 1)
  for (let i = 0; i <= TABLE_SIZE; i++) {
    let x = (i / TABLE_SIZE) * TWO_PI
    if (x > Math.PI) x -= TWO_PI
    let term = x
    let sum = x
    const x2 = x * x
    for (let n = 1; n < 20; n++) {
      term = (-term * x2) / (2 * n * (2 * n + 1))
      sum += term
    }
    t[i] = sum
  }
  return t
})()

/** sin(2π·turns), deterministic; error < 1e-6. */
export function sinTurns(turns: number): number {
  const p = turns - Math.floor(turns)
  const f = p * TABLE_SIZE
  const i = Math.floor(f)
  const a = SIN_TABLE[i]!
  return a + (SIN_TABLE[i + 1]! - a) * (f - i)
}

/** cos(2π·turns). */
export function cosTurns(turns: number): number {
  return sinTurns(turns + 0.25)
}

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : Math.min(x, hi)
}

/** FNV-1a 32-bit of a string, for stable small choices (not security). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** HSL (h in turns, s and l in 0..1) to packed 0xAABBGGRR for a little-endian Uint32 RGBA view. */
export function hsl(h: number, s: number, l: number): number {
  const hh = (h - Math.floor(h)) * 6
  const c = (1 - Math.abs(2 * l - 1)) * s
  const x = c * (1 - Math.abs((hh % 2) - 1))
  const m = l - c / 2
  let r = 0
  let g = 0
  let b = 0
  if (hh < 1) [r, g, b] = [c, x, 0]
  else if (hh < 2) [r, g, b] = [x, c, 0]
  else if (hh < 3) [r, g, b] = [0, c, x]
  else if (hh < 4) [r, g, b] = [0, x, c]
  else if (hh < 5) [r, g, b] = [x, 0, c]
  else [r, g, b] = [c, 0, x]
  return rgb(Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255))
}

/** Packed 0xAABBGGRR (opaque): RGBA bytes in memory on a little-endian host (x86, ARM). */
export function rgb(r: number, g: number, b: number): number {
  const r8 = Math.round(clamp(r, 0, 255))
  const g8 = Math.round(clamp(g, 0, 255))
  const b8 = Math.round(clamp(b, 0, 255))
  return ((255 << 24) | (b8 << 16) | (g8 << 8) | r8) >>> 0
}

/** Blend packed colours: a·(1−t) + b·t. */
export function mix(a: number, b: number, t: number): number {
  const u = 1 - t
  return rgb(
    Math.round((a & 255) * u + (b & 255) * t),
    Math.round(((a >>> 8) & 255) * u + ((b >>> 8) & 255) * t),
    Math.round(((a >>> 16) & 255) * u + ((b >>> 16) & 255) * t),
  )
}

/** Scale a packed colour's brightness by k (0..~2). */
export function shade(c: number, k: number): number {
  return rgb(Math.round((c & 255) * k), Math.round(((c >>> 8) & 255) * k), Math.round(((c >>> 16) & 255) * k))
}
