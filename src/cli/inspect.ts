// `nsn inspect`: decode a wire message, print it as JSON, and say whether it is valid.
import { readFile } from 'node:fs/promises'
import { stringify as losslessStringify } from 'lossless-json'
import { verifyRecipeSignature } from '../crypto/index.ts'
import { VideoChunkError, verifyVideoChunk } from '../p2p/index.ts'
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

export async function readInput(file: string): Promise<Uint8Array> {
  if (file === '-') {
    const parts: Buffer[] = []
    for await (const part of process.stdin) parts.push(part as Buffer)
    return new Uint8Array(Buffer.concat(parts))
  }
  return new Uint8Array(await readFile(file))
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
