// The JSON-RPC wire format (src/chain/rpc.ts): malformed parameters are refused with the parameter
// named, chain values survive the JSON round trip, configuration helpers check their bounds.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type ChainEvent,
  DevChainError,
  isLoopbackAddress,
  parseListen,
  RpcError,
  resolveChainParams,
} from '../../../src/chain/index.ts'
import {
  eventFromJson,
  eventToJson,
  Params,
  parseRegisterParams,
  parseSubmitParams,
} from '../../../src/chain/rpc.ts'
import { initBlake3 } from '../../../src/crypto/index.ts'
import { encodeCertificate } from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { expectCode } from '../../helpers.ts'
import { certificateFor } from './chain-fixtures.ts'

await initBlake3()

const k36 = `0x08011220${'11'.repeat(32)}`
const sig = `0x${'22'.repeat(64)}`

function invalidField(fn: () => unknown): { field?: string; code?: string } {
  const err = expectCode(fn, RpcError, 'INVALID_PARAMS')
  return err.data ?? {}
}

describe('parameter errors name the parameter', () => {
  it('registration parameters', () => {
    const good = {
      account: k36,
      peer: k36,
      role: 'director',
      region: 'eu-west',
      stake: '1',
      nonce: 0,
      signature: sig,
    }
    assert.equal(parseRegisterParams(good).role, 'director')
    assert.deepEqual(
      invalidField(() => parseRegisterParams({ ...good, account: undefined })),
      {
        field: 'account',
        code: 'MISSING_FIELD',
      },
    )
    assert.equal(invalidField(() => parseRegisterParams({ ...good, peer: '0x0801' })).field, 'peer')
    assert.equal(
      invalidField(() => parseRegisterParams({ ...good, peer: `0x09011220${'11'.repeat(32)}` })).code,
      'INVALID_KEY',
    )
    assert.equal(invalidField(() => parseRegisterParams({ ...good, region: 'mars' })).field, 'region')
    assert.equal(invalidField(() => parseRegisterParams({ ...good, role: 'king' })).field, 'role')
    assert.equal(invalidField(() => parseRegisterParams({ ...good, stake: 1 })).field, 'stake')
    assert.equal(invalidField(() => parseRegisterParams({ ...good, stake: '9'.repeat(40) })).field, 'stake')
    assert.equal(invalidField(() => parseRegisterParams({ ...good, nonce: -1 })).field, 'nonce')
    assert.equal(invalidField(() => parseRegisterParams({ ...good, signature: 'zz' })).code, 'INVALID_HEX')
    assert.deepEqual(
      invalidField(() => parseRegisterParams({ ...good, extra: 1 })),
      { field: 'extra', code: 'UNKNOWN_FIELD' },
    )
    assert.equal(invalidField(() => parseRegisterParams([1, 2])).field, 'params')
  })

  it('submission parameters, including a certificate that does not decode', async () => {
    const keys = await testKeys(3)
    const cert = encodeCertificate(certificateFor(new Uint8Array(32), 0n, 5n, keys).certificate)
    const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`
    const good = { slot: '5', certificate: hex(cert), submitter: k36, signature: sig }
    assert.equal(parseSubmitParams(good).slot, 5n)
    assert.equal(parseSubmitParams({ ...good, slot: 5 }).slot, 5n)
    assert.equal(
      invalidField(() => parseSubmitParams({ ...good, slot: '18446744073709551616' })).field,
      'slot',
    )
    assert.equal(invalidField(() => parseSubmitParams({ ...good, slot: 2 ** 60 })).field, 'slot')
    const truncated = invalidField(() =>
      parseSubmitParams({ ...good, certificate: hex(cert.subarray(0, 50)) }),
    )
    assert.ok(truncated.field?.startsWith('certificate'), `field ${truncated.field}`)
    assert.equal(truncated.code, 'TRUNCATED')
    const trailing = invalidField(() =>
      parseSubmitParams({ ...good, certificate: hex(new Uint8Array([...cert, 0])) }),
    )
    assert.equal(trailing.code, 'TRAILING_BYTES')
    assert.equal(
      invalidField(() => parseSubmitParams({ ...good, certificate: `0x${'00'.repeat(70_000)}` })).code,
      'INVALID_LENGTH',
    )
  })

  it('Params refuses non-objects and names unknown parameters', () => {
    assert.equal(invalidField(() => new Params('x', [])).field, 'params')
    assert.doesNotThrow(() => new Params(undefined, []))
    assert.equal(invalidField(() => new Params({ epoch: 1, epcoh: 2 }, ['epoch'])).field, 'epcoh')
  })
})

describe('JSON forms', () => {
  it('every event type survives the round trip', () => {
    const d = [new Uint8Array(36).fill(3)]
    const h = new Uint8Array(32).fill(4)
    const events: ChainEvent[] = [
      { type: 'OnDeckElection', block: 5n, epoch: 1n, directors: d, startBlock: 8n },
      { type: 'EpochStarted', block: 8n, epoch: 1n, directors: d, endBlock: 16n },
      { type: 'EpochCompleted', block: 8n, epoch: 0n },
      { type: 'BftResultSubmitted', block: 9n, slot: 2n ** 63n, canonicalHash: h, submitter: d[0]! },
      { type: 'BftResultFinalized', block: 12n, slot: 3n, canonicalHash: h },
      { type: 'NewBlock', block: 12n },
    ]
    for (const [i, e] of events.entries()) {
      const back = eventFromJson(JSON.parse(JSON.stringify(eventToJson(e, i))))
      assert.deepEqual(back, { event: e, index: i })
    }
  })
})

describe('configuration', () => {
  it('checks parameter bounds and names the field', () => {
    const field = (p: Parameters<typeof resolveChainParams>[0]) =>
      expectCode(() => resolveChainParams(p), DevChainError, 'INVALID_CONFIG').field
    assert.equal(field({ blocksPerSlot: 7 }), 'blocksPerSlot')
    assert.equal(field({ lookaheadBlocks: 600 }), 'lookaheadBlocks')
    assert.equal(field({ quorum: 6 }), 'quorum')
    assert.equal(field({ directorsPerEpoch: 0 }), 'directorsPerEpoch')
    assert.equal(field({ jitterPercent: 80 }), 'jitterPercent')
    assert.equal(resolveChainParams({}).epochLengthBlocks, 600)
  })

  it('parses listen addresses and recognises loopback clients', () => {
    assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 })
    assert.deepEqual(parseListen('[::1]:9955'), { host: '::1', port: 9955 })
    assert.equal(expectCode(() => parseListen('localhost'), DevChainError, 'INVALID_CONFIG').field, 'listen')
    expectCode(() => parseListen('127.0.0.1:70000'), DevChainError, 'INVALID_CONFIG')
    for (const a of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1'])
      assert.equal(isLoopbackAddress(a), true, a)
    for (const a of ['10.0.0.1', '0.0.0.0', '::', '::ffff:192.168.1.2', '128.0.0.1', undefined]) {
      assert.equal(isLoopbackAddress(a), false, String(a))
    }
  })
})
