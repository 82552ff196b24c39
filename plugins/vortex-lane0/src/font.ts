// A 5x7 bitmap font (ASCII; lower case drawn as upper case), drawn by this project so that the
// generator needs no font files or canvas. Each glyph is 7 rows of 5 columns, '#' = ink.

const GLYPHS: Record<string, string> = {
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '####. #...# #...# #...# #...# #...# ####.',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '##### ...#. ..#.. ...#. ....# #...# .###.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  ' ': '..... ..... ..... ..... ..... ..... .....',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  ',': '..... ..... ..... ..... .##.. ..#.. .#...',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  "'": '..#.. ..#.. .#... ..... ..... ..... .....',
  '"': '.#.#. .#.#. .#.#. ..... ..... ..... .....',
  '-': '..... ..... ..... ##### ..... ..... .....',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  ';': '..... .##.. .##.. ..... .##.. ..#.. .#...',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '/': '..... ....# ...#. ..#.. .#... #.... .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  '=': '..... ..... ##### ..... ##### ..... .....',
  _: '..... ..... ..... ..... ..... ..... #####',
  '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
  '%': '##... ##..# ...#. ..#.. .#... #..## ...##',
  '&': '.##.. #..#. #.#.. .#... #.#.# #..#. .##.#',
  '*': '..... ..#.. #.#.# .###. #.#.# ..#.. .....',
  '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
  '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
  '@': '.###. #...# ....# .##.# #.#.# #.#.# .###.',
  $: '..#.. .#### #.#.. .###. ..#.# ####. ..#..',
}
const UNKNOWN = '##### #...# #...# #...# #...# #...# #####'

export const GLYPH_W = 5
export const GLYPH_H = 7
/** Horizontal advance and line height, in font pixels. */
export const ADVANCE = 6
export const LINE_H = 9

function compile(spec: string): Uint8Array {
  const rows = spec.split(' ')
  const out = new Uint8Array(GLYPH_H)
  for (let y = 0; y < GLYPH_H; y++) {
    let bits = 0
    for (let x = 0; x < GLYPH_W; x++) if (rows[y]![x] === '#') bits |= 1 << (GLYPH_W - 1 - x)
    out[y] = bits
  }
  return out
}

const COMPILED = new Map<string, Uint8Array>(Object.entries(GLYPHS).map(([k, v]) => [k, compile(v)]))
const UNKNOWN_GLYPH = compile(UNKNOWN)

export function glyph(ch: string): Uint8Array {
  return COMPILED.get(ch.toUpperCase()) ?? UNKNOWN_GLYPH
}

/**
 * Text as the font can show it: printable ASCII, runs of whitespace as one space, anything else '?'.
 * (No Unicode normalisation: its tables change between Node versions, the frames must not.)
 */
export function printable(text: string): string {
  return text
    .replace(/[\t\n\v\f\r ]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim()
}

/** Width in device pixels of `text` at `scale`. */
export function textWidth(text: string, scale: number): number {
  return text.length === 0 ? 0 : (text.length * ADVANCE - 1) * scale
}

/**
 * Draw `text` into a packed-RGBA frame (Uint32 view) with its top-left at (x, y); clipped to the frame.
 * `shadow` (a packed colour or -1) is drawn one device pixel down-right first, for legibility.
 */
export function drawText(
  px: Uint32Array,
  width: number,
  height: number,
  text: string,
  x: number,
  y: number,
  scale: number,
  color: number,
  shadow = -1,
): void {
  if (shadow !== -1) drawRun(px, width, height, text, x + scale, y + scale, scale, shadow)
  drawRun(px, width, height, text, x, y, scale, color)
}

function drawRun(
  px: Uint32Array,
  width: number,
  height: number,
  text: string,
  x0: number,
  y0: number,
  s: number,
  color: number,
): void {
  for (let i = 0; i < text.length; i++) {
    const gx = x0 + i * ADVANCE * s
    if (gx >= width) return
    if (gx + GLYPH_W * s <= 0) continue
    const g = glyph(text[i]!)
    for (let row = 0; row < GLYPH_H; row++) {
      const bits = g[row]!
      if (bits === 0) continue
      for (let col = 0; col < GLYPH_W; col++) {
        if ((bits & (1 << (GLYPH_W - 1 - col))) === 0) continue
        for (let dy = 0; dy < s; dy++) {
          const yy = y0 + row * s + dy
          if (yy < 0 || yy >= height) continue
          const base = yy * width
          for (let dx = 0; dx < s; dx++) {
            const xx = gx + col * s + dx
            if (xx >= 0 && xx < width) px[base + xx] = color
          }
        }
      }
    }
  }
}

/** Greedy word wrap to lines of at most `maxChars` (long words are cut). */
export function wrap(text: string, maxChars: number): string[] {
  const lines: string[] = []
  let line = ''
  for (let word of text.split(' ')) {
    while (word.length > maxChars) {
      if (line !== '') {
        lines.push(line)
        line = ''
      }
      lines.push(word.slice(0, maxChars))
      word = word.slice(maxChars)
    }
    if (line === '') line = word
    else if (line.length + 1 + word.length <= maxChars) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  if (line !== '') lines.push(line)
  return lines
}
