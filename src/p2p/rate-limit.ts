// Per-peer message budgets (numbers and their reasons in constants.ts RATE_LIMIT_DEFAULTS):
// one token bucket per peer for video chunks and one for everything else, doubled for high-score
// peers, and a graylist for peers that keep running into the limit. Pure state, injected clock.
import { RATE_LIMIT_DEFAULTS } from './constants.ts'
import { P2PError } from './errors.ts'

export interface RateLimitOptions {
  messagesPerMinute: number
  videoChunksPerMinute: number
  highScoreThreshold: number
  highScoreMultiplier: number
  graylistAfterViolations: number
  violationWindowMs: number
  graylistMs: number
}

/** Which budget a message draws on. */
export type RateClass = 'video' | 'control'

/** `limited`: over budget (ignore the message); `graylisted`: refuse everything from this peer for now. */
export type RateDecision = 'ok' | 'limited' | 'graylisted'

interface Bucket {
  tokens: number
  atMs: number
}

interface PeerState {
  video: Bucket
  control: Bucket
  violations: number
  windowStartMs: number
  graylistedUntilMs: number
}

/** Peers tracked at most; the oldest entry is dropped beyond it (connections are far fewer). */
const MAX_TRACKED_PEERS = 4096

export class PeerRateLimiter {
  readonly options: Readonly<RateLimitOptions>
  private readonly peers = new Map<string, PeerState>()

  constructor(
    options: Partial<RateLimitOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = Object.freeze({ ...RATE_LIMIT_DEFAULTS, ...options })
    for (const [k, v] of Object.entries(this.options)) {
      if (!Number.isFinite(v) || v <= 0) {
        throw new P2PError('INVALID_CONFIG', `rateLimit.${k}: ${v} must be a positive number`)
      }
    }
  }

  /** Take one token for a message from `peer`; `score` is its current GossipSub score. */
  check(peer: string, cls: RateClass, score = 0): RateDecision {
    const now = this.now()
    const st = this.state(peer, now)
    if (st.graylistedUntilMs > now) return 'graylisted'
    const o = this.options
    const perMinute =
      (cls === 'video' ? o.videoChunksPerMinute : o.messagesPerMinute) *
      (score >= o.highScoreThreshold ? o.highScoreMultiplier : 1)
    const b = st[cls]
    // Continuous refill; capacity is one minute's budget so that a whole video can arrive at once.
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.atMs) * perMinute) / 60_000)
    b.atMs = now
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 'ok'
    }
    if (now - st.windowStartMs > o.violationWindowMs) {
      st.windowStartMs = now
      st.violations = 0
    }
    st.violations++
    if (st.violations >= o.graylistAfterViolations) {
      st.graylistedUntilMs = now + o.graylistMs
      st.violations = 0
      return 'graylisted'
    }
    return 'limited'
  }

  isGraylisted(peer: string): boolean {
    const st = this.peers.get(peer)
    return st !== undefined && st.graylistedUntilMs > this.now()
  }

  /** Peers graylisted now (for status). */
  graylisted(): string[] {
    const now = this.now()
    return [...this.peers].filter(([, st]) => st.graylistedUntilMs > now).map(([p]) => p)
  }

  /** Drop a disconnected peer's buckets; a graylisted peer is kept until its graylist ends. */
  forget(peer: string): void {
    if (!this.isGraylisted(peer)) this.peers.delete(peer)
  }

  get size(): number {
    return this.peers.size
  }

  private state(peer: string, now: number): PeerState {
    let st = this.peers.get(peer)
    if (st === undefined) {
      const o = this.options
      st = {
        video: { tokens: o.videoChunksPerMinute, atMs: now },
        control: { tokens: o.messagesPerMinute, atMs: now },
        violations: 0,
        windowStartMs: now,
        graylistedUntilMs: 0,
      }
      if (this.peers.size >= MAX_TRACKED_PEERS) {
        const oldest = this.peers.keys().next().value
        if (oldest !== undefined) this.peers.delete(oldest)
      }
      this.peers.set(peer, st)
    }
    return st
  }
}
