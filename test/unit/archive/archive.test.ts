// The certified archive (docs/protocol.md §12): a fully verified slot is stored keyed by content
// hash, bounded by maxBytes with the oldest evicted first, read back after a restart and verified
// again on read; GET /api/slots pages through it; `nsn export` writes only what verifies.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ArchiveVerifyError, SlotArchive, serveArchive } from '../../../src/archive/index.ts'
import { blake3, initBlake3 } from '../../../src/crypto/index.ts'
import { bytesToHex } from '../../../src/types/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { certifiedSlot } from '../../helpers/archive.ts'
import { fakeVideo } from '../lane0/fakes.ts'

await initBlake3()
const ROOT = new URL('../../..', import.meta.url).pathname

describe('SlotArchive', async () => {
  const keys = await testKeys(5)
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsn-archive-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('stores verified slots, evicts the oldest beyond maxBytes, and keeps them across restarts', async () => {
    const folder = join(dir, 'a')
    const a = await SlotArchive.open({}, { dir: folder, maxBytes: 25_000 })
    for (const slot of [20n, 21n, 22n])
      assert.equal(await a.put(certifiedSlot(keys, slot, fakeVideo(10_000, Number(slot)))), true)
    assert.deepEqual(
      a.list(null, 10).map((s) => s.slot),
      [22n, 21n],
      'slot 20 evicted, newest first',
    )
    assert.equal(a.bytes, 20_000)
    assert.equal(
      await a.put(certifiedSlot(keys, 22n, fakeVideo(9_000, 5))),
      false,
      'the first content of a slot stays',
    )

    const again = await SlotArchive.open({}, { dir: folder, maxBytes: 25_000 })
    assert.deepEqual(
      again.list(null, 10).map((s) => s.slot),
      [22n, 21n],
    )
    const read = await again.read(21n)
    assert.deepEqual(read?.video, fakeVideo(10_000, 21))
    assert.equal(await again.read(20n), null)
    // A smaller bound at the next start evicts down to it.
    const smaller = await SlotArchive.open({}, { dir: folder, maxBytes: 15_000 })
    assert.deepEqual(
      smaller.list(null, 10).map((s) => s.slot),
      [22n],
    )
  })

  test('a stored video altered on disk no longer verifies and is not served', async () => {
    const folder = join(dir, 'b')
    const a = await SlotArchive.open({}, { dir: folder, maxBytes: 1_000_000 })
    await a.put(certifiedSlot(keys, 30n, fakeVideo(8_000, 3)))
    const hash = a.get(30n)!.contentHash
    const video = new Uint8Array(await readFile(join(folder, `${hash}.mp4`)))
    video[100] = video[100]! ^ 0xff
    await writeFile(join(folder, `${hash}.mp4`), video)
    const reopened = await SlotArchive.open({}, { dir: folder, maxBytes: 1_000_000 })
    await assert.rejects(reopened.read(30n), (err: unknown) => {
      assert.ok(err instanceof ArchiveVerifyError)
      assert.equal(err.refusal.code, 'CHUNK')
      return true
    })
  })

  test('GET /api/slots pages newest first; a slot’s video is immutable; bad input is a 400 naming the field', async () => {
    const folder = join(dir, 'c')
    const a = await SlotArchive.open({}, { dir: folder, maxBytes: 1_000_000 })
    for (let s = 40n; s < 45n; s++) await a.put(certifiedSlot(keys, s, fakeVideo(3_000, Number(s))))
    const server: Server = createServer((req, res) => {
      serveArchive(req, res, a).then((done) => {
        if (!done) res.writeHead(404).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const p1 = (await (await fetch(`${base}/api/slots?limit=2`)).json()) as {
        slots: { slot: string }[]
        next: string
      }
      assert.deepEqual(
        p1.slots.map((s) => s.slot),
        ['44', '43'],
      )
      const p2 = (await (await fetch(`${base}/api/slots?limit=2&before=${p1.next}`)).json()) as {
        slots: { slot: string }[]
        next: string | null
      }
      assert.deepEqual(
        p2.slots.map((s) => s.slot),
        ['42', '41'],
      )
      const p3 = (await (await fetch(`${base}/api/slots?limit=2&before=${p2.next}`)).json()) as {
        slots: { slot: string }[]
        next: string | null
      }
      assert.deepEqual(
        p3.slots.map((s) => s.slot),
        ['40'],
      )
      assert.equal(p3.next, null)
      const v = await fetch(`${base}/api/slots/42/video`)
      assert.equal(v.status, 200)
      assert.match(v.headers.get('cache-control') ?? '', /immutable/)
      assert.deepEqual(new Uint8Array(await v.arrayBuffer()), fakeVideo(3_000, 42))
      const meta = (await (await fetch(`${base}/api/slots/42`)).json()) as { contentHash: string }
      assert.equal(meta.contentHash, bytesToHex(blake3(fakeVideo(3_000, 42))))
      assert.equal((await fetch(`${base}/api/slots/99/video`)).status, 404)
      const bad = await fetch(`${base}/api/slots?limit=1000`)
      assert.equal(bad.status, 400)
      assert.match(((await bad.json()) as { error: string }).error, /^limit: .*1\.\.100/)
      assert.equal((await fetch(`${base}/api/slots?before=-1`)).status, 400)
    } finally {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    }
  })

  test('nsn export writes a verified slot and refuses what is missing or altered', async () => {
    const dataDir = join(dir, 'node')
    const a = await SlotArchive.open({}, { dir: join(dataDir, 'archive'), maxBytes: 1_000_000 })
    await a.put(certifiedSlot(keys, 50n, fakeVideo(6_000, 50)))
    await a.put(certifiedSlot(keys, 51n, fakeVideo(6_000, 51)))
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'bin/nsn.js'), 'export', '--data-dir', dataDir, ...args], {
        encoding: 'utf8',
        timeout: 60_000,
      })
    const out = join(dir, 'slot50.mp4')
    const ok = run('--slot', '50', '--out', out)
    assert.equal(ok.status, 0, ok.stderr)
    assert.deepEqual(new Uint8Array(await readFile(out)), fakeVideo(6_000, 50))
    const missing = run('--slot', '7', '--out', join(dir, 'x.mp4'))
    assert.equal(missing.status, 2)
    assert.match(missing.stderr, /slot 7 is not in the archive .*newest held: 51, 50/)
    const hash = a.get(51n)!.contentHash
    const file = join(dataDir, 'archive', `${hash}.mp4`)
    const video = new Uint8Array(await readFile(file))
    video[0] = video[0]! ^ 1
    await writeFile(file, video)
    const altered = run('--slot', '51', '--out', join(dir, 'y.mp4'))
    assert.equal(altered.status, 1, altered.stderr)
    assert.match(altered.stderr, /slot 51 does not verify, not written: chunk refused: BAD_SIGNATURE/)
    const usage = run('--slot', 'abc', '--out', join(dir, 'z.mp4'))
    assert.equal(usage.status, 2)
    assert.match(usage.stderr, /--slot: "abc" is not a slot number/)
    assert.doesNotMatch(usage.stderr + altered.stderr + missing.stderr, /at .*\.ts:\d+/, 'no stack trace')
  })
})
