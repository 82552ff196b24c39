// `nsn inspect`: decode a wire message, print it as JSON, and say whether it is valid.
import { createReadStream } from 'node:fs'
import { stringify as losslessStringify } from 'lossless-json'
import { verifyRecipeSignature } from '../crypto/index.ts'
import { MAX_INBOUND_RPC_BYTES, VideoChunkError, verifyVideoChunk } from '../p2p/index.ts'
import {
  bytesToHex,
  DecodeError,
  decodeRecipeAny,
  decodeVideoChunk,
  type Plain,
  RecipeCodec,
  RecipeError,
  type RecipeFormat,
  VideoChunkCodec,
  validateRecipe,
} from '../types/index.ts'

export const EXIT = { valid: 0, invalid: 1, unusable: 2 } as const

export interface InspectResult {
  exitCode: number
  /** What goes to stdout: the decoded message and the verdict. */
  report: Record<string, unknown>
}

/** Bytes as hex, u64 as decimal strings; large payloads summarised. */
function display(value: Plain): Plain {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return bytesToHex(value)
  if (Array.isArray(value)) return value.map(display)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, display(v)]))
  }
  return value
}

/** No wire message is larger than the largest inbound frame a node accepts (the video topic's). */
export const INSPECT_MAX_BYTES = MAX_INBOUND_RPC_BYTES

/** Read at most `limit` bytes: reading stops at the limit, so a huge file costs no memory. */
export async function readInput(file: string, limit = INSPECT_MAX_BYTES): Promise<Uint8Array> {
  const input = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1024 * 1024 })
  const parts: Buffer[] = []
  let total = 0
  try {
    for await (const part of input) {
      total += (part as Buffer).length
      if (total > limit) throw new Error(`larger than ${limit} bytes, the largest message a node accepts`)
      parts.push(part as Buffer)
    }
  } finally {
    if (file !== '-') (input as ReturnType<typeof createReadStream>).destroy()
  }
  return new Uint8Array(Buffer.concat(parts))
}

export interface InspectOptions {
  /** Print the message as Rust's serde_json emits it (bytes as number arrays, u64 as bare integers). */
  serde?: boolean
}

/** The report as JSON text; bare integers of any size (serde form) are written exactly. */
export function renderReport(result: InspectResult): string {
  return `${losslessStringify(result.report, null, 2)}\n`
}

export function inspectRecipe(
  input: Uint8Array,
  format?: RecipeFormat,
  nowMs = Date.now(),
  opts: InspectOptions = {},
): InspectResult {
  let decoded: ReturnType<typeof decodeRecipeAny>
  try {
    decoded = decodeRecipeAny(input, format)
  } catch (err) {
    if (err instanceof DecodeError) return { exitCode: EXIT.unusable, report: { error: err.toJSON() } }
    throw err
  }
  const report: Record<string, unknown> = {
    type: 'recipe',
    format: decoded.format,
    message:
      opts.serde === true
        ? RecipeCodec.toPlain(decoded.recipe, 'serde')
        : display(RecipeCodec.toPlain(decoded.recipe, 'cbor')),
  }
  try {
    validateRecipe(decoded.recipe, { nowMs })
    verifyRecipeSignature(decoded.recipe)
    return { exitCode: EXIT.valid, report: { ...report, verdict: 'valid' } }
  } catch (err) {
    if (err instanceof RecipeError)
      return { exitCode: EXIT.invalid, report: { ...report, verdict: 'invalid', reason: err.toJSON() } }
    throw err
  }
}

export function inspectVideoChunk(input: Uint8Array): InspectResult {
  let chunk: ReturnType<typeof decodeVideoChunk>
  try {
    chunk = decodeVideoChunk(input)
  } catch (err) {
    if (err instanceof DecodeError) return { exitCode: EXIT.unusable, report: { error: err.toJSON() } }
    throw err
  }
  const plain = display(VideoChunkCodec.toPlain(chunk, 'cbor')) as Record<string, unknown>
  plain.payload = { length: chunk.payload.length, head: bytesToHex(chunk.payload.subarray(0, 16)) }
  const report: Record<string, unknown> = { type: 'video-chunk', format: 'scale', message: plain }
  try {
    verifyVideoChunk(chunk)
    return { exitCode: EXIT.valid, report: { ...report, verdict: 'valid' } }
  } catch (err) {
    if (err instanceof VideoChunkError) {
      return {
        exitCode: EXIT.invalid,
        report: { ...report, verdict: 'invalid', reason: { code: err.code, message: err.message } },
      }
    }
    throw err
  }
}
