// The progress line a plugin writes on stderr, and its parser. Format (docs/sidecar.md):
//   @nsn-progress {"stage":"encode","progress":0.42,"eta_ms":1200,"message":"frame 101/240"}
// Pure: shared by the sidecar (reader) and plugins written in TypeScript (writer).
import { PROGRESS_PREFIX } from './constants.ts'

export interface ProgressReport {
  /** Short stage name, at most 64 characters. */
  stage: string
  /** 0..1 (clamped). */
  progress: number
  /** The plugin's estimate of the time left, if it has one. */
  etaMs?: number
  message?: string
}

const MAX_STAGE_CHARS = 64
const MAX_MESSAGE_CHARS = 256

/** One progress line, newline included. */
export function formatProgressLine(p: ProgressReport): string {
  const body: Record<string, unknown> = {
    stage: p.stage.slice(0, MAX_STAGE_CHARS),
    progress: Math.round(Math.min(1, Math.max(0, p.progress)) * 1e4) / 1e4,
  }
  if (p.etaMs !== undefined) body.eta_ms = Math.max(0, Math.round(p.etaMs))
  if (p.message !== undefined) body.message = p.message.slice(0, MAX_MESSAGE_CHARS)
  return `${PROGRESS_PREFIX}${JSON.stringify(body)}\n`
}

/**
 * Parse one stderr line. Returns null when the line is not a progress line (an ordinary log line),
 * and `'malformed'` when it has the prefix but not a valid body.
 */
export function parseProgressLine(line: string): ProgressReport | 'malformed' | null {
  if (!line.startsWith(PROGRESS_PREFIX)) return null
  let v: unknown
  try {
    v = JSON.parse(line.slice(PROGRESS_PREFIX.length))
  } catch {
    return 'malformed'
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'malformed'
  const o = v as Record<string, unknown>
  if (typeof o.stage !== 'string' || typeof o.progress !== 'number' || !Number.isFinite(o.progress))
    return 'malformed'
  const out: ProgressReport = {
    stage: o.stage.slice(0, MAX_STAGE_CHARS),
    progress: Math.min(1, Math.max(0, o.progress)),
  }
  if (typeof o.eta_ms === 'number' && Number.isFinite(o.eta_ms) && o.eta_ms >= 0) out.etaMs = o.eta_ms
  if (typeof o.message === 'string') out.message = o.message.slice(0, MAX_MESSAGE_CHARS)
  return out
}
