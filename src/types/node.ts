// Node-level wire types shared by the scheduler, chain and status API: epochs, capabilities, lanes.
import { bytes, type Codec, type CodecValue, enumOf, struct, u64, unit, vec } from './codec.ts'

/** One director epoch as the chain announces it (docs/protocol.md §7). */
export interface EpochInfo {
  epoch: bigint
  start_block: bigint
  end_block: bigint
  /** Elected directors: libp2p protobuf public keys (36 bytes each), in election order. */
  directors: Uint8Array[]
}

export const EpochInfoCodec: Codec<EpochInfo> = struct('EpochInfo', {
  epoch: u64,
  start_block: u64,
  end_block: u64,
  directors: vec(bytes(64), 64),
})

/** What a node offers the network; a director is also a relay. */
export const NodeCapabilityCodec = enumOf('NodeCapability', [
  { kind: 'Director', index: 0, codec: unit },
  { kind: 'Validator', index: 1, codec: unit },
  { kind: 'Relay', index: 2, codec: unit },
  { kind: 'Viewer', index: 3, codec: unit },
  { kind: 'Lane1Worker', index: 4, codec: unit },
] as const)
export type NodeCapability = CodecValue<typeof NodeCapabilityCodec>

/** Which lane the node's GPU is serving (the scheduler's lane state). */
export const LaneModeCodec = enumOf('LaneMode', [
  { kind: 'Lane1Active', index: 0, codec: unit },
  { kind: 'Draining', index: 1, codec: struct<{ epoch: bigint }>('Draining', { epoch: u64 }) },
  { kind: 'Lane0Active', index: 2, codec: struct<{ epoch: bigint }>('Lane0Active', { epoch: u64 }) },
] as const)
export type LaneMode = CodecValue<typeof LaneModeCodec>
