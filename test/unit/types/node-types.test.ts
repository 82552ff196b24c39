// EpochInfo, NodeCapability and LaneMode: SCALE vectors and round trips.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  bytesToHex,
  DecodeError,
  decodeScale,
  EpochInfoCodec,
  encodeScale,
  hexToBytes,
  LaneModeCodec,
  NodeCapabilityCodec,
} from '../../../src/types/index.ts'
import { expectCode } from '../../helpers.ts'

describe('node wire types', () => {
  it('EpochInfo: u64 fields then Vec<Vec<u8>> of protobuf keys', () => {
    const key = new Uint8Array(36).fill(1)
    const info = { epoch: 2n ** 60n, start_block: 600n, end_block: 1200n, directors: [key] }
    const enc = encodeScale(EpochInfoCodec, info)
    assert.equal(
      bytesToHex(enc),
      `${'0000000000000010'}${'5802000000000000'}${'b004000000000000'}04${'90'}${'01'.repeat(36)}`,
    )
    assert.deepEqual(decodeScale(EpochInfoCodec, enc, 1000), info)
  })

  it('LaneMode: one index byte, then the variant fields', () => {
    assert.equal(bytesToHex(encodeScale(LaneModeCodec, { kind: 'Lane1Active', value: null })), '00')
    const draining = { kind: 'Draining', value: { epoch: 7n } } as const
    assert.equal(bytesToHex(encodeScale(LaneModeCodec, draining)), '010700000000000000')
    assert.deepEqual(decodeScale(LaneModeCodec, hexToBytes('020900000000000000'), 9), {
      kind: 'Lane0Active',
      value: { epoch: 9n },
    })
    const e = expectCode(() => decodeScale(LaneModeCodec, hexToBytes('03'), 9), DecodeError, 'INVALID_ENUM')
    assert.equal(e.field, 'LaneMode')
  })

  it('NodeCapability round-trips every variant, and its JSON form is {variant: null}', () => {
    for (const kind of ['Director', 'Validator', 'Relay', 'Viewer', 'Lane1Worker'] as const) {
      const v = { kind, value: null }
      assert.deepEqual(decodeScale(NodeCapabilityCodec, encodeScale(NodeCapabilityCodec, v), 1), v)
      assert.deepEqual(NodeCapabilityCodec.toPlain(v, 'json'), { [kind]: null })
      assert.deepEqual(NodeCapabilityCodec.fromPlain({ [kind]: null }, 'cap'), v)
    }
  })
})
