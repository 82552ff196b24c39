// The node's lane state (docs/protocol.md §8): which lane the GPU serves.
// Lane1Active → Draining{epoch} on On-Deck (Lane 1 work is drained) → Lane0Active{epoch} when the
// epoch starts → Lane1Active when it ends; a node elected for consecutive epochs stays in Lane 0.
import type { LaneMode } from '../types/index.ts'
import { TypedEmitter } from './emitter.ts'
import type { EpochEvent } from './epoch-tracker.ts'
import { SchedulerError } from './errors.ts'

export interface LaneChange {
  from: LaneMode
  to: LaneMode
  cause: EpochEvent['type']
}

export interface LaneStateEvents {
  change: LaneChange
}

export function describeLane(mode: LaneMode): string {
  return mode.kind === 'Lane1Active' ? 'Lane1Active' : `${mode.kind}{${mode.value.epoch}}`
}

/**
 * Pure state machine over the elected node's epoch events. Events about epochs this node is not
 * elected for are ignored; an event that makes no sense in the current mode throws
 * SchedulerError INVALID_TRANSITION and leaves the mode unchanged.
 */
export class LaneStateMachine {
  readonly events = new TypedEmitter<LaneStateEvents>()
  private current: LaneMode = { kind: 'Lane1Active', value: null }
  /** An epoch this node is On-Deck for while still serving the previous one (consecutive election). */
  private nextEpoch: bigint | null = null

  get mode(): LaneMode {
    return this.current
  }

  /** The epoch announced for a consecutive term, if any. */
  get pendingEpoch(): bigint | null {
    return this.nextEpoch
  }

  private invalid(ev: EpochEvent, epoch: bigint): never {
    throw new SchedulerError(
      'INVALID_TRANSITION',
      `lane: ${ev.type}{${epoch}} is not valid in ${describeLane(this.current)}`,
    )
  }

  private set(to: LaneMode, cause: EpochEvent['type']): LaneChange {
    const change = { from: this.current, to, cause }
    this.current = to
    this.events.emit('change', change)
    return change
  }

  /** Apply an epoch event; returns the change it caused, or null when the mode stays the same. */
  apply(ev: EpochEvent): LaneChange | null {
    const cur = this.current
    switch (ev.type) {
      case 'OnDeck': {
        if (cur.kind === 'Lane1Active')
          return this.set({ kind: 'Draining', value: { epoch: ev.epoch } }, ev.type)
        // §8 fix: elected again for the next epoch while in Lane 0 — keep serving, remember it.
        if (ev.epoch === cur.value.epoch + 1n && this.nextEpoch === null) {
          this.nextEpoch = ev.epoch
          return null
        }
        return this.invalid(ev, ev.epoch)
      }
      case 'EpochStarted': {
        if (!ev.elected) return null
        if (cur.kind === 'Draining' && cur.value.epoch === ev.epoch) {
          return this.set({ kind: 'Lane0Active', value: { epoch: ev.epoch } }, ev.type)
        }
        if (cur.kind === 'Lane0Active' && this.nextEpoch === ev.epoch) {
          this.nextEpoch = null
          return this.set({ kind: 'Lane0Active', value: { epoch: ev.epoch } }, ev.type)
        }
        return this.invalid(ev, ev.epoch)
      }
      case 'EpochEnded': {
        if (!ev.elected) return null
        if (cur.kind === 'Lane0Active' && cur.value.epoch === ev.epoch) {
          if (this.nextEpoch !== null) return null // the next term starts at once: the GPU stays in Lane 0
          return this.set({ kind: 'Lane1Active', value: null }, ev.type)
        }
        // The chain may end N after N+1 has started (same block): already moved on.
        if (cur.kind === 'Lane0Active' && cur.value.epoch === ev.epoch + 1n) return null
        return this.invalid(ev, ev.epoch)
      }
      default:
        return null
    }
  }
}
