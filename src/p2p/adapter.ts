// The one place where gossip validation outcomes are decided and counted: every
// message runs size limit → rate limit / graylist → duplicate check → the topic's validator, and
// whatever that throws becomes accept / reject / ignore here. GossipSub calls `validate` from its
// topic validator hook, i.e. before the message is delivered or forwarded.
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { blake3 } from '../crypto/index.ts'
import { bytesToHex, isReferenceBftVariant } from '../types/index.ts'
import { DEDUP_CACHE_SIZE } from './constants.ts'
import { GossipAction, type GossipErrorCode, GossipValidationError } from './errors.ts'
import type { TopicValidator, ValidationResult } from './gossip.ts'
import type { P2PMetrics } from './metrics.ts'
import type { PeerRateLimiter } from './rate-limit.ts'
import type { RefusalLog } from './refusal-log.ts'
import type { TopicName } from './topics.ts'
import type { GossipValidatorFn, TopicValidatorRegistry } from './validators.ts'

/** A validator as installed: Lodestar style (returns the decoded value, throws) or a bare result. */
export type AnyTopicValidator = GossipValidatorFn<unknown> | TopicValidator

export interface ValidationCounts {
  accept: number
  reject: number
  ignore: number
}

export interface GossipValidationDeps {
  maxBytes: Readonly<Record<TopicName, number>>
  rateLimiter: PeerRateLimiter | null
  /** Current GossipSub score of a peer (doubles its budget when high). */
  scoreOf: (peer: string) => number
  metrics: P2PMetrics | null
  log: Logger
  /** Refused messages, logged with their code (rate-limited). @default none */
  refusals?: RefusalLog | null
}

/** Remembers BLAKE3 digests of accepted messages, oldest dropped first. */
class DigestSet {
  private readonly set = new Set<string>()
  constructor(private readonly max: number) {}
  has(d: string): boolean {
    return this.set.has(d)
  }
  add(d: string): void {
    this.set.add(d)
    if (this.set.size > this.max) this.set.delete(this.set.values().next().value as string)
  }
}

const isResult = (v: unknown): v is ValidationResult => v === 'accept' || v === 'reject' || v === 'ignore'

export class GossipValidation {
  private readonly validators: Record<TopicName, AnyTopicValidator>
  /** The registry's own validators, kept when an application installs its own (see `explain`). */
  private readonly defaults: TopicValidatorRegistry
  private readonly decodedByData = new WeakMap<Uint8Array, unknown>()
  private readonly seen = new DigestSet(DEDUP_CACHE_SIZE)
  private readonly counts = new Map<TopicName, ValidationCounts>()

  constructor(
    private readonly deps: GossipValidationDeps,
    registry: TopicValidatorRegistry,
  ) {
    this.validators = { ...registry }
    this.defaults = { ...registry }
  }

  /** Replace the application validator of `topic`; the size and rate gates stay in front of it. */
  set(topic: TopicName, validator: AnyTopicValidator): void {
    this.validators[topic] = validator
  }

  /** The decoded value the accepting validator returned for exactly this `data` object, if any. */
  decoded(data: Uint8Array): unknown {
    return this.decodedByData.get(data)
  }

  /** Per-topic outcome counters since start (for status). */
  snapshot(): Partial<Record<TopicName, ValidationCounts>> {
    return Object.fromEntries([...this.counts].map(([t, c]) => [t, { ...c }]))
  }

  /**
   * `from` is the peer that handed us the message; `author` is the peer that signed it (GossipSub
   * StrictSign `from`), to which the rate budget is charged (docs/protocol.md §2: a relay never pays
   * for what it forwards). Without an author (unsigned, tests) the forwarding peer is charged.
   */
  async validate(
    topic: TopicName,
    data: Uint8Array,
    from: string,
    author: string = from,
  ): Promise<ValidationResult> {
    const started = performance.now()
    let result: ValidationResult
    let code: GossipErrorCode | '' = ''
    try {
      const decoded = await this.run(topic, data, from, author)
      this.decodedByData.set(data, decoded)
      result = 'accept'
    } catch (err) {
      if (err instanceof GossipValidationError) {
        result = err.action
        code = err.code
        this.deps.log.debug({ topic, peer: from, result, code }, 'gossip message refused')
        this.deps.refusals?.note({
          topic,
          result,
          code,
          message: err.message,
          peer: from,
          explain:
            topic === 'recipes' && (code === 'APP_IGNORE' || code === 'APP_REJECT')
              ? () => this.explain(topic, data, from)
              : undefined,
        })
      } else {
        // A validator bug or an infrastructure failure is not the sender's fault: ignore, loudly.
        result = 'ignore'
        code = 'VALIDATOR_ERROR'
        this.deps.log.warn({ topic, peer: from, err }, 'gossip validator failed')
      }
    }
    this.count(topic, result, code, performance.now() - started)
    return result
  }

  private async run(topic: TopicName, data: Uint8Array, from: string, author: string): Promise<unknown> {
    const d = this.deps
    // docs/protocol.md §2: the topic's size limit, on receive as well, before any decoding.
    const max = d.maxBytes[topic]
    if (data.length > max) {
      throw new GossipValidationError(
        GossipAction.REJECT,
        'OVERSIZE',
        `data: ${data.length} bytes exceeds the ${topic} limit of ${max} bytes`,
      )
    }
    // Per-author budget (constants.ts RATE_LIMIT_DEFAULTS): over it, ignore; repeatedly, graylist
    // the author. Charged to the signer, never to the relay that forwarded it (docs/protocol.md §2).
    if (d.rateLimiter !== null) {
      const wasGraylisted = d.rateLimiter.isGraylisted(author)
      const decision = d.rateLimiter.check(author, topic === 'video' ? 'video' : 'control', d.scoreOf(author))
      if (decision === 'graylisted') {
        if (!wasGraylisted) {
          d.metrics?.graylisted.inc()
          d.log.warn(
            { peer: author, via: from, topic },
            'author graylisted for repeated rate-limit violations',
          )
        }
        throw new GossipValidationError(GossipAction.IGNORE, 'GRAYLISTED', 'author is graylisted')
      }
      if (decision === 'limited') {
        throw new GossipValidationError(
          GossipAction.IGNORE,
          'RATE_LIMITED',
          `author is over its ${topic} budget`,
        )
      }
    }
    // §2: the reference implementation's BftSignal variants 0 (Embedding) and 1 (Vote) are not
    // ours but not malformed either: ignored, and counted under their own code.
    if (topic === 'bft' && data.length > 0 && isReferenceBftVariant(data[0]!)) {
      throw new GossipValidationError(
        GossipAction.IGNORE,
        'REFERENCE_MESSAGE',
        `data: reference-implementation BftSignal variant ${data[0]} is not used by this network`,
      )
    }
    // §2 "duplicate": the same bytes re-published by another peer. Video chunks are deduplicated
    // by (signer, slot, content id, index) in the video policy instead, which also covers
    // re-signed copies, so their 1 MiB payloads are not hashed twice.
    let digest: string | undefined
    if (topic !== 'video') {
      digest = bytesToHex(blake3(data))
      if (this.seen.has(digest)) {
        throw new GossipValidationError(GossipAction.IGNORE, 'DUPLICATE', 'data: already accepted')
      }
    }
    const out = await this.validators[topic](data, from)
    if (isResult(out)) {
      if (out === 'reject')
        throw new GossipValidationError(GossipAction.REJECT, 'APP_REJECT', 'validator: reject')
      if (out === 'ignore')
        throw new GossipValidationError(GossipAction.IGNORE, 'APP_IGNORE', 'validator: ignore')
    }
    if (digest !== undefined) this.seen.add(digest)
    return isResult(out) ? undefined : out
  }

  /**
   * Why an installed validator's bare "ignore"/"reject" refused a message, in the registry
   * validator's own codes: null when those rules accept it. Only for pure validators (recipes:
   * decode, bounds, author set, signature), since it runs the check a second time.
   */
  private explain(
    topic: TopicName,
    data: Uint8Array,
    from: string,
  ): { code: GossipErrorCode; message: string } | null {
    try {
      const out = this.defaults[topic](data, from)
      if (out instanceof Promise) {
        out.catch(() => {})
        return null
      }
      return null
    } catch (err) {
      if (err instanceof GossipValidationError) return { code: err.code, message: err.message }
      return null
    }
  }

  private count(topic: TopicName, result: ValidationResult, code: string, ms: number): void {
    let c = this.counts.get(topic)
    if (c === undefined) {
      c = { accept: 0, reject: 0, ignore: 0 }
      this.counts.set(topic, c)
    }
    c[result]++
    const m = this.deps.metrics
    if (m !== null) {
      m.validations.inc({ topic, result, code })
      m.validationSeconds.observe({ topic }, ms / 1000)
    }
  }
}
