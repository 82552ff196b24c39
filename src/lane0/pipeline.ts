// process_slot: generate → BFT → publish → chain submit for one slot, each stage
// journalled before the next begins, failures raised as SlotError{slot, stage, cause} around the
// stage's own typed error, one structured log line per stage with epoch and slot.
import type { NodeKey } from '../crypto/index.ts'
import { abortReason, type Clock, raceAbort } from '../scheduler/index.ts'
import { bytesToHex } from '../types/index.ts'
import type { BftParticipant, BftResult } from './bft.ts'
import { SlotError, type SlotErrorCode, type SlotStage, SubmitError, type SubmitErrorCode } from './errors.ts'
import type { SlotStageEvent } from './events.ts'
import { newJournalEntry, type SlotJournal, type SubmissionState } from './journal.ts'
import type { Logger } from './log.ts'
import type { Lane0Metrics, SlotStageLabel } from './metrics.ts'
import type { ChunkPublisher, PublishOutcome } from './publisher.ts'
import type { QueuedRecipe } from './recipes.ts'
import { type ResultSubmitter, submitterOrder } from './submitter.ts'
import type { GenerationOutput, VortexClient } from './vortex.ts'

export interface SlotContext {
  epoch: bigint
  slot: bigint
  recipe: QueuedRecipe
  /** Elected directors of the epoch (protobuf keys): the submitter order needs them. */
  elected: readonly Uint8Array[]
}

export interface SlotOutcome {
  epoch: bigint
  slot: bigint
  recipeHash: Uint8Array
  output: GenerationOutput
  bft: BftResult
  publish: PublishOutcome
  submission: SubmissionState
  /** Seconds per stage. */
  timings: Partial<Record<SlotStageLabel, number>>
}

export interface SlotPipelineComponents {
  key: NodeKey
  vortex: VortexClient
  bft: BftParticipant
  publisher: ChunkPublisher
  submitter: ResultSubmitter
  journal: SlotJournal
  clock: Clock
  logger: Logger
  metrics: Lane0Metrics | null
  /** Where stage events go (the director re-emits them as `slot` events). */
  emit(ev: SlotStageEvent): void
}

type StageEventBody = SlotStageEvent extends infer E
  ? E extends unknown
    ? Omit<E, 'epoch' | 'slot' | 'atMs'>
    : never
  : never

/** A one-holder lock: generation is serialised (one GPU), BFT and publication are not. */
class Mutex {
  private tail: Promise<void> = Promise.resolve()
  async lock(): Promise<() => void> {
    let release!: () => void
    const next = new Promise<void>((r) => {
      release = r
    })
    const prev = this.tail
    this.tail = prev.then(() => next)
    await prev
    return release
  }
}

const SUBMIT_CODES: ReadonlySet<string> = new Set<SubmitErrorCode>([
  'NOT_ELECTED',
  'BAD_CERTIFICATE',
  'UNKNOWN_EPOCH',
  'SLOT_MISMATCH',
  'MALFORMED',
])

export class SlotPipeline {
  private readonly gpu = new Mutex()

  constructor(private readonly c: SlotPipelineComponents) {}

  private emit(ctx: SlotContext, body: StageEventBody): void {
    this.c.emit({ epoch: ctx.epoch, slot: ctx.slot, atMs: this.c.clock.now(), ...body } as SlotStageEvent)
  }

  private observe(stage: SlotStageLabel, t0: number, timings: SlotOutcome['timings']): void {
    const s = (this.c.clock.now() - t0) / 1000
    timings[stage] = s
    this.c.metrics?.slotStageSeconds.observe({ stage }, s)
  }

  private async fail(
    ctx: SlotContext,
    code: SlotErrorCode,
    stage: SlotStage,
    cause: unknown,
  ): Promise<SlotError> {
    const err = new SlotError(code, ctx.slot, stage, cause)
    try {
      await this.c.journal.update(ctx.slot, (e) => ({
        ...e,
        stage: code === 'ABANDONED' ? 'abandoned' : 'failed',
        error: { stage, code: err.causeCode ?? code, message: err.message.slice(0, 500) },
        updatedAtMs: this.c.clock.now(),
      }))
    } catch (jerr) {
      this.c.logger.error({ err: jerr, slot: ctx.slot }, 'journal write failed')
    }
    this.emit(ctx, {
      stage: 'failed',
      failedStage: stage,
      code,
      causeCode: err.causeCode ?? null,
      reason: err.message.slice(0, 500),
    })
    this.c.logger.warn(
      { epoch: ctx.epoch, slot: ctx.slot, stage, code, causeCode: err.causeCode },
      'slot failed',
    )
    return err
  }

  private aborted(signal: AbortSignal | undefined, err: unknown): boolean {
    return signal?.aborted === true || (err as { code?: string })?.code === 'ABORTED'
  }

  /** Run one slot to the end; throws SlotError (the slot, the stage, the stage's typed error). */
  async process(ctx: SlotContext, signal?: AbortSignal): Promise<SlotOutcome> {
    const { epoch, slot, recipe } = ctx
    const log = this.c.logger.child({ epoch, slot })
    const timings: SlotOutcome['timings'] = {}
    const tStart = this.c.clock.now()
    const recipeHashHex = bytesToHex(recipe.recipeHash)
    try {
      await this.c.journal.update(
        slot,
        (e) => ({
          ...e,
          recipeId: recipe.recipe.recipe_id,
          recipeHash: recipe.recipeHash,
          updatedAtMs: this.c.clock.now(),
        }),
        () => newJournalEntry(epoch, slot, this.c.clock.now()),
      )
    } catch (err) {
      throw new SlotError('JOURNAL_FAILED', slot, 'recipe', err)
    }
    this.emit(ctx, { stage: 'recipe', recipeId: recipe.recipe.recipe_id, recipeHash: recipeHashHex })
    log.info(
      { stage: 'recipe', recipeId: recipe.recipe.recipe_id, recipeHash: recipeHashHex },
      'slot started',
    )

    // Faster directors may certify and publish while this one still generates: keep their chunks.
    this.c.publisher.expect(slot)

    // 1. Generate (one at a time on this node's GPU).
    let output: GenerationOutput
    const release = await this.gpu.lock()
    let t0 = this.c.clock.now()
    try {
      this.emit(ctx, { stage: 'generating' })
      output = await this.c.vortex.generate(recipe.recipe, slot, recipe.recipeHash, signal)
    } catch (err) {
      const code = this.aborted(signal, err) ? 'ABANDONED' : 'GENERATION_FAILED'
      throw await this.fail(ctx, code, 'generate', err)
    } finally {
      release()
    }
    this.observe('generate', t0, timings)
    const contentHex = bytesToHex(output.contentHash)
    await this.journalOrFail(ctx, 'generate', (e) => ({
      ...e,
      stage: 'generated',
      contentHash: output.contentHash,
      videoPath: output.videoPath ?? null,
      mime: output.mime,
      updatedAtMs: this.c.clock.now(),
    }))
    this.emit(ctx, {
      stage: 'generated',
      contentHash: contentHex,
      generationTimeMs: output.generationTimeMs,
      bytes: output.video.length,
    })
    log.info(
      { stage: 'generate', contentHash: contentHex, ms: output.generationTimeMs, bytes: output.video.length },
      'generated',
    )

    // 2. BFT.
    t0 = this.c.clock.now()
    const offProposals = this.c.bft.events.on('proposals', (p) => {
      if (p.slot === slot) this.emit(ctx, { stage: 'proposals', received: p.received, expected: p.expected })
    })
    let bft: BftResult
    try {
      // §5 step 5: what we sign is journaled before it is published; after a restart the journaled
      // messages are re-sent exactly (the entry survives recoverJournal's "abandoned" mark).
      const recorded = this.c.journal.get(slot)?.signed ?? { proposal: null, commit: null }
      bft = await this.c.bft.runConsensus(
        {
          epoch,
          slot,
          recipeHash: recipe.recipeHash,
          contentHash: output.contentHash,
          embedding: output.clipEmbedding,
          signed: {
            recorded,
            record: async (kind, bytes) => {
              await this.c.journal.update(slot, (e) => ({
                ...e,
                signed: { ...e.signed, [kind]: bytes },
                updatedAtMs: this.c.clock.now(),
              }))
            },
          },
        },
        signal,
      )
    } catch (err) {
      const code = this.aborted(signal, err) ? 'ABANDONED' : 'BFT_FAILED'
      throw await this.fail(ctx, code, 'bft', err)
    } finally {
      offProposals()
    }
    this.observe('bft', t0, timings)
    const canonicalHex = bytesToHex(bft.canonicalHash)
    // Who submits, and when: our turn in the submitter order (docs/lane0.md). Journalled with the
    // certificate in one write, so a crash right after certification still owes the chain a call.
    const order = submitterOrder(slot, bft.certificate, ctx.elected)
    const me = bytesToHex(this.c.key.publicKeyProto)
    const position = Math.max(
      0,
      order.findIndex((k) => bytesToHex(k) === me),
    )
    const delayMs = position * this.c.submitter.submitGraceMs
    await this.journalOrFail(ctx, 'bft', (e) => ({
      ...e,
      stage: 'certified',
      canonicalHash: bft.canonicalHash,
      certificate: bft.certificate,
      localRank: bft.localRank,
      submission: { ...e.submission, state: 'scheduled', notBeforeMs: this.c.clock.now() + delayMs },
      updatedAtMs: this.c.clock.now(),
    }))
    this.emit(ctx, {
      stage: 'certified',
      canonicalHash: canonicalHex,
      members: bft.members.length,
      similarity: bft.similarity,
      rank: bft.localRank,
      source: bft.source,
    })
    log.info(
      {
        stage: 'bft',
        canonicalHash: canonicalHex,
        members: bft.members.length,
        similarity: bft.similarity,
        rank: bft.localRank,
        source: bft.source,
      },
      'certified',
    )

    // 3 + 4. Publish and submit. The canonical member publishes first and then submits; every other
    // holder's submission turn (k × grace) runs while it waits for its publication turn.
    const submitArgs = {
      epoch,
      slot,
      certificate: bft.certificate,
      canonicalHash: bft.canonicalHash,
      delayMs,
    }
    t0 = this.c.clock.now()
    let publishErr: unknown = null
    let submission: SubmissionState = 'none'
    const submitNow = () => this.submit(ctx, submitArgs, timings)
    let submitPromise: Promise<SubmissionState> | null = null
    if (bft.localRank !== 0) submitPromise = submitNow()
    let publish: PublishOutcome = { action: 'not-member' }
    try {
      if (bft.localRank >= 0)
        this.emit(ctx, {
          stage: 'publishing',
          role: bft.localRank === 0 ? 'canonical' : 'fallback-candidate',
        })
      publish = await this.c.publisher.publishCertified(
        { slot, members: bft.members, video: output.video, contentHash: output.contentHash },
        signal,
      )
      if (publish.action === 'published') {
        const r = publish.report
        this.emit(ctx, {
          stage: 'chunks-published',
          role: r.role,
          published: r.published,
          total: r.total,
          bytes: r.bytes,
        })
        log.info(
          { stage: 'publish', role: r.role, chunks: r.published, total: r.total, failed: r.failed },
          'published',
        )
      } else {
        this.emit(ctx, { stage: 'publish-skipped', reason: publish.action })
        log.info({ stage: 'publish', action: publish.action }, 'not publishing')
      }
      this.observe('publish', t0, timings)
      await this.journalOrFail(ctx, 'publish', (e) => ({
        ...e,
        stage: e.stage === 'certified' ? 'published' : e.stage,
        publish:
          publish.action === 'published'
            ? {
                action: publish.report.role,
                published: publish.report.published,
                total: publish.report.total,
              }
            : { action: publish.action, published: 0, total: 0 },
        updatedAtMs: this.c.clock.now(),
      }))
    } catch (err) {
      publishErr = err
    }
    if (submitPromise === null) {
      // Stopping: leave the submission to the journal (it is `scheduled`; the next start sends it).
      if (signal?.aborted)
        throw await this.fail(ctx, 'ABANDONED', 'publish', publishErr ?? abortReason(signal))
      submitPromise = submitNow()
    }
    try {
      // The submitter owns the call and its retries (journalled); a stopping director stops waiting.
      submission = await raceAbort(submitPromise, signal)
    } catch (err) {
      throw await this.fail(ctx, this.aborted(signal, err) ? 'ABANDONED' : 'SUBMIT_FAILED', 'submit', err)
    }
    if (publishErr !== null) {
      const code = this.aborted(signal, publishErr) ? 'ABANDONED' : 'PUBLISH_FAILED'
      throw await this.fail(ctx, code, 'publish', publishErr)
    }
    if (submission === 'rejected' || submission === 'conflict') {
      const e = this.c.journal.get(slot)
      const detail = e?.submission.detail ?? submission
      const prefix = detail.split(':')[0] ?? ''
      const code: SubmitErrorCode =
        submission === 'conflict'
          ? 'CONFLICT'
          : SUBMIT_CODES.has(prefix)
            ? (prefix as SubmitErrorCode)
            : 'REJECTED'
      throw await this.fail(
        ctx,
        'SUBMIT_FAILED',
        'submit',
        new SubmitError(code, `slot ${slot}: ${detail}`, slot),
      )
    }
    const total = (this.c.clock.now() - tStart) / 1000
    timings.total = total
    this.c.metrics?.slotStageSeconds.observe({ stage: 'total' }, total)
    this.emit(ctx, { stage: 'done', durationMs: this.c.clock.now() - tStart })
    return { epoch, slot, recipeHash: recipe.recipeHash, output, bft, publish, submission, timings }
  }

  private async submit(
    ctx: SlotContext,
    args: Parameters<ResultSubmitter['submit']>[0],
    timings: SlotOutcome['timings'],
  ): Promise<SubmissionState> {
    const t0 = this.c.clock.now()
    const state = await this.c.submitter.submit(args)
    this.observe('submit', t0, timings)
    this.c.logger.info(
      { epoch: ctx.epoch, slot: ctx.slot, stage: 'submit', state, delayMs: args.delayMs },
      'submission',
    )
    return state
  }

  private async journalOrFail(
    ctx: SlotContext,
    stage: SlotStage,
    change: Parameters<SlotJournal['update']>[1],
  ): Promise<void> {
    try {
      await this.c.journal.update(ctx.slot, change)
    } catch (err) {
      throw await this.fail(ctx, 'JOURNAL_FAILED', stage, err)
    }
  }
}
