// process_slot: generate → certify (BFT) → deliver (publish) → submit (chain) for one slot. Each stage
// is a function with a typed result that ends with one record() — journal write, progress event, log
// line with epoch and slot — before the next begins; a failure is raised as SlotError{slot, stage,
// cause} around the stage's own typed error, recorded the same way by fail().
import type { NodeKey } from '../crypto/index.ts'
import { abortReason, type Clock, raceAbort } from '../scheduler/index.ts'
import { bytesToHex } from '../types/index.ts'
import type { BftParticipant, BftResult } from './bft.ts'
import { SlotError, type SlotErrorCode, type SlotStage, SubmitError } from './errors.ts'
import type { SlotStageEvent } from './events.ts'
import { type JournalEntry, newJournalEntry, type SlotJournal, type SubmissionState } from './journal.ts'
import type { Logger } from './log.ts'
import type { Lane0Metrics, SlotStageLabel } from './metrics.ts'
import type { ChunkPublisher, PublishOutcome } from './publisher.ts'
import type { QueuedRecipe } from './recipes.ts'
import { type ResultSubmitter, type SubmissionResult, submitterOrder } from './submitter.ts'
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

/** A slot on its way through the stages: what each stage reads, and the timings they add to. */
interface SlotRun {
  ctx: SlotContext
  signal: AbortSignal | undefined
  log: Logger
  timings: SlotOutcome['timings']
  startedAtMs: number
}

/** What a stage records once it is done (docs/lane0.md, "Slot pipeline"). */
interface StageRecord {
  /** Clock time the stage began: its duration goes to the timings and the stage histogram. */
  since?: number
  journal?: JournalChange
  /** Creates the slot's entry when it has none (the first stage). */
  create?: () => JournalEntry
  event?: StageEventBody
  log?: { fields: Record<string, unknown>; message: string }
}

type JournalChange = Parameters<SlotJournal['update']>[1]

/** certify(): the certificate, and when our turn to submit it comes. */
interface Certified {
  bft: BftResult
  /** Our position in the submitter order × submitGraceMs. */
  delayMs: number
}

/** deliver(): what publication came to, or the error it failed with (raised after the submission). */
type Delivered = { publish: PublishOutcome; error: null } | { publish: null; error: unknown }

export class SlotPipeline {
  private readonly gpu = new Mutex()

  constructor(private readonly c: SlotPipelineComponents) {}

  /** Run one slot to the end; throws SlotError (the slot, the stage, the stage's typed error). */
  async process(ctx: SlotContext, signal?: AbortSignal): Promise<SlotOutcome> {
    const run: SlotRun = {
      ctx,
      signal,
      log: this.c.logger.child({ epoch: ctx.epoch, slot: ctx.slot }),
      timings: {},
      startedAtMs: this.c.clock.now(),
    }
    await this.begin(run)
    // Faster directors may certify and publish while this one still generates: keep their chunks.
    this.c.publisher.expect(ctx.slot)
    const output = await this.generate(run)
    const certified = await this.certify(run, output)
    const { publish, submission } = await this.deliverAndSubmit(run, output, certified)
    const total = (this.c.clock.now() - run.startedAtMs) / 1000
    run.timings.total = total
    this.c.metrics?.slotStageSeconds.observe({ stage: 'total' }, total)
    this.emit(ctx, { stage: 'done', durationMs: this.c.clock.now() - run.startedAtMs })
    return {
      epoch: ctx.epoch,
      slot: ctx.slot,
      recipeHash: ctx.recipe.recipeHash,
      output,
      bft: certified.bft,
      publish,
      submission: submission.state,
      timings: run.timings,
    }
  }

  /** The slot's recipe, journalled (a new entry) before any work. */
  private async begin(run: SlotRun): Promise<void> {
    const { epoch, slot, recipe } = run.ctx
    const recipeId = recipe.recipe.recipe_id
    const recipeHash = bytesToHex(recipe.recipeHash)
    await this.record(run, 'recipe', {
      journal: (e) => ({ ...e, recipeId, recipeHash: recipe.recipeHash, updatedAtMs: this.c.clock.now() }),
      create: () => newJournalEntry(epoch, slot, this.c.clock.now()),
      event: { stage: 'recipe', recipeId, recipeHash },
      log: { fields: { recipeId, recipeHash }, message: 'slot started' },
    })
  }

  /** Generate the slot's video, one slot at a time on this node's GPU. */
  private async generate(run: SlotRun): Promise<GenerationOutput> {
    const { ctx, signal } = run
    let output: GenerationOutput
    const release = await this.gpu.lock()
    const since = this.c.clock.now()
    try {
      this.emit(ctx, { stage: 'generating' })
      output = await this.c.vortex.generate(ctx.recipe.recipe, ctx.slot, ctx.recipe.recipeHash, signal)
    } catch (err) {
      throw await this.fail(
        run,
        this.aborted(signal, err) ? 'ABANDONED' : 'GENERATION_FAILED',
        'generate',
        err,
      )
    } finally {
      release()
    }
    const contentHash = bytesToHex(output.contentHash)
    const bytes = output.video.length
    await this.record(run, 'generate', {
      since,
      journal: (e) => ({
        ...e,
        stage: 'generated',
        contentHash: output.contentHash,
        videoPath: output.videoPath ?? null,
        mime: output.mime,
        updatedAtMs: this.c.clock.now(),
      }),
      event: { stage: 'generated', contentHash, generationTimeMs: output.generationTimeMs, bytes },
      log: { fields: { contentHash, ms: output.generationTimeMs, bytes }, message: 'generated' },
    })
    return output
  }

  /** Run the BFT round (docs/protocol.md §5) and journal the certificate with our submission turn. */
  private async certify(run: SlotRun, output: GenerationOutput): Promise<Certified> {
    const { ctx, signal } = run
    const { epoch, slot } = ctx
    const since = this.c.clock.now()
    const offProposals = this.c.bft.events.on('proposals', (p) => {
      if (p.slot === slot) this.emit(ctx, { stage: 'proposals', received: p.received, expected: p.expected })
    })
    let bft: BftResult
    try {
      // §5 step 5: what we sign is journaled before it is published; after a restart the journaled
      // messages are re-sent exactly (the entry survives recoverJournal's "abandoned" mark).
      const recorded = this.c.journal.get(slot)?.signed ?? { proposal: null, commit: null }
      const record = async (kind: 'proposal' | 'commit', bytes: Uint8Array) => {
        await this.c.journal.update(slot, (e) => ({
          ...e,
          signed: { ...e.signed, [kind]: bytes },
          updatedAtMs: this.c.clock.now(),
        }))
      }
      bft = await this.c.bft.runConsensus(
        {
          epoch,
          slot,
          recipeHash: ctx.recipe.recipeHash,
          contentHash: output.contentHash,
          embedding: output.clipEmbedding,
          signed: { recorded, record },
        },
        signal,
      )
    } catch (err) {
      throw await this.fail(run, this.aborted(signal, err) ? 'ABANDONED' : 'BFT_FAILED', 'bft', err)
    } finally {
      offProposals()
    }
    const delayMs = this.submitDelayMs(ctx, bft)
    const canonicalHash = bytesToHex(bft.canonicalHash)
    const summary = {
      canonicalHash,
      members: bft.members.length,
      similarity: bft.similarity,
      rank: bft.localRank,
      source: bft.source,
    }
    // Journalled with the certificate in one write, so a crash right after certification still owes
    // the chain a call.
    await this.record(run, 'bft', {
      since,
      journal: (e) => ({
        ...e,
        stage: 'certified',
        canonicalHash: bft.canonicalHash,
        certificate: bft.certificate,
        localRank: bft.localRank,
        submission: { ...e.submission, state: 'scheduled', notBeforeMs: this.c.clock.now() + delayMs },
        updatedAtMs: this.c.clock.now(),
      }),
      event: { stage: 'certified', ...summary },
      log: { fields: summary, message: 'certified' },
    })
    return { bft, delayMs }
  }

  /** Who submits, and when: our turn in the submitter order (docs/lane0.md) × submitGraceMs. */
  private submitDelayMs(ctx: SlotContext, bft: BftResult): number {
    const order = submitterOrder(ctx.slot, bft.certificate, ctx.elected)
    const me = bytesToHex(this.c.key.publicKeyProto)
    const position = Math.max(
      0,
      order.findIndex((k) => bytesToHex(k) === me),
    )
    return position * this.c.submitter.submitGraceMs
  }

  /**
   * Publish and submit. The canonical member publishes first and then submits; every other holder's
   * submission turn (k × grace) runs while it waits for its publication turn. A failed publication is
   * raised only after the submission: the certificate is owed to the chain either way.
   */
  private async deliverAndSubmit(
    run: SlotRun,
    output: GenerationOutput,
    certified: Certified,
  ): Promise<{ publish: PublishOutcome; submission: SubmissionResult }> {
    const { ctx, signal } = run
    let submitting = certified.bft.localRank === 0 ? null : this.submit(run, certified)
    // Awaited below; until then a rejection must not count as unhandled.
    submitting?.catch(() => {})
    const delivered = await this.deliver(run, output, certified.bft)
    if (submitting === null) {
      // Stopping: leave the submission to the journal (it is `scheduled`; the next start sends it).
      if (signal?.aborted)
        throw await this.fail(run, 'ABANDONED', 'publish', delivered.error ?? abortReason(signal))
      submitting = this.submit(run, certified)
    }
    let submission: SubmissionResult
    try {
      // The submitter owns the call and its retries (journalled); a stopping director stops waiting.
      submission = await raceAbort(submitting, signal)
    } catch (err) {
      throw await this.fail(run, this.aborted(signal, err) ? 'ABANDONED' : 'SUBMIT_FAILED', 'submit', err)
    }
    if (delivered.publish === null) {
      if (delivered.error instanceof SlotError) throw delivered.error
      const code = this.aborted(signal, delivered.error) ? 'ABANDONED' : 'PUBLISH_FAILED'
      throw await this.fail(run, code, 'publish', delivered.error)
    }
    if (submission.code !== null) {
      const detail = submission.detail ?? submission.state
      const err = new SubmitError(submission.code, `slot ${ctx.slot}: ${detail}`, ctx.slot)
      throw await this.fail(run, 'SUBMIT_FAILED', 'submit', err)
    }
    return { publish: delivered.publish, submission }
  }

  /** Publish the certified video in our rank's turn (docs/protocol.md §6), or stand down. */
  private async deliver(run: SlotRun, output: GenerationOutput, bft: BftResult): Promise<Delivered> {
    const { ctx, signal } = run
    const since = this.c.clock.now()
    try {
      if (bft.localRank >= 0)
        this.emit(ctx, {
          stage: 'publishing',
          role: bft.localRank === 0 ? 'canonical' : 'fallback-candidate',
        })
      const publish = await this.c.publisher.publishCertified(
        { slot: ctx.slot, members: bft.members, video: output.video, contentHash: output.contentHash },
        signal,
      )
      await this.record(run, 'publish', { since, ...publishRecord(publish, this.c.clock.now()) })
      return { publish, error: null }
    } catch (err) {
      return { publish: null, error: err }
    }
  }

  /** Hand the certificate to the submitter, which journals, waits for our turn, calls and retries. */
  private async submit(run: SlotRun, certified: Certified): Promise<SubmissionResult> {
    const { epoch, slot } = run.ctx
    const { bft, delayMs } = certified
    const since = this.c.clock.now()
    const result = await this.c.submitter.submit({
      epoch,
      slot,
      certificate: bft.certificate,
      canonicalHash: bft.canonicalHash,
      delayMs,
    })
    await this.record(run, 'submit', {
      since,
      log: { fields: { state: result.state, delayMs }, message: 'submission' },
    })
    return result
  }

  /**
   * Record a finished stage: its duration, the journal change (a failed write fails the slot with
   * JOURNAL_FAILED at this stage), its progress event, its log line.
   */
  private async record(run: SlotRun, stage: SlotStage, r: StageRecord): Promise<void> {
    if (r.since !== undefined) {
      const s = (this.c.clock.now() - r.since) / 1000
      run.timings[stage] = s
      this.c.metrics?.slotStageSeconds.observe({ stage }, s)
    }
    if (r.journal !== undefined) {
      try {
        await this.c.journal.update(run.ctx.slot, r.journal, r.create)
      } catch (err) {
        throw await this.fail(run, 'JOURNAL_FAILED', stage, err)
      }
    }
    if (r.event !== undefined) this.emit(run.ctx, r.event)
    if (r.log !== undefined) run.log.info({ stage, ...r.log.fields }, r.log.message)
  }

  /** Record a failed slot (journal, `failed` event, log line) and return its SlotError to throw. */
  private async fail(
    run: SlotRun,
    code: SlotErrorCode,
    stage: SlotStage,
    cause: unknown,
  ): Promise<SlotError> {
    const { ctx } = run
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

  private emit(ctx: SlotContext, body: StageEventBody): void {
    this.c.emit({ epoch: ctx.epoch, slot: ctx.slot, atMs: this.c.clock.now(), ...body } as SlotStageEvent)
  }

  private aborted(signal: AbortSignal | undefined, err: unknown): boolean {
    return signal?.aborted === true || (err as { code?: string })?.code === 'ABORTED'
  }
}

/** The journal change, event and log line of a decided publication. */
function publishRecord(publish: PublishOutcome, nowMs: number): StageRecord {
  if (publish.action === 'published') {
    const r = publish.report
    return {
      journal: (e) => ({
        ...e,
        stage: e.stage === 'certified' ? 'published' : e.stage,
        publish: { action: r.role, published: r.published, total: r.total },
        updatedAtMs: nowMs,
      }),
      event: {
        stage: 'chunks-published',
        role: r.role,
        published: r.published,
        total: r.total,
        bytes: r.bytes,
      },
      log: {
        fields: { role: r.role, chunks: r.published, total: r.total, failed: r.failed },
        message: 'published',
      },
    }
  }
  return {
    journal: (e) => ({
      ...e,
      stage: e.stage === 'certified' ? 'published' : e.stage,
      publish: { action: publish.action, published: 0, total: 0 },
      updatedAtMs: nowMs,
    }),
    event: { stage: 'publish-skipped', reason: publish.action },
    log: { fields: { action: publish.action }, message: 'not publishing' },
  }
}
