// Schema-driven wire codecs: one description of a type gives its SCALE encoder/decoder
// (parity-scale-codec rules, docs/protocol.md §3) and its conversion to and from plain JSON/CBOR values.
// Hand-written rather than scale-ts because every decode error must name the field path and the
// bound, and lengths must be checked against the remaining input before anything is allocated;
// scale-ts is kept as a cross-check in the tests.
import { DecodeError } from './errors.ts'
import { bytesToHex, hexToBytes } from './hex.ts'

/** A plain JSON/CBOR value as produced by JSON.parse or cborg.decode. */
export type Plain = unknown

export interface Codec<T> {
  /** Human-readable type name, used in error messages. */
  readonly name: string
  /** Structs and enums name their fields themselves; other codecs are named by the type at the root. */
  readonly composite?: boolean
  encode(w: ScaleWriter, value: T): void
  decode(r: ScaleReader, path: string): T
  /**
   * Plain value. `json`: bytes as hex, u64 as a number when exact else a decimal string. `cbor`:
   * bytes raw, u64 as bigint. `serde`: what Rust's serde_json emits by default — bytes as arrays of
   * numbers, u64 as a bare (bigint) integer, f32 in its shortest round-trip decimal form.
   */
  toPlain(value: T, mode: PlainMode): Plain
  fromPlain(value: Plain, path: string): T
}

export type PlainMode = 'json' | 'cbor' | 'serde'

const utf8Decoder = new TextDecoder('utf-8', { fatal: true })
const utf8Encoder = new TextEncoder()

/** Growable little-endian writer. */
export class ScaleWriter {
  private buf: Uint8Array
  private view: DataView
  length = 0

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity)
    this.view = new DataView(this.buf.buffer)
  }

  private reserve(n: number): void {
    const need = this.length + n
    if (need <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < need) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): void {
    this.reserve(1)
    this.buf[this.length++] = v
  }
  u16(v: number): void {
    this.reserve(2)
    this.view.setUint16(this.length, v, true)
    this.length += 2
  }
  u32(v: number): void {
    this.reserve(4)
    this.view.setUint32(this.length, v, true)
    this.length += 4
  }
  u64(v: bigint): void {
    this.reserve(8)
    this.view.setBigUint64(this.length, v, true)
    this.length += 8
  }
  f32(v: number): void {
    this.reserve(4)
    this.view.setFloat32(this.length, v, true)
    this.length += 4
  }
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length)
    this.buf.set(bytes, this.length)
    this.length += bytes.length
  }
  /** SCALE compact integer (lengths and counts; up to 2^32 - 1 here). */
  compact(n: number): void {
    if (n < 0x40) this.u8(n << 2)
    else if (n < 0x4000) this.u16((n << 2) | 0b01)
    else if (n < 0x40000000) this.u32(((n << 2) | 0b10) >>> 0)
    else {
      // big-integer mode: (bytes - 4) << 2 | 0b11, then the value LE in 4 bytes
      this.u8(0b11)
      this.u32(n >>> 0)
    }
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.length)
  }
}

/** Bounds-checked little-endian reader; every failure is a DecodeError naming the field. */
export class ScaleReader {
  offset = 0
  private readonly view: DataView

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get remaining(): number {
    return this.bytes.length - this.offset
  }

  need(n: number, path: string): void {
    if (this.remaining < n) {
      throw new DecodeError('TRUNCATED', path, `${path}: needs ${n} byte(s), only ${this.remaining} left`)
    }
  }
  u8(path: string): number {
    this.need(1, path)
    return this.bytes[this.offset++]!
  }
  u16(path: string): number {
    this.need(2, path)
    const v = this.view.getUint16(this.offset, true)
    this.offset += 2
    return v
  }
  u32(path: string): number {
    this.need(4, path)
    const v = this.view.getUint32(this.offset, true)
    this.offset += 4
    return v
  }
  u64(path: string): bigint {
    this.need(8, path)
    const v = this.view.getBigUint64(this.offset, true)
    this.offset += 8
    return v
  }
  f32(path: string): number {
    this.need(4, path)
    const v = this.view.getFloat32(this.offset, true)
    this.offset += 4
    return v
  }
  raw(n: number, path: string): Uint8Array {
    this.need(n, path)
    const v = this.bytes.subarray(this.offset, this.offset + n)
    this.offset += n
    return v
  }
  /** Compact integer, canonical form only (parity-scale-codec rejects over-long encodings too). */
  compact(path: string): number {
    const first = this.u8(path)
    const mode = first & 0b11
    if (mode === 0) return first >>> 2
    if (mode === 1) {
      this.offset -= 1
      const v = this.u16(path) >>> 2
      if (v < 0x40)
        throw new DecodeError('NON_CANONICAL', path, `${path}: compact ${v} is not in its shortest form`)
      return v
    }
    if (mode === 2) {
      this.offset -= 1
      const v = this.u32(path) >>> 2
      if (v < 0x4000)
        throw new DecodeError('NON_CANONICAL', path, `${path}: compact ${v} is not in its shortest form`)
      return v
    }
    const extra = (first >>> 2) + 4
    if (extra !== 4) {
      throw new DecodeError(
        'LENGTH_TOO_LARGE',
        path,
        `${path}: compact length of ${extra} bytes exceeds 2^32`,
      )
    }
    const v = this.u32(path)
    if (v < 0x40000000)
      throw new DecodeError('NON_CANONICAL', path, `${path}: compact ${v} is not in its shortest form`)
    return v
  }
  /** A length prefix that must fit in what is left (each element at least `minElementBytes`). */
  length(path: string, minElementBytes: number, max: number): number {
    const n = this.compact(path)
    if (n > max) {
      throw new DecodeError('LENGTH_TOO_LARGE', path, `${path}: length ${n} exceeds the maximum ${max}`)
    }
    if (n * minElementBytes > this.remaining) {
      throw new DecodeError(
        'TRUNCATED',
        path,
        `${path}: length ${n} needs at least ${n * minElementBytes} byte(s), only ${this.remaining} left`,
      )
    }
    return n
  }
}

function typeError(path: string, expected: string, got: Plain): DecodeError {
  const kind = got === null ? 'null' : Array.isArray(got) ? 'array' : typeof got
  return new DecodeError('INVALID_TYPE', path, `${path}: expected ${expected}, got ${kind}`)
}

function intFromPlain(value: Plain, path: string, bits: 8 | 16 | 32): number {
  const v = typeof value === 'bigint' && value <= 0xffffffffn && value >= 0n ? Number(value) : value
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(path, `u${bits} integer`, value)
  const max = 2 ** bits - 1
  if (v < 0 || v > max) throw new DecodeError('OUT_OF_RANGE', path, `${path}: ${v} is outside 0..${max}`)
  return v
}

const U64_MAX = 0xffffffffffffffffn

export const u8: Codec<number> = {
  name: 'u8',
  encode: (w, v) => w.u8(v),
  decode: (r, p) => r.u8(p),
  toPlain: (v) => v,
  fromPlain: (v, p) => intFromPlain(v, p, 8),
}

export const u16: Codec<number> = {
  name: 'u16',
  encode: (w, v) => w.u16(v),
  decode: (r, p) => r.u16(p),
  toPlain: (v) => v,
  fromPlain: (v, p) => intFromPlain(v, p, 16),
}

export const u32: Codec<number> = {
  name: 'u32',
  encode: (w, v) => w.u32(v),
  decode: (r, p) => r.u32(p),
  toPlain: (v) => v,
  fromPlain: (v, p) => intFromPlain(v, p, 32),
}

/**
 * u64 as bigint end to end. Accepted from a plain value as a bigint (a bare JSON integer of any size,
 * parsed exactly by the lossless JSON reader), an exact number, or a decimal string. Written to JSON
 * as a number when exact, else as a decimal string.
 */
export const u64: Codec<bigint> = {
  name: 'u64',
  encode: (w, v) => w.u64(v),
  decode: (r, p) => r.u64(p),
  toPlain: (v, mode) =>
    mode !== 'json' ? v : v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString(),
  fromPlain: (value, path) => {
    let v: bigint
    if (typeof value === 'bigint') v = value
    else if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) {
        throw new DecodeError('OUT_OF_RANGE', path, `${path}: ${value} is not an exact integer`)
      }
      v = BigInt(value)
    } else if (typeof value === 'string' && /^[0-9]{1,20}$/.test(value)) v = BigInt(value)
    else throw typeError(path, 'u64 (integer or decimal string)', value)
    if (v < 0n || v > U64_MAX)
      throw new DecodeError('OUT_OF_RANGE', path, `${path}: ${v} is outside 0..2^64-1`)
    return v
  },
}

export const f32: Codec<number> = {
  name: 'f32',
  encode: (w, v) => w.f32(v),
  decode: (r, p) => r.f32(p),
  toPlain: (v, mode) => (mode === 'serde' ? shortestF32(v) : v),
  fromPlain: (v, p) => {
    if (typeof v === 'bigint') return Math.fround(Number(v))
    if (typeof v !== 'number') throw typeError(p, 'f32 number', v)
    return Math.fround(v)
  },
}

/** The shortest decimal that reads back as the same f32 (what Rust's float formatting prints). */
function shortestF32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(v.toPrecision(digits))
    if (Math.fround(candidate) === v) return candidate
  }
  return v
}

export const bool: Codec<boolean> = {
  name: 'bool',
  encode: (w, v) => w.u8(v ? 1 : 0),
  decode: (r, p) => {
    const b = r.u8(p)
    if (b > 1) throw new DecodeError('INVALID_BOOL', p, `${p}: bool byte must be 0 or 1, got ${b}`)
    return b === 1
  },
  toPlain: (v) => v,
  fromPlain: (v, p) => {
    if (typeof v !== 'boolean') throw typeError(p, 'bool', v)
    return v
  },
}

/** Default structural cap on any one length prefix (the message size caps are tighter still). */
export const MAX_DECODE_LENGTH = 16 * 1024 * 1024

/** SCALE `String`: compact byte length + UTF-8 (invalid UTF-8 rejected). */
export function str(maxBytes = MAX_DECODE_LENGTH): Codec<string> {
  return {
    name: 'String',
    encode: (w, v) => {
      const b = utf8Encoder.encode(v)
      w.compact(b.length)
      w.raw(b)
    },
    decode: (r, p) => {
      const n = r.length(p, 1, maxBytes)
      const b = r.raw(n, p)
      try {
        return utf8Decoder.decode(b)
      } catch {
        throw new DecodeError('INVALID_UTF8', p, `${p}: string is not valid UTF-8`)
      }
    },
    toPlain: (v) => v,
    fromPlain: (v, p) => {
      if (typeof v !== 'string') throw typeError(p, 'string', v)
      return v
    },
  }
}

/** Bytes from hex (this project's JSON form), raw (CBOR) or an array of numbers (serde's `Vec<u8>`). */
function bytesFromPlain(v: Plain, p: string, maxBytes: number): Uint8Array {
  if (v instanceof Uint8Array) return v
  if (Array.isArray(v)) {
    if (v.length > maxBytes) {
      throw new DecodeError('LENGTH_TOO_LARGE', p, `${p}: length ${v.length} exceeds the maximum ${maxBytes}`)
    }
    const out = new Uint8Array(v.length)
    for (let i = 0; i < v.length; i++) {
      const x = v[i]
      const n = typeof x === 'bigint' && x >= 0n && x <= 255n ? Number(x) : x
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 255) {
        throw new DecodeError('INVALID_BYTE', `${p}[${i}]`, `${p}[${i}]: a byte must be an integer 0..255`)
      }
      out[i] = n
    }
    return out
  }
  if (typeof v === 'string') {
    try {
      return hexToBytes(v)
    } catch {
      throw new DecodeError('INVALID_HEX', p, `${p}: not a hex string`)
    }
  }
  throw typeError(p, 'bytes (hex string, array of numbers or byte string)', v)
}

/** SCALE `Vec<u8>`: compact length + raw bytes (returned as a view into the input). */
export function bytes(maxBytes = MAX_DECODE_LENGTH): Codec<Uint8Array> {
  return {
    name: 'Vec<u8>',
    encode: (w, v) => {
      w.compact(v.length)
      w.raw(v)
    },
    decode: (r, p) => r.raw(r.length(p, 1, maxBytes), p),
    toPlain: (v, mode) => (mode === 'cbor' ? v : mode === 'serde' ? Array.from(v) : bytesToHex(v)),
    fromPlain: (v, p) => {
      const b = bytesFromPlain(v, p, maxBytes)
      if (b.length > maxBytes) {
        throw new DecodeError(
          'LENGTH_TOO_LARGE',
          p,
          `${p}: length ${b.length} exceeds the maximum ${maxBytes}`,
        )
      }
      return b
    },
  }
}

/** SCALE `[u8; N]`: raw, no prefix. */
export function fixedBytes(n: number): Codec<Uint8Array> {
  return {
    name: `[u8; ${n}]`,
    encode: (w, v) => {
      if (v.length !== n) throw new DecodeError('INVALID_LENGTH', '', `expected ${n} bytes, got ${v.length}`)
      w.raw(v)
    },
    decode: (r, p) => r.raw(n, p),
    toPlain: (v, mode) => (mode === 'cbor' ? v : mode === 'serde' ? Array.from(v) : bytesToHex(v)),
    fromPlain: (v, p) => {
      const b = bytesFromPlain(v, p, n)
      if (b.length !== n)
        throw new DecodeError('INVALID_LENGTH', p, `${p}: expected ${n} bytes, got ${b.length}`)
      return b
    },
  }
}

/** SCALE `[f32; N]` decoded into a Float32Array (one copy, no per-element objects). */
export function f32Array(n: number): Codec<Float32Array> {
  return {
    name: `[f32; ${n}]`,
    encode: (w, v) => {
      if (v.length !== n) throw new DecodeError('INVALID_LENGTH', '', `expected ${n} floats, got ${v.length}`)
      for (let i = 0; i < n; i++) w.f32(v[i]!)
    },
    decode: (r, p) => {
      const raw = r.raw(n * 4, p)
      const out = new Float32Array(n)
      new Uint8Array(out.buffer).set(raw) // SCALE is little-endian, as is every platform Node runs on
      return out
    },
    toPlain: (v) => Array.from(v),
    fromPlain: (v, p) => {
      if (!Array.isArray(v)) throw typeError(p, `array of ${n} numbers`, v)
      if (v.length !== n)
        throw new DecodeError('INVALID_LENGTH', p, `${p}: expected ${n} numbers, got ${v.length}`)
      const out = new Float32Array(n)
      for (let i = 0; i < n; i++) {
        const x = v[i]
        if (typeof x !== 'number') throw typeError(`${p}[${i}]`, 'number', x)
        out[i] = x
      }
      return out
    },
  }
}

/** SCALE `Vec<T>`. */
export function vec<T>(item: Codec<T>, maxItems = 1 << 20, minItemBytes = 1): Codec<T[]> {
  return {
    name: `Vec<${item.name}>`,
    encode: (w, v) => {
      w.compact(v.length)
      for (const x of v) item.encode(w, x)
    },
    decode: (r, p) => {
      const n = r.length(p, minItemBytes, maxItems)
      const out: T[] = new Array(n)
      for (let i = 0; i < n; i++) out[i] = item.decode(r, `${p}[${i}]`)
      return out
    },
    toPlain: (v, mode) => v.map((x) => item.toPlain(x, mode)),
    fromPlain: (v, p) => {
      if (!Array.isArray(v)) throw typeError(p, 'array', v)
      if (v.length > maxItems) {
        throw new DecodeError('LENGTH_TOO_LARGE', p, `${p}: ${v.length} items exceed the maximum ${maxItems}`)
      }
      return v.map((x, i) => item.fromPlain(x, `${p}[${i}]`))
    },
  }
}

/** SCALE tuple `(A, B, …)`; plain form is an array. */
export function tuple<T extends unknown[]>(...items: { [K in keyof T]: Codec<T[K]> }): Codec<T> {
  return {
    name: `(${items.map((c) => c.name).join(', ')})`,
    encode: (w, v) => {
      for (const [i, c] of items.entries()) (c as Codec<unknown>).encode(w, v[i])
    },
    decode: (r, p) => items.map((c, i) => (c as Codec<unknown>).decode(r, `${p}.${i}`)) as T,
    toPlain: (v, mode) => items.map((c, i) => (c as Codec<unknown>).toPlain(v[i], mode)),
    fromPlain: (v, p) => {
      if (!Array.isArray(v) || v.length !== items.length) throw typeError(p, `array of ${items.length}`, v)
      return items.map((c, i) => (c as Codec<unknown>).fromPlain(v[i], `${p}.${i}`)) as T
    },
  }
}

type Fields<T> = { [K in keyof T]: Codec<T[K]> }

function isPlainObject(v: Plain): v is Record<string, Plain> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

/** SCALE struct: fields in declaration order. Plain form is an object; unknown keys are errors. */
export function struct<T extends object>(name: string, fields: Fields<T>): Codec<T> {
  const entries = Object.entries(fields) as [keyof T & string, Codec<unknown>][]
  const known = new Set(entries.map(([k]) => k))
  const at = (p: string, k: string) => (p === '' ? k : `${p}.${k}`)
  return {
    name,
    composite: true,
    encode: (w, v) => {
      for (const [k, c] of entries) c.encode(w, v[k])
    },
    decode: (r, p) => {
      const out = {} as T
      for (const [k, c] of entries) (out as Record<string, unknown>)[k] = c.decode(r, at(p, k))
      return out
    },
    toPlain: (v, mode) => {
      const out: Record<string, Plain> = {}
      for (const [k, c] of entries) out[k] = c.toPlain(v[k], mode)
      return out
    },
    fromPlain: (v, p) => {
      if (!isPlainObject(v)) throw typeError(p === '' ? name : p, 'object', v)
      for (const k of Object.keys(v)) {
        if (!known.has(k as keyof T & string)) {
          throw new DecodeError('UNKNOWN_FIELD', at(p, k), `${at(p, k)}: unknown field in ${name}`)
        }
      }
      const out = {} as T
      for (const [k, c] of entries) {
        if (!(k in v))
          throw new DecodeError('MISSING_FIELD', at(p, k), `${at(p, k)}: missing field of ${name}`)
        ;(out as Record<string, unknown>)[k] = c.fromPlain(v[k], at(p, k))
      }
      return out
    },
  }
}

/** A variant of a SCALE enum: its index byte is explicit so indices can be chosen on purpose. */
export interface Variant<K extends string, T> {
  readonly kind: K
  readonly index: number
  readonly codec: Codec<T>
}

export type EnumValue<V extends Variant<string, unknown>> =
  V extends Variant<infer K, infer T> ? { kind: K; value: T } : never

/** SCALE enum: one index byte, then the variant's fields. Plain form `{ kind: value }`. */
export function enumOf<const V extends Variant<string, unknown>>(
  name: string,
  variants: readonly V[],
): Codec<EnumValue<V>> {
  const byKind = new Map<string, Variant<string, unknown>>(variants.map((v) => [v.kind, v]))
  const byIndex = new Map<number, Variant<string, unknown>>(variants.map((v) => [v.index, v]))
  const at = (p: string, k: string) => (p === '' ? k : `${p}.${k}`)
  return {
    name,
    composite: true,
    encode: (w, v) => {
      const variant = byKind.get(v.kind)!
      w.u8(variant.index)
      variant.codec.encode(w, v.value)
    },
    decode: (r, p) => {
      const i = r.u8(p)
      const variant = byIndex.get(i)
      if (variant === undefined) {
        const field = p === '' ? name : p
        throw new DecodeError('INVALID_ENUM', field, `${field}: ${name} has no variant with index ${i}`)
      }
      return { kind: variant.kind, value: variant.codec.decode(r, at(p, variant.kind)) } as EnumValue<V>
    },
    toPlain: (v, mode) => ({ [v.kind]: byKind.get(v.kind)!.codec.toPlain(v.value, mode) }),
    fromPlain: (v, p) => {
      if (!isPlainObject(v) || Object.keys(v).length !== 1)
        throw typeError(p, `${name} as {variant: value}`, v)
      const kind = Object.keys(v)[0]!
      const variant = byKind.get(kind)
      if (variant === undefined)
        throw new DecodeError('INVALID_ENUM', p, `${p}: ${name} has no variant ${kind}`)
      return { kind, value: variant.codec.fromPlain(v[kind], `${p}.${kind}`) } as EnumValue<V>
    },
  }
}

/** The value type a codec encodes. */
export type CodecValue<C> = C extends Codec<infer T> ? T : never

/** The unit type, for field-less enum variants. */
export const unit: Codec<null> = {
  name: '()',
  encode: () => {},
  decode: () => null,
  toPlain: () => null,
  fromPlain: () => null,
}

/** Encode a whole value to SCALE bytes. */
export function encodeScale<T>(codec: Codec<T>, value: T, capacity = 256): Uint8Array {
  const w = new ScaleWriter(capacity)
  codec.encode(w, value)
  return w.finish()
}

/**
 * Decode a whole message: rejects over-size input before parsing and trailing bytes after.
 * `maxBytes` is the wire limit of the message (docs/protocol.md §2).
 */
export function decodeScale<T>(codec: Codec<T>, input: Uint8Array, maxBytes: number): T {
  if (input.length > maxBytes) {
    throw new DecodeError(
      'OVERSIZE',
      codec.name,
      `${codec.name}: message of ${input.length} bytes exceeds the limit of ${maxBytes}`,
    )
  }
  const r = new ScaleReader(input)
  const value = codec.decode(r, codec.composite === true ? '' : codec.name)
  if (r.remaining !== 0) {
    throw new DecodeError(
      'TRAILING_BYTES',
      codec.name,
      `${codec.name}: ${r.remaining} trailing byte(s) after the message`,
    )
  }
  return value
}
