// Epoch tracking (docs/protocol.md §7, §8): turns the chain's event stream into the node's view of epochs —
// who is elected, when to go On-Deck (lead time before the epoch's first block), when an epoch starts
// and ends, and when each block-driven slot starts. No network I/O: it reads a ChainClient it is given.
import type { ChainClient, ChainEvent, ChainInfo } from '../chain/client.ts'
import { bytesToHex } from '../types/index.ts'
import { TypedEmitter } from './emitter.ts'
import { SchedulerError } from './errors.ts'
import { SlotClock } from './slot-clock.ts'

/** What the scheduler tells the rest of the node. `elected`: whether this node is a director of `epoch`. */
export type EpochEvent =
  | {
      /** The chain announced the directors of an upcoming epoch (OnDeckElection). */
      type: 'DirectorElected'
      epoch: bigint
      directors: Uint8Array[]
      startBlock: bigint
      elected: boolean
      block: bigint
    }
  | {
      /**
       * This node is elected for `epoch` and the epoch starts within the On-Deck lead time (or the
       * chain announced it later than that). Always precedes the epoch's `EpochStarted` for an
       * elected node.
       */
      type: 'OnDeck'
      epoch: bigint
      directors: Uint8Array[]
      startBlock: bigint
      block: bigint
      /** Estimated milliseconds until the epoch's first block. */
      leadMs: number
    }
  | {
      type: 'EpochStarted'
      epoch: bigint
      directors: Uint8Array[]
      startBlock: bigint
      endBlock: bigint
      elected: boolean
      block: bigint
    }
  | { type: 'EpochEnded'; epoch: bigint; elected: boolean; block: bigint }
  | { type: 'SlotStarted'; slot: bigint; epoch: bigint; block: bigint }

export type EpochEventType = EpochEvent['type']

export interface EpochTrackerOptions {
  /** This node's libp2p protobuf public key (36 bytes). */
  self: Uint8Array
  /** How long before an epoch's first block an elected node goes On-Deck. @default 120000 */
  onDeckLeadMs: number
  blockTimeMs: number
  slotClock: SlotClock
}

interface EpochRecord {
  directors: Uint8Array[]
  startBlock: bigint | null
  endBlock: bigint | null
  elected: boolean
  onDeckEmitted: boolean
  started: boolean
  ended: boolean
}

/** Epochs kept behind the current one (elected sets are needed a little after an epoch ends). */
const EPOCHS_KEPT_BEHIND = 2n

/**
 * The deterministic heart of the tracker: chain events in, epoch events out. Separate from the
 * subscription so that every rule is testable without a chain.
 */
export class EpochTrackerCore {
  private readonly selfHex: string
  private readonly epochs = new Map<bigint, EpochRecord>()
  private readonly leadBlocks: bigint
  currentBlock: bigint | null = null
  currentSlot: bigint | null = null
  /** The latest epoch the chain said has started. */
  currentEpoch: bigint | null = null

  constructor(readonly options: EpochTrackerOptions) {
    this.selfHex = bytesToHex(options.self)
    if (!Number.isFinite(options.blockTimeMs) || options.blockTimeMs <= 0) {
      throw new SchedulerError('INVALID_CHAIN_INFO', `blockTimeMs: ${options.blockTimeMs} must be > 0`)
    }
    this.leadBlocks = BigInt(Math.ceil(Math.max(0, options.onDeckLeadMs) / options.blockTimeMs))
  }

  get slotClock(): SlotClock {
    return this.options.slotClock
  }

  /** Elected directors of `epoch`, when known. */
  directors(epoch: bigint): readonly Uint8Array[] | undefined {
    return this.epochs.get(epoch)?.directors
  }

  isElected(epoch: bigint): boolean {
    return this.epochs.get(epoch)?.elected ?? false
  }

  private isSelf(directors: readonly Uint8Array[]): boolean {
    return directors.some((d) => bytesToHex(d) === this.selfHex)
  }

  private record(epoch: bigint, directors: Uint8Array[]): EpochRecord {
    let rec = this.epochs.get(epoch)
    if (rec === undefined) {
      rec = {
        directors,
        startBlock: null,
        endBlock: null,
        elected: this.isSelf(directors),
        onDeckEmitted: false,
        started: false,
        ended: false,
      }
      this.epochs.set(epoch, rec)
    } else if (directors.length > 0) {
      // The chain's EpochStarted list is authoritative over an earlier announcement.
      rec.directors = directors
      rec.elected = this.isSelf(directors)
    }
    return rec
  }

  private onDeck(epoch: bigint, rec: EpochRecord, block: bigint): EpochEvent {
    rec.onDeckEmitted = true
    const start = rec.startBlock ?? block
    const blocksLeft = start > block ? Number(start - block) : 0
    return {
      type: 'OnDeck',
      epoch,
      directors: rec.directors,
      startBlock: start,
      block,
      leadMs: blocksLeft * this.options.blockTimeMs,
    }
  }

  /** Feed one chain event (in block order); returns the epoch events it causes, in order. */
  handle(ev: ChainEvent): EpochEvent[] {
    const out: EpochEvent[] = []
    if (this.currentBlock === null || ev.block > this.currentBlock) this.currentBlock = ev.block
    switch (ev.type) {
      case 'OnDeckElection': {
        const rec = this.record(ev.epoch, ev.directors)
        rec.startBlock = ev.startBlock
        out.push({
          type: 'DirectorElected',
          epoch: ev.epoch,
          directors: rec.directors,
          startBlock: ev.startBlock,
          elected: rec.elected,
          block: ev.block,
        })
        break
      }
      case 'EpochStarted': {
        const rec = this.record(ev.epoch, ev.directors)
        if (rec.started) break // a repeated announcement changes nothing
        rec.startBlock ??= ev.block
        rec.endBlock = ev.endBlock
        // docs/protocol.md §8: an elected node always passes through On-Deck, even when the election
        // reached it late (restart mid-lookahead, or a chain announcing at the switch).
        if (rec.elected && !rec.onDeckEmitted) out.push(this.onDeck(ev.epoch, rec, ev.block))
        rec.started = true
        if (this.currentEpoch === null || ev.epoch > this.currentEpoch) this.currentEpoch = ev.epoch
        out.push({
          type: 'EpochStarted',
          epoch: ev.epoch,
          directors: rec.directors,
          startBlock: rec.startBlock,
          endBlock: ev.endBlock,
          elected: rec.elected,
          block: ev.block,
        })
        break
      }
      case 'EpochCompleted': {
        const rec = this.epochs.get(ev.epoch)
        if (rec?.ended) break
        if (rec !== undefined) rec.ended = true
        out.push({ type: 'EpochEnded', epoch: ev.epoch, elected: rec?.elected ?? false, block: ev.block })
        break
      }
      default:
        break
    }
    out.push(...this.onBlock())
    return out
  }

  /** Slot starts and On-Deck lead times that the current block reaches. */
  private onBlock(): EpochEvent[] {
    const out: EpochEvent[] = []
    const block = this.currentBlock
    if (block === null) return out
    for (const [epoch, rec] of this.epochs) {
      if (
        rec.elected &&
        !rec.onDeckEmitted &&
        !rec.started &&
        rec.startBlock !== null &&
        rec.startBlock - block <= this.leadBlocks
      ) {
        out.push(this.onDeck(epoch, rec, block))
      }
    }
    const slot = this.slotClock.slotOfBlock(block)
    if (this.currentSlot === null || slot > this.currentSlot) {
      // Only the newest slot is announced: a node that fell behind must not replay missed slots.
      this.currentSlot = slot
      out.push({ type: 'SlotStarted', slot, epoch: this.slotClock.epochOfSlot(slot), block })
    }
    this.prune()
    return out
  }

  private prune(): void {
    if (this.currentEpoch === null) return
    for (const epoch of this.epochs.keys()) {
      if (epoch + EPOCHS_KEPT_BEHIND < this.currentEpoch) this.epochs.delete(epoch)
    }
  }
}

export interface EpochTrackerEvents {
  epoch: EpochEvent
  /** Every chain event, after the tracker has handled it (results and finality for lane0). */
  chain: ChainEvent
}

export interface EpochTrackerComponents {
  chain: ChainClient
}

export interface EpochTrackerInit {
  self: Uint8Array
  /** @default 120000 (docs/protocol.md §8) */
  onDeckLeadMs?: number
}

/**
 * Subscribes to a ChainClient and emits `EpochEvent`s. On start it reconstructs the current
 * position from `info()` and the elected sets of the current and next epoch (a node restarting
 * mid-epoch must learn that it is Active), then follows the chain's events from the next block.
 */
export class EpochTracker {
  readonly events = new TypedEmitter<EpochTrackerEvents>()
  private core: EpochTrackerCore | null = null
  private chainInfo: ChainInfo | null = null
  private unsubscribe: (() => void) | null = null
  private readonly onDeckLeadMs: number

  constructor(
    private readonly components: EpochTrackerComponents,
    private readonly init: EpochTrackerInit,
  ) {
    this.onDeckLeadMs = init.onDeckLeadMs ?? 120_000
  }

  private get started(): EpochTrackerCore {
    if (this.core === null) throw new SchedulerError('NOT_STARTED', 'EpochTracker: call start() first')
    return this.core
  }

  get info(): ChainInfo {
    if (this.chainInfo === null) throw new SchedulerError('NOT_STARTED', 'EpochTracker: call start() first')
    return this.chainInfo
  }

  get slotClock(): SlotClock {
    return this.started.slotClock
  }

  get currentSlot(): bigint | null {
    return this.core?.currentSlot ?? null
  }

  get currentEpoch(): bigint | null {
    return this.core?.currentEpoch ?? null
  }

  get currentBlock(): bigint | null {
    return this.core?.currentBlock ?? null
  }

  directors(epoch: bigint): readonly Uint8Array[] | undefined {
    return this.core?.directors(epoch)
  }

  isElected(epoch: bigint): boolean {
    return this.core?.isElected(epoch) ?? false
  }

  async start(): Promise<void> {
    if (this.core !== null) return
    const chain = this.components.chain
    const info = await chain.info()
    const slotClock = SlotClock.fromChainInfo(info)
    this.chainInfo = info
    this.core = new EpochTrackerCore({
      self: this.init.self,
      onDeckLeadMs: this.onDeckLeadMs,
      blockTimeMs: info.blockTimeMs,
      slotClock,
    })
    const epoch = info.currentEpoch
    const [current, next] = await Promise.all([
      chain.electedDirectors(epoch),
      chain.electedDirectors(epoch + 1n),
    ])
    const block = info.bestBlock
    // Replay the present as if the events had just happened, then follow the live stream.
    if (current.length > 0) {
      this.feed({
        type: 'EpochStarted',
        block,
        epoch,
        directors: current,
        endBlock: slotClock.firstBlockOfEpoch(epoch + 1n),
      })
    }
    if (next.length > 0) {
      this.feed({
        type: 'OnDeckElection',
        block,
        epoch: epoch + 1n,
        directors: next,
        startBlock: slotClock.firstBlockOfEpoch(epoch + 1n),
      })
    }
    this.feed({ type: 'NewBlock', block })
    this.unsubscribe = chain.subscribe((ev) => this.feed(ev), block + 1n)
  }

  /** Handle one chain event (public so tests and replays can inject events). */
  feed(ev: ChainEvent): void {
    for (const out of this.started.handle(ev)) this.events.emit('epoch', out)
    this.events.emit('chain', ev)
  }

  stop(): void {
    this.unsubscribe?.()
    this.unsubscribe = null
  }
}
