// Log output for every long-running command: pino records on stderr (stdout carries only the
// one-line JSON events scripts read), as JSON lines or, for a person at a terminal, as one short
// readable line each. Each record is re-serialised so a key bound twice by nested child loggers
// (`module`) appears once, with the innermost value.
import pino, { type Logger } from 'pino'

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
}

/** `auto`: pretty when stdout is a terminal, JSON otherwise (files, pipes, journald). */
export function resolveLogFormat(
  format: LogFormat,
  isTty = process.stdout.isTTY === true,
): 'json' | 'pretty' {
  if (format === 'auto') return isTty ? 'pretty' : 'json'
  return format
}

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v
  return JSON.stringify(v)
}

/** One readable line: time, level, module, message, then the other fields as key=value. */
export function prettyLine(rec: Record<string, unknown>): string {
  const { time, level, msg, module, pid: _pid, hostname: _host, err, ...rest } = rec
  const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : ''
  const lvl = (LEVELS[level as number] ?? String(level)).padEnd(5)
  const parts = [t, lvl]
  if (module !== undefined) parts.push(`[${String(module)}]`)
  parts.push(String(msg ?? ''))
  for (const [k, v] of Object.entries(rest)) parts.push(`${k}=${value(v)}`)
  if (err !== undefined && typeof err === 'object' && err !== null) {
    const e = err as { message?: string; type?: string }
    parts.push(`err=${value(`${e.type ?? 'Error'}: ${e.message ?? ''}`)}`)
  }
  return `${parts.join(' ')}\n`
}

/** A pino destination writing each record, reformatted, to `out`. */
export function logStream(
  format: 'json' | 'pretty',
  out: { write(s: string): unknown } = process.stderr,
): { write(line: string): void } {
  return {
    write(line: string) {
      let rec: Record<string, unknown>
      try {
        rec = JSON.parse(line) as Record<string, unknown>
      } catch {
        out.write(line)
        return
      }
      out.write(format === 'pretty' ? prettyLine(rec) : `${JSON.stringify(rec)}\n`)
    },
  }
}

export function createLogger(level: string, format: LogFormat = 'auto'): Logger {
  return pino({ level, base: { pid: process.pid } }, logStream(resolveLogFormat(format)))
}
