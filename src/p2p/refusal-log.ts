// Refused gossip messages in the node's log, so an operator sees why a message (a recipe, above
// all) was dropped: one line per refusal code per window, with the number of refusals of that code
// left out since its previous line. Bounded: codes are a closed set (GossipErrorCode), and the
// explanation of an application validator's bare "ignore"/"reject" runs a bounded number of times
// per window, so a flood of refused messages costs neither log volume nor extra validation.
import type { Logger } from 'pino'
import type { GossipErrorCode } from './errors.ts'
import type { ValidationResult } from './gossip.ts'
import type { TopicName } from './topics.ts'

export interface RefusalLogInit {
  /** Topics whose refusals are logged. */
  topics: readonly TopicName[]
  /** One line per code per this many ms. @default REFUSAL_LOG_DEFAULTS.windowMs */
  windowMs?: number
  /** Explanations of bare application results per window. @default REFUSAL_LOG_DEFAULTS.explainPerWindow */
  explainPerWindow?: number
  /** @default Date.now */
  now?: () => number
}

export const REFUSAL_LOG_DEFAULTS = { windowMs: 10_000, explainPerWindow: 16 } as const

/** Codes that say nothing was lost: another copy of the message was taken. */
const NOT_LOGGED: ReadonlySet<string> = new Set<GossipErrorCode>(['DUPLICATE'])

export interface Refusal {
  topic: TopicName
  result: ValidationResult
  code: GossipErrorCode
  message: string
  /** The peer that handed the message over. */
  peer: string
  /**
   * For a bare application result (APP_IGNORE / APP_REJECT): the reason the topic's own rules give,
   * or null when they accept (the application's further rules refused it).
   */
  explain?: () => { code: GossipErrorCode; message: string } | null
}

export class RefusalLog {
  private readonly topics: ReadonlySet<TopicName>
  private readonly windowMs: number
  private readonly explainPerWindow: number
  private readonly now: () => number
  /** Per topic and code: when its last line was written and how many were left out since. */
  private readonly lines = new Map<string, { atMs: number; suppressed: number }>()
  private explainWindowStart = Number.NEGATIVE_INFINITY
  private explained = 0

  constructor(
    private readonly log: Logger,
    init: RefusalLogInit,
  ) {
    this.topics = new Set(init.topics)
    this.windowMs = init.windowMs ?? REFUSAL_LOG_DEFAULTS.windowMs
    this.explainPerWindow = init.explainPerWindow ?? REFUSAL_LOG_DEFAULTS.explainPerWindow
    this.now = init.now ?? Date.now
  }

  note(r: Refusal): void {
    if (!this.topics.has(r.topic)) return
    let { code, message } = r
    let explainedBy: string | undefined
    if (r.explain !== undefined && this.mayExplain()) {
      const why = r.explain()
      if (why === null)
        message = `${message} (the ${r.topic} rules accept it; the application's own rules refused it)`
      else {
        explainedBy = code
        code = why.code
        message = why.message
      }
    }
    if (NOT_LOGGED.has(code)) return
    const key = `${r.topic}\u0000${code}`
    const nowMs = this.now()
    const last = this.lines.get(key)
    if (last !== undefined && nowMs - last.atMs < this.windowMs) {
      last.suppressed++
      return
    }
    const suppressed = last?.suppressed ?? 0
    this.lines.set(key, { atMs: nowMs, suppressed: 0 })
    const noun = r.topic === 'recipes' ? 'recipe' : `${r.topic} message`
    this.log.warn(
      {
        topic: r.topic,
        result: r.result,
        code,
        ...(explainedBy ? { via: explainedBy } : {}),
        peer: r.peer,
        suppressed,
      },
      `${noun} refused (${code}): ${message}${suppressed > 0 ? ` [${suppressed} more ${code} since the last line]` : ''}`,
    )
  }

  private mayExplain(): boolean {
    const nowMs = this.now()
    if (nowMs - this.explainWindowStart >= this.windowMs) {
      this.explainWindowStart = nowMs
      this.explained = 0
    }
    if (this.explained >= this.explainPerWindow) return false
    this.explained++
    return true
  }
}
