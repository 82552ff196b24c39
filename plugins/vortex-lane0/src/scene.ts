// The procedural scene: a recipe's prompt picks palette, terrain, sky features and particles from a
// small lexicon (hash-driven where no word matches); motion_preset and camera_motion drive the camera;
// the expression sequence tints the segments; prompt, script (karaoke style) and a timecode are
// rendered into the frames. Everything derives from the recipe and the seeded Rng: no clock, no I/O.
import type { Recipe } from '../../../src/types/index.ts'
import { clamp, cosTurns, fnv1a, hsl, mix, type Rng, rgb, shade, sinTurns } from './det.ts'
import { ADVANCE, drawText, LINE_H, printable, textWidth, wrap } from './font.ts'

type Terrain = 'waves' | 'mountains' | 'hills' | 'city' | 'dunes'
type Particles = 'none' | 'stars' | 'rain' | 'snow' | 'embers'

/** Words of the prompt that steer the scene, and what they set. */
const HUES: Record<string, number> = {
  red: 0,
  crimson: 0.98,
  fire: 0.03,
  lava: 0.02,
  orange: 0.07,
  autumn: 0.08,
  sunset: 0.06,
  dusk: 0.75,
  gold: 0.12,
  golden: 0.12,
  yellow: 0.15,
  sun: 0.13,
  desert: 0.1,
  sand: 0.11,
  green: 0.33,
  forest: 0.32,
  grass: 0.28,
  jungle: 0.36,
  teal: 0.48,
  ocean: 0.56,
  sea: 0.55,
  water: 0.55,
  waves: 0.56,
  lake: 0.54,
  river: 0.53,
  blue: 0.61,
  sky: 0.58,
  ice: 0.52,
  snow: 0.58,
  winter: 0.6,
  night: 0.66,
  moon: 0.64,
  space: 0.7,
  purple: 0.77,
  violet: 0.76,
  neon: 0.85,
  pink: 0.9,
  rose: 0.95,
}
const DARK = new Set(['night', 'midnight', 'dark', 'space', 'storm', 'stars', 'moon', 'neon'])
const BRIGHT = new Set(['snow', 'ice', 'winter', 'noon', 'bright', 'day', 'morning', 'sunny'])
const TERRAIN: Record<string, Terrain> = {
  wave: 'waves',
  waves: 'waves',
  ocean: 'waves',
  sea: 'waves',
  beach: 'waves',
  lake: 'waves',
  water: 'waves',
  mountain: 'mountains',
  mountains: 'mountains',
  peak: 'mountains',
  peaks: 'mountains',
  alps: 'mountains',
  hill: 'hills',
  hills: 'hills',
  forest: 'hills',
  meadow: 'hills',
  valley: 'hills',
  city: 'city',
  skyline: 'city',
  street: 'city',
  buildings: 'city',
  town: 'city',
  neon: 'city',
  desert: 'dunes',
  dunes: 'dunes',
  sand: 'dunes',
}
const PARTICLES: Record<string, Particles> = {
  stars: 'stars',
  star: 'stars',
  night: 'stars',
  space: 'stars',
  midnight: 'stars',
  rain: 'rain',
  storm: 'rain',
  rainy: 'rain',
  snow: 'snow',
  snowy: 'snow',
  winter: 'snow',
  fire: 'embers',
  embers: 'embers',
  lava: 'embers',
  sparks: 'embers',
}
const DISC = new Set(['sun', 'moon', 'sunset', 'sunrise', 'dusk', 'dawn', 'planet'])
const TOWER = new Set(['lighthouse', 'tower', 'beacon', 'castle', 'spire'])
/** Expression → hue shift (turns) and brightness factor for its segment. */
const EXPRESSIONS: Record<string, [number, number]> = {
  neutral: [0, 1],
  calm: [0.02, 0.95],
  smile: [0.03, 1.1],
  happy: [0.04, 1.15],
  joy: [0.05, 1.2],
  sad: [-0.06, 0.8],
  angry: [-0.1, 1.05],
  surprised: [0.08, 1.2],
  fear: [-0.12, 0.75],
  thoughtful: [-0.03, 0.9],
}

/** Camera path as a function of u = t / duration: zoom, pan (px per second of travel), rotation-like orbit. */
interface Camera {
  zoom0: number
  zoom1: number
  panX: number
  panY: number
  orbit: number
  shake: number
}

function cameraOf(motionPreset: string, cameraMotion: string, rng: Rng): Camera {
  const cam: Camera = { zoom0: 1, zoom1: 1, panX: 0, panY: 0, orbit: 0, shake: 0 }
  switch (motionPreset.toLowerCase()) {
    case 'static':
    case 'still':
      break
    case 'slow_pan':
      cam.panX = 12
      break
    case 'fast_pan':
    case 'pan':
      cam.panX = 40
      break
    case 'zoom':
    case 'push':
      cam.zoom1 = 1.25
      break
    case 'orbit':
      cam.orbit = 18
      break
    case 'shake':
    case 'handheld':
      cam.shake = 2.5
      cam.panX = 6
      break
    case 'float':
    case 'drift':
      cam.panX = 8
      cam.panY = -4
      break
    default:
      // An unknown preset still moves, the same way on every director.
      cam.panX = rng.range(-20, 20)
      cam.panY = rng.range(-4, 4)
  }
  switch (cameraMotion.toLowerCase()) {
    case 'dolly_in':
    case 'zoom_in':
    case 'push_in':
      cam.zoom1 *= 1.35
      break
    case 'dolly_out':
    case 'zoom_out':
    case 'pull_out':
      cam.zoom0 *= 1.35
      break
    case 'pan_left':
      cam.panX -= 30
      break
    case 'pan_right':
      cam.panX += 30
      break
    case 'tilt_up':
    case 'crane_up':
      cam.panY -= 12
      break
    case 'tilt_down':
    case 'crane_down':
      cam.panY += 12
      break
    case 'orbit':
      cam.orbit += 20
      break
    default:
      break
  }
  return cam
}

interface Layer {
  color: number
  base: number
  amp: number
  freq: number
  phase: number
  speed: number
  parallax: number
}

export interface SceneInit {
  recipe: Recipe
  width: number
  height: number
  fps: number
  frameCount: number
  rng: Rng
}

/** Renders frame `i` of a recipe into a packed RGBA buffer. */
export class Scene {
  readonly width: number
  readonly height: number
  private readonly fps: number
  private readonly frameCount: number
  private readonly terrain: Terrain
  private readonly particles: Particles
  private readonly disc: boolean
  private readonly tower: boolean
  private readonly hue: number
  private readonly light: number
  private readonly cam: Camera
  private readonly layers: Layer[]
  private readonly stars: Float64Array
  private readonly drops: Float64Array
  private readonly expressions: [string, number, number][]
  private readonly promptLines: string[]
  private readonly ticker: string
  private readonly words: string[]
  private readonly title: string
  private readonly scale: number
  private readonly towerX: number
  private readonly discX: number
  private readonly discY: number
  private readonly colLimit: Int32Array

  constructor(init: SceneInit) {
    const { recipe, width, height, rng } = init
    this.width = width
    this.height = height
    this.fps = init.fps
    this.frameCount = init.frameCount
    const prompt = recipe.visual_track.prompt
    const words = prompt.toLowerCase().match(/[a-z]+/g) ?? []
    const negative = new Set(recipe.visual_track.negative_prompt.toLowerCase().match(/[a-z]+/g) ?? [])
    const pick = <T>(table: Record<string, T>): T | undefined => {
      for (const w of words) if (!negative.has(w) && table[w] !== undefined) return table[w]
      return undefined
    }
    const hash = fnv1a(prompt)
    this.hue = pick(HUES) ?? (hash % 360) / 360
    this.light = words.some((w) => DARK.has(w)) ? 0.22 : words.some((w) => BRIGHT.has(w)) ? 0.62 : 0.45
    const terrains: Terrain[] = ['waves', 'mountains', 'hills', 'city', 'dunes']
    this.terrain = pick(TERRAIN) ?? terrains[(hash >>> 8) % terrains.length]!
    this.particles = pick(PARTICLES) ?? 'none'
    this.disc = words.some((w) => DISC.has(w) && !negative.has(w)) || this.light < 0.3
    this.tower = words.some((w) => TOWER.has(w) && !negative.has(w))
    this.cam = cameraOf(recipe.visual_track.motion_preset, recipe.visual_track.camera_motion, rng)
    this.scale = Math.max(1, Math.floor(width / 320))

    const nLayers = 3
    this.layers = []
    for (let k = 0; k < nLayers; k++) {
      const depth = (k + 1) / nLayers // 1/3 far … 1 near
      const hueK = this.hue + rng.range(-0.06, 0.06) + (k - 1) * 0.03
      const lightK = clamp(this.light * (1.25 - depth * 0.55), 0.05, 0.85)
      this.layers.push({
        color: hsl(hueK, clamp(0.35 + depth * 0.3, 0, 1), lightK),
        base: height * (0.45 + depth * 0.14),
        amp: height * (this.terrain === 'mountains' ? 0.16 : 0.05 + 0.03 * depth) * rng.range(0.7, 1.2),
        freq: rng.range(1.2, 2.6) / (width * (1.2 - depth * 0.5)),
        phase: rng.float(),
        speed: this.terrain === 'waves' ? rng.range(0.25, 0.6) * (k % 2 === 0 ? 1 : -1) : 0,
        parallax: 0.3 + depth * 0.9,
      })
    }
    this.stars = new Float64Array(180)
    for (let i = 0; i < this.stars.length; i += 3) {
      this.stars[i] = rng.float() * width * 2 - width / 2
      this.stars[i + 1] = rng.float() * height * 0.6
      this.stars[i + 2] = rng.float()
    }
    this.drops = new Float64Array(240)
    for (let i = 0; i < this.drops.length; i += 3) {
      this.drops[i] = rng.float()
      this.drops[i + 1] = rng.float()
      this.drops[i + 2] = rng.range(0.6, 1.4)
    }
    this.towerX = width * rng.range(0.58, 0.8)
    this.discX = width * rng.range(0.15, 0.4)
    this.discY = height * rng.range(0.16, 0.3)

    const seq = recipe.visual_track.expression_sequence
    this.expressions = (seq.length > 0 ? seq : ['neutral']).map((e) => {
      const [h, l] = EXPRESSIONS[e.toLowerCase()] ?? [((fnv1a(e) % 100) - 50) / 1000, 1]
      return [printable(e).slice(0, 16), h, l]
    })
    const maxChars = Math.max(8, Math.floor((width - 8) / (ADVANCE * this.scale)))
    const lines = wrap(printable(prompt), maxChars)
    this.promptLines = lines.length <= 2 ? lines : []
    this.ticker = lines.length <= 2 ? '' : `${printable(prompt)}   *   `
    this.words = printable(recipe.audio_track.script)
      .split(' ')
      .filter((w) => w !== '')
    this.title = `SLOT ${recipe.slot_params.slot_number}`
    this.colLimit = new Int32Array(width)
  }

  /** Draw frame `i` into `px` (width × height packed RGBA, little-endian). */
  render(i: number, px: Uint32Array): void {
    const { width: W, height: H, cam } = this
    const t = i / this.fps
    const u = this.frameCount > 1 ? i / (this.frameCount - 1) : 0
    const ease = u * u * (3 - 2 * u)
    const zoom = cam.zoom0 + (cam.zoom1 - cam.zoom0) * ease
    const shakeX = cam.shake * sinTurns(t * 3.1) * cosTurns(t * 1.7)
    const shakeY = cam.shake * sinTurns(t * 2.3 + 0.3)
    const panX = cam.panX * t + cam.orbit * sinTurns(u * 0.5) + shakeX
    const panY = cam.panY * t + cam.orbit * 0.3 * (1 - cosTurns(u * 0.5)) + shakeY
    // The expression sequence splits the clip into equal segments, blended over 0.5 s at each cut.
    const nExp = this.expressions.length
    const segF = u * nExp
    const seg = Math.min(nExp - 1, Math.floor(segF))
    const [, h0, l0] = this.expressions[seg]!
    const [, h1, l1] = this.expressions[Math.min(nExp - 1, seg + 1)]!
    const blend = clamp((segF - seg - 1) * 2 * nExp + 1, 0, 1)
    const hueShift = h0 + (h1 - h0) * blend
    const lightK = l0 + (l1 - l0) * blend
    const hue = this.hue + hueShift + 0.04 * sinTurns(u * 0.5)

    // Sky: one colour per row.
    const top = hsl(hue + 0.02, 0.55, clamp(this.light * 0.55 * lightK, 0.02, 0.9))
    const bottom = hsl(hue - 0.05, 0.6, clamp((this.light + 0.25) * lightK, 0.05, 0.95))
    for (let y = 0; y < H; y++) {
      const wy = (y - H / 2) / zoom + H / 2 + panY * 0.2
      const c = mix(top, bottom, clamp(wy / H, 0, 1))
      px.fill(c, y * W, y * W + W)
    }
    if (this.particles === 'stars') this.drawStars(px, t, panX, zoom)
    if (this.disc) this.drawDisc(px, hue, zoom, panX, panY, lightK)

    // Terrain layers, far to near; each column is filled from the layer's edge down.
    for (let k = 0; k < this.layers.length; k++) {
      const L = this.layers[k]!
      const color = shade(L.color, lightK)
      const dark = shade(color, 0.7)
      for (let x = 0; x < W; x++) {
        const wx = (x - W / 2) / zoom + W / 2 + panX * L.parallax
        const edge = L.base + L.amp * this.profile(wx * L.freq + L.phase + t * L.speed * 0.2, wx)
        let y0 = Math.round((edge - H / 2 - panY * L.parallax) * zoom + H / 2)
        if (y0 < 0) y0 = 0
        for (let y = y0; y < H; y++)
          px[y * W + x] = y - y0 < 2 ? color : y - y0 < 5 ? mix(color, dark, 0.5) : dark
        this.colLimit[x] = y0
      }
    }
    if (this.tower) this.drawTower(px, t, zoom, panX, lightK)
    if (this.particles === 'rain' || this.particles === 'snow' || this.particles === 'embers')
      this.drawDrops(px, t)
    this.drawText(px, t, u)
  }

  /** Height profile in −1..1 of the terrain at phase p (turns) and world x. */
  private profile(p: number, wx: number): number {
    switch (this.terrain) {
      case 'waves':
        return 0.6 * sinTurns(p) + 0.3 * sinTurns(p * 2.7 + 0.2) + 0.1 * sinTurns(p * 7.1)
      case 'mountains': {
        const f = p - Math.floor(p)
        const f2 = p * 2.3 - Math.floor(p * 2.3)
        return 1 - 2 * (0.7 * Math.abs(2 * f - 1) + 0.3 * Math.abs(2 * f2 - 1))
      }
      case 'hills':
        return 0.8 * sinTurns(p) + 0.2 * sinTurns(p * 3.3 + 0.5)
      case 'dunes': {
        const f = p - Math.floor(p)
        return f < 0.7 ? f / 0.7 - 0.5 : (1 - f) / 0.3 - 0.5
      }
      case 'city': {
        // Blocks of 10..30 px with hashed heights: a skyline.
        const block = Math.floor(wx / 18)
        return (fnv1a(`b${block}`) % 1000) / 500 - 1
      }
    }
  }

  private drawStars(px: Uint32Array, t: number, panX: number, zoom: number): void {
    const { width: W, height: H } = this
    for (let i = 0; i < this.stars.length; i += 3) {
      const x = Math.round((this.stars[i]! - panX * 0.1 - W / 2) * zoom + W / 2)
      const y = Math.round((this.stars[i + 1]! - H / 2) * zoom + H / 2)
      if (x < 0 || x >= W || y < 0 || y >= H) continue
      const tw = 0.6 + 0.4 * sinTurns(t * 0.8 + this.stars[i + 2]!)
      px[y * W + x] = rgb(255 * tw, 250 * tw, 230 * tw)
    }
  }

  private drawDisc(
    px: Uint32Array,
    hue: number,
    zoom: number,
    panX: number,
    panY: number,
    lightK: number,
  ): void {
    const { width: W, height: H } = this
    const r = H * 0.09 * zoom
    const cx = (this.discX - panX * 0.15 - W / 2) * zoom + W / 2
    const cy = (this.discY - panY * 0.15 - H / 2) * zoom + H / 2
    const core = this.light < 0.3 ? rgb(235, 235, 220) : hsl(hue + 0.12, 0.9, clamp(0.72 * lightK, 0, 0.95))
    const x0 = Math.max(0, Math.floor(cx - r * 1.6))
    const x1 = Math.min(W - 1, Math.ceil(cx + r * 1.6))
    const y0 = Math.max(0, Math.floor(cy - r * 1.6))
    const y1 = Math.min(H - 1, Math.ceil(cy + r * 1.6))
    const r2 = r * r
    const g2 = r2 * 2.56
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy)
        if (d2 <= r2) px[y * W + x] = core
        else if (d2 <= g2) px[y * W + x] = mix(px[y * W + x]!, core, (0.35 * (g2 - d2)) / (g2 - r2))
      }
    }
  }

  private drawTower(px: Uint32Array, t: number, zoom: number, panX: number, lightK: number): void {
    const { width: W, height: H } = this
    const near = this.layers[this.layers.length - 1]!
    const cx = (this.towerX - panX * near.parallax * 0.8 - W / 2) * zoom + W / 2
    const baseY = Math.min(H - 1, this.colLimit[clamp(Math.round(cx), 0, W - 1)]! + 4)
    const hgt = H * 0.34 * zoom
    const topY = baseY - hgt
    const halfBase = 9 * zoom
    const halfTop = 5 * zoom
    const body = shade(rgb(225, 220, 210), lightK)
    const stripe = shade(rgb(190, 40, 40), lightK)
    for (let y = Math.max(0, Math.floor(topY)); y <= baseY; y++) {
      const f = (y - topY) / hgt
      const half = halfTop + (halfBase - halfTop) * f
      const band = Math.floor(f * 5) % 2 === 0 ? body : stripe
      for (let x = Math.max(0, Math.floor(cx - half)); x <= Math.min(W - 1, Math.ceil(cx + half)); x++)
        px[y * W + x] = band
    }
    // The lamp's beam sweeps: a triangle from the lamp, filled row by row and blended.
    const lampY = topY - 3 * zoom
    const reach = W * 0.8
    // Foreshortened sweep: the beam swings from one side through the viewer to the other.
    const dirX = sinTurns(t * 0.18)
    const spread = 0.06
    const ex = cx + dirX * reach
    const ey0 = lampY - reach * spread
    const ey1 = lampY + reach * spread
    const beam = rgb(255, 245, 190)
    const ylo = Math.max(0, Math.floor(ey0))
    const yhi = Math.min(H - 1, Math.ceil(ey1))
    for (let y = ylo; y <= yhi; y++) {
      const span = (y < lampY ? (lampY - y) / (lampY - ey0) : (y - lampY) / (ey1 - lampY)) || 0
      const xa = cx + (ex - cx) * span
      const from = Math.max(0, Math.round(Math.min(xa, ex)))
      const to = Math.min(W - 1, Math.round(Math.max(xa, ex)))
      for (let x = from; x <= to; x++) {
        if (y >= this.colLimit[x]!) continue
        px[y * W + x] = mix(px[y * W + x]!, beam, 0.35)
      }
    }
    for (let y = Math.max(0, Math.floor(lampY - 3)); y <= Math.min(H - 1, Math.ceil(lampY + 3)); y++)
      for (let x = Math.max(0, Math.floor(cx - 3)); x <= Math.min(W - 1, Math.ceil(cx + 3)); x++)
        px[y * W + x] = beam
  }

  private drawDrops(px: Uint32Array, t: number): void {
    const { width: W, height: H } = this
    const color =
      this.particles === 'rain'
        ? rgb(170, 190, 230)
        : this.particles === 'snow'
          ? rgb(245, 245, 250)
          : rgb(255, 150, 60)
    for (let i = 0; i < this.drops.length; i += 3) {
      const speed = this.drops[i + 2]!
      let fx: number
      let fy: number
      if (this.particles === 'rain') {
        fy = this.drops[i + 1]! + t * speed * 1.4
        fx = this.drops[i]! - fy * 0.08
      } else if (this.particles === 'snow') {
        fy = this.drops[i + 1]! + t * speed * 0.12
        fx = this.drops[i]! + 0.02 * sinTurns(t * 0.3 + speed)
      } else {
        fy = this.drops[i + 1]! - t * speed * 0.15
        fx = this.drops[i]! + 0.015 * sinTurns(t * 0.5 + speed)
      }
      const x = Math.floor((fx - Math.floor(fx)) * W)
      const y = Math.floor((fy - Math.floor(fy)) * H)
      const len = this.particles === 'rain' ? 5 : 1
      for (let d = 0; d < len; d++) {
        const yy = y + d
        if (yy < H) px[yy * W + x] = color
        if (this.particles !== 'rain' && x + 1 < W && yy < H) px[yy * W + x + 1] = color
      }
    }
  }

  private drawText(px: Uint32Array, t: number, u: number): void {
    const { width: W, height: H, scale: s } = this
    const white = rgb(250, 250, 245)
    const shadowC = rgb(10, 10, 16)
    const lineH = LINE_H * s
    drawText(px, W, H, this.title, 4 * s, 4 * s, s, white, shadowC)
    const secs = Math.floor(t)
    const tenths = Math.floor((t - secs) * 10)
    const tc = `${String(Math.floor(secs / 60)).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}.${tenths}`
    drawText(px, W, H, tc, W - textWidth(tc, s) - 4 * s, 4 * s, s, white, shadowC)
    const nExp = this.expressions.length
    const label = this.expressions[Math.min(nExp - 1, Math.floor(u * nExp))]![0]
    drawText(px, W, H, label, W - textWidth(label, s) - 4 * s, 4 * s + lineH, s, rgb(255, 220, 120), shadowC)

    // Bottom band: the prompt (two lines, or a ticker when longer), darkened behind.
    const bandH = 2 * lineH + 4 * s
    const bandY = H - bandH
    for (let i = bandY * W; i < H * W; i++) px[i] = shade(px[i]!, 0.35)
    if (this.ticker === '') {
      for (let l = 0; l < this.promptLines.length; l++) {
        const line = this.promptLines[l]!
        drawText(
          px,
          W,
          H,
          line,
          Math.floor((W - textWidth(line, s)) / 2),
          bandY + 2 * s + l * lineH,
          s,
          white,
        )
      }
    } else {
      const full = ADVANCE * s * this.ticker.length
      const off = Math.floor((t * 40 * s) % full)
      for (let x = -off; x < W; x += full)
        drawText(px, W, H, this.ticker, x, bandY + 2 * s + Math.floor(lineH / 2), s, white)
    }

    // Karaoke line above the band: the script's words spread over the clip, the current one in yellow.
    if (this.words.length > 0) {
      const idx = Math.min(this.words.length - 1, Math.floor(u * this.words.length))
      const maxChars = Math.floor((W - 8 * s) / (ADVANCE * s))
      let from = idx
      let len = this.words[idx]!.length
      while (from > 0 && len + 1 + this.words[from - 1]!.length <= Math.floor(maxChars / 2)) {
        from--
        len += 1 + this.words[from]!.length
      }
      let line = ''
      let curStart = 0
      for (let w = from; w < this.words.length; w++) {
        const next = line === '' ? this.words[w]! : `${line} ${this.words[w]}`
        if (next.length > maxChars) break
        if (w === idx) curStart = line === '' ? 0 : line.length + 1
        line = next
      }
      const y = bandY - lineH - 2 * s
      const x0 = Math.floor((W - textWidth(line, s)) / 2)
      drawText(px, W, H, line, x0, y, s, rgb(230, 230, 230), shadowC)
      drawText(
        px,
        W,
        H,
        this.words[idx]!.slice(0, maxChars),
        x0 + curStart * ADVANCE * s,
        y,
        s,
        rgb(255, 230, 60),
        shadowC,
      )
    }
  }
}
