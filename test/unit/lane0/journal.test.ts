// The slot journal and the result submitter (the Deliver 7, docs/protocol.md §7): atomic durable
// entries, resume after a restart, retries of unanswered submissions, no slot submitted twice.
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  entryFromJson,
  entryToJson,
  newJournalEntry,
  ResultSubmitter,
  SlotJournal,
  type SubmissionEvent,
  submitterOrder,
} from '../../../src/lane0/index.ts'
import { ManualClock } from '../../../src/scheduler/index.ts'
import { bytesToHex } from '../../../src/types/index.ts'
import { buildCertificate, TEST_NETWORK_ID, testKeys } from '../../fixtures/index.ts'
import { FakeChain, protoKeys, tempDir, until } from './fakes.ts'

async function fixture() {
  const keys = await testKeys(5)
  const chain = new FakeChain()
  chain.elected.set(1n, protoKeys(keys))
  const { certificate, canonicalHash } = buildCertificate({
    networkId: TEST_NETWORK_ID,
    epoch: 1n,
    slot: 5n,
    memberKeys: keys.slice(0, 3),
    committers: keys.slice(0, 3),
  })
  return { keys, chain, certificate, canonicalHash }
}

describe('SlotJournal', () => {
  it('round-trips an entry through its JSON form, u64 beyond 2^53 included', async () => {
    const { certificate, canonicalHash } = await fixture()
    const e = {
      ...newJournalEntry(2n ** 60n, 2n ** 62n + 1n, 123),
      stage: 'certified' as const,
      certificate,
      canonicalHash,
      recipeHash: new Uint8Array(32).fill(9),
      submission: {
        state: 'retrying' as const,
        attempts: 2,
        notBeforeMs: 999,
        block: 2n ** 55n,
        detail: 'timeout',
      },
    }
    const back = entryFromJson(entryToJson(e))
    assert.deepEqual(back, e)
  })

  it('persists updates atomically and reloads them; corrupt files are set aside, temp files dropped', async () => {
    const dir = await tempDir()
    try {
      const j = new SlotJournal(dir.path)
      await j.open()
      await j.update(
        7n,
        (e) => ({ ...e, stage: 'generated', videoPath: '/v.mp4' }),
        () => newJournalEntry(1n, 7n, 0),
      )
      await j.update(7n, (e) => ({ ...e, recipeId: 'r' }))
      await writeFile(join(dir.path, 'slot-00000000000000000009.json'), '{ not json')
      await writeFile(join(dir.path, 'slot-00000000000000000007.json.tmp'), 'half written')
      const j2 = new SlotJournal(dir.path)
      const entries = await j2.open()
      assert.equal(entries.length, 1)
      assert.equal(entries[0]!.videoPath, '/v.mp4')
      assert.equal(entries[0]!.recipeId, 'r')
      assert.equal(j2.corrupt.length, 1)
      const files = (await readdir(dir.path)).sort()
      assert.deepEqual(files, ['slot-00000000000000000007.json', 'slot-00000000000000000009.json.corrupt'])
      assert.match(await readFile(join(dir.path, files[0]!), 'utf8'), /"stage": "generated"/)
    } finally {
      await dir.cleanup()
    }
  })

  it('applies concurrent updates of one slot in order', async () => {
    const dir = await tempDir()
    try {
      const j = new SlotJournal(dir.path, { fsync: false })
      await j.open()
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          j.update(
            1n,
            (e) => ({
              ...e,
              submission: { ...e.submission, attempts: e.submission.attempts + 1 },
              updatedAtMs: i,
            }),
            () => newJournalEntry(0n, 1n, 0),
          ),
        ),
      )
      const reloaded = new SlotJournal(dir.path)
      const [e] = await reloaded.open()
      assert.equal(e!.submission.attempts, 20)
      assert.equal(e!.updatedAtMs, 19)
    } finally {
      await dir.cleanup()
    }
  })

  it('prunes settled entries but keeps submissions still owed', async () => {
    const dir = await tempDir()
    try {
      const j = new SlotJournal(dir.path, { fsync: false })
      await j.open()
      const mk = (
        slot: bigint,
        state: 'accepted' | 'retrying' | 'none',
        stage: 'submitted' | 'failed' = 'submitted',
      ) =>
        j.update(
          slot,
          (e) => ({ ...e, stage, submission: { ...e.submission, state } }),
          () => newJournalEntry(0n, slot, 0),
        )
      await mk(1n, 'accepted')
      await mk(2n, 'retrying')
      await mk(3n, 'none', 'failed')
      await mk(10n, 'accepted')
      assert.equal(await j.prune(5n), 2)
      assert.deepEqual(
        j.list().map((e) => e.slot),
        [2n, 10n],
      )
    } finally {
      await dir.cleanup()
    }
  })
})

describe('ResultSubmitter', () => {
  async function submitterSetup() {
    const f = await fixture()
    const dir = await tempDir()
    const clock = new ManualClock()
    const journal = new SlotJournal(dir.path, { fsync: false })
    await journal.open()
    const make = (key = f.keys[0]!, chain = f.chain, j = journal) =>
      new ResultSubmitter(
        { chain, key, journal: j, clock },
        { submitGraceMs: 3000, retryBaseMs: 1000, retryMaxMs: 8000 },
      )
    const args = (delayMs = 0) => ({
      epoch: 1n,
      slot: 5n,
      certificate: f.certificate,
      canonicalHash: f.canonicalHash,
      delayMs,
    })
    return { ...f, dir, clock, journal, make, args }
  }

  it('submits at once with delay 0 and journals acceptance', async () => {
    const s = await submitterSetup()
    try {
      const sub = s.make()
      const states: string[] = []
      sub.events.on('submission', (e: SubmissionEvent) => states.push(e.state))
      assert.equal((await sub.submit(s.args())).state, 'accepted')
      assert.deepEqual(states, ['scheduled', 'inflight', 'accepted'])
      assert.equal(s.chain.submissions.length, 1)
      assert.equal(s.journal.get(5n)?.submission.state, 'accepted')
      assert.equal(s.journal.get(5n)?.submission.attempts, 1)
    } finally {
      await s.dir.cleanup()
    }
  })

  it('retries an unanswered submission with backoff, asking the chain first each time', async () => {
    const s = await submitterSetup()
    try {
      s.chain.script.push('unknown', 'throw')
      const sub = s.make()
      assert.equal((await sub.submit(s.args())).state, 'retrying')
      await s.clock.tick(1000)
      const retryTimer = () => s.journal.get(5n)?.submission.attempts === 2 && s.clock.pending() === 1
      await until(retryTimer, 'second attempt failed and its retry is scheduled')
      assert.equal(s.chain.submissions.length, 2)
      await s.clock.tick(1999)
      assert.equal(s.chain.submissions.length, 2, 'backoff doubled to 2 s')
      await s.clock.tick(1)
      await until(() => s.journal.get(5n)?.submission.state === 'accepted', 'acceptance')
      assert.equal(s.chain.submissions.length, 3)
      assert.equal(s.journal.get(5n)?.submission.attempts, 3)
    } finally {
      await s.dir.cleanup()
    }
  })

  it('a lost answer (the chain recorded it) is found by asking, not by submitting again', async () => {
    const s = await submitterSetup()
    try {
      s.chain.script.push('unknown-after-record')
      const sub = s.make()
      assert.equal((await sub.submit(s.args())).state, 'retrying')
      await s.clock.tick(1000)
      await until(() => s.journal.get(5n)?.submission.state === 'observed', 'observed')
      assert.equal(s.chain.submissions.length, 1, 'never sent twice')
    } finally {
      await s.dir.cleanup()
    }
  })

  it('ALREADY_SUBMITTED with our canonical hash counts as done; a different hash is a conflict', async () => {
    const s = await submitterSetup()
    try {
      assert.equal((await s.make(s.keys[1]!).submit(s.args())).state, 'accepted')
      const j2 = new SlotJournal(join(s.dir.path, 'b'), { fsync: false })
      await j2.open()
      assert.equal((await s.make(s.keys[2]!, s.chain, j2).submit(s.args())).state, 'observed')
      const other = buildCertificate({
        epoch: 1n,
        slot: 5n,
        memberKeys: s.keys.slice(1, 4),
        committers: s.keys.slice(1, 4),
      })
      const j3 = new SlotJournal(join(s.dir.path, 'c'), { fsync: false })
      await j3.open()
      const sub3 = s.make(s.keys[3]!, s.chain, j3)
      assert.equal(
        (
          await sub3.submit({
            ...s.args(),
            certificate: other.certificate,
            canonicalHash: other.canonicalHash,
          })
        ).state,
        'conflict',
      )
      assert.equal(s.chain.submissions.filter((x) => x.outcome === 'accepted').length, 1)
    } finally {
      await s.dir.cleanup()
    }
  })

  it('a definitive rejection is terminal', async () => {
    const s = await submitterSetup()
    try {
      const outsiderChain = new FakeChain()
      outsiderChain.elected.set(1n, protoKeys(s.keys.slice(1)))
      assert.equal((await s.make(s.keys[0]!, outsiderChain).submit(s.args())).state, 'rejected')
      assert.match(s.journal.get(5n)?.submission.detail ?? '', /^NOT_ELECTED/)
    } finally {
      await s.dir.cleanup()
    }
  })

  it('a delayed submitter stands down when the result appears on chain', async () => {
    const s = await submitterSetup()
    try {
      const sub = s.make(s.keys[1]!)
      assert.equal((await sub.submit(s.args(6000))).state, 'scheduled')
      const jx = new SlotJournal(join(s.dir.path, 'x'), { fsync: false })
      await jx.open()
      assert.equal((await s.make(s.keys[0]!, s.chain, jx).submit(s.args())).state, 'accepted')
      // The event path (BftResultSubmitted) settles it; the timer path would have asked the chain.
      const r = (await s.chain.slotResult(5n))!
      sub.onChainEvent({
        type: 'BftResultSubmitted',
        block: r.submittedBlock,
        slot: 5n,
        canonicalHash: r.canonicalHash,
      })
      await until(() => s.journal.get(5n)?.submission.state === 'observed', 'observed')
      await s.clock.tick(10_000)
      assert.equal(s.chain.submissions.length, 1)
    } finally {
      await s.dir.cleanup()
    }
  })

  it('resumes after a restart: an inflight call is checked, a scheduled one is sent, exactly once', async () => {
    const s = await submitterSetup()
    try {
      s.chain.script.push('hang')
      const first = s.make()
      void first.submit(s.args())
      await until(() => s.journal.get(5n)?.submission.state === 'inflight', 'inflight')
      // Crash: the call never reached the chain. A new process opens the same journal.
      const j2 = new SlotJournal(s.dir.path, { fsync: false })
      await j2.open()
      const second = s.make(s.keys[0]!, s.chain, j2)
      assert.equal(second.resume(), 1)
      await s.clock.tick(0)
      await until(() => j2.get(5n)?.submission.state === 'accepted', 'resumed acceptance')
      assert.equal(s.chain.submissions.filter((x) => x.outcome === 'accepted').length, 1)
      // Another restart: nothing owed, nothing sent.
      const j3 = new SlotJournal(s.dir.path, { fsync: false })
      await j3.open()
      assert.equal(s.make(s.keys[0]!, s.chain, j3).resume(), 0)
      assert.equal(s.chain.submissions.length, 2, 'the hung call and the resumed one')
    } finally {
      await s.dir.cleanup()
    }
  })

  it('submitter order: members in rank order, then the other elected by rank key', async () => {
    const { keys, certificate } = await fixture()
    const order = submitterOrder(5n, certificate, protoKeys(keys))
    assert.deepEqual(
      order.slice(0, 3).map(bytesToHex),
      certificate.members.map((m) => bytesToHex(m.signer)),
    )
    assert.equal(new Set(order.map(bytesToHex)).size, 5)
  })
})
