// The BFT participant (docs/protocol.md §5), the round driver: it takes in gossip through the pure
// validators of bft-validate.ts (applying what they accept to the round store of bft-rounds.ts, in
// the same synchronous call, so nothing is validated twice), and runs this director's round —
// signed proposal, collection of all n until the timeout, the decision of agreement.ts, signed
// commit, certificate (formed here or received) — to a BftResult or a BftError saying what was missing.
import { compareBytes, embeddingHash, type NodeKey } from '../crypto/index.ts'
import {
  type Gossip,
  GossipAction,
  type GossipErrorCode,
  GossipValidationError,
  type TopicName,
  type ValidationResult,
} from '../p2p/index.ts'
import { type Clock, type SlotClock, systemClock, TypedEmitter } from '../scheduler/index.ts'
import {
  type BftSignal,
  bytesToHex,
  type Certificate,
  type CertificateMember,
  type ChallengeEvidence,
  type Commit,
  type CommitEquivocationEvidence,
  type EquivocationEvidence,
  encodeBftSignal,
  encodeEquivocationEvidence,
  equalBytes,
  type Proposal,
} from '../types/index.ts'
import { decideRound, meanPairwiseCosine } from './agreement.ts'
import {
  describeFailure,
  failureDetails,
  heard,
  notify,
  type Round,
  RoundStore,
  waitForRound,
} from './bft-rounds.ts'
import { ownCommit, ownProposal, type SigningDeps } from './bft-signed.ts'
import {
  type BftValidationDeps,
  checkSlotAndSigner,
  decodeBft,
  decodeEvidence,
  ignoreBft,
  validateCertificate,
  validateCommit,
  validateEvidence,
  validateProposal,
} from './bft-validate.ts'
import { LANE0_DEFAULTS, REFERENCE_QUORUM } from './constants.ts'
import { BftError } from './errors.ts'
import {
  type CommitEvidenceHost,
  isCommitEvidence,
  onCommitEvidence,
  recordCommitEquivocation,
} from './evidence.ts'
import { type Logger, silentLogger } from './log.ts'
import type { Lane0Metrics } from './metrics.ts'

/** What the local director brings to a round. */
export interface BftInput {
  epoch: bigint
  slot: bigint
  /** BLAKE3(SCALE(recipe)). */
  recipeHash: Uint8Array
  /** BLAKE3(video bytes). */
  contentHash: Uint8Array
  embedding: Float32Array
  /**
   * The slot journal's record of what this director signed (docs/protocol.md §5 step 5): `recorded`
   * holds messages signed before a restart, re-sent exactly instead of signing new ones; `record`
   * must make a newly signed message durable before it is published.
   */
  signed?: {
    recorded: { proposal: Uint8Array | null; commit: Uint8Array | null }
    record: (kind: 'proposal' | 'commit', bytes: Uint8Array) => Promise<void>
  }
}

/** docs/protocol.md §5 step 6. Failures are thrown as BftError, so `success` is true on every result. */
export interface BftResult {
  epoch: bigint
  slot: bigint
  recipeHash: Uint8Array
  canonicalHash: Uint8Array
  /** Members of the agreeing set in rank order (protobuf keys); the first is the canonical one. */
  signers: Uint8Array[]
  members: CertificateMember[]
  success: boolean
  /** Mean pairwise cosine of the agreeing set (null when we lack the members' embeddings). */
  similarity: number | null
  certificate: Certificate
  /** This director's position in `signers`, or -1 when its output is not in the agreeing set. */
  localRank: number
  /** Certificate built from commits received here, or adopted from the network. */
  source: 'local' | 'network'
  /** Distinct elected proposers heard when the round decided. */
  proposalsReceived: number
}

export interface BftEvents {
  proposals: { epoch: bigint; slot: bigint; received: number; expected: number }
  certificate: {
    slot: bigint
    certificate: Certificate
    canonicalHash: Uint8Array
    source: 'local' | 'network'
  }
  equivocation: { epoch: bigint; slot: bigint; signer: string; evidence: EquivocationEvidence }
  commitEquivocation: { epoch: bigint; slot: bigint; signer: string; evidence: CommitEquivocationEvidence }
  /** A message refused by validation (for logs/observers; bounded codes only). */
  refused: { topic: TopicName; action: 'reject' | 'ignore'; code: string }
}

export type { BftIgnoreCode, BftRejectCode } from './bft-validate.ts'

export interface BftParticipantComponents {
  gossip: Gossip
  key: NodeKey
  clock?: Clock
  logger?: Logger
  metrics?: Lane0Metrics | null
}

export interface BftParticipantInit {
  /** network_id (docs/protocol.md §1): the chain's genesis hash. */
  networkId: Uint8Array
  slotClock: SlotClock
  /** The chain's quorum (docs/protocol.md §7). @default REFERENCE_QUORUM */
  quorum?: number
  /** @default LANE0_DEFAULTS.similarityThreshold */
  similarityThreshold?: number
  /** @default LANE0_DEFAULTS.bftTimeoutMs */
  bftTimeoutMs?: number
  /** @default LANE0_DEFAULTS.commitTimeoutMs */
  commitTimeoutMs?: number
  /** @default LANE0_DEFAULTS.embeddingNormTolerance */
  embeddingNormTolerance?: number
  /** @default LANE0_DEFAULTS.bftLateSlots */
  bftLateSlots?: number
  /** @default LANE0_DEFAULTS.bftMaxRounds */
  bftMaxRounds?: number
}

export class BftParticipant {
  readonly events = new TypedEmitter<BftEvents>()
  private readonly gossip: Gossip
  private readonly key: NodeKey
  private readonly clock: Clock
  private readonly log: Logger
  private readonly metrics: Lane0Metrics | null
  private readonly networkId: Uint8Array
  private readonly slotClock: SlotClock
  readonly quorum: number
  private readonly threshold: number
  private readonly bftTimeoutMs: number
  private readonly commitTimeoutMs: number
  private readonly rules: BftValidationDeps
  private readonly store: RoundStore
  private readonly selfHex: string
  private readonly signing: SigningDeps
  private unsubscribers: (() => void)[] = []

  constructor(components: BftParticipantComponents, init: BftParticipantInit) {
    this.gossip = components.gossip
    this.key = components.key
    this.clock = components.clock ?? systemClock
    this.log = (components.logger ?? silentLogger).child({ module: 'lane0.bft' })
    this.metrics = components.metrics ?? null
    this.networkId = init.networkId
    this.slotClock = init.slotClock
    this.quorum = init.quorum ?? REFERENCE_QUORUM
    this.threshold = init.similarityThreshold ?? LANE0_DEFAULTS.similarityThreshold
    this.bftTimeoutMs = init.bftTimeoutMs ?? LANE0_DEFAULTS.bftTimeoutMs
    this.commitTimeoutMs = init.commitTimeoutMs ?? LANE0_DEFAULTS.commitTimeoutMs
    this.rules = {
      networkId: this.networkId,
      slotClock: this.slotClock,
      quorum: this.quorum,
      tolerance: init.embeddingNormTolerance ?? LANE0_DEFAULTS.embeddingNormTolerance,
    }
    this.store = new RoundStore(
      init.bftMaxRounds ?? LANE0_DEFAULTS.bftMaxRounds,
      BigInt(init.bftLateSlots ?? LANE0_DEFAULTS.bftLateSlots),
    )
    this.selfHex = bytesToHex(this.key.publicKeyProto)
    this.signing = { key: this.key, networkId: this.networkId, log: this.log }
  }

  /** Install the bft and challenges validators and join both topics. */
  start(): void {
    if (this.unsubscribers.length > 0) return
    this.gossip.setValidator('bft', (data) => this.validateBft(data))
    this.gossip.setValidator('challenges', (data) => this.validateChallenge(data))
    // The validators take each message in; subscribing joins the topics' meshes.
    this.unsubscribers.push(
      this.gossip.subscribe('bft', () => {}),
      this.gossip.subscribe('challenges', () => {}),
    )
  }

  stop(): void {
    for (const u of this.unsubscribers) u()
    this.unsubscribers = []
  }

  /** Tell the participant who is elected for `epoch` (protobuf keys). Keeps the newest few epochs. */
  setElected(epoch: bigint, directors: readonly Uint8Array[]): void {
    this.store.setElected(epoch, directors)
  }

  /** Move the slot window (docs/protocol.md §5 step 2: current or next slot) and drop old rounds. */
  setCurrentSlot(slot: bigint): void {
    this.store.setCurrentSlot(slot)
  }

  /** The certificate held for `slot`, if any. */
  certificate(slot: bigint): Certificate | null {
    return this.store.get(slot)?.certificate ?? null
  }

  /**
   * The gossip validator of /nsn/bft/1.0.0: validates and takes in one message, or throws the
   * GossipValidationError src/p2p's adapter maps to reject/ignore.
   */
  validateBft(data: Uint8Array): BftSignal {
    let kind = 'unknown'
    try {
      const signal = decodeBft(data)
      kind = signal.kind
      if (signal.kind === 'Proposal') this.takeProposal(signal.value)
      else if (signal.kind === 'Commit') this.takeCommit(signal.value)
      else this.takeCertificate(signal.value)
      this.countMessage(kind, 'accept')
      return signal
    } catch (err) {
      this.refused('bft', kind, err)
      throw err
    }
  }

  /** The gossip validator of /nsn/challenges/1.0.0 (proposal or commit equivocation evidence). */
  validateChallenge(data: Uint8Array): ChallengeEvidence {
    try {
      if (isCommitEvidence(data)) return onCommitEvidence(this.evidenceHost, data)
      const ev = decodeEvidence(data)
      validateEvidence(this.rules, this.store, ev)
      this.recordEquivocation(
        this.openRound(ev.first.slot, ev.first.epoch),
        bytesToHex(ev.first.signer),
        ev,
        false,
      )
      return { kind: 'Proposal', value: ev }
    } catch (err) {
      this.refused('challenges', 'challenge', err)
      throw err
    }
  }

  private refused(topic: 'bft' | 'challenges', kind: string, err: unknown): void {
    if (!(err instanceof GossipValidationError)) {
      this.log.error({ err, topic }, 'bft message handler failed')
      return
    }
    this.countMessage(kind, err.action)
    this.events.emit('refused', { topic, action: err.action, code: err.code })
    if (err.action === 'reject') this.log.debug({ topic, code: err.code }, 'bft message rejected')
  }

  private countMessage(kind: string, result: ValidationResult): void {
    if (kind === 'Proposal') this.metrics?.bftProposals.inc({ result })
    else if (kind === 'Commit') this.metrics?.bftCommits.inc({ result })
  }

  /** The round of `slot`, opened if needed (evicting the oldest idle one). */
  private openRound(slot: bigint, epoch: bigint): Round {
    const r = this.store.open(slot, epoch)
    if (r === undefined)
      throw ignoreBft('TOO_MANY_ROUNDS', `slot: ${this.store.maxRounds} rounds already buffered`)
    return r
  }

  private takeProposal(p: Proposal): void {
    const verdict = validateProposal(this.rules, this.store, p)
    const r = this.openRound(p.slot, p.epoch)
    const signer = bytesToHex(p.signer)
    if (verdict.kind === 'equivocation') {
      this.recordEquivocation(r, signer, verdict.evidence, true)
      throw ignoreBft('EQUIVOCATION', 'proposal: second different proposal from this signer')
    }
    r.proposals.set(signer, p)
    this.emitProposals(r)
    notify(r)
  }

  private emitProposals(r: Round): void {
    const expected = this.store.electedOf(r.epoch)?.size ?? 0
    this.events.emit('proposals', { epoch: r.epoch, slot: r.slot, received: heard(r), expected })
  }

  private recordEquivocation(
    r: Round,
    signer: string,
    evidence: EquivocationEvidence,
    publish: boolean,
  ): void {
    if (r.equivocators.has(signer)) return
    r.equivocators.add(signer)
    r.proposals.delete(signer) // §5 step 2: the signer counts for nobody in this slot
    r.evidence.set(signer, evidence)
    this.metrics?.equivocations.inc()
    this.log.warn({ epoch: r.epoch, slot: r.slot, signer }, 'director equivocated: evidence kept')
    this.events.emit('equivocation', { epoch: r.epoch, slot: r.slot, signer, evidence })
    if (publish) void this.publish('challenges', encodeEquivocationEvidence(evidence))
    notify(r)
  }

  /** What src/lane0/evidence.ts needs of this participant for commit evidence. */
  private get evidenceHost(): CommitEvidenceHost {
    return {
      networkId: this.networkId,
      log: this.log,
      refuse: (action, code, message) =>
        new GossipValidationError(
          action === 'reject' ? GossipAction.REJECT : GossipAction.IGNORE,
          code as GossipErrorCode,
          message,
        ),
      checkSlotAndSigner: (epoch, slot, signer) =>
        checkSlotAndSigner(this.rules, this.store, epoch, slot, signer),
      round: (slot, epoch) => this.openRound(slot, epoch),
      emit: (e) => {
        this.metrics?.equivocations.inc()
        this.events.emit('commitEquivocation', e)
      },
      publish: (data) => void this.publish('challenges', data),
    }
  }

  private takeCommit(c: Commit): void {
    const verdict = validateCommit(this.rules, this.store, c)
    const r = this.openRound(c.slot, c.epoch)
    const signer = bytesToHex(c.signer)
    if (verdict.kind === 'conflicting') {
      this.onCommitEquivocation(r, verdict.first, c)
      throw ignoreBft('CONFLICTING_COMMIT', 'commit: a different commit from this signer exists')
    }
    r.commits.set(signer, c)
    this.tryFormCertificate(r)
    notify(r)
  }

  /**
   * The one place a commit equivocation is detected: `signer` signed commits for two different
   * results in this slot. Neither counts (a certificate needs honest votes), nor does any later one.
   */
  private onCommitEquivocation(r: Round, first: Commit, second: Commit): void {
    recordCommitEquivocation(this.evidenceHost, r, { first, second }, true)
  }

  private takeCertificate(cert: Certificate): void {
    const hash = validateCertificate(this.rules, this.store, cert)
    this.setCertificate(this.openRound(cert.slot, cert.epoch), cert, hash, 'network')
  }

  private setCertificate(r: Round, cert: Certificate, hash: Uint8Array, source: 'local' | 'network'): void {
    r.certificate = cert
    r.certificateHash = hash
    r.certificateSource = source
    this.log.info(
      { epoch: r.epoch, slot: r.slot, source, members: cert.members.length, commits: cert.commits.length },
      'certificate',
    )
    this.events.emit('certificate', { slot: r.slot, certificate: cert, canonicalHash: hash, source })
    notify(r)
  }

  /** §5 step 5: q commits on our canonical hash from distinct elected directors form a certificate. */
  private tryFormCertificate(r: Round): void {
    const d = r.local?.decision
    if (r.certificate !== null || d == null || r.local === null) return
    const commits = [...r.commits.values()]
      .filter((c) => equalBytes(c.canonical_hash, d.canonicalHash))
      .sort((a, b) => compareBytes(a.signer, b.signer))
    if (commits.length < this.quorum) return
    const cert: Certificate = {
      epoch: r.epoch,
      slot: r.slot,
      recipe_hash: r.local.recipeHash,
      members: d.members,
      commits: commits.map((c) => ({ signer: c.signer, signature: c.signature })),
    }
    this.setCertificate(r, cert, d.canonicalHash, 'local')
    // "The first director holding a certificate gossips it": we hold it and have not seen one.
    void this.publish('bft', encodeBftSignal({ kind: 'Certificate', value: cert }))
  }

  private async publish(topic: TopicName, data: Uint8Array): Promise<void> {
    try {
      await this.gossip.publish(topic, data)
    } catch (err) {
      // A lone or partitioned node cannot publish; the round then fails with what was missing.
      this.log.warn({ err, topic }, 'bft publish failed')
    }
  }

  /**
   * Run one round: publish our signed proposal, collect proposals until all n are in or the BFT
   * timeout passes (never stopping at q−1), decide, commit, and wait up to the commit timeout for a
   * certificate (ours or a valid one from the network).
   */
  async runConsensus(input: BftInput, signal?: AbortSignal): Promise<BftResult> {
    const t0 = this.clock.now()
    const elected = this.electedForRound(input)
    const r = this.openLocalRound(input)
    const local = r.local!
    const log = this.log.child({ epoch: input.epoch, slot: input.slot })
    try {
      await this.propose(r, input, log)
      await waitForRound(
        this.clock,
        r,
        () => r.certificate !== null || heard(r) >= elected.size,
        this.bftTimeoutMs,
        signal,
      )
      r.proposalsAtDecision = heard(r)
      this.metrics?.bftProposalsPerRound.observe(r.proposalsAtDecision)
      if (r.certificate === null) {
        await this.decideAndCommit(r, input, log)
        await waitForRound(this.clock, r, () => r.certificate !== null, this.commitTimeoutMs, signal)
      }
      if (r.certificate === null) {
        const details = failureDetails(r, elected, this.quorum)
        const code = local.decision === null ? 'NO_QUORUM' : 'COMMIT_TIMEOUT'
        this.metrics?.bftOutcomes.inc({ outcome: code === 'NO_QUORUM' ? 'no_quorum' : 'commit_timeout' })
        throw new BftError(code, describeFailure(code, details), details)
      }
      const result = this.result(r)
      this.metrics?.bftOutcomes.inc({ outcome: 'certified' })
      this.metrics?.bftRoundSeconds.observe((this.clock.now() - t0) / 1000)
      if (result.similarity !== null) this.metrics?.bftSimilarity.observe(result.similarity)
      return result
    } catch (err) {
      if (err instanceof BftError && err.code === 'ABORTED')
        this.metrics?.bftOutcomes.inc({ outcome: 'aborted' })
      else if (!(err instanceof BftError)) this.metrics?.bftOutcomes.inc({ outcome: 'error' })
      throw err
    } finally {
      local.active = false
    }
  }

  /** The elected set of the round's epoch; throws BftError when unknown or when we are not in it. */
  private electedForRound(input: BftInput): Set<string> {
    const elected = this.store.electedOf(input.epoch)
    if (elected === undefined) {
      throw new BftError('UNKNOWN_EPOCH', `epoch ${input.epoch}: elected directors unknown`)
    }
    if (this.slotClock.epochOfSlot(input.slot) !== input.epoch) {
      throw new BftError('UNKNOWN_EPOCH', `slot ${input.slot} is not in epoch ${input.epoch}`)
    }
    if (!elected.has(this.selfHex)) {
      this.metrics?.bftOutcomes.inc({ outcome: 'not_elected' })
      throw new BftError('NOT_ELECTED', `epoch ${input.epoch}: this node is not an elected director`)
    }
    return elected
  }

  private openLocalRound(input: BftInput): Round {
    const r = this.openRound(input.slot, input.epoch)
    if (r.local !== null || r.proposals.has(this.selfHex)) {
      throw new BftError('ROUND_IN_PROGRESS', `slot ${input.slot}: this node already proposed`)
    }
    r.local = {
      recipeHash: input.recipeHash,
      active: true,
      decided: false,
      decision: null,
      bestSize: 0,
      matchingRecipe: 0,
    }
    return r
  }

  private async propose(r: Round, input: BftInput, log: Logger): Promise<void> {
    const proposal = await ownProposal(this.signing, input)
    r.proposals.set(this.selfHex, proposal)
    this.emitProposals(r)
    await this.publish('bft', encodeBftSignal({ kind: 'Proposal', value: proposal }))
    log.info({ stage: 'bft', step: 'proposed' }, 'proposal published')
  }

  /** §5 step 4 over the proposals received, then our commit (step 5) when a quorum agrees. */
  private async decideAndCommit(r: Round, input: BftInput, log: Logger): Promise<void> {
    const local = r.local!
    const proposals = [...r.proposals.entries()].filter(([s]) => !r.equivocators.has(s)).map(([, p]) => p)
    const { decision, size, matching } = decideRound(
      {
        networkId: this.networkId,
        epoch: r.epoch,
        slot: r.slot,
        recipeHash: input.recipeHash,
        quorum: this.quorum,
        threshold: this.threshold,
      },
      proposals,
    )
    local.bestSize = size
    local.matchingRecipe = matching
    local.decision = decision
    local.decided = true
    const commit = decision === null ? null : await ownCommit(this.signing, input, decision.canonicalHash)
    if (decision === null || commit === null) {
      log.warn({ stage: 'bft', bestAgreeingSetSize: size, quorum: this.quorum }, 'no agreeing quorum here')
      return
    }
    r.commits.set(this.selfHex, commit)
    log.info(
      { stage: 'bft', step: 'committed', members: decision.members.length, similarity: decision.similarity },
      'commit published',
    )
    this.tryFormCertificate(r)
    await this.publish('bft', encodeBftSignal({ kind: 'Commit', value: commit }))
  }

  private result(r: Round): BftResult {
    const cert = r.certificate!
    const signers = cert.members.map((m) => m.signer)
    return {
      epoch: r.epoch,
      slot: r.slot,
      recipeHash: cert.recipe_hash,
      canonicalHash: r.certificateHash!,
      signers,
      members: cert.members,
      success: true,
      similarity: this.similarityOf(r, cert),
      certificate: cert,
      localRank: signers.findIndex((s) => bytesToHex(s) === this.selfHex),
      source: r.certificateSource ?? 'local',
      proposalsReceived: r.proposalsAtDecision || heard(r),
    }
  }

  /** Our decision's similarity; for an adopted certificate, from the members' proposals we hold. */
  private similarityOf(r: Round, cert: Certificate): number | null {
    const d = r.local?.decision
    if (d != null && equalBytes(d.canonicalHash, r.certificateHash!)) return d.similarity
    const embs: Float32Array[] = []
    for (const m of cert.members) {
      const p = r.proposals.get(bytesToHex(m.signer))
      if (p !== undefined && equalBytes(embeddingHash(p.embedding), m.embedding_hash)) embs.push(p.embedding)
    }
    return embs.length === cert.members.length ? meanPairwiseCosine(embs) : null
  }
}
