// Lane 0 Prometheus metrics as plain data: names nsn_lane0_<what>_<unit>, time in
// seconds, labels only from bounded enums. Code takes `Lane0Metrics | null`.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export type SlotStageLabel = 'recipe' | 'generate' | 'bft' | 'publish' | 'submit' | 'total'
export type BftOutcomeLabel =
  | 'certified'
  | 'no_quorum'
  | 'commit_timeout'
  | 'aborted'
  | 'not_elected'
  | 'error'
export type ValidationLabel = 'accept' | 'reject' | 'ignore'
export type SubmissionLabel = 'accepted' | 'rejected' | 'unknown' | 'observed' | 'conflict' | 'error'
export type SlotResultLabel = 'success' | 'failed' | 'skipped'

export interface Lane0Metrics {
  slotStageSeconds: Histogram<'stage'>
  slots: Counter<'result'>
  bftOutcomes: Counter<'outcome'>
  bftSimilarity: Histogram
  bftRoundSeconds: Histogram
  bftProposals: Counter<'result'>
  bftCommits: Counter<'result'>
  bftProposalsPerRound: Histogram
  equivocations: Counter
  chunksPublished: Counter<'role'>
  publishBytes: Counter<'role'>
  chainSubmissions: Counter<'outcome'>
  sidecarErrors: Counter<'code'>
  generationSeconds: Histogram
  recipes: Counter<'result'>
  directorState: Gauge<'state'>
}

export function createLane0Metrics(register: Registry): Lane0Metrics {
  const registers = [register]
  return {
    slotStageSeconds: new Histogram({
      name: 'nsn_lane0_slot_stage_duration_seconds',
      help: 'Duration of each slot pipeline stage (total = recipe cut-off to submission)',
      labelNames: ['stage'],
      // docs/protocol.md §10: generation up to 12 s, BFT up to 5 s, a whole slot 45 s.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 45, 90],
      registers,
    }),
    slots: new Counter({
      name: 'nsn_lane0_slots_total',
      help: 'Slots processed by this director, by result',
      labelNames: ['result'],
      registers,
    }),
    bftOutcomes: new Counter({
      name: 'nsn_lane0_bft_rounds_total',
      help: 'BFT rounds by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    bftSimilarity: new Histogram({
      name: 'nsn_lane0_bft_similarity_ratio',
      help: 'Mean pairwise cosine similarity of the agreeing set of certified slots',
      buckets: [0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1],
      registers,
    }),
    bftRoundSeconds: new Histogram({
      name: 'nsn_lane0_bft_round_duration_seconds',
      help: 'From publishing our proposal to holding a certificate',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    bftProposals: new Counter({
      name: 'nsn_lane0_bft_proposals_received_total',
      help: 'BFT proposals received, by validation result',
      labelNames: ['result'],
      registers,
    }),
    bftCommits: new Counter({
      name: 'nsn_lane0_bft_commits_received_total',
      help: 'BFT commits received, by validation result',
      labelNames: ['result'],
      registers,
    }),
    bftProposalsPerRound: new Histogram({
      name: 'nsn_lane0_bft_proposals_per_round',
      help: 'Distinct elected proposers heard when the round decided',
      buckets: [0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 16, 32],
      registers,
    }),
    equivocations: new Counter({
      name: 'nsn_lane0_bft_equivocations_total',
      help: 'Directors caught signing two different proposals for one slot',
      registers,
    }),
    chunksPublished: new Counter({
      name: 'nsn_lane0_chunks_published_total',
      help: 'Video chunks published, by publisher role',
      labelNames: ['role'],
      registers,
    }),
    publishBytes: new Counter({
      name: 'nsn_lane0_published_bytes_total',
      help: 'Video payload bytes published, by publisher role',
      labelNames: ['role'],
      registers,
    }),
    chainSubmissions: new Counter({
      name: 'nsn_lane0_chain_submissions_total',
      help: 'submit_bft_result attempts, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    sidecarErrors: new Counter({
      name: 'nsn_lane0_sidecar_errors_total',
      help: 'Failed generation attempts, by error code',
      labelNames: ['code'],
      registers,
    }),
    generationSeconds: new Histogram({
      name: 'nsn_lane0_generation_duration_seconds',
      help: 'Sidecar generation time as measured by this director',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60],
      registers,
    }),
    recipes: new Counter({
      name: 'nsn_lane0_recipes_total',
      help: 'Recipes by result: accepted, rejected, ignored (gossip answers), superseded (lost a conflict), expired',
      labelNames: ['result'],
      registers,
    }),
    directorState: new Gauge({
      name: 'nsn_lane0_director_state',
      help: 'Current director state (1 for the current state, 0 otherwise)',
      labelNames: ['state'],
      registers,
    }),
  }
}
