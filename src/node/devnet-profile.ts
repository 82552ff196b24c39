// The devnet profile: the same config schema with timings short enough that the first slot is
// final within a minute of `nsn devnet` starting on a 2-core machine. Chain-side values (block
// time, epoch length, lookahead, challenge period) are the dev chain's flags, set by the devnet.
import type { ConfigProfile } from './config.ts'

export const DEVNET_PROFILE = {
  node: { logLevel: 'warn' },
  http: { port: 0 },
  p2p: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'], heartbeatMs: 500 },
  vortex: { maxResolution: '320x240', embeddingNoise: 0.01 },
  lane0: {
    onDeckLeadMs: 5_000,
    bftTimeoutMs: 4_000,
    commitTimeoutMs: 4_000,
    publishGraceMs: 1_500,
    submitGraceMs: 1_000,
    vortexTimeoutMs: 30_000,
  },
} satisfies ConfigProfile

/** Dev chain settings of the devnet (flags of `nsn devchain`). */
export const DEVNET_CHAIN = {
  blockMs: 500,
  /**
   * 12 s slots. Each slot's video lasts the whole slot (DEVNET_VIDEO_SEC), so the page plays without
   * gaps one slot behind live: slot N+1 is generated, agreed and published while slot N plays.
   * Five directors generating a 12 s clip at once take ~8 s of a 2-core machine (bench/generate.ts).
   */
  blocksPerSlot: 24,
  /** 20 slots per epoch. */
  epochLengthBlocks: 480,
  lookaheadBlocks: 10,
  challengePeriodBlocks: 6,
  directors: 5,
  quorum: 3,
} as const

/** Length of each devnet slot's video: exactly one slot, so consecutive slots play back to back. */
export const DEVNET_VIDEO_SEC = (DEVNET_CHAIN.blocksPerSlot * DEVNET_CHAIN.blockMs) / 1000
