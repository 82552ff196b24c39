// Block → slot → epoch arithmetic (src/chain/client.ts ChainInfo): slots are driven by blocks, slot s
// spans blocks [s * blocksPerSlot, (s + 1) * blocksPerSlot) and belongs to epoch floor(s / slotsPerEpoch).
import type { ChainInfo } from '../chain/client.ts'
import { SchedulerError } from './errors.ts'

export class SlotClock {
  readonly blocksPerSlot: bigint
  readonly slotsPerEpoch: bigint

  constructor(blocksPerSlot: number, slotsPerEpoch: number) {
    for (const [field, v] of [
      ['blocksPerSlot', blocksPerSlot],
      ['slotsPerEpoch', slotsPerEpoch],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 1) {
        throw new SchedulerError('INVALID_CHAIN_INFO', `${field}: ${v} must be an integer >= 1`)
      }
    }
    this.blocksPerSlot = BigInt(blocksPerSlot)
    this.slotsPerEpoch = BigInt(slotsPerEpoch)
  }

  static fromChainInfo(info: Pick<ChainInfo, 'blocksPerSlot' | 'slotsPerEpoch'>): SlotClock {
    return new SlotClock(info.blocksPerSlot, info.slotsPerEpoch)
  }

  get blocksPerEpoch(): bigint {
    return this.blocksPerSlot * this.slotsPerEpoch
  }

  slotOfBlock(block: bigint): bigint {
    return block / this.blocksPerSlot
  }

  firstBlockOfSlot(slot: bigint): bigint {
    return slot * this.blocksPerSlot
  }

  epochOfSlot(slot: bigint): bigint {
    return slot / this.slotsPerEpoch
  }

  epochOfBlock(block: bigint): bigint {
    return this.epochOfSlot(this.slotOfBlock(block))
  }

  firstSlotOfEpoch(epoch: bigint): bigint {
    return epoch * this.slotsPerEpoch
  }

  lastSlotOfEpoch(epoch: bigint): bigint {
    return (epoch + 1n) * this.slotsPerEpoch - 1n
  }

  firstBlockOfEpoch(epoch: bigint): bigint {
    return epoch * this.blocksPerEpoch
  }

  /** Whether `block` is the first block of a slot. */
  isSlotStart(block: bigint): boolean {
    return block % this.blocksPerSlot === 0n
  }
}
