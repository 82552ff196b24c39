// The 512-dimension content embedding, computed from the rendered frames. It is a perceptual
// stand-in for CLIP, not CLIP: colour layout, motion, edge density and a colour histogram per
// quarter of the clip, centred, weighted, and projected to 512 dimensions by a fixed ±1 random
// matrix (Johnson–Lindenstrauss), then L2-normalised. Similar-looking videos score a high cosine;
// it knows nothing of meaning (docs/sidecar.md). Basic IEEE operations only, so every director
// computes the same floats.
import { Rng } from './det.ts'

export const EMBEDDING_DIM = 512
/** Name and version of the method, reported in the plugin output. */
export const EMBEDDING_METHOD = 'nsn-perceptual-v1'

const SEGMENTS = 4
const GX = 8
const GY = 6
const MX = 4
const MY = 3
const HUE_BINS = 12
const GRAY_BINS = 4
const HIST = HUE_BINS * 2 + GRAY_BINS
/** Pixel stride of the sampling (every 2nd column and row). */
const STRIDE = 2

export class EmbeddingAccumulator {
  private readonly layout = new Float64Array(SEGMENTS * GX * GY * 3)
  private readonly layoutN = new Float64Array(SEGMENTS * GX * GY)
  private readonly motion = new Float64Array(SEGMENTS * MX * MY)
  private readonly motionN = new Float64Array(SEGMENTS * MX * MY)
  private readonly edges = new Float64Array(SEGMENTS * MX * MY)
  private readonly edgesN = new Float64Array(SEGMENTS * MX * MY)
  private readonly hist = new Float64Array(HIST)
  private histN = 0
  private prev: Float32Array | null = null
  private readonly cur: Float32Array
  private readonly sw: number
  private readonly sh: number

  constructor(
    private readonly width: number,
    height: number,
    private readonly frameCount: number,
  ) {
    this.sw = Math.floor(width / STRIDE)
    this.sh = Math.floor(height / STRIDE)
    this.cur = new Float32Array(this.sw * this.sh)
  }

  /** Feed frame `index` (RGBA bytes). */
  addFrame(rgba: Uint8Array, index: number): void {
    const { width: W, sw, sh } = this
    const seg = Math.min(SEGMENTS - 1, Math.floor((index * SEGMENTS) / this.frameCount))
    const cur = this.cur
    for (let sy = 0; sy < sh; sy++) {
      const gy = Math.floor((sy * GY) / sh)
      const my = Math.floor((sy * MY) / sh)
      for (let sx = 0; sx < sw; sx++) {
        const o = (sy * STRIDE * W + sx * STRIDE) * 4
        const r = rgba[o]! / 255
        const g = rgba[o + 1]! / 255
        const b = rgba[o + 2]! / 255
        const y = 0.299 * r + 0.587 * g + 0.114 * b
        const cell = (seg * GY + gy) * GX + Math.floor((sx * GX) / sw)
        this.layout[cell * 3] = this.layout[cell * 3]! + y
        this.layout[cell * 3 + 1] = this.layout[cell * 3 + 1]! + (b - y) * 0.564
        this.layout[cell * 3 + 2] = this.layout[cell * 3 + 2]! + (r - y) * 0.713
        this.layoutN[cell] = this.layoutN[cell]! + 1
        cur[sy * sw + sx] = y
        const mcell = (seg * MY + my) * MX + Math.floor((sx * MX) / sw)
        if (sx > 0 && sy > 0) {
          const e = Math.abs(y - cur[sy * sw + sx - 1]!) + Math.abs(y - cur[(sy - 1) * sw + sx]!)
          this.edges[mcell] = this.edges[mcell]! + e
          this.edgesN[mcell] = this.edgesN[mcell]! + 1
        }
        if (this.prev !== null) {
          this.motion[mcell] = this.motion[mcell]! + Math.abs(y - this.prev[sy * sw + sx]!)
          this.motionN[mcell] = this.motionN[mcell]! + 1
        }
        // Hue histogram with grey bins for unsaturated pixels.
        const max = r > g ? Math.max(r, b) : Math.max(g, b)
        const min = r < g ? Math.min(r, b) : Math.min(g, b)
        const c = max - min
        let bin: number
        if (c < 0.08) bin = HUE_BINS * 2 + Math.min(GRAY_BINS - 1, Math.floor(max * GRAY_BINS))
        else {
          let h: number
          if (max === r) h = (g - b) / c
          else if (max === g) h = (b - r) / c + 2
          else h = (r - g) / c + 4
          if (h < 0) h += 6
          bin = Math.min(HUE_BINS - 1, Math.floor((h * HUE_BINS) / 6)) * 2 + (max > 0.5 ? 1 : 0)
        }
        this.hist[bin] = this.hist[bin]! + 1
        this.histN++
      }
    }
    if (this.prev === null) this.prev = new Float32Array(cur.length)
    this.prev.set(cur)
  }

  /** The L2-normalised embedding. */
  finish(): Float32Array {
    const groups: [Float64Array, number][] = []
    const layout = new Float64Array(this.layout.length)
    for (let i = 0; i < this.layoutN.length; i++) {
      const n = this.layoutN[i]! || 1
      layout[i * 3] = this.layout[i * 3]! / n - 0.5
      layout[i * 3 + 1] = this.layout[i * 3 + 1]! / n
      layout[i * 3 + 2] = this.layout[i * 3 + 2]! / n
    }
    groups.push([layout, 0.75])
    const motion = new Float64Array(this.motion.length)
    for (let i = 0; i < motion.length; i++)
      motion[i] = Math.sqrt(this.motion[i]! / (this.motionN[i]! || 1)) - 0.1
    groups.push([motion, 0.3])
    const edges = new Float64Array(this.edges.length)
    for (let i = 0; i < edges.length; i++) edges[i] = Math.sqrt(this.edges[i]! / (this.edgesN[i]! || 1)) - 0.2
    groups.push([edges, 0.35])
    const hist = new Float64Array(HIST)
    const uniform = Math.sqrt(1 / HIST)
    for (let i = 0; i < HIST; i++) hist[i] = Math.sqrt(this.hist[i]! / (this.histN || 1)) - uniform
    groups.push([hist, 0.5])

    // Each group at unit norm times its weight, so none drowns the others.
    let total = 0
    for (const [g] of groups) total += g.length
    const features = new Float64Array(total)
    let o = 0
    for (const [g, w] of groups) {
      let n = 0
      for (let i = 0; i < g.length; i++) n += g[i]! * g[i]!
      const k = n > 0 ? w / Math.sqrt(n) : 0
      for (let i = 0; i < g.length; i++) features[o + i] = g[i]! * k
      o += g.length
    }
    return project(features)
  }
}

/** Fixed ±1 projection to EMBEDDING_DIM, then L2 normalisation (f64, rounded to f32, re-checked). */
function project(features: Float64Array): Float32Array {
  // The matrix is the same everywhere: a constant seed, not the recipe's.
  const rng = new Rng(new TextEncoder().encode('nsn-vortex-embed-v1-projection'))
  const out = new Float64Array(EMBEDDING_DIM)
  for (let j = 0; j < EMBEDDING_DIM; j++) {
    let acc = 0
    let bits = 0
    for (let i = 0; i < features.length; i++) {
      if ((i & 31) === 0) bits = rng.u32()
      acc += (bits >>> (i & 31)) & 1 ? features[i]! : -features[i]!
    }
    out[j] = acc
  }
  return normalise(out)
}

/** L2-normalise into f32; a zero vector becomes the first basis vector (never NaN). */
export function normalise(v: ArrayLike<number>): Float32Array {
  let n = 0
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!
  const out = new Float32Array(v.length)
  if (n === 0) {
    out[0] = 1
    return out
  }
  const k = 1 / Math.sqrt(n)
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * k
  return out
}

/**
 * Controlled noise for tests of non-identical honest directors: adds N(0, σ²) per dimension from a
 * seeded Rng, then re-normalises. Expected cosine to the clean vector ≈ 1 / sqrt(1 + 512·σ²)
 * (σ = 0.01 → ≈ 0.975; σ = 0.03 → ≈ 0.82).
 */
export function addNoise(v: Float32Array, sigma: number, seed: Uint8Array): Float32Array {
  const rng = new Rng(seed)
  const out = new Float64Array(v.length)
  for (let i = 0; i < v.length; i++) out[i] = v[i]! + sigma * rng.gauss()
  return normalise(out)
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!
    na += a[i]! * a[i]!
    nb += b[i]! * b[i]!
  }
  return d / Math.sqrt(na * nb)
}
