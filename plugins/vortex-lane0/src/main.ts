// The plugin process: input JSON on stdin, `{"output": {...}, "duration_ms": N}` on stdout, progress
// lines and logs on stderr. Exit 0 = success, 2 = input refused, 1 = anything else; on failure stdout
// carries `{"error": {"code", "field"?, "message"}}` (docs/sidecar.md).
import { initBlake3 } from '../../../src/crypto/blake3.ts'
import { formatProgressLine } from '../../../src/sidecar/progress.ts'
import { AacError } from './aac.ts'
import { AudioError } from './audio.ts'
import { generate, InputError, parseInput } from './generate.ts'

const MAX_INPUT_BYTES = 8 * 1024 * 1024

async function readStdin(): Promise<Buffer> {
  const parts: Buffer[] = []
  let n = 0
  for await (const chunk of process.stdin) {
    n += (chunk as Buffer).length
    if (n > MAX_INPUT_BYTES) throw new InputError('', `input: more than ${MAX_INPUT_BYTES} bytes`)
    parts.push(chunk as Buffer)
  }
  return Buffer.concat(parts)
}

function fail(exitCode: number, error: { code: string; field?: string; message: string }): void {
  process.stdout.write(`${JSON.stringify({ error })}\n`)
  process.stderr.write(`vortex-lane0: ${error.message}\n`)
  process.exitCode = exitCode
}

async function main(): Promise<void> {
  const started = performance.now()
  await initBlake3()
  let json: unknown
  try {
    const text = (await readStdin()).toString('utf8')
    try {
      json = JSON.parse(text)
    } catch {
      throw new InputError('', 'input: not valid JSON')
    }
    const input = parseInput(json, process.env)
    const outDir = input.outputMode === 'file' ? (process.env.NSN_TASK_DIR ?? null) : null
    const t0 = performance.now()
    const { output } = await generate(input, outDir, (stage, progress) => {
      const elapsed = performance.now() - t0
      const etaMs = progress > 0.05 ? (elapsed * (1 - progress)) / progress : undefined
      process.stderr.write(formatProgressLine({ stage, progress, etaMs }))
    })
    process.stderr.write(formatProgressLine({ stage: 'done', progress: 1, etaMs: 0 }))
    process.stdout.write(
      `${JSON.stringify({ output, duration_ms: Math.round(performance.now() - started) })}\n`,
    )
  } catch (err) {
    if (err instanceof InputError) fail(2, { code: err.code, field: err.field, message: err.message })
    else if (err instanceof AudioError) fail(1, { code: err.code, message: err.message })
    else if (err instanceof AacError) fail(1, { code: 'AUDIO_ENCODE_FAILED', message: err.message })
    else fail(1, { code: 'GENERATION_FAILED', message: (err as Error)?.message ?? String(err) })
  }
}

await main()
