// The typed events Lane 0 emits for observers (the devnet's live view, /api/status, logs): director
// state and lane changes, pre-warm results, and every stage of every slot.
import type { LaneChange } from '../scheduler/index.ts'
import type { DirectorState } from './director-state.ts'
import type { SlotStage } from './errors.ts'
import type { SubmissionState } from './journal.ts'

/** One step of one slot, for progress displays. Hashes are hex. */
export type SlotStageEvent = { epoch: bigint; slot: bigint; atMs: number } & (
  | { stage: 'waiting-recipe' }
  | { stage: 'recipe'; recipeId: string; recipeHash: string }
  | { stage: 'generating' }
  | { stage: 'generated'; contentHash: string; generationTimeMs: number; bytes: number }
  | { stage: 'proposals'; received: number; expected: number }
  | {
      stage: 'certified'
      canonicalHash: string
      members: number
      similarity: number | null
      /** Our rank among the members (-1: not a member). */
      rank: number
      source: 'local' | 'network'
    }
  | { stage: 'publishing'; role: 'canonical' | 'fallback-candidate' }
  | {
      stage: 'chunks-published'
      role: 'canonical' | 'fallback'
      published: number
      total: number
      bytes: number
    }
  /** `no-peers`: nobody is subscribed to the video topic (a lone director); the slot goes on. */
  | { stage: 'publish-skipped'; reason: 'stood-down' | 'not-member' | 'no-peers' }
  | {
      stage: 'submission'
      state: SubmissionState
      attempts: number
      block: bigint | null
      detail: string | null
    }
  | { stage: 'finalized'; block: bigint }
  | {
      stage: 'failed'
      failedStage: SlotStage
      code: string
      /** The code of the stage's own error (e.g. VortexError TIMEOUT, BftError NO_QUORUM). */
      causeCode: string | null
      reason: string
    }
  | { stage: 'done'; durationMs: number }
)

export interface Lane0Events {
  state: { from: DirectorState; to: DirectorState }
  lane: LaneChange
  /** On-Deck pre-warm result, before the epoch starts. */
  prewarm: { epoch: bigint; ok: boolean; reason: string | null }
  slot: SlotStageEvent
  /** An invalid transition or an unexpected internal failure (the service keeps running). */
  error: { where: string; code: string; message: string }
}
