// This director's own signed BFT messages across a restart (docs/protocol.md §5 step 5): what it
// signed is journaled before it is published, and after a restart exactly that is re-sent — never a
// second, different message for the same slot (which would make it an equivocator).
import { type NodeKey, signCommit, signProposal } from '../crypto/index.ts'
import { type Commit, decodeBftSignal, encodeBftSignal, equalBytes, type Proposal } from '../types/index.ts'
import type { BftInput } from './bft.ts'
import type { Logger } from './log.ts'

export interface SigningDeps {
  key: NodeKey
  networkId: Uint8Array
  log: Logger
}

/**
 * Our proposal for the slot: the one journaled before a restart, exactly, if there is one (a
 * generator that is not bit-exact would otherwise make us an equivocator); else a new one,
 * journaled before it is published.
 */
export async function ownProposal(deps: SigningDeps, input: BftInput): Promise<Proposal> {
  const recorded = input.signed?.recorded.proposal ?? null
  if (recorded !== null) {
    const s = decodeBftSignal(recorded)
    if (s.kind === 'Proposal' && s.value.slot === input.slot && s.value.epoch === input.epoch) {
      deps.log.info({ slot: input.slot }, 're-sending the proposal journaled before the restart')
      return s.value
    }
  }
  const proposal = signProposal(deps.key, deps.networkId, {
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
export async function ownCommit(
  deps: SigningDeps,
  input: BftInput,
  canonical: Uint8Array,
): Promise<Commit | null> {
  const recorded = input.signed?.recorded.commit ?? null
  if (recorded !== null) {
    const s = decodeBftSignal(recorded)
    if (s.kind === 'Commit' && s.value.slot === input.slot) {
      if (equalBytes(s.value.canonical_hash, canonical)) return s.value
      deps.log.warn(
        { slot: input.slot },
        'journaled commit names another canonical hash: not signing a second',
      )
      return null
    }
  }
  const commit = signCommit(deps.key, deps.networkId, {
    epoch: input.epoch,
    slot: input.slot,
    canonical_hash: canonical,
  })
  await input.signed?.record('commit', encodeBftSignal({ kind: 'Commit', value: commit }))
  return commit
}
