// Ordinary faults on one real network (a dev chain process, five director processes, the devnet's
// viewer and a test-side observer), in turn:
//  - a director paused with SIGSTOP for 20 s (longer until a slot that began after the pause is
//    certified): the other four certify without it; after SIGCONT it signs a commit again within three
//    slots;
//  - the journal's disk full: director-4's journal folder is a link to a small tmpfs, filled while it
//    runs. It logs one clear error naming the folder (no stack trace), keeps relaying BFT and video to
//    a viewer connected only through it, and once space returns its journal reads back and it restarts
//    on it;
//  - the dev chain killed in the middle of a slot and restarted on the same port: every director
//    reconnects, slots are final again, and no submission the chain acknowledged is lost or doubled.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { NodeKey } from '../../../src/crypto/index.ts'
import { entryFromJson } from '../../../src/lane0/index.ts'
import { bytesToHex } from '../../../src/types/index.ts'
import { SlotObserver, TestNetwork, waitFor } from '../../helpers/network.ts'

const PAUSED = 1
const FULL = 4
const TMPFS_BYTES = 256 * 1024
/**
 * Slots after the one a paused director wakes in, by which it signs a commit again (the aim is two).
 * Before a slot whose successor had started was skipped, it woke to a backlog of slot starts,
 * generated each stale slot in turn and stayed a slot behind, its proposals too late to count. With
 * that fixed, on this 2-core machine under a load average of ~20 it still sat out the first two slots
 * (only its own proposal in the first, a commit timeout in the second) and committed in the third:
 * three is what is shown; docs/testing.md "Faults".
 */
const REJOIN_SLOTS = 3

/** Mount a tmpfs of `bytes` on a fresh folder; null (with why) where mounting is not permitted. */
async function mountTmpfs(bytes: number): Promise<{ dir: string } | { skip: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'nsn-faults-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' })
    return { dir }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    const why = ((err as { stderr?: Buffer }).stderr?.toString() ?? (err as Error).message).trim()
    return { skip: `mount -t tmpfs is not permitted here (${why}): the journal disk-full test needs it` }
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' })
  } catch {
    // still busy (a process of a failed run): detach it now, the kernel frees it when unused
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
  }
}

/** Fill the filesystem of `dir` to the last byte; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const path = join(dir, 'filler')
  try {
    await writeFile(path, new Uint8Array(TMPFS_BYTES * 2))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  }
  return path
}

describe('faults on a real network', { timeout: 600_000 }, () => {
  let net: TestNetwork | null = null
  let tmpfs: { dir: string } | { skip: string } | null = null
  let relayView: SlotObserver | null = null

  before(async () => {
    tmpfs = await mountTmpfs(TMPFS_BYTES)
    if ('skip' in tmpfs) console.log(`# skip disk-full: ${tmpfs.skip}`)
    const mounted = 'dir' in tmpfs ? tmpfs.dir : null
    net = await TestNetwork.start({
      name: 'faults',
      // director-4's journal folder lives on the small tmpfs (a link, so removing the test folder
      // never descends into the mount).
      beforeDirectors: async (dataDir) => {
        if (mounted === null) return
        await mkdir(join(mounted, 'journal'))
        await symlink(join(mounted, 'journal'), join(dataDir, `director-${FULL}`, 'journal'))
      },
    })
    await net.waitForCertified(120_000)
  })

  after(async () => {
    await relayView?.stop().catch(() => {})
    try {
      await net?.stop()
    } finally {
      if (tmpfs !== null && 'dir' in tmpfs) {
        unmount(tmpfs.dir)
        await rm(tmpfs.dir, { recursive: true, force: true })
      }
    }
  })

  test('a director paused for 20 s: the others certify without it; it signs again within three slots', {
    timeout: 180_000,
  }, async () => {
    const n = net!
    const obs = n.observer!
    const key = bytesToHex((await n.directorKey(PAUSED)).publicKeyProto)
    const proc = n.devnet.directorProc(PAUSED)!
    const pausedAt = Date.now()
    const pausedSlot = n.currentSlot
    process.kill(proc.child.pid!, 'SIGSTOP')
    let resumedSlot: bigint
    try {
      // A slot that began after the pause is certified by the other four.
      await waitFor(
        'a certificate for a slot that started after the pause',
        () => {
          for (const [s, seen] of obs.slots)
            if (s > pausedSlot && seen.certificate !== null && seen.certificate.atMs > pausedAt) return s
          return null
        },
        // Paused at least 20 s; longer on a slow machine, until that slot is certified.
        { timeoutMs: 45_000, intervalMs: 100, seen: () => n.describe() },
      )
      const left = 20_000 - (Date.now() - pausedAt)
      if (left > 0) await new Promise((r) => setTimeout(r, left)) // the fault's length, not a wait for state
    } finally {
      resumedSlot = n.currentSlot
      process.kill(proc.child.pid!, 'SIGCONT')
    }
    for (const [s, seen] of obs.slots) {
      if (s <= pausedSlot || s >= resumedSlot || seen.certificate === null) continue
      const members = seen.certificate.certificate.members.map((m) => bytesToHex(m.signer))
      assert.ok(!members.includes(key), `slot ${s}: the paused director is no certificate member`)
    }
    // Within REJOIN_SLOTS slots after the one it woke up in, its commit is on the wire and in its journal.
    const within = Array.from({ length: REJOIN_SLOTS }, (_, k) => resumedSlot + 1n + BigInt(k))
    const slot = await waitFor(
      `director-${PAUSED}'s commit for one of slots ${within.join(', ')} (woke in slot ${resumedSlot})`,
      () => within.find((s) => obs.slots.get(s)?.commits.has(key)),
      { timeoutMs: 40_000, intervalMs: 200, seen: () => n.describe() },
    )
    const entry = await waitFor(
      `director-${PAUSED}'s journal: its signed commit for slot ${slot}`,
      async () => {
        const e = await n.journalEntry(PAUSED, slot)
        return e?.signed.commit ? e : null
      },
      { timeoutMs: 10_000, seen: async () => JSON.stringify((await n.journalEntry(PAUSED, slot))?.stage) },
    )
    assert.ok(entry.signed.commit !== null)
  })

  test('the journal disk full: a clear error naming the folder, relaying goes on, nothing corrupt', {
    timeout: 240_000,
  }, async (t) => {
    if (tmpfs === null || 'skip' in tmpfs) {
      t.skip((tmpfs as { skip: string } | null)?.skip ?? 'no tmpfs')
      return
    }
    const n = net!
    const folder = join(n.dataDir, `director-${FULL}`, 'journal')
    const log = join(n.dataDir, 'logs', `director-${FULL}.log`)
    // A viewer whose only peer is director-4: all it gets, it gets through director-4.
    const authorKey = await NodeKey.load(join(n.dataDir, 'author', 'node.key'))
    relayView = await SlotObserver.create({
      bootstrap: [n.devnet.directorAddrs.get(FULL)!],
      networkId: n.networkId,
      quorum: n.info!.quorum,
      slotsPerEpoch: n.info!.slotsPerEpoch,
      elected: (epoch) => n.elected.get(epoch) ?? null,
      recipeAuthors: [bytesToHex(authorKey.publicKey)],
    })
    await relayView.start()
    const logBefore = (await readFile(log, 'utf8')).length

    const filler = await fill(tmpfs.dir)
    const fullAt = n.currentSlot
    const line = await waitFor(
      `director-${FULL} logs a journal error naming ${folder}`,
      async () =>
        (await readFile(log, 'utf8'))
          .slice(logBefore)
          .split('\n')
          .find((l) => l.includes(folder) && /"level":(40|50)/.test(l)),
      { timeoutMs: 40_000, intervalMs: 250, seen: () => n.describe() },
    )
    assert.match(line, /journal folder is full \(ENOSPC\)/, line)
    assert.doesNotMatch(line, /\\n\s+at |caused by/, `no stack trace: ${line}`)
    // Relaying goes on: a later slot is certified and played at the viewer behind director-4.
    const played = await waitFor(
      'a slot after the disk filled, certified and played through director-4 alone',
      () => {
        for (const [s, seen] of relayView!.slots) if (s > fullAt && seen.complete !== null) return s
        return null
      },
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        seen: async () => `${relayView!.describe()}\n${await n.describe()}`,
      },
    )
    assert.equal(relayView.p2p.status().peers, 1, `the viewer's only peer is director-${FULL}`)
    assert.ok(played > fullAt)

    // Space returns: the journal records slots again, reads back whole, and the node restarts on it.
    await rm(filler)
    const freedAt = n.currentSlot
    await waitFor(
      `director-${FULL} journals a slot after space returned`,
      async () => {
        for (const s of [freedAt + 1n, freedAt + 2n, freedAt + 3n]) {
          const e = await n.journalEntry(FULL, s)
          if (e !== null && e.stage !== 'recipe') return e
        }
        return null
      },
      { timeoutMs: 60_000, intervalMs: 250, seen: () => n.describe() },
    )
    const readBack = async () => {
      const names = await readdir(folder)
      for (const name of names.filter((f) => f.endsWith('.json')))
        entryFromJson(await readFile(join(folder, name), 'utf8')) // throws on a torn or partial file
      return names
    }
    const names = await readBack()
    assert.deepEqual(
      names.filter((f) => !/^slot-\d{20}\.json$/.test(f)),
      [],
      'only whole slot files (no temp file left behind, nothing set aside as corrupt)',
    )
    await n.devnet.directorProc(FULL)!.stop()
    await n.devnet.restartDirector(FULL)
    await waitFor(
      `director-${FULL} active again on its journal`,
      async () => /^Active/.test((await n.directorStatus(FULL)).director?.stateText ?? ''),
      { timeoutMs: 40_000, intervalMs: 250, seen: () => n.describe() },
    )
    const after = await readBack()
    assert.ok(!after.some((f) => f.endsWith('.corrupt')), `journal files after restart: ${after.join(' ')}`)
  })

  test('the dev chain killed mid-slot and restarted: directors reconnect, nothing acknowledged lost or doubled', {
    timeout: 180_000,
  }, async () => {
    const n = net!
    const obs = n.observer!
    // The middle of a slot: its BFT round is under way (a proposal on the wire, no certificate yet).
    const slot = await waitFor(
      'a slot with a proposal on the wire and no certificate yet',
      () => {
        const s = n.currentSlot
        const seen = obs.slots.get(s)
        return seen !== undefined && seen.proposals.size > 0 && seen.certificate === null ? s : null
      },
      { timeoutMs: 60_000, intervalMs: 50, seen: () => n.describe() },
    )
    const killedAt = n.bestBlock
    assert.equal(await n.devnet.chainProc!.kill(), 'SIGKILL')
    await new Promise((r) => setTimeout(r, 3_000)) // the outage's length, not a wait for state
    await n.devnet.restartChain()

    // Every director follows the chain again.
    for (let i = 0; i < 5; i++) {
      await waitFor(
        `director-${i} sees blocks after the restart`,
        async () => BigInt((await n.directorStatus(i)).chain.bestBlock ?? '0') > killedAt + 2n,
        { timeoutMs: 30_000, intervalMs: 250, seen: () => n.describe() },
      )
    }
    // Slots resume: one that started after the restart is final.
    await waitFor(
      `a slot after ${slot} final on chain`,
      () => n.finalizedSlots().find((s) => s > slot + 1n),
      { timeoutMs: 90_000, intervalMs: 250, seen: () => n.describe() },
    )
    // Acknowledged submissions: every journal's "accepted" slot is on chain at the block it recorded,
    // and the chain recorded each slot once.
    let checked = 0
    for (let i = 0; i < 5; i++) {
      const dir = join(n.dataDir, `director-${i}`, 'journal')
      for (const name of (await readdir(dir)).filter((f) => f.endsWith('.json'))) {
        const e = entryFromJson(await readFile(join(dir, name), 'utf8'))
        if (e.submission.state !== 'accepted') continue
        const r = await n.chain!.slotResult(e.slot)
        assert.ok(r !== null, `director-${i}: slot ${e.slot} acknowledged but not on chain`)
        assert.equal(r.submittedBlock, e.submission.block, `director-${i}: slot ${e.slot} block`)
        checked++
      }
    }
    assert.ok(checked > 0, 'some acknowledged submissions were checked')
    const recorded = n.events.flatMap((e) => (e.event.type === 'BftResultSubmitted' ? [e.event.slot] : []))
    assert.equal(new Set(recorded).size, recorded.length, `one result per slot: ${recorded.join(',')}`)
  })
})
