// `nsn doctor`'s clock check: the local clock against the dev chain's block timestamps. A real dev
// chain for the measurement; a skewed clock simulated by the "now" the check reads (its seam).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { DevChainClient } from '../../../src/chain/index.ts'
import { clockCheck, runChecks } from '../../../src/cli/doctor.ts'
import { loadConfig } from '../../../src/node/config.ts'
import { type DevChainReady, type NsnProcess, startNsn } from '../../../src/node/processes.ts'
import { waitFor } from '../../helpers/network.ts'

const dir = await mkdtemp(join(tmpdir(), 'nsn-doctor-clock-'))

describe('nsn doctor: clock skew against the chain', () => {
  let chain: NsnProcess<DevChainReady>
  before(async () => {
    chain = await startNsn<DevChainReady>(
      'devchain',
      [
        'devchain',
        '--data-dir',
        join(dir, 'chain'),
        '--listen',
        '127.0.0.1:0',
        '--block-ms',
        '200',
        '--log-level',
        'warn',
      ],
      { logFile: join(dir, 'devchain.log') },
    )
  })
  after(async () => {
    await chain?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  test('chain_info carries the best block timestamp, by the chain clock', async () => {
    const client = new DevChainClient({ url: chain.ready.url })
    try {
      const info = await waitFor(
        'a sealed block with a timestamp',
        async () => {
          const i = await client.info()
          return i.bestBlockTimestampMs != null ? i : null
        },
        { timeoutMs: 10_000 },
      )
      const age = Date.now() - info.bestBlockTimestampMs!
      // Same machine, same clock: sealed before we asked, not longer ago than a generous bound.
      assert.ok(age >= 0 && age < 30_000, `block ${info.bestBlock} sealed ${age} ms ago`)
    } finally {
      await client.close()
    }
  })

  const clockOf = async (now: () => number) => {
    const config = await loadConfig({
      set: [
        `chain.url=${chain.ready.url}`,
        `node.dataDir=${join(dir, 'node')}`,
        'node.role=viewer',
        'http.port=0',
      ],
    })
    const results = await runChecks(config, { now, maxClockSkewMs: 2000 })
    return results.find((r) => r.name === 'clock')
  }

  test('a clock in step with the chain passes', async () => {
    const r = await clockOf(Date.now)
    assert.equal(r?.ok, true, JSON.stringify(r))
    assert.match(r!.detail, /^within 2000 ms of the chain's block timestamps \(ahead by -?\d+ to -?\d+ ms\)$/)
  })

  test('a clock a minute ahead or behind fails with the fix', async () => {
    const ahead = await clockOf(() => Date.now() + 60_000)
    assert.equal(ahead?.ok, false)
    assert.match(
      ahead!.detail,
      /^this machine's clock is at least \d+ ms ahead of the chain's \(block \d+\); the bound is 2000 ms$/,
    )
    assert.match(ahead!.fix!, /^synchronise this machine's clock \(timedatectl set-ntp true/)
    const behind = await clockOf(() => Date.now() - 60_000)
    assert.equal(behind?.ok, false)
    assert.match(behind!.detail, /^this machine's clock is at least \d+ ms behind the chain's/)
  })
})

describe('clockCheck', () => {
  const info = { bestBlock: 7n, blockTimeMs: 500, bestBlockTimestampMs: 1_000_000 }
  test('the bounds allow for the block time and the round trip', () => {
    // Answer read 100..150 ms after the block was sealed: in step.
    assert.equal(clockCheck(info, 1_000_100, 1_000_150, 0).ok, true)
    // Sent 2.6 s after sealing with 500 ms blocks: at least 2.1 s ahead.
    const r = clockCheck(info, 1_002_600, 1_002_610, 2000)
    assert.equal(r.ok, false)
    assert.match(r.detail, /at least 2100 ms ahead/)
    // Received before the block was sealed by the chain's clock: behind.
    assert.match(clockCheck(info, 997_000, 997_010, 2000).detail, /at least 2990 ms behind/)
  })
  test('no timestamp: not measured, not failed', () => {
    const r = clockCheck({ ...info, bestBlockTimestampMs: null }, 1, 2, 0)
    assert.equal(r.ok, true)
    assert.match(r.detail, /^not measured: the chain reports no timestamp for block 7 yet/)
  })
})
