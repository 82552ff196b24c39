// The director service (docs/protocol.md §8): follows the chain's epochs through
// Standby → OnDeck → Active → Draining → Standby, pre-warms the sidecar On-Deck, and runs the slot
// pipeline for every slot of its epochs. It receives its collaborators (gossip, chain, sidecar, key,
// clock) and builds only plain objects of its own; start()/stop() bracket everything it does.
import type { ChainClient } from '../chain/client.ts'
import type { NodeKey } from '../crypto/index.ts'
import type { Gossip } from '../p2p/index.ts'
import {
  AbortError,
  abortReason,
  type Clock,
  type EpochEvent,
  EpochTracker,
  LaneStateMachine,
  SchedulerError,
  SlotClock,
  sleep,
  systemClock,
  TypedEmitter,
} from '../scheduler/index.ts'
import type { SidecarTaskRunner } from '../sidecar/types.ts'
import type { LaneMode, RecipeBounds } from '../types/index.ts'
import { BftParticipant } from './bft.ts'
import { type Lane0Config, resolveLane0Config, resolveQuorum } from './constants.ts'
import {
  DIRECTOR_STATE_KINDS,
  type DirectorInput,
  type DirectorState,
  DirectorStateMachine,
  describeState,
} from './director-state.ts'
import { DirectorStateError, SlotError } from './errors.ts'
import type { Lane0Events, SlotStageEvent } from './events.ts'
import { reportEvidenceToChain } from './evidence.ts'
import { SlotJournal } from './journal.ts'
import { type Logger, silentLogger } from './log.ts'
import type { Lane0Metrics } from './metrics.ts'
import { SlotPipeline } from './pipeline.ts'
import { ChunkPublisher } from './publisher.ts'
import { type QueuedRecipe, RecipeProcessor } from './recipes.ts'
import { ResultSubmitter } from './submitter.ts'
import { VortexClient } from './vortex.ts'

export interface DirectorComponents {
  /** The node key: libp2p identity, signs BFT messages, chunks and chain calls. */
  key: NodeKey
  gossip: Gossip
  chain: ChainClient
  sidecar: SidecarTaskRunner
  /** @default systemClock */
  clock?: Clock
  /** @default silent */
  logger?: Logger
  /** From createLane0Metrics(register); null/absent: no metrics. */
  metrics?: Lane0Metrics | null
}

export interface DirectorInit {
  /** Folder of the slot journal (created if missing). */
  journalDir: string
  /** Overrides of LANE0_DEFAULTS (validated). `quorum` defaults to the chain's. */
  config?: Partial<Lane0Config>
  /** network_id; @default the chain's genesis hash */
  networkId?: Uint8Array
  /** Recipe validation bounds. @default DEFAULT_RECIPE_BOUNDS */
  recipeBounds?: RecipeBounds
  /** fsync journal writes. @default true */
  journalFsync?: boolean
  /**
   * Install the recipe processor's validator on the recipes topic (decode, validate, authenticate
   * against the epoch's directors). Turn off when the p2p layer's own recipes validator should stay.
   * @default true
   */
  installRecipeValidator?: boolean
  /** Extra vortex-lane0 input fields (e.g. `{ embedding_noise: {sigma, seed} }` on a test devnet). */
  vortexParameters?: Readonly<Record<string, unknown>>
  /** The sidecar work folder, the only place plugin files are read from (VortexClientInit.outputDir). */
  vortexOutputDir?: string | null
}

/** A slot's last known outcome, for /api/status. */
export interface SlotSummary {
  epoch: bigint
  slot: bigint
  stage: SlotStageEvent['stage']
  canonicalHash: string | null
  similarity: number | null
  failed: { stage: string; code: string; causeCode: string | null } | null
  updatedAtMs: number
}

export interface DirectorStatus {
  state: DirectorState
  stateText: string
  lane: LaneMode
  epoch: bigint | null
  slot: bigint | null
  block: bigint | null
  inflightSlots: bigint[]
  pendingRecipes: bigint[]
  recentSlots: SlotSummary[]
}

type LoopInput =
  | { type: 'epoch'; ev: EpochEvent }
  | { type: 'slot-done'; epoch: bigint; slot: bigint }
  | { type: 'shutdown' }

interface SlotTask {
  epoch: bigint
  slot: bigint
  ctrl: AbortController
  /** Aborted when the slot ends without a recipe (a later slot started). */
  recipeWait: AbortController
  /** The slot has its recipe and is in the pipeline. */
  started: boolean
  done: Promise<void>
}

const RECENT_SLOTS = 16

/** A tiny async queue: the director's run loop consumes one input at a time, in arrival order. */
class InputQueue<T> {
  private items: T[] = []
  private waiter: ((v: T) => void) | null = null
  push(v: T): void {
    if (this.waiter !== null) {
      const w = this.waiter
      this.waiter = null
      w(v)
    } else this.items.push(v)
  }
  next(): Promise<T> {
    const v = this.items.shift()
    if (v !== undefined) return Promise.resolve(v)
    return new Promise((r) => {
      this.waiter = r
    })
  }
}

export class DirectorService {
  readonly events = new TypedEmitter<Lane0Events>()
  readonly config: Lane0Config
  private readonly key: NodeKey
  private readonly gossip: Gossip
  private readonly chain: ChainClient
  private readonly clock: Clock
  private readonly log: Logger
  private readonly metrics: Lane0Metrics | null
  private machine = new DirectorStateMachine()
  private lane = new LaneStateMachine()
  readonly journal: SlotJournal
  readonly vortex: VortexClient
  private epochTracker: EpochTracker
  private parts: {
    bft: BftParticipant
    recipes: RecipeProcessor
    publisher: ChunkPublisher
    submitter: ResultSubmitter
    pipeline: SlotPipeline
    slotClock: SlotClock
  } | null = null
  private readonly inputs = new InputQueue<LoopInput>()
  private readonly tasks = new Map<bigint, SlotTask>()
  private readonly recent = new Map<bigint, SlotSummary>()
  private lastStartedSlot: bigint | null = null
  private loop: Promise<void> | null = null
  private root = new AbortController()
  private stopping = false
  private unsubs: (() => void)[] = []

  constructor(
    components: DirectorComponents,
    private readonly init: DirectorInit,
  ) {
    this.key = components.key
    this.gossip = components.gossip
    this.chain = components.chain
    this.clock = components.clock ?? systemClock
    this.log = (components.logger ?? silentLogger).child({ module: 'lane0.director' })
    this.metrics = components.metrics ?? null
    this.config = resolveLane0Config(init.config)
    this.journal = new SlotJournal(init.journalDir, { fsync: init.journalFsync ?? true })
    this.vortex = new VortexClient(
      { sidecar: components.sidecar, clock: this.clock, logger: components.logger, metrics: this.metrics },
      {
        pluginName: this.config.vortexPlugin,
        lane: this.config.vortexLane,
        timeoutMs: this.config.vortexTimeoutMs,
        retries: this.config.vortexRetries,
        maxVideoBytes: this.config.maxVideoBytes,
        embeddingNormTolerance: this.config.embeddingNormTolerance,
        extraParameters: init.vortexParameters,
        outputDir: init.vortexOutputDir ?? null,
      },
    )
    this.epochTracker = this.newTracker()
    this.events.onListenerError = (err, event) => this.log.warn({ err, event }, 'lane0 event listener threw')
  }

  private newTracker(): EpochTracker {
    return new EpochTracker(
      { chain: this.chain },
      { self: this.key.publicKeyProto, onDeckLeadMs: this.config.onDeckLeadMs },
    )
  }

  /** The epoch tracker this director follows (elected sets, current slot) — for status and relays. */
  get tracker(): EpochTracker {
    return this.epochTracker
  }

  get state(): DirectorState {
    return this.machine.state
  }

  get laneMode(): LaneMode {
    return this.lane.mode
  }

  private get p() {
    if (this.parts === null) throw new SchedulerError('NOT_STARTED', 'DirectorService: call start() first')
    return this.parts
  }

  get bft(): BftParticipant {
    return this.p.bft
  }

  get recipes(): RecipeProcessor {
    return this.p.recipes
  }

  get publisher(): ChunkPublisher {
    return this.p.publisher
  }

  get submitter(): ResultSubmitter {
    return this.p.submitter
  }

  /**
   * The elected directors of the epoch containing `slot`, or null when not known (yet): the
   * `ElectedForSlot` source of src/p2p's RelayVideoPolicy. Valid once start() has resolved.
   */
  electedForSlot(slot: bigint): readonly Uint8Array[] | null {
    if (this.parts === null) return null
    return this.epochTracker.directors(this.parts.slotClock.epochOfSlot(slot)) ?? null
  }

  /**
   * Open the journal (resuming owed submissions), install the BFT/challenge/recipe validators, follow
   * the chain. `signal` aborting is the same as stop({ finishSlot: false }).
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.loop !== null) return
    this.stopping = false
    this.root = new AbortController()
    // A restarted instance begins from Standby, as a new process would (the journal carries the rest).
    this.machine = new DirectorStateMachine()
    this.lane = new LaneStateMachine()
    this.epochTracker = this.newTracker()
    this.lastStartedSlot = null
    try {
      await this.startParts(signal)
    } catch (err) {
      if (this.loop !== null) await this.stop({ finishSlot: false }).catch(() => {})
      throw err
    }
  }

  private async startParts(signal?: AbortSignal): Promise<void> {
    const info = await this.chain.info()
    const slotClock = SlotClock.fromChainInfo(info)
    const networkId = this.init.networkId ?? info.genesisHash
    // docs/protocol.md §7: one quorum, the chain's; a configured one that differs refuses to start.
    const quorum = resolveQuorum(this.init.config?.quorum ?? this.config.quorum, info.quorum)
    const common = { clock: this.clock, logger: this.log, metrics: this.metrics }
    const bft = new BftParticipant(
      { gossip: this.gossip, key: this.key, ...common },
      {
        networkId,
        slotClock,
        quorum,
        similarityThreshold: this.config.similarityThreshold,
        bftTimeoutMs: this.config.bftTimeoutMs,
        commitTimeoutMs: this.config.commitTimeoutMs,
        embeddingNormTolerance: this.config.embeddingNormTolerance,
        bftLateSlots: this.config.bftLateSlots,
        bftMaxRounds: this.config.bftMaxRounds,
      },
    )
    reportEvidenceToChain(bft.events, this.chain, this.log) // docs/protocol.md §5: evidence goes to the chain
    const recipes = new RecipeProcessor(
      { gossip: this.gossip, ...common },
      {
        slotClock,
        bounds: this.init.recipeBounds,
        queueMax: this.config.recipeQueueMax,
        maxSlotsAhead: this.config.recipeMaxSlotsAhead,
        authors: this.config.recipeAuthors,
        epochDirectorsAreAuthors: this.config.epochDirectorsAreAuthors,
        installValidator: this.init.installRecipeValidator ?? true,
      },
    )
    const publisher = new ChunkPublisher(
      { gossip: this.gossip, key: this.key, ...common },
      {
        chunkSize: this.config.chunkSize,
        publishGraceMs: this.config.publishGraceMs,
        maxVideoBytes: this.config.maxVideoBytes,
      },
    )
    await this.journal.open()
    const submitter = new ResultSubmitter(
      { chain: this.chain, key: this.key, journal: this.journal, ...common },
      {
        submitGraceMs: this.config.submitGraceMs,
        retryBaseMs: this.config.submitRetryBaseMs,
        retryMaxMs: this.config.submitRetryMaxMs,
      },
    )
    const pipeline = new SlotPipeline({
      key: this.key,
      vortex: this.vortex,
      bft,
      publisher,
      submitter,
      journal: this.journal,
      ...common,
      emit: (ev) => this.emitSlot(ev),
    })
    this.parts = { bft, recipes, publisher, submitter, pipeline, slotClock }
    await this.recoverJournal()

    this.unsubs.push(
      submitter.events.on('submission', (s) =>
        this.emitSlot({
          epoch: s.epoch,
          slot: s.slot,
          atMs: this.clock.now(),
          stage: 'submission',
          state: s.state,
          attempts: s.attempts,
          block: s.block,
          detail: s.detail,
        }),
      ),
      submitter.events.on('finalized', (f) =>
        this.emitSlot({
          epoch: f.epoch,
          slot: f.slot,
          atMs: this.clock.now(),
          stage: 'finalized',
          block: f.block,
        }),
      ),
      this.lane.events.on('change', (c) => {
        this.log.info({ from: c.from.kind, to: c.to.kind, cause: c.cause }, 'lane change')
        this.events.emit('lane', c)
      }),
      this.tracker.events.on('epoch', (ev) => this.inputs.push({ type: 'epoch', ev })),
      this.tracker.events.on('chain', (ev) => {
        if (ev.type === 'BftResultSubmitted' || ev.type === 'BftResultFinalized') submitter.onChainEvent(ev)
      }),
    )
    bft.start()
    recipes.start()
    publisher.start()
    submitter.resume()
    this.setStateGauge()
    this.loop = this.run()
    if (signal !== undefined) {
      const onAbort = () => void this.stop({ finishSlot: false })
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    }
    await this.tracker.start()
    this.log.info(
      { self: this.key.peerId.toString(), quorum, journal: this.init.journalDir },
      'director started',
    )
  }

  /** Slots that never reached a certificate cannot be resumed after a restart: mark them abandoned. */
  private async recoverJournal(): Promise<void> {
    for (const e of this.journal.list()) {
      if (e.certificate !== null || e.stage === 'failed' || e.stage === 'abandoned') continue
      await this.journal.update(e.slot, (x) => ({
        ...x,
        stage: 'abandoned',
        error: { stage: x.stage, code: 'ABANDONED', message: 'process restarted before a certificate' },
        updatedAtMs: this.clock.now(),
      }))
    }
    if (this.journal.corrupt.length > 0) {
      this.log.error({ files: this.journal.corrupt }, 'corrupt journal files set aside')
    }
  }

  /**
   * Stop: no new slots; with `finishSlot` (default) wait up to `timeoutMs` (default shutdownGraceMs)
   * for slots in flight, then abandon what remains (certified slots stay owed to the chain in the
   * journal and are submitted after the next start).
   */
  async stop(opts: { finishSlot?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.loop === null || this.stopping) return this.loop ?? undefined
    this.stopping = true
    const finish = opts.finishSlot ?? true
    // A slot still waiting for its recipe has nothing to finish.
    for (const t of this.tasks.values()) if (!t.started) t.ctrl.abort(new AbortError('director stopping'))
    const pending = [...this.tasks.values()].map((t) => t.done)
    if (finish && pending.length > 0) {
      const grace = new AbortController()
      await Promise.race([
        Promise.allSettled(pending),
        sleep(this.clock, opts.timeoutMs ?? this.config.shutdownGraceMs, grace.signal).catch(() => {}),
      ])
      grace.abort()
    }
    this.root.abort(new AbortError('director stopping'))
    await Promise.allSettled([...this.tasks.values()].map((t) => t.done))
    this.tracker.stop()
    for (const u of this.unsubs) u()
    this.unsubs = []
    if (this.parts !== null) {
      this.parts.submitter.stop()
      this.parts.bft.stop()
      this.parts.recipes.stop()
      this.parts.publisher.stop()
    }
    this.inputs.push({ type: 'shutdown' })
    await this.loop
    await this.journal.flush()
    this.loop = null
    this.log.info({}, 'director stopped')
  }

  status(): DirectorStatus {
    const s = this.machine.state
    return {
      state: s,
      stateText: describeState(s),
      lane: this.lane.mode,
      epoch: s.kind === 'Standby' ? null : s.epoch,
      slot: this.tracker.currentSlot,
      block: this.tracker.currentBlock,
      inflightSlots: [...this.tasks.keys()],
      pendingRecipes: this.parts?.recipes.pendingSlots() ?? [],
      recentSlots: [...this.recent.values()],
    }
  }

  private emitSlot(ev: SlotStageEvent): void {
    const prev = this.recent.get(ev.slot)
    const summary: SlotSummary = prev ?? {
      epoch: ev.epoch,
      slot: ev.slot,
      stage: ev.stage,
      canonicalHash: null,
      similarity: null,
      failed: null,
      updatedAtMs: ev.atMs,
    }
    summary.stage = ev.stage
    summary.updatedAtMs = ev.atMs
    if (ev.stage === 'certified') {
      summary.canonicalHash = ev.canonicalHash
      summary.similarity = ev.similarity
    }
    if (ev.stage === 'failed')
      summary.failed = { stage: ev.failedStage, code: ev.code, causeCode: ev.causeCode }
    this.recent.set(ev.slot, summary)
    if (this.recent.size > RECENT_SLOTS) this.recent.delete(this.recent.keys().next().value!)
    this.events.emit('slot', ev)
  }

  private setStateGauge(): void {
    const kind = this.machine.state.kind
    for (const k of DIRECTOR_STATE_KINDS) this.metrics?.directorState.set({ state: k }, k === kind ? 1 : 0)
  }

  /** Apply a state input; an invalid one is reported and leaves the state unchanged. */
  private transition(input: DirectorInput): boolean {
    try {
      const { from, to } = this.machine.apply(input)
      this.log.info({ from: describeState(from), to: describeState(to), input: input.type }, 'director state')
      this.setStateGauge()
      this.events.emit('state', { from, to })
      return true
    } catch (err) {
      if (!(err instanceof DirectorStateError)) throw err
      this.log.warn({ from: err.from, input: err.input }, 'invalid director transition ignored')
      this.events.emit('error', { where: 'director', code: err.code, message: err.message })
      return false
    }
  }

  /** The run loop: epoch events, finished slots and shutdown, one at a time. */
  private async run(): Promise<void> {
    for (;;) {
      const input = await this.inputs.next()
      if (input.type === 'shutdown') return
      try {
        if (input.type === 'epoch') this.onEpochEvent(input.ev)
        else this.onSlotDone(input.epoch, input.slot)
      } catch (err) {
        this.log.error({ err }, 'director loop input failed')
        this.events.emit('error', { where: 'loop', code: 'INTERNAL', message: (err as Error).message })
      }
    }
  }

  private onEpochEvent(ev: EpochEvent): void {
    const { bft, recipes } = this.p
    try {
      this.lane.apply(ev)
    } catch (err) {
      if (!(err instanceof SchedulerError)) throw err
      this.events.emit('error', { where: 'lane', code: err.code, message: err.message })
    }
    switch (ev.type) {
      case 'DirectorElected':
        bft.setElected(ev.epoch, ev.directors)
        recipes.setElected(ev.epoch, ev.directors)
        break
      case 'OnDeck':
        bft.setElected(ev.epoch, ev.directors)
        recipes.setElected(ev.epoch, ev.directors)
        if (this.transition({ type: 'OnDeck', epoch: ev.epoch })) void this.prewarm(ev.epoch)
        break
      case 'EpochStarted': {
        bft.setElected(ev.epoch, ev.directors)
        recipes.setElected(ev.epoch, ev.directors)
        if (!ev.elected) break
        if (this.transition({ type: 'EpochStarted', epoch: ev.epoch })) {
          // The epoch's first slot may have been announced before the epoch itself (same block).
          const slot = this.tracker.currentSlot
          if (slot !== null && this.p.slotClock.epochOfSlot(slot) === ev.epoch) this.onSlot(ev.epoch, slot)
        }
        break
      }
      case 'EpochEnded': {
        if (!ev.elected) break
        const s = this.machine.state
        // Already serving a later epoch (the chain started N+1 before reporting N complete).
        if ((s.kind === 'Active' || s.kind === 'Draining' || s.kind === 'OnDeck') && s.epoch > ev.epoch) break
        if (this.transition({ type: 'EpochEnded', epoch: ev.epoch })) this.checkDrained()
        break
      }
      case 'SlotStarted': {
        bft.setCurrentSlot(ev.slot)
        recipes.setCurrentSlot(ev.slot)
        // A slot without a recipe by now will not get one: stop waiting for older slots' recipes.
        for (const t of this.tasks.values()) if (t.slot < ev.slot) t.recipeWait.abort('slot ended')
        const s = this.machine.state
        if (s.kind === 'Active' && ev.epoch === s.epoch) this.onSlot(ev.epoch, ev.slot)
        if (ev.slot % 16n === 0n) void this.pruneJournal(ev.slot)
        break
      }
    }
  }

  private async pruneJournal(slot: bigint): Promise<void> {
    const keep = BigInt(this.config.journalRetainSlots)
    if (slot <= keep) return
    try {
      await this.journal.prune(slot - keep)
    } catch (err) {
      this.log.warn({ err }, 'journal prune failed')
    }
  }

  private async prewarm(epoch: bigint): Promise<void> {
    const r = await this.vortex.prewarm()
    const reason = r.ok ? null : r.reason
    if (r.ok) this.log.info({ epoch }, 'pre-warm ok')
    else this.log.error({ epoch, reason }, 'pre-warm failed: the sidecar is not ready for the epoch')
    this.events.emit('prewarm', { epoch, ok: r.ok, reason })
  }

  /** A slot this director will not work on (failed before generation), counted and logged once. */
  private skipSlot(
    epoch: bigint,
    slot: bigint,
    code: 'ABANDONED' | 'NO_RECIPE',
    causeCode: string | null,
    reason: string,
  ): void {
    this.metrics?.slots.inc({ result: 'skipped' })
    this.emitSlot({
      epoch,
      slot,
      atMs: this.clock.now(),
      stage: 'failed',
      failedStage: 'recipe',
      code,
      causeCode,
      reason,
    })
    this.log.info({ epoch, slot, stage: 'recipe', code, causeCode }, `slot skipped: ${reason}`)
  }

  private onSlot(epoch: bigint, slot: bigint): void {
    if (this.stopping) return
    if (this.lastStartedSlot !== null && slot <= this.lastStartedSlot) return
    if (!this.transition({ type: 'SlotStarted', epoch, slot })) return
    this.lastStartedSlot = slot
    if (this.tasks.size >= this.config.maxInflightSlots) {
      this.skipSlot(
        epoch,
        slot,
        'ABANDONED',
        'TOO_MANY_IN_FLIGHT',
        `${this.tasks.size} slots still in flight`,
      )
      return
    }
    const ctrl = new AbortController()
    const onRoot = () => ctrl.abort(abortReason(this.root.signal))
    this.root.signal.addEventListener('abort', onRoot, { once: true })
    const recipeWait = new AbortController()
    const task: SlotTask = { epoch, slot, ctrl, recipeWait, started: false, done: Promise.resolve() }
    task.done = this.runSlot(task).finally(() => {
      this.root.signal.removeEventListener('abort', onRoot)
      this.tasks.delete(slot)
      this.inputs.push({ type: 'slot-done', epoch, slot })
    })
    this.tasks.set(slot, task)
  }

  private async runSlot(task: SlotTask): Promise<void> {
    const { epoch, slot, ctrl } = task
    const { recipes, pipeline } = this.p
    let recipe: QueuedRecipe | null = null
    try {
      if (this.config.recipeCutoffMs > 0) await sleep(this.clock, this.config.recipeCutoffMs, ctrl.signal)
      recipe = recipes.take(slot)
      if (recipe === null) {
        this.emitSlot({ epoch, slot, atMs: this.clock.now(), stage: 'waiting-recipe' })
        const both = AbortSignal.any([ctrl.signal, task.recipeWait.signal])
        recipe = await recipes.waitFor(slot, both)
      }
    } catch {
      const abandoned = ctrl.signal.aborted
      this.skipSlot(
        epoch,
        slot,
        abandoned ? 'ABANDONED' : 'NO_RECIPE',
        null,
        abandoned ? 'director stopping' : 'no recipe before the slot ended',
      )
      return
    }
    // A slot whose successor has started is over for BFT: generating it now (after a pause, or a
    // backlog of chain events) would only queue the current slot's generation behind it.
    if (this.lastStartedSlot !== null && this.lastStartedSlot > slot) {
      this.skipSlot(epoch, slot, 'ABANDONED', 'SUPERSEDED', `slot ${this.lastStartedSlot} has started`)
      return
    }
    task.started = true
    const elected = this.tracker.directors(epoch) ?? []
    try {
      await pipeline.process({ epoch, slot, recipe, elected }, ctrl.signal)
      this.metrics?.slots.inc({ result: 'success' })
    } catch (err) {
      this.metrics?.slots.inc({ result: 'failed' })
      if (!(err instanceof SlotError)) {
        this.log.error({ err, epoch, slot }, 'slot pipeline failed unexpectedly')
        this.events.emit('error', { where: 'pipeline', code: 'INTERNAL', message: (err as Error).message })
      }
    }
  }

  private onSlotDone(epoch: bigint, _slot: bigint): void {
    const s = this.machine.state
    if (s.kind === 'Draining' && s.epoch === epoch) this.checkDrained()
  }

  private checkDrained(): void {
    const s = this.machine.state
    if (s.kind !== 'Draining') return
    for (const t of this.tasks.values()) if (t.epoch === s.epoch) return
    this.transition({ type: 'Drained', epoch: s.epoch })
  }
}
