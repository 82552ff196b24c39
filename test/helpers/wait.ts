// Waiting with a deadline: every wait in the tests names what it waits for and, on timeout, what it
// saw, so a failure on a busy machine says why instead of hanging or saying only "timeout".

export interface WaitOptions {
  timeoutMs: number
  /** @default 200 */
  intervalMs?: number
  /** What has been seen so far: goes into the timeout error. */
  seen?: () => string | Promise<string>
}

/**
 * Poll `probe` until it returns a value other than undefined/null/false, or fail after `timeoutMs`
 * with an error naming `what`, the last probe error and what `seen` reports.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  let lastErr: unknown = null
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined && v !== null && v !== false) return v
    } catch (err) {
      lastErr = err
    }
    if (Date.now() >= deadline) break
    await sleep(Math.min(opts.intervalMs ?? 200, Math.max(1, deadline - Date.now())))
  }
  let seen = ''
  try {
    seen = opts.seen ? await opts.seen() : ''
  } catch (err) {
    seen = `(seen() failed: ${(err as Error).message})`
  }
  const last = lastErr === null ? '' : `; last probe error: ${(lastErr as Error).message ?? lastErr}`
  throw new Error(
    `timed out after ${opts.timeoutMs} ms waiting for ${what}${last}${seen ? `; seen: ${seen}` : ''}`,
  )
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
