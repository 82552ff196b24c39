// The director's state machine (docs/protocol.md §8), pure: Standby → OnDeck{epoch} →
// Active{epoch, slot} → Draining{epoch} → Standby. §8 fix: a director elected for epoch N+1 while
// serving N carries `nextEpoch` and goes straight from Active/Draining{N} to Active{N+1}.
import { DirectorStateError } from './errors.ts'

export type DirectorState =
  | { kind: 'Standby' }
  | { kind: 'OnDeck'; epoch: bigint }
  | { kind: 'Active'; epoch: bigint; slot: bigint | null; nextEpoch: bigint | null }
  | { kind: 'Draining'; epoch: bigint; nextEpoch: bigint | null }

export type DirectorStateKind = DirectorState['kind']

/** Inputs, already filtered to epochs this node is elected for. */
export type DirectorInput =
  | { type: 'OnDeck'; epoch: bigint }
  | { type: 'EpochStarted'; epoch: bigint }
  | { type: 'SlotStarted'; epoch: bigint; slot: bigint }
  | { type: 'EpochEnded'; epoch: bigint }
  /** Every slot of `epoch` has finished or been abandoned. */
  | { type: 'Drained'; epoch: bigint }

export const DIRECTOR_STATE_KINDS: readonly DirectorStateKind[] = ['Standby', 'OnDeck', 'Active', 'Draining']

export function describeState(s: DirectorState): string {
  switch (s.kind) {
    case 'Standby':
      return 'Standby'
    case 'OnDeck':
      return `OnDeck{${s.epoch}}`
    case 'Active':
      return `Active{${s.epoch}, ${s.slot ?? '-'}${s.nextEpoch === null ? '' : `, next ${s.nextEpoch}`}}`
    case 'Draining':
      return `Draining{${s.epoch}${s.nextEpoch === null ? '' : `, next ${s.nextEpoch}`}}`
  }
}

function describeInput(i: DirectorInput): string {
  return i.type === 'SlotStarted' ? `SlotStarted{${i.epoch}, ${i.slot}}` : `${i.type}{${i.epoch}}`
}

/** The next state for `input`, or a DirectorStateError (the caller keeps its state). */
export function nextDirectorState(s: DirectorState, input: DirectorInput): DirectorState {
  const e = input.epoch
  switch (s.kind) {
    case 'Standby':
      if (input.type === 'OnDeck') return { kind: 'OnDeck', epoch: e }
      break
    case 'OnDeck':
      if (input.type === 'EpochStarted' && e === s.epoch)
        return { kind: 'Active', epoch: e, slot: null, nextEpoch: null }
      break
    case 'Active':
      if (input.type === 'SlotStarted' && e === s.epoch && (s.slot === null || input.slot > s.slot))
        return { ...s, slot: input.slot }
      if (input.type === 'OnDeck' && e === s.epoch + 1n && s.nextEpoch === null) return { ...s, nextEpoch: e }
      // The chain may start N+1 before it reports N completed (same block).
      if (input.type === 'EpochStarted' && s.nextEpoch !== null && e === s.nextEpoch)
        return { kind: 'Active', epoch: e, slot: null, nextEpoch: null }
      if (input.type === 'EpochEnded' && e === s.epoch)
        return { kind: 'Draining', epoch: e, nextEpoch: s.nextEpoch }
      break
    case 'Draining':
      if (input.type === 'Drained' && e === s.epoch)
        return s.nextEpoch === null ? { kind: 'Standby' } : { kind: 'OnDeck', epoch: s.nextEpoch }
      if (input.type === 'EpochStarted' && s.nextEpoch !== null && e === s.nextEpoch)
        return { kind: 'Active', epoch: e, slot: null, nextEpoch: null }
      if (input.type === 'OnDeck' && e === s.epoch + 1n && s.nextEpoch === null) return { ...s, nextEpoch: e }
      break
  }
  throw new DirectorStateError(
    'INVALID_TRANSITION',
    describeState(s),
    describeInput(input),
    `director: ${describeInput(input)} is not valid in ${describeState(s)}`,
  )
}

/** Holds the current state; `apply` moves it or throws with the state unchanged. */
export class DirectorStateMachine {
  private current: DirectorState = { kind: 'Standby' }

  get state(): DirectorState {
    return this.current
  }

  apply(input: DirectorInput): { from: DirectorState; to: DirectorState } {
    const from = this.current
    const to = nextDirectorState(from, input)
    this.current = to
    return { from, to }
  }
}
