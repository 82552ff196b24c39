// Injected time (time and randomness are injected): every timeout in the scheduler
// and Lane 0 reads a `Clock`, so unit tests drive 5 s BFT rounds and 3 s publish graces instantly.
// No `node:` imports: the viewer bundles this module too.

/** An opaque timer handle returned by `Clock.setTimeout`. */
export type TimerHandle = unknown

export interface Clock {
  /** Wall clock, Unix milliseconds. */
  now(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
}

/** The reason a cancelled wait rejects with when the signal carries none. */
export class AbortError extends Error {
  override readonly name = 'AbortError'
  readonly code = 'ABORTED'
  constructor(message = 'operation aborted') {
    super(message)
  }
}

/** The error an aborted signal stands for. */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new AbortError(String(signal.reason ?? 'aborted'))
}

/** Resolve after `ms` on `clock`; reject with the abort reason if `signal` fires first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal))
      return
    }
    const onAbort = () => {
      clock.clearTimeout(timer)
      reject(abortReason(signal!))
    }
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

interface ManualTimer {
  id: number
  at: number
  seq: number
  fn: () => void
}

/**
 * A clock that only moves when told to. `advance` fires due timers synchronously in time order;
 * `tick` does the same but yields to the event loop after each timer so that promise chains (and
 * fast real I/O such as a journal fsync) started by one timer can run before the next fires.
 */
export class ManualClock implements Clock {
  private t: number
  private seq = 0
  private nextId = 1
  private timers: ManualTimer[] = []

  constructor(startMs = 1_700_000_000_000) {
    this.t = startMs
  }

  now(): number {
    return this.t
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, at: this.t + Math.max(0, ms), seq: this.seq++, fn }
    this.timers.push(timer)
    return timer.id
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle)
  }

  /** Number of timers not yet fired. */
  pending(): number {
    return this.timers.length
  }

  private takeDue(until: number): ManualTimer | undefined {
    let best: ManualTimer | undefined
    for (const t of this.timers) {
      if (t.at <= until && (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)))
        best = t
    }
    if (best !== undefined) this.timers = this.timers.filter((t) => t !== best)
    return best
  }

  /** Move time forward by `ms`, firing every timer that falls due (also ones created meanwhile). */
  advance(ms: number): void {
    const target = this.t + ms
    for (let timer = this.takeDue(target); timer !== undefined; timer = this.takeDue(target)) {
      this.t = Math.max(this.t, timer.at)
      timer.fn()
    }
    this.t = target
  }

  /** Like `advance`, yielding to the event loop `yields` times after each timer and at the end. */
  async tick(ms: number, yields = 3): Promise<void> {
    const target = this.t + ms
    for (let timer = this.takeDue(target); timer !== undefined; timer = this.takeDue(target)) {
      this.t = Math.max(this.t, timer.at)
      timer.fn()
      await yieldMacrotasks(yields)
    }
    this.t = target
    await yieldMacrotasks(yields)
  }
}

/** Let queued microtasks and a few macrotask turns (e.g. completed I/O callbacks) run. */
export async function yieldMacrotasks(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => globalThis.setTimeout(r, 0))
}

/**
 * Settle with `promise`, or reject with the abort reason as soon as `signal` fires — for calls that
 * cannot be cancelled themselves (a stuck publish, a chain call that never answers).
 */
export function raceAbort<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) {
    promise.catch(() => {})
    return Promise.reject(abortReason(signal))
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}
