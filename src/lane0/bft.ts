// The BFT participant (docs/protocol.md §5, exactly): signed proposals, gossip validation before forwarding,
// buffering of early messages, equivocation evidence, collection of all n until the timeout, the
// deterministic agreeing set and canonical proposal, signed commits, certificates (formed here or
// received), and a BftResult — or a BftError that says what was missing.
import {
  CertificateError,
  canonicalHash,
  compareBytes,
  embeddingHash,
  type NodeKey,
  rankMembers,
  signCommit,
  signProposal,
  verifyCertificate,
  verifyCommitSignature,
  verifyProposalSignature,
} from '../crypto/index.ts'
import type { Gossip, TopicName, ValidationResult } from '../p2p/index.ts'
import { abortReason, type Clock, type SlotClock, systemClock, TypedEmitter } from '../scheduler/index.ts'
import {
  bytesToHex,
  type Certificate,
  type CertificateMember,
  type Commit,
  type CommitEquivocationEvidence,
  DecodeError,
  decodeBftSignal,
  decodeEquivocationEvidence,
  EMBEDDING_DIM,
  type EquivocationEvidence,
  encodeBftSignal,
  encodeEquivocationEvidence,
  equalBytes,
  type Proposal,
} from '../types/index.ts'
import { cosineSimilarity, embeddingProblem, largestAgreeingSet } from './agreement.ts'
import { LANE0_DEFAULTS, REFERENCE_QUORUM } from './constants.ts'
import { BftError, type BftFailureDetails } from './errors.ts'
import {
  type CommitEvidenceHost,
  isCommitEvidence,
  onCommitEvidence,
  recordCommitEquivocation,
} from './evidence.ts'
import { type Logger, silentLogger } from './log.ts'
import type { Lane0Metrics } from './metrics.ts'

/** Why a BFT or challenge message was refused; `action` is the gossip answer (docs/protocol.md §2). */
export type BftRejectCode =
  | 'MALFORMED'
  | 'EPOCH_MISMATCH'
  | 'UNELECTED_SIGNER'
  | 'BAD_SIGNATURE'
  | 'BAD_EMBEDDING'
  | 'BAD_CERTIFICATE'
  | 'BAD_EVIDENCE'
export type BftIgnoreCode =
  | 'UNKNOWN_EPOCH'
  | 'STALE_SLOT'
  | 'FUTURE_SLOT'
  | 'TOO_MANY_ROUNDS'
  | 'DUPLICATE'
  | 'EQUIVOCATION'
  | 'EQUIVOCATOR'
  | 'CONFLICTING_COMMIT'
  | 'ROUND_CLOSED'
  | 'STOPPED'
  /** L2 norm outside this node's configured tolerance (a local setting). */
  | 'EMBEDDING_NORM'

/** A gossip validation failure: its `action` is the gossip answer, counted in the one catch of this file that turns it into reject/ignore. */
export class BftGossipError extends Error {
  override readonly name = 'BftGossipError'
  constructor(
    readonly action: 'reject' | 'ignore',
    readonly code: BftRejectCode | BftIgnoreCode,
    message: string,
  ) {
    super(message)
  }
}

const reject = (code: BftRejectCode, message: string) => new BftGossipError('reject', code, message)
const ignore = (code: BftIgnoreCode, message: string) => new BftGossipError('ignore', code, message)

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

interface Decision {
  members: CertificateMember[]
  canonicalHash: Uint8Array
  similarity: number
  matchingRecipe: number
}

interface LocalRound {
  recipeHash: Uint8Array
  active: boolean
  /** The decision step ran (whether or not it found a quorum). */
  decided: boolean
  decision: Decision | null
  /** Size of the best agreeing set found, even when below the quorum. */
  bestSize: number
  matchingRecipe: number
}

interface Round {
  epoch: bigint
  slot: bigint
  proposals: Map<string, Proposal>
  equivocators: Set<string>
  evidence: Map<string, EquivocationEvidence>
  commits: Map<string, Commit>
  commitEquivocators: Set<string>
  certificate: Certificate | null
  certificateHash: Uint8Array | null
  certificateSource: 'local' | 'network' | null
  local: LocalRound | null
  proposalsAtDecision: number
  waiters: Set<() => void>
}

function sameProposalContent(a: Proposal, b: Proposal): boolean {
  return (
    a.epoch === b.epoch &&
    equalBytes(a.recipe_hash, b.recipe_hash) &&
    equalBytes(a.content_hash, b.content_hash) &&
    equalBytes(
      new Uint8Array(a.embedding.buffer, a.embedding.byteOffset, a.embedding.byteLength),
      new Uint8Array(b.embedding.buffer, b.embedding.byteOffset, b.embedding.byteLength),
    )
  )
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
  private readonly tolerance: number
  private readonly lateSlots: bigint
  private readonly maxRounds: number
  private readonly selfHex: string
  private readonly elected = new Map<bigint, Set<string>>()
  private readonly rounds = new Map<bigint, Round>()
  private currentSlot: bigint | null = null
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
    this.tolerance = init.embeddingNormTolerance ?? LANE0_DEFAULTS.embeddingNormTolerance
    this.lateSlots = BigInt(init.bftLateSlots ?? LANE0_DEFAULTS.bftLateSlots)
    this.maxRounds = init.bftMaxRounds ?? LANE0_DEFAULTS.bftMaxRounds
    this.selfHex = bytesToHex(this.key.publicKeyProto)
  }

  /** Install the bft and challenges validators and subscribe to both topics. */
  start(): void {
    if (this.unsubscribers.length > 0) return
    this.gossip.setValidator('bft', (data) => this.validateBft(data))
    this.gossip.setValidator('challenges', (data) => this.validateChallenge(data))
    this.unsubscribers.push(
      this.gossip.subscribe('bft', (msg) => {
        this.handle('bft', msg.data, false)
      }),
      this.gossip.subscribe('challenges', (msg) => {
        this.handle('challenges', msg.data, false)
      }),
    )
  }

  stop(): void {
    for (const u of this.unsubscribers) u()
    this.unsubscribers = []
  }

  /** Tell the participant who is elected for `epoch` (protobuf keys). Keeps the newest few epochs. */
  setElected(epoch: bigint, directors: readonly Uint8Array[]): void {
    this.elected.set(epoch, new Set(directors.map(bytesToHex)))
    const keep = [...this.elected.keys()].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)).slice(0, 4)
    for (const e of this.elected.keys()) if (!keep.includes(e)) this.elected.delete(e)
  }

  /** Move the slot window (docs/protocol.md §5 step 2: current or next slot) and drop old rounds. */
  setCurrentSlot(slot: bigint): void {
    if (this.currentSlot !== null && slot <= this.currentSlot) return
    this.currentSlot = slot
    for (const [s, r] of this.rounds) {
      if (s + this.lateSlots < slot && !r.local?.active) this.rounds.delete(s)
    }
  }

  /** The gossip validator for /nsn/bft/1.0.0 (install with `gossip.setValidator('bft', …)`). */
  validateBft(data: Uint8Array): ValidationResult {
    return this.handle('bft', data, true)
  }

  /** The gossip validator for /nsn/challenges/1.0.0 (equivocation evidence). */
  validateChallenge(data: Uint8Array): ValidationResult {
    return this.handle('challenges', data, true)
  }

  /** The certificate held for `slot`, if any. */
  certificate(slot: bigint): Certificate | null {
    return this.rounds.get(slot)?.certificate ?? null
  }

  /**
   * Validate and, when valid, take in one message. Called by the validator (before forwarding) and
   * by the subscription (after); the second sight of a message is a harmless duplicate.
   */
  private handle(topic: 'bft' | 'challenges', data: Uint8Array, count: boolean): ValidationResult {
    let kind = 'challenge'
    try {
      if (topic === 'challenges') {
        if (isCommitEvidence(data)) onCommitEvidence(this.evidenceHost, data)
        else this.onEvidence(data)
        return 'accept'
      }
      let signal: ReturnType<typeof decodeBftSignal>
      try {
        signal = decodeBftSignal(data)
      } catch (err) {
        if (err instanceof DecodeError) throw reject('MALFORMED', `${err.field}: ${err.message}`)
        throw err
      }
      kind = signal.kind
      if (signal.kind === 'Proposal') this.onProposal(signal.value)
      else if (signal.kind === 'Commit') this.onCommit(signal.value)
      else this.onCertificate(signal.value)
      if (count) this.countMessage(kind, 'accept')
      return 'accept'
    } catch (err) {
      if (!(err instanceof BftGossipError)) {
        this.log.error({ err, topic }, 'bft message handler failed')
        return 'ignore'
      }
      if (count) {
        this.countMessage(kind, err.action)
        this.events.emit('refused', { topic, action: err.action, code: err.code })
        if (err.action === 'reject') this.log.debug({ topic, code: err.code }, 'bft message rejected')
      }
      return err.action
    }
  }

  private countMessage(kind: string, result: ValidationResult): void {
    if (kind === 'Proposal') this.metrics?.bftProposals.inc({ result })
    else if (kind === 'Commit') this.metrics?.bftCommits.inc({ result })
  }

  /** Checks shared by every message: epoch known and consistent, slot in the window, signer elected. */
  private checkSlotAndSigner(epoch: bigint, slot: bigint, signer: Uint8Array | null): Set<string> {
    // §5 step 2: the slot is current or the next one (plus `bftLateSlots` behind, and any slot whose
    // round this director is still running).
    const active = this.rounds.get(slot)?.local?.active === true
    if (this.currentSlot !== null && !active) {
      if (slot + this.lateSlots < this.currentSlot)
        throw ignore('STALE_SLOT', `slot: ${slot} is before the window ending at ${this.currentSlot}`)
      if (slot > this.currentSlot + 1n)
        throw ignore('FUTURE_SLOT', `slot: ${slot} is beyond the next slot ${this.currentSlot + 1n}`)
    }
    const elected = this.elected.get(epoch)
    if (elected === undefined) throw ignore('UNKNOWN_EPOCH', `epoch: ${epoch} has no known elected set`)
    if (this.slotClock.epochOfSlot(slot) !== epoch) {
      throw reject(
        'EPOCH_MISMATCH',
        `epoch: slot ${slot} belongs to epoch ${this.slotClock.epochOfSlot(slot)}`,
      )
    }
    // §1 fix: only a key elected for the epoch counts as a director.
    if (signer !== null && !elected.has(bytesToHex(signer))) {
      throw reject('UNELECTED_SIGNER', `signer: not elected for epoch ${epoch}`)
    }
    return elected
  }

  private round(slot: bigint, epoch: bigint): Round {
    let r = this.rounds.get(slot)
    if (r !== undefined) return r
    if (this.rounds.size >= this.maxRounds) {
      // Make room by dropping the oldest idle round; never an active one.
      const idle = [...this.rounds.entries()]
        .filter(([, x]) => !x.local?.active)
        .sort(([a], [b]) => (a < b ? -1 : 1))
      const victim = idle[0]
      if (victim === undefined || victim[0] > slot)
        throw ignore('TOO_MANY_ROUNDS', `slot: ${this.maxRounds} rounds already buffered`)
      this.rounds.delete(victim[0])
    }
    r = {
      epoch,
      slot,
      proposals: new Map(),
      equivocators: new Set(),
      evidence: new Map(),
      commits: new Map(),
      commitEquivocators: new Set(),
      certificate: null,
      certificateHash: null,
      certificateSource: null,
      local: null,
      proposalsAtDecision: 0,
      waiters: new Set(),
    }
    this.rounds.set(slot, r)
    return r
  }

  private notify(r: Round): void {
    for (const w of [...r.waiters]) w()
  }

  private heard(r: Round): number {
    let n = r.proposals.size
    for (const e of r.equivocators) if (!r.proposals.has(e)) n++
    return n
  }

  private onProposal(p: Proposal): void {
    const elected = this.checkSlotAndSigner(p.epoch, p.slot, p.signer)
    const signer = bytesToHex(p.signer)
    const r = this.round(p.slot, p.epoch)
    if (r.equivocators.has(signer)) throw ignore('EQUIVOCATOR', 'signer: equivocated in this slot')
    const existing = r.proposals.get(signer)
    if (existing !== undefined && sameProposalContent(existing, p))
      throw ignore('DUPLICATE', 'proposal: already received')
    // §5 step 2: 512 finite values (from the bytes: reject), L2 norm within the tolerance of 1
    // (the tolerance is this node's setting: ignore, docs/protocol.md §2).
    const shape = embeddingProblem(p.embedding, EMBEDDING_DIM, Number.POSITIVE_INFINITY)
    if (shape !== null) throw reject('BAD_EMBEDDING', `embedding: ${shape}`)
    const norm = embeddingProblem(p.embedding, EMBEDDING_DIM, this.tolerance)
    if (norm !== null) throw ignore('EMBEDDING_NORM', `embedding: ${norm}`)
    if (!verifyProposalSignature(this.networkId, p))
      throw reject('BAD_SIGNATURE', 'signature: does not verify')
    if (existing !== undefined) {
      this.recordEquivocation(r, signer, { first: existing, second: p }, true)
      throw ignore('EQUIVOCATION', 'proposal: second different proposal from this signer')
    }
    if (r.local?.decided === true || r.certificate !== null) {
      throw ignore('ROUND_CLOSED', `slot: ${p.slot} already decided here`)
    }
    r.proposals.set(signer, p)
    this.events.emit('proposals', {
      epoch: r.epoch,
      slot: r.slot,
      received: this.heard(r),
      expected: elected.size,
    })
    this.notify(r)
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
    this.notify(r)
  }

  private onEvidence(data: Uint8Array): void {
    let ev: EquivocationEvidence
    try {
      ev = decodeEquivocationEvidence(data)
    } catch (err) {
      if (err instanceof DecodeError) throw reject('MALFORMED', `${err.field}: ${err.message}`)
      throw err
    }
    const { first, second } = ev
    if (
      !equalBytes(first.signer, second.signer) ||
      first.epoch !== second.epoch ||
      first.slot !== second.slot
    ) {
      throw reject('BAD_EVIDENCE', 'evidence: the two proposals are not by one signer for one slot')
    }
    if (sameProposalContent(first, second))
      throw reject('BAD_EVIDENCE', 'evidence: the two proposals are equal')
    this.checkSlotAndSigner(first.epoch, first.slot, first.signer)
    const r = this.round(first.slot, first.epoch)
    const signer = bytesToHex(first.signer)
    if (r.equivocators.has(signer)) throw ignore('DUPLICATE', 'evidence: signer already known to equivocate')
    if (!verifyProposalSignature(this.networkId, first) || !verifyProposalSignature(this.networkId, second)) {
      throw reject('BAD_SIGNATURE', 'evidence: a proposal signature does not verify')
    }
    this.recordEquivocation(r, signer, ev, false)
  }

  /** What src/lane0/evidence.ts needs of this participant for commit evidence. */
  private get evidenceHost(): CommitEvidenceHost {
    return {
      networkId: this.networkId,
      log: this.log,
      refuse: (action, code, message) => new BftGossipError(action, code as BftRejectCode, message),
      checkSlotAndSigner: (epoch, slot, signer) => this.checkSlotAndSigner(epoch, slot, signer),
      round: (slot, epoch) => this.round(slot, epoch),
      emit: (e) => {
        this.metrics?.equivocations.inc()
        this.events.emit('commitEquivocation', e)
      },
      publish: (data) => void this.publish('challenges', data),
    }
  }

  private onCommit(c: Commit): void {
    this.checkSlotAndSigner(c.epoch, c.slot, c.signer)
    const signer = bytesToHex(c.signer)
    const r = this.round(c.slot, c.epoch)
    if (r.commitEquivocators.has(signer)) throw ignore('EQUIVOCATOR', 'signer: sent conflicting commits')
    const existing = r.commits.get(signer)
    if (existing !== undefined && equalBytes(existing.canonical_hash, c.canonical_hash))
      throw ignore('DUPLICATE', 'commit: already received')
    if (!verifyCommitSignature(this.networkId, c)) throw reject('BAD_SIGNATURE', 'signature: does not verify')
    if (existing !== undefined) {
      // Two commits for different results: neither counts (a certificate needs honest votes).
      recordCommitEquivocation(this.evidenceHost, r, { first: existing, second: c }, true)
      throw ignore('CONFLICTING_COMMIT', 'commit: a different commit from this signer exists')
    }
    if (r.certificate !== null) throw ignore('ROUND_CLOSED', `slot: ${c.slot} already certified`)
    r.commits.set(signer, c)
    this.tryFormCertificate(r)
    this.notify(r)
  }

  private onCertificate(cert: Certificate): void {
    const elected = this.checkSlotAndSigner(cert.epoch, cert.slot, null)
    const r = this.round(cert.slot, cert.epoch)
    if (r.certificate !== null) throw ignore('DUPLICATE', `slot: ${cert.slot} already has a certificate`)
    let hash: Uint8Array
    try {
      hash = verifyCertificate(cert, {
        networkId: this.networkId,
        elected: [...elected].map(hexToKey),
        quorum: this.quorum,
      })
    } catch (err) {
      if (err instanceof CertificateError) throw reject('BAD_CERTIFICATE', `certificate: ${err.code}`)
      throw err
    }
    this.setCertificate(r, cert, hash, 'network')
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
    this.notify(r)
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
   * Our proposal for the slot: the one journaled before a restart, exactly, if there is one (a
   * generator that is not bit-exact would otherwise make us an equivocator); else a new one,
   * journaled before it is published.
   */
  private async ownProposal(input: BftInput): Promise<Proposal> {
    const recorded = input.signed?.recorded.proposal ?? null
    if (recorded !== null) {
      const s = decodeBftSignal(recorded)
      if (s.kind === 'Proposal' && s.value.slot === input.slot && s.value.epoch === input.epoch) {
        this.log.info({ slot: input.slot }, 're-sending the proposal journaled before the restart')
        return s.value
      }
    }
    const proposal = signProposal(this.key, this.networkId, {
      epoch: input.epoch,
      slot: input.slot,
      recipe_hash: input.recipeHash,
      content_hash: input.contentHash,
      embedding: input.embedding,
    })
    await input.signed?.record('proposal', encodeBftSignal({ kind: 'Proposal', value: proposal }))
    return proposal
  }

  /**
   * Our commit: the journaled one if any (a director signs at most one commit per slot, §5 step 5;
   * if it names another canonical hash, no new commit is signed), else a new one, journaled first.
   */
  private async ownCommit(input: BftInput, canonical: Uint8Array): Promise<Commit | null> {
    const recorded = input.signed?.recorded.commit ?? null
    if (recorded !== null) {
      const s = decodeBftSignal(recorded)
      if (s.kind === 'Commit' && s.value.slot === input.slot) {
        if (equalBytes(s.value.canonical_hash, canonical)) return s.value
        this.log.warn(
          { slot: input.slot },
          'journaled commit names another canonical hash: not signing a second',
        )
        return null
      }
    }
    const commit = signCommit(this.key, this.networkId, {
      epoch: input.epoch,
      slot: input.slot,
      canonical_hash: canonical,
    })
    await input.signed?.record('commit', encodeBftSignal({ kind: 'Commit', value: commit }))
    return commit
  }

  /** §5 step 4 over the proposals received so far. */
  private decide(
    r: Round,
    recipeHash: Uint8Array,
  ): { decision: Decision | null; size: number; matching: number } {
    const candidates = [...r.proposals.entries()]
      .filter(([signer, p]) => !r.equivocators.has(signer) && equalBytes(p.recipe_hash, recipeHash))
      .map(([, p]) => p)
    const agreement = largestAgreeingSet(candidates, this.threshold)
    const size = agreement.members.length
    if (size < this.quorum) return { decision: null, size, matching: candidates.length }
    const members = rankMembers(
      r.slot,
      agreement.members.map((p) => ({
        signer: p.signer,
        content_hash: p.content_hash,
        embedding_hash: embeddingHash(p.embedding),
      })),
    )
    return {
      decision: {
        members,
        canonicalHash: canonicalHash(this.networkId, r.epoch, r.slot, recipeHash, members),
        similarity: agreement.similarity,
        matchingRecipe: candidates.length,
      },
      size,
      matching: candidates.length,
    }
  }

  private waitFor(r: Round, pred: () => boolean, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (pred()) return Promise.resolve(true)
    return new Promise((resolve, rejectP) => {
      const cleanup = () => {
        this.clock.clearTimeout(timer)
        r.waiters.delete(check)
        signal?.removeEventListener('abort', onAbort)
      }
      const check = () => {
        if (pred()) {
          cleanup()
          resolve(true)
        }
      }
      const onAbort = () => {
        cleanup()
        rejectP(new BftError('ABORTED', `slot ${r.slot}: round aborted`, undefined, abortReason(signal!)))
      }
      const timer = this.clock.setTimeout(() => {
        cleanup()
        resolve(pred())
      }, ms)
      r.waiters.add(check)
      signal?.addEventListener('abort', onAbort, { once: true })
      if (signal?.aborted) onAbort()
    })
  }

  private details(r: Round, elected: Set<string>): BftFailureDetails {
    const heard = new Set([...r.proposals.keys(), ...r.equivocators])
    const d = r.local?.decision
    return {
      epoch: r.epoch,
      slot: r.slot,
      proposalsReceived: heard.size,
      expected: elected.size,
      quorum: this.quorum,
      missingSigners: [...elected].filter((s) => !heard.has(s)).sort(),
      equivocators: [...r.equivocators].sort(),
      matchingRecipe: r.local?.matchingRecipe ?? 0,
      bestAgreeingSetSize: r.local?.bestSize ?? 0,
      commitsForCanonical:
        d == null
          ? 0
          : [...r.commits.values()].filter((c) => equalBytes(c.canonical_hash, d.canonicalHash)).length,
    }
  }

  /**
   * Run one round: publish our signed proposal, collect proposals until all n are in or the BFT
   * timeout passes (never stopping at q−1), decide, commit, and wait up to the commit timeout for a
   * certificate (ours or a valid one from the network).
   */
  async runConsensus(input: BftInput, signal?: AbortSignal): Promise<BftResult> {
    const t0 = this.clock.now()
    const elected = this.elected.get(input.epoch)
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
    const r = this.round(input.slot, input.epoch)
    const mine = r.proposals.get(this.selfHex)
    if (r.local !== null || mine !== undefined) {
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
    const log = this.log.child({ epoch: input.epoch, slot: input.slot })
    try {
      const proposal = await this.ownProposal(input)
      r.proposals.set(this.selfHex, proposal)
      this.events.emit('proposals', {
        epoch: r.epoch,
        slot: r.slot,
        received: this.heard(r),
        expected: elected.size,
      })
      await this.publish('bft', encodeBftSignal({ kind: 'Proposal', value: proposal }))
      log.info({ stage: 'bft', step: 'proposed' }, 'proposal published')

      await this.waitFor(
        r,
        () => r.certificate !== null || this.heard(r) >= elected.size,
        this.bftTimeoutMs,
        signal,
      )
      r.proposalsAtDecision = this.heard(r)
      this.metrics?.bftProposalsPerRound.observe(r.proposalsAtDecision)
      if (r.certificate === null) {
        const { decision, size, matching } = this.decide(r, input.recipeHash)
        r.local.bestSize = size
        r.local.matchingRecipe = matching
        r.local.decision = decision
        r.local.decided = true
        const commit = decision === null ? null : await this.ownCommit(input, decision.canonicalHash)
        if (decision !== null && commit !== null) {
          r.commits.set(this.selfHex, commit)
          log.info(
            {
              stage: 'bft',
              step: 'committed',
              members: decision.members.length,
              similarity: decision.similarity,
            },
            'commit published',
          )
          this.tryFormCertificate(r)
          await this.publish('bft', encodeBftSignal({ kind: 'Commit', value: commit }))
        } else {
          log.warn(
            { stage: 'bft', bestAgreeingSetSize: size, quorum: this.quorum },
            'no agreeing quorum here',
          )
        }
        await this.waitFor(r, () => r.certificate !== null, this.commitTimeoutMs, signal)
      }
      if (r.certificate === null) {
        const details = this.details(r, elected)
        const code = r.local.decision === null ? 'NO_QUORUM' : 'COMMIT_TIMEOUT'
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
      r.local.active = false
    }
  }

  private result(r: Round): BftResult {
    const cert = r.certificate!
    const signers = cert.members.map((m) => m.signer)
    let similarity: number | null = null
    const d = r.local?.decision
    if (d != null && equalBytes(d.canonicalHash, r.certificateHash!)) similarity = d.similarity
    else {
      // Adopted certificate: use the members' proposals we hold (matched by embedding hash).
      const embs: Float32Array[] = []
      for (const m of cert.members) {
        const p = r.proposals.get(bytesToHex(m.signer))
        if (p !== undefined && equalBytes(embeddingHash(p.embedding), m.embedding_hash))
          embs.push(p.embedding)
      }
      if (embs.length === cert.members.length) {
        let total = 0
        let pairs = 0
        for (let i = 0; i < embs.length; i++)
          for (let j = i + 1; j < embs.length; j++) {
            total += cosineSimilarity(embs[i]!, embs[j]!)
            pairs++
          }
        similarity = pairs === 0 ? 1 : total / pairs
      }
    }
    return {
      epoch: r.epoch,
      slot: r.slot,
      recipeHash: cert.recipe_hash,
      canonicalHash: r.certificateHash!,
      signers,
      members: cert.members,
      success: true,
      similarity,
      certificate: cert,
      localRank: signers.findIndex((s) => bytesToHex(s) === this.selfHex),
      source: r.certificateSource ?? 'local',
      proposalsReceived: r.proposalsAtDecision || this.heard(r),
    }
  }
}

function hexToKey(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

function describeFailure(code: 'NO_QUORUM' | 'COMMIT_TIMEOUT', d: BftFailureDetails): string {
  const missing =
    d.missingSigners.length === 0 ? 'none' : d.missingSigners.map((s) => s.slice(8, 20)).join(', ')
  const head =
    code === 'NO_QUORUM'
      ? `largest agreeing set has ${d.bestAgreeingSetSize} members, quorum is ${d.quorum}`
      : `${d.commitsForCanonical} of ${d.quorum} commits for our canonical hash before the commit timeout`
  return (
    `slot ${d.slot}: ${head}; proposals ${d.proposalsReceived}/${d.expected} ` +
    `(${d.matchingRecipe} with our recipe), missing signers: ${missing}` +
    (d.equivocators.length > 0 ? `, equivocators: ${d.equivocators.length}` : '')
  )
}
