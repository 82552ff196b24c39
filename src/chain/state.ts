// The dev chain's state machine: accounts and PeerId bindings, per-epoch elections, BFT results and
// their finality, and the event log. Deterministic and free of I/O: the server feeds it calls and
// block ticks, the store replays the same inputs after a restart and must reach the same state.

import { EvidenceError, verifyEvidence } from '../crypto/evidence.ts'
import {
  CertificateError,
  publicKeyFromProto,
  verifyCertificate,
  verifyWithProtoKey,
} from '../crypto/index.ts'
import {
  bytesToHex,
  type ChallengeEvidence,
  DecodeError,
  decodeCertificate,
  decodeChallenge,
  equalBytes,
  hexToBytes,
} from '../types/index.ts'
import type { ChainEvent, ChainInfo, EvidenceOutcome, NodeRole, SubmitOutcome } from './client.ts'
import type { ChainParams, Region } from './config.ts'
import { type Candidate, electDirectors } from './election.ts'
import { DevChainError, RegisterError } from './errors.ts'
import { genesisHashOf } from './genesis.ts'
import { bytesFromJson, eventFromJson, eventToJson, hex, type RegisterTx, type SubmitTx } from './rpc.ts'
import {
  blockHash,
  electionSeed,
  peerBindingBytes,
  type RegistrationCall,
  registrationSigningBytes,
  submitSigningBytes,
  txHash,
} from './signing.ts'

/** An account's JSON form: the `nsn_getAccount` answer and its snapshot record. */
export function accountToJson(a: AccountRecord): Record<string, unknown> {
  return {
    account: hex(a.account),
    peer: hex(a.peer),
    role: a.role,
    region: a.region,
    stake: a.stake.toString(),
    nonce: a.nonce,
    reputation: a.reputation.toString(),
    registeredBlock: a.registeredBlock.toString(),
  }
}

export interface AccountRecord extends RegistrationCall {
  /** Next registration nonce. */
  nonce: number
  reputation: bigint
  registeredBlock: bigint
}

export interface EpochRecord {
  epoch: bigint
  startBlock: bigint
  /** First block of the next epoch (the epoch covers [startBlock, endBlock)). */
  endBlock: bigint
  directors: Uint8Array[]
  electedAtBlock: bigint
}

export interface ResultRecord {
  slot: bigint
  epoch: bigint
  canonicalHash: Uint8Array
  /** Node key of the submitting account. */
  submitter: Uint8Array
  submittedBlock: bigint
  finalizedBlock: bigint | null
  certificateScale: Uint8Array
}

/** Equivocation evidence the chain recorded: one per (slot, director), whichever variant came first. */
export interface EvidenceRecord {
  slot: bigint
  epoch: bigint
  /** Node key of the equivocating director. */
  signer: Uint8Array
  kind: ChallengeEvidence['kind']
  block: bigint
  /** Reputation taken from the director's account (0 when the key has no account). */
  penalty: bigint
}

/**
 * Reputation an equivocating director loses: ten finalized results' worth at the reference rate.
 * Reputation may go below zero; election weight treats anything below zero as zero.
 */
export const EQUIVOCATION_PENALTY = 1000n

export interface StoredEvent {
  event: ChainEvent
  /** Position in its block; NewBlock is always last. */
  index: number
}

export interface SealedBlock {
  number: bigint
  hash: Uint8Array
  /** All events of the block in order, NewBlock last. */
  events: StoredEvent[]
}

export interface ChainStateOptions {
  /** Blocks of events kept for resuming subscribers. */
  eventRetentionBlocks: number
}

const key = (b: Uint8Array): string => bytesToHex(b)

export class ChainState {
  readonly genesisHash: Uint8Array
  best = 0n
  bestHash: Uint8Array
  /** WAL sequence number of the last input applied. */
  seq = 0
  private readonly accounts = new Map<string, AccountRecord>()
  /** peer key hex → account key hex: one account per PeerId. */
  private readonly peers = new Map<string, string>()
  private readonly epochs = new Map<bigint, EpochRecord>()
  private readonly results = new Map<bigint, ResultRecord>()
  /** `slot:signer hex` → record; pruned with the slot's epoch, so bounded by retention × slots × seats. */
  private readonly evidence = new Map<string, EvidenceRecord>()
  /** Slots awaiting finality in submission order: submittedBlock never decreases along it. */
  private finalQueue: bigint[] = []
  private finalHead = 0
  private pendingTxHashes: Uint8Array[] = []
  private pendingEvents: ChainEvent[] = []
  private log: StoredEvent[] = []
  private logStartBlock = 0n
  private readonly L: bigint
  private readonly slotsPerEpoch: bigint

  private constructor(
    readonly params: ChainParams,
    private readonly opts: ChainStateOptions,
  ) {
    this.genesisHash = genesisHashOf(params)
    this.bestHash = this.genesisHash
    this.L = BigInt(params.epochLengthBlocks)
    this.slotsPerEpoch = BigInt(params.epochLengthBlocks / params.blocksPerSlot)
  }

  /** Block 0: genesis accounts registered, epoch 0 elected and started. */
  static genesis(params: ChainParams, opts: ChainStateOptions): { state: ChainState; block: SealedBlock } {
    const s = new ChainState(params, opts)
    for (const [i, g] of params.genesisAccounts.entries()) {
      const f = `genesisAccounts[${i}]`
      const account = g.account ?? g.peer
      if (publicKeyFromProto(g.peer) === null || publicKeyFromProto(account) === null) {
        throw new DevChainError('INVALID_CONFIG', `${f}: keys must be libp2p protobuf Ed25519 public keys`, f)
      }
      if (g.stake < params.minStake[g.role]) {
        throw new DevChainError(
          'INVALID_CONFIG',
          `${f}.stake: below the ${g.role} minimum ${params.minStake[g.role]}`,
          `${f}.stake`,
        )
      }
      if (s.accounts.has(key(account)) || s.peers.has(key(g.peer))) {
        throw new DevChainError('INVALID_CONFIG', `${f}: account or peer appears twice`, f)
      }
      s.accounts.set(key(account), {
        account,
        peer: g.peer,
        role: g.role,
        region: g.region,
        stake: g.stake,
        nonce: 0,
        reputation: g.reputation ?? 0n,
        registeredBlock: 0n,
      })
      s.peers.set(key(g.peer), key(account))
    }
    const ep = s.elect(0n, 0n)
    const events: ChainEvent[] = [
      { type: 'OnDeckElection', block: 0n, epoch: 0n, directors: ep.directors, startBlock: 0n },
      { type: 'EpochStarted', block: 0n, epoch: 0n, directors: ep.directors, endBlock: ep.endBlock },
    ]
    return { state: s, block: s.finishBlock(0n, s.genesisHash, events) }
  }

  // --- queries -----------------------------------------------------------------------------------

  info(blockTimeMs: number): ChainInfo & { directorsPerEpoch: number } {
    const p = this.params
    return {
      genesisHash: this.genesisHash,
      bestBlock: this.best,
      currentEpoch: this.best / this.L,
      epochLengthBlocks: p.epochLengthBlocks,
      lookaheadBlocks: p.lookaheadBlocks,
      challengePeriodBlocks: p.challengePeriodBlocks,
      blockTimeMs,
      blocksPerSlot: p.blocksPerSlot,
      slotsPerEpoch: Number(this.slotsPerEpoch),
      quorum: p.quorum,
      directorsPerEpoch: p.directorsPerEpoch,
    }
  }

  account(account: Uint8Array): AccountRecord | undefined {
    return this.accounts.get(key(account))
  }

  accountOfPeer(peer: Uint8Array): AccountRecord | undefined {
    const a = this.peers.get(key(peer))
    return a === undefined ? undefined : this.accounts.get(a)
  }

  epoch(epoch: bigint): EpochRecord | undefined {
    return this.epochs.get(epoch)
  }

  result(slot: bigint): ResultRecord | undefined {
    return this.results.get(slot)
  }

  /** Evidence recorded for `slot`, one record per equivocating director. */
  evidenceOf(slot: bigint): EvidenceRecord[] {
    return [...this.evidence.values()].filter((e) => e.slot === slot)
  }

  epochOfSlot(slot: bigint): bigint {
    return slot / this.slotsPerEpoch
  }

  /** Counts for status and tests: what is held in memory. */
  sizes(): {
    accounts: number
    epochs: number
    results: number
    evidence: number
    pendingFinality: number
    loggedEvents: number
  } {
    return {
      accounts: this.accounts.size,
      epochs: this.epochs.size,
      results: this.results.size,
      evidence: this.evidence.size,
      pendingFinality: this.finalQueue.length - this.finalHead,
      loggedEvents: this.log.length,
    }
  }

  /** Oldest block whose events can still be replayed to a subscriber. */
  get oldestEventBlock(): bigint {
    return this.logStartBlock
  }

  /** Events of blocks [from, to] in order, NewBlock last in each block. */
  *eventsRange(from: bigint, to: bigint): Generator<StoredEvent> {
    let lo = 0
    let hi = this.log.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.log[mid]!.event.block < from) lo = mid + 1
      else hi = mid
    }
    let i = lo
    for (let b = from; b <= to; b++) {
      let count = 0
      while (i < this.log.length && this.log[i]!.event.block === b) {
        yield this.log[i]!
        i++
        count++
      }
      yield { event: { type: 'NewBlock', block: b }, index: count }
    }
  }

  // --- calls -------------------------------------------------------------------------------------

  /** Register or update a node's stake, role and region. Throws RegisterError. */
  applyRegister(tx: RegisterTx): { block: bigint } {
    const signed = registrationSigningBytes(this.genesisHash, tx)
    if (!verifyWithProtoKey(tx.account, signed, tx.signature)) {
      throw new RegisterError('BAD_SIGNATURE', 'signature: does not verify for account', 'signature')
    }
    if (!equalBytes(tx.account, tx.peer)) {
      if (
        tx.peerBinding === null ||
        !verifyWithProtoKey(tx.peer, peerBindingBytes(this.genesisHash, tx.account), tx.peerBinding)
      ) {
        throw new RegisterError(
          'BAD_PEER_BINDING',
          'peerBinding: an account other than the node key needs the node key to sign the binding',
          'peerBinding',
        )
      }
    }
    const existing = this.accounts.get(key(tx.account))
    const expectedNonce = existing?.nonce ?? 0
    if (tx.nonce !== expectedNonce) {
      throw new RegisterError('BAD_NONCE', `nonce: expected ${expectedNonce}, got ${tx.nonce}`, 'nonce')
    }
    const min = this.params.minStake[tx.role]
    if (tx.stake < min) {
      throw new RegisterError(
        'STAKE_TOO_LOW',
        `stake: ${tx.stake} is below the ${tx.role} minimum ${min}`,
        'stake',
      )
    }
    if (existing && !equalBytes(existing.peer, tx.peer)) {
      throw new RegisterError(
        'ACCOUNT_BOUND',
        'peer: this account is already bound to another PeerId',
        'peer',
      )
    }
    const owner = this.peers.get(key(tx.peer))
    if (owner !== undefined && owner !== key(tx.account)) {
      throw new RegisterError('PEER_TAKEN', 'peer: this PeerId is already bound to another account', 'peer')
    }
    const block = this.best + 1n
    this.accounts.set(key(tx.account), {
      account: tx.account,
      peer: tx.peer,
      role: tx.role,
      region: tx.region,
      stake: tx.stake,
      nonce: expectedNonce + 1,
      reputation: existing?.reputation ?? 0n,
      registeredBlock: existing?.registeredBlock ?? block,
    })
    this.peers.set(key(tx.peer), key(tx.account))
    this.pendingTxHashes.push(txHash(signed, tx.signature))
    return { block }
  }

  /**
   * `submit_bft_result` (docs/protocol.md §7). `mutated` is false when nothing changed (a rejection, or an
   * identical result already recorded: answered `accepted` with the original block).
   */
  applySubmit(tx: SubmitTx): { outcome: SubmitOutcome; mutated: boolean } {
    const reject = (code: Extract<SubmitOutcome, { status: 'rejected' }>['code'], reason: string) => ({
      outcome: { status: 'rejected' as const, code, reason },
      mutated: false,
    })
    const signed = submitSigningBytes(this.genesisHash, tx.slot, tx.certificateScale)
    if (!verifyWithProtoKey(tx.submitter, signed, tx.signature)) {
      return reject('MALFORMED', 'signature: does not verify for submitter')
    }
    const cert = tx.certificate
    if (cert.slot !== tx.slot)
      return reject('SLOT_MISMATCH', `certificate.slot ${cert.slot} ≠ slot ${tx.slot}`)
    const epoch = this.epochOfSlot(tx.slot)
    if (cert.epoch !== epoch) {
      return reject('SLOT_MISMATCH', `certificate.epoch ${cert.epoch} ≠ epoch ${epoch} of slot ${tx.slot}`)
    }
    const ep = this.epochs.get(epoch)
    if (ep === undefined) return reject('UNKNOWN_EPOCH', `epoch ${epoch}: not elected yet or no longer kept`)
    const slotStart = tx.slot * BigInt(this.params.blocksPerSlot)
    if (slotStart > this.best + 1n) {
      return reject(
        'SLOT_MISMATCH',
        `slot ${tx.slot} starts at block ${slotStart}; the chain is at ${this.best}`,
      )
    }
    const acct = this.accounts.get(key(tx.submitter))
    if (acct === undefined) return reject('NOT_ELECTED', 'submitter: account is not registered')
    if (!ep.directors.some((d) => equalBytes(d, acct.peer))) {
      return reject('NOT_ELECTED', `submitter: not elected for epoch ${epoch}`)
    }
    let canonical: Uint8Array
    try {
      canonical = verifyCertificate(cert, {
        networkId: this.genesisHash,
        elected: ep.directors,
        quorum: this.params.quorum,
      })
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err
      return {
        outcome: {
          status: 'rejected',
          code: 'BAD_CERTIFICATE',
          reason: err.message,
          certificateCode: err.code,
        },
        mutated: false,
      }
    }
    const existing = this.results.get(tx.slot)
    if (existing !== undefined) {
      if (equalBytes(existing.canonicalHash, canonical)) {
        return {
          outcome: { status: 'accepted', block: existing.submittedBlock, duplicate: true },
          mutated: false,
        }
      }
      return reject(
        'ALREADY_SUBMITTED',
        `slot ${tx.slot}: a different result was recorded at block ${existing.submittedBlock}`,
      )
    }
    const block = this.best + 1n
    this.results.set(tx.slot, {
      slot: tx.slot,
      epoch,
      canonicalHash: canonical,
      submitter: acct.peer,
      submittedBlock: block,
      finalizedBlock: null,
      certificateScale: tx.certificateScale,
    })
    this.finalQueue.push(tx.slot)
    this.pendingEvents.push({
      type: 'BftResultSubmitted',
      block,
      slot: tx.slot,
      canonicalHash: canonical,
      submitter: acct.peer,
    })
    this.pendingTxHashes.push(txHash(signed, tx.signature))
    return { outcome: { status: 'accepted', block }, mutated: true }
  }

  /**
   * Equivocation evidence (docs/protocol.md §5 steps 2 and 5): verified from its bytes and the
   * epoch's elected set, recorded once per (slot, director), and the director's account loses
   * EQUIVOCATION_PENALTY. Anyone may submit it: the evidence speaks for itself.
   */
  applyEvidence(evidenceScale: Uint8Array): { outcome: EvidenceOutcome; mutated: boolean } {
    const reject = (code: Extract<EvidenceOutcome, { status: 'rejected' }>['code'], reason: string) => ({
      outcome: { status: 'rejected' as const, code, reason },
      mutated: false,
    })
    let ev: ChallengeEvidence
    try {
      ev = decodeChallenge(evidenceScale)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      return reject('MALFORMED', `evidence: ${err.message}`)
    }
    let subject: ReturnType<typeof verifyEvidence>
    try {
      subject = verifyEvidence(ev, this.genesisHash)
    } catch (err) {
      if (!(err instanceof EvidenceError)) throw err
      return reject(err.code, err.message)
    }
    const epoch = this.epochOfSlot(subject.slot)
    if (subject.epoch !== epoch) {
      return reject(
        'SLOT_MISMATCH',
        `evidence.epoch ${subject.epoch} ≠ epoch ${epoch} of slot ${subject.slot}`,
      )
    }
    const ep = this.epochs.get(epoch)
    if (ep === undefined) return reject('UNKNOWN_EPOCH', `epoch ${epoch}: not elected yet or no longer kept`)
    if (!ep.directors.some((d) => equalBytes(d, subject.signer))) {
      return reject('NOT_ELECTED', `evidence.signer: not elected for epoch ${epoch}`)
    }
    const id = `${subject.slot}:${key(subject.signer)}`
    const existing = this.evidence.get(id)
    if (existing !== undefined) {
      return { outcome: { status: 'accepted', block: existing.block, duplicate: true }, mutated: false }
    }
    const block = this.best + 1n
    const acct = this.accountOfPeer(subject.signer)
    const penalty = acct === undefined ? 0n : EQUIVOCATION_PENALTY
    if (acct) acct.reputation -= penalty
    this.evidence.set(id, {
      slot: subject.slot,
      epoch,
      signer: subject.signer,
      kind: ev.kind,
      block,
      penalty,
    })
    this.pendingTxHashes.push(txHash(evidenceScale, new Uint8Array(0)))
    return { outcome: { status: 'accepted', block }, mutated: true }
  }

  // --- blocks ------------------------------------------------------------------------------------

  /**
   * Seal the next block: epoch switch (hooks first, like on_initialize), On-Deck election, the
   * calls' events, then finality of results whose challenge period has passed (like on_finalize).
   */
  sealBlock(): SealedBlock {
    const b = this.best + 1n
    const pos = b % this.L
    const events: ChainEvent[] = []
    if (pos === 0n) {
      const e = b / this.L
      events.push({ type: 'EpochCompleted', block: b, epoch: e - 1n })
      // Always elected at the On-Deck block (1 ≤ lookahead < epoch length); electing here is a guard.
      const ep = this.epochs.get(e) ?? this.elect(e, b)
      events.push({
        type: 'EpochStarted',
        block: b,
        epoch: e,
        directors: ep.directors,
        endBlock: ep.endBlock,
      })
      this.prune(e)
    }
    if (pos === this.L - BigInt(this.params.lookaheadBlocks)) {
      const next = b / this.L + 1n
      const ep = this.elect(next, b)
      events.push({
        type: 'OnDeckElection',
        block: b,
        epoch: next,
        directors: ep.directors,
        startBlock: ep.startBlock,
      })
    }
    events.push(...this.pendingEvents)
    this.finalize(b, events)
    const hash = blockHash(this.bestHash, b, this.pendingTxHashes)
    return this.finishBlock(b, hash, events)
  }

  private finishBlock(b: bigint, hash: Uint8Array, events: ChainEvent[]): SealedBlock {
    this.best = b
    this.bestHash = hash
    this.pendingTxHashes = []
    this.pendingEvents = []
    const stored = events.map((event, index) => ({ event, index }))
    this.log.push(...stored)
    this.trimLog()
    return {
      number: b,
      hash,
      events: [...stored, { event: { type: 'NewBlock', block: b }, index: stored.length }],
    }
  }

  private trimLog(): void {
    const start = this.best - BigInt(this.opts.eventRetentionBlocks)
    if (start <= this.logStartBlock) return
    this.logStartBlock = start
    let drop = 0
    while (drop < this.log.length && this.log[drop]!.event.block < start) drop++
    if (drop > 0) this.log.splice(0, drop)
  }

  private finalize(b: bigint, events: ChainEvent[]): void {
    const cp = BigInt(this.params.challengePeriodBlocks)
    const oldestKept = b / this.L - BigInt(this.params.epochRetention)
    while (this.finalHead < this.finalQueue.length) {
      const slot = this.finalQueue[this.finalHead]!
      const r = this.results.get(slot)
      if (r !== undefined && r.submittedBlock + cp > b) break
      this.finalHead++
      if (r === undefined || r.finalizedBlock !== null) continue
      r.finalizedBlock = b
      events.push({ type: 'BftResultFinalized', block: b, slot, canonicalHash: r.canonicalHash })
      // Reputation comes from finalized results: every director whose commit is in the certificate.
      for (const c of decodeCertificate(r.certificateScale).commits) {
        const a = this.accountOfPeer(c.signer)
        if (a) a.reputation += this.params.reputationPerResult
      }
      // A result of an epoch pruned while it was still in its challenge period goes once final.
      if (r.epoch <= oldestKept) this.results.delete(slot)
    }
    // The queue is consumed from the head; compact it so it stays bounded by the pending results.
    if (this.finalHead > 1024 && this.finalHead * 2 > this.finalQueue.length) {
      this.finalQueue = this.finalQueue.slice(this.finalHead)
      this.finalHead = 0
    }
  }

  /** Keep the elected sets of the last `epochRetention` epochs and their finalized results. */
  private prune(current: bigint): void {
    const old = current - BigInt(this.params.epochRetention)
    if (old < 0n) return
    this.epochs.delete(old)
    for (const [id, e] of this.evidence) if (e.epoch <= old) this.evidence.delete(id)
    for (let s = old * this.slotsPerEpoch; s < (old + 1n) * this.slotsPerEpoch; s++) {
      const r = this.results.get(s)
      if (r !== undefined && r.finalizedBlock !== null) this.results.delete(s)
    }
  }

  private elect(epoch: bigint, atBlock: bigint): EpochRecord {
    const p = this.params
    const recent = new Set<string>()
    for (let e = epoch - BigInt(p.cooldownEpochs); e < epoch; e++) {
      for (const d of this.epochs.get(e)?.directors ?? []) recent.add(key(d))
    }
    const candidates: Candidate[] = []
    for (const a of this.accounts.values()) {
      if (a.role !== 'director' || a.stake < p.minStake.director) continue
      candidates.push({
        key: a.peer,
        region: a.region,
        reputation: a.reputation,
        inCooldown: recent.has(key(a.peer)),
      })
    }
    const directors = electDirectors(electionSeed(this.bestHash, epoch), candidates, {
      seats: p.directorsPerEpoch,
      jitterPercent: p.jitterPercent,
      maxPerRegion: p.maxDirectorsPerRegion,
    })
    const rec: EpochRecord = {
      epoch,
      startBlock: epoch * this.L,
      endBlock: (epoch + 1n) * this.L,
      directors,
      electedAtBlock: atBlock,
    }
    this.epochs.set(epoch, rec)
    return rec
  }

  // --- snapshots ---------------------------------------------------------------------------------

  toSnapshot(): Record<string, unknown> {
    return {
      version: 1,
      seq: this.seq,
      best: this.best.toString(),
      bestHash: hex(this.bestHash),
      accounts: [...this.accounts.values()].map(accountToJson),
      epochs: [...this.epochs.values()].map((e) => ({
        epoch: e.epoch.toString(),
        directors: e.directors.map(hex),
        electedAtBlock: e.electedAtBlock.toString(),
      })),
      results: [...this.results.values()].map((r) => ({
        slot: r.slot.toString(),
        canonicalHash: hex(r.canonicalHash),
        submitter: hex(r.submitter),
        submittedBlock: r.submittedBlock.toString(),
        finalizedBlock: r.finalizedBlock === null ? null : r.finalizedBlock.toString(),
        certificate: hex(r.certificateScale),
      })),
      evidence: [...this.evidence.values()].map((e) => ({
        slot: e.slot.toString(),
        signer: hex(e.signer),
        kind: e.kind,
        block: e.block.toString(),
        penalty: e.penalty.toString(),
      })),
      finalQueue: this.finalQueue.slice(this.finalHead).map(String),
      pendingTxHashes: this.pendingTxHashes.map(hex),
      pendingEvents: this.pendingEvents.map((e) => eventToJson(e, 0)),
      logStartBlock: this.logStartBlock.toString(),
      log: this.log.map((e) => eventToJson(e.event, e.index)),
    }
  }

  static fromSnapshot(params: ChainParams, opts: ChainStateOptions, snap: unknown): ChainState {
    try {
      const o = snap as Record<string, unknown>
      if (o.version !== 1) throw new Error(`unknown snapshot version ${String(o.version)}`)
      const s = new ChainState(params, opts)
      s.seq = Number(o.seq)
      s.best = BigInt(o.best as string)
      s.bestHash = bytesFromJson(o.bestHash, 'bestHash', { len: 32 })
      for (const a of o.accounts as Record<string, string>[]) {
        const rec: AccountRecord = {
          account: hexToBytes(a.account!),
          peer: hexToBytes(a.peer!),
          role: a.role as NodeRole,
          region: a.region as Region,
          stake: BigInt(a.stake!),
          nonce: Number(a.nonce),
          reputation: BigInt(a.reputation!),
          registeredBlock: BigInt(a.registeredBlock!),
        }
        s.accounts.set(key(rec.account), rec)
        s.peers.set(key(rec.peer), key(rec.account))
      }
      for (const e of o.epochs as Record<string, unknown>[]) {
        const epoch = BigInt(e.epoch as string)
        s.epochs.set(epoch, {
          epoch,
          startBlock: epoch * s.L,
          endBlock: (epoch + 1n) * s.L,
          directors: (e.directors as string[]).map(hexToBytes),
          electedAtBlock: BigInt(e.electedAtBlock as string),
        })
      }
      for (const r of o.results as Record<string, string | null>[]) {
        const slot = BigInt(r.slot!)
        s.results.set(slot, {
          slot,
          epoch: s.epochOfSlot(slot),
          canonicalHash: hexToBytes(r.canonicalHash!),
          submitter: hexToBytes(r.submitter!),
          submittedBlock: BigInt(r.submittedBlock!),
          finalizedBlock: r.finalizedBlock === null ? null : BigInt(r.finalizedBlock!),
          certificateScale: hexToBytes(r.certificate!),
        })
      }
      // Snapshots written before evidence was recorded have none.
      for (const e of (o.evidence ?? []) as Record<string, string>[]) {
        const slot = BigInt(e.slot!)
        const signer = hexToBytes(e.signer!)
        s.evidence.set(`${slot}:${key(signer)}`, {
          slot,
          epoch: s.epochOfSlot(slot),
          signer,
          kind: e.kind as ChallengeEvidence['kind'],
          block: BigInt(e.block!),
          penalty: BigInt(e.penalty!),
        })
      }
      s.finalQueue = (o.finalQueue as string[]).map((x) => BigInt(x))
      s.pendingTxHashes = (o.pendingTxHashes as string[]).map(hexToBytes)
      s.pendingEvents = (o.pendingEvents as unknown[]).map((e) => eventFromJson(e).event)
      s.logStartBlock = BigInt(o.logStartBlock as string)
      s.log = (o.log as unknown[]).map((e) => eventFromJson(e))
      return s
    } catch (err) {
      throw new DevChainError(
        'CORRUPT_STATE',
        `snapshot.json: unreadable (${(err as Error).message})`,
        'snapshot.json',
      )
    }
  }
}
