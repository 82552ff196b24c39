// Issue 7 "Must show": the whole devnet (dev chain, five directors with their sidecars and the
// reference plugin, a viewer node) and the viewer page in headless Chromium. The page must play the
// certified video through MSE, show both finalised slots as verified, and refuse chunks injected on
// the mesh that relays accept but the certificate does not vouch for. Skipped without Chromium.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import pino from 'pino'
import { type Browser, chromium, type Page } from 'playwright-core'
import { DevChainClient } from '../../src/chain/index.ts'
import { blake3, initBlake3, NodeKey } from '../../src/crypto/index.ts'
import { Devnet } from '../../src/node/devnet.ts'
import { buildVideoChunks, P2PNode } from '../../src/p2p/index.ts'
import {
  bytesToHex,
  encodeVideoChunk,
  encodeVideoChunkHeader,
  VIDEO_CHUNK_VERSION,
  type VideoChunk,
} from '../../src/types/index.ts'
import { descendants } from '../helpers/processes.ts'

await initBlake3()

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-headless-shell'].find((p) => existsSync(p))
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts')
const SLOTS = 2
const HLS_JS = resolve(import.meta.dirname, '../../node_modules/hls.js/dist/hls.min.js')
const run = promisify(execFile)

/** What `nsnViewer.slots()` returns (viewer/src/main.ts). */
interface PageSlot {
  slot: string
  status: string
  prompt: string
  certified: boolean
  certError: string | null
  members?: { signer: string; contentHash: string }[]
  similarity: number | null
  played: boolean
  playedHash: string | null
  playedSigner: string | null
  playedChunks: number | null
  notPlayed: string | null
  refusals: { code: string; signer: string | null; contentId: string | null; index: number | null }[]
  notes: string[]
}

interface PagePlayback {
  currentTime: number
  error: string | null
  queued: number
  frameErrors: number
  appended: { slot: string; hash: string; bytes: number }[]
  waiting: number
  stalledSeconds: number
  holds: number
  playing: boolean
  onScreen: string | null
  behindLive: number | null
  behindSeconds: number | null
  behindChain: number | null
  muted: boolean
  mime: string | null
  audioDecodedBytes: number | null
}

const slotsOf = (page: Page) =>
  page.evaluate(() =>
    (globalThis as unknown as { nsnViewer: { slots(): unknown } }).nsnViewer.slots(),
  ) as Promise<PageSlot[]>

const playbackOf = (page: Page) =>
  page.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement
    const q = v.getVideoPlaybackQuality()
    const p = (globalThis as unknown as { nsnViewer: { playback(): object } }).nsnViewer.playback()
    return {
      ...p,
      frames: q.totalVideoFrames,
      dropped: q.droppedVideoFrames,
      paused: v.paused,
      readyState: v.readyState,
      mediaError: v.error?.message ?? null,
    }
  }) as unknown as Promise<
    PagePlayback & { frames: number; dropped: number; paused: boolean; mediaError: string | null }
  >

/** Poll `probe` until `done` holds; on timeout, fail with what was seen last. */
async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T>,
  done: (v: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  let lastErr: unknown
  for (let i = 0; i < 10_000; i++) {
    try {
      last = await probe()
      if (done(last)) return last
    } catch (err) {
      lastErr = err
    }
    if (Date.now() >= deadline) break
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(
    `${what}: not within ${timeoutMs} ms; last seen: ${JSON.stringify(last) ?? (lastErr as Error)?.message}`,
  )
}

/** PIDs of every living descendant of `root` (from /proc). */

describe('viewer end to end: devnet + headless Chromium', {
  skip: CHROMIUM === undefined ? 'no Chromium installed' : false,
  timeout: 300_000,
}, () => {
  let dataDir = ''
  let devnet: Devnet | null = null
  let browser: Browser | null = null
  let page: Page | null = null
  let injector: P2PNode | null = null
  let chain: DevChainClient | null = null
  let failed = false
  const pageErrors: string[] = []
  /** The finalised slots, and what the chain says was certified for each. */
  const finals = new Map<string, { contentHashes: Set<string> }>()

  /** Helpers the runner already had (tsx's esbuild service): not ours to stop. */
  let preexisting = new Set<number>()

  before(async () => {
    preexisting = new Set(descendants(process.pid).map((d) => d.pid))
    dataDir = await mkdtemp(join(tmpdir(), 'nsn-e2e-viewer-'))
    devnet = new Devnet({ dataDir, reset: true, slots: SLOTS, directors: 5, viewerPort: 0 })
    await devnet.start()
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: 30_000,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
      ],
    })
    // A fresh profile per run: playwright gives every context its own temporary user-data dir.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    page = await context.newPage()
    page.on('pageerror', (err) => pageErrors.push(err.message))
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text())
    })
    // Open the page while the network is still warming up: it plays the slots live as they come.
    await page.goto(devnet.view.viewerUrl, { timeout: 20_000 })
    await page.waitForFunction(() => 'nsnViewer' in globalThis, undefined, { timeout: 20_000 })
  })

  after(async () => {
    await mkdir(ARTIFACTS, { recursive: true })
    if (page !== null) {
      const shot = join(ARTIFACTS, failed ? 'viewer-e2e-failure.png' : 'viewer-e2e.png')
      await page
        .screenshot({ path: shot, fullPage: true, timeout: 10_000 })
        .then(() => console.log(`# screenshot: ${shot}`))
        .catch((err: Error) => console.log(`# screenshot failed: ${err.message}`))
    }
    await browser?.close().catch(() => {})
    await injector?.stop().catch(() => {})
    await chain?.close().catch(() => {})
    await devnet?.stop()
    // Every process this test started (chain, nodes, their plugin runs, Chromium) is gone.
    const left = await waitUntil(
      'child processes to end',
      10_000,
      async () => descendants(process.pid).filter((d) => !preexisting.has(d.pid)),
      (d) => d.length === 0,
    ).catch((err: Error) => err)
    if (failed) console.log(`# devnet data and logs kept in ${dataDir}`)
    else await rm(dataDir, { recursive: true, force: true })
    if (left instanceof Error) throw left
  })

  test('the video plays and both finalised slots show as verified', async (t) => {
    try {
      await waitForFinished(devnet!, 140_000)
      chain = new DevChainClient({ url: devnet!.view.chainUrl })
      for (const slot of devnet!.view.finalized.slice(0, SLOTS)) {
        const result = await chain.slotResult(slot)
        assert.ok(result?.finalized, `chain: slot ${slot} is not final`)
        finals.set(slot.toString(), {
          contentHashes: new Set(result.certificate.members.map((m) => bytesToHex(m.content_hash))),
        })
      }
      assert.equal(finals.size, SLOTS)

      const slots = await waitUntil(
        `the page to show slots ${[...finals.keys()].join(', ')} verified and played`,
        20_000,
        () => slotsOf(page!),
        (s) => [...finals.keys()].every((n) => s.find((x) => x.slot === n)?.status === 'verified'),
      )
      for (const [n, fin] of finals) {
        const s = slots.find((x) => x.slot === n)!
        assert.equal(s.certified, true, `slot ${n} certificate`)
        assert.equal(s.played, true, `slot ${n} played`)
        assert.ok(
          s.playedHash !== null && fin.contentHashes.has(s.playedHash),
          `slot ${n} played uncertified bytes`,
        )
        assert.ok(s.prompt.length > 0, `slot ${n} has no prompt`)
        assert.equal(s.refusals.length, 0, `slot ${n} refusals: ${JSON.stringify(s.refusals)}`)
        // The table says the same thing as the page's state.
        const row = page!.locator(`tr[data-slot="${n}"]`)
        assert.equal(await row.getAttribute('data-status'), 'verified')
        assert.match((await row.locator('[data-testid="status"]').textContent()) ?? '', /^verified, played$/)
      }

      const played = await waitUntil(
        'the video to play past 1 s with decoded frames',
        20_000,
        () => playbackOf(page!),
        (p) => p.currentTime > 1 && p.frames > 0,
      )
      assert.equal(played.error, null)
      assert.equal(played.mediaError, null)
      assert.equal(played.frameErrors, 0)
      // Only certified content of finalised (or at least certified) slots was handed to MSE.
      for (const a of played.appended) {
        const fin = finals.get(a.slot)
        if (fin !== undefined) assert.ok(fin.contentHashes.has(a.hash), `slot ${a.slot}: appended ${a.hash}`)
      }
      t.diagnostic(
        `played ${played.currentTime.toFixed(2)} s, ${played.frames} frames decoded (${played.dropped} dropped); ` +
          `slots ${[...finals.keys()].join(', ')}`,
      )
      assert.deepEqual(pageErrors, [])
    } catch (err) {
      failed = true
      throw err
    }
  })

  test('four consecutive slots play back to back, one slot behind live, with sound and no stall', async (t) => {
    try {
      assert.ok(finals.size > 0, 'needs the finalised slots of the first test')
      const PLAYED = 4
      // After start-up: from the slot on screen now, the page plays PLAYED whole slots.
      const start = await waitUntil(
        'the page to be playing a slot',
        30_000,
        () => playbackOf(page!),
        (p) => p.playing && p.onScreen !== null,
      )
      const first = BigInt(start.onScreen!) + 1n
      const behind: number[] = []
      const end = await waitUntil(
        `slots ${first}..${first + BigInt(PLAYED - 1)} to play (slot ${first + BigInt(PLAYED)} on screen)`,
        (PLAYED + 3) * 12_000,
        async () => {
          const p = await playbackOf(page!)
          if (p.behindLive !== null) behind.push(p.behindLive)
          return p
        },
        (p) => p.onScreen !== null && BigInt(p.onScreen) >= first + BigInt(PLAYED),
      )
      // No stall, and no hold either: the stream never ran dry.
      assert.equal(end.waiting - start.waiting, 0, `waiting events: ${start.waiting} → ${end.waiting}`)
      assert.equal(end.stalledSeconds - start.stalledSeconds, 0, 'stalled seconds')
      assert.equal(end.holds - start.holds, 0, 'holds (the page ran out of certified slots)')
      assert.equal(end.error, null)
      assert.equal(end.mediaError, null)
      // Consecutive slots, each played once, each the bytes of its certificate.
      const window = end.appended.filter(
        (a) => BigInt(a.slot) >= first && BigInt(a.slot) < first + BigInt(PLAYED),
      )
      assert.deepEqual(
        window.map((a) => a.slot),
        Array.from({ length: PLAYED }, (_, i) => (first + BigInt(i)).toString()),
        'the played slots',
      )
      for (const a of window) {
        const result = await waitUntil(
          `the chain to hold slot ${a.slot}'s result`,
          20_000,
          () => chain!.slotResult(BigInt(a.slot)),
          (r) => r !== null,
        )
        assert.ok(
          result!.certificate.members.some((m) => bytesToHex(m.content_hash) === a.hash),
          `slot ${a.slot}: played ${a.hash}, which is not certified`,
        )
      }
      // One slot behind live: the next certified slot is buffered while one plays.
      assert.ok(
        behind.every((b) => b >= 0 && b <= 2),
        `slots behind live while playing: ${behind.join(',')}`,
      )
      assert.ok(behind.includes(1), `never one slot behind live: ${behind.join(',')}`)
      // Sound: the page plays unmuted (this Chromium allows autoplay with sound), the MSE type has the
      // AAC track, Chromium decoded audio, and ffprobe finds the track in the played bytes.
      assert.equal(end.muted, false)
      assert.match(end.mime ?? '', /mp4a\.40\.2/)
      assert.ok((end.audioDecodedBytes ?? 0) > (start.audioDecodedBytes ?? 0), 'decoded audio bytes')
      const origin = new URL(devnet!.view.viewerUrl).origin
      const sample = window[0]!
      const bytes = new Uint8Array(
        await (await fetch(`${origin}/api/slots/${sample.slot}/video`)).arrayBuffer(),
      )
      assert.equal(bytesToHex(blake3(bytes)), sample.hash, 'the archive serves the played bytes')
      const file = join(dataDir, `played-${sample.slot}.mp4`)
      await writeFile(file, bytes)
      const { stdout } = await run(
        'ffprobe',
        ['-v', 'error', '-show_entries', 'stream=codec_name,duration', '-of', 'json', file],
        { timeout: 30_000 },
      )
      const streams = (JSON.parse(stdout) as { streams: { codec_name: string; duration: string }[] }).streams
      assert.deepEqual(
        streams.map((x) => [x.codec_name, Number(x.duration)]),
        [
          ['h264', 12],
          ['aac', 12],
        ],
        'a full 12 s slot with its narration',
      )
      t.diagnostic(
        `played slots ${window.map((a) => a.slot).join(', ')} back to back; waiting ${end.waiting}, stalled ${end.stalledSeconds.toFixed(2)} s, holds ${end.holds} (totals since start-up); behind live ${[...new Set(behind)].join('/')} slot(s), ${end.behindSeconds} s; chain ${end.behindChain} slots ahead; audio decoded ${end.audioDecodedBytes} bytes`,
      )
      assert.deepEqual(pageErrors, [])
    } catch (err) {
      failed = true
      throw err
    }
  })

  test('the viewer node archives the finalised slots and serves them as HLS to ffprobe, ffmpeg and hls.js', async (t) => {
    try {
      assert.ok(finals.size > 0, 'needs the finalised slots of the first test')
      const origin = new URL(devnet!.view.viewerUrl).origin
      type Listed = { slots: { slot: string; contentHash: string }[] }
      const listed = await waitUntil(
        `GET /api/slots to list slots ${[...finals.keys()].join(', ')}`,
        30_000,
        async () => (await (await fetch(`${origin}/api/slots?limit=50`)).json()) as Listed,
        (j) => [...finals.keys()].every((n) => j.slots.some((s) => s.slot === n)),
      )
      for (const [n, fin] of finals) {
        const entry = listed.slots.find((s) => s.slot === n)!
        assert.ok(fin.contentHashes.has(entry.contentHash), `slot ${n}: archived content is certified`)
        // ffprobe reads the slot's playlist; its segments concatenated are the certified bytes.
        const url = `${origin}/hls/slots/${n}/index.m3u8`
        const { stdout } = await run(
          'ffprobe',
          [
            '-v',
            'error',
            '-show_entries',
            'stream=codec_name,width,height:format=duration',
            '-of',
            'json',
            url,
          ],
          { timeout: 60_000 },
        )
        const probe = JSON.parse(stdout) as {
          streams: { codec_name: string; width?: number; height?: number }[]
          format: { duration: string }
        }
        const v = probe.streams.find((x) => x.width !== undefined)!
        assert.equal(v.codec_name, 'h264', `slot ${n}: codec`)
        assert.ok(
          probe.streams.some((x) => x.codec_name === 'aac'),
          `slot ${n}: the narration track (${probe.streams.map((x) => x.codec_name).join(',')})`,
        )
        assert.equal(`${v.width}x${v.height}`, '320x240', `slot ${n}: resolution`)
        assert.ok(Number(probe.format.duration) > 1, `slot ${n}: duration ${probe.format.duration}`)
        const playlist = await (await fetch(url)).text()
        const uris = [
          /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)![1]!,
          ...playlist.split('\n').filter((l) => l.endsWith('.m4s')),
        ]
        const parts = await Promise.all(
          uris.map(async (u) => new Uint8Array(await (await fetch(`${origin}${u}`)).arrayBuffer())),
        )
        assert.equal(bytesToHex(blake3(Buffer.concat(parts))), entry.contentHash, `slot ${n}: HLS segments`)
        t.diagnostic(
          `slot ${n}: HLS ${uris.length - 1} segments, ${probe.format.duration} s, ${v.codec_name}`,
        )
      }
      // ffmpeg decodes the live window from its first segment, across the slots' discontinuities.
      const live = await run(
        'ffmpeg',
        [
          '-v',
          'error',
          '-live_start_index',
          '0',
          '-i',
          `${origin}/hls/live.m3u8`,
          '-t',
          '2',
          '-f',
          'null',
          '-',
        ],
        { timeout: 60_000 },
      )
      assert.equal(live.stderr.trim(), '', `ffmpeg on /hls/live.m3u8: ${live.stderr}`)
      // hls.js (npm) in Chromium plays the live playlist.
      const hlsPage = await page!.context().newPage()
      try {
        await hlsPage.goto(`${origin}/api/slots`, { timeout: 20_000 })
        await hlsPage.setContent('<video id="v" muted playsinline></video>')
        await hlsPage.addScriptTag({ path: HLS_JS })
        await hlsPage.evaluate(() => {
          const w = globalThis as unknown as {
            Hls: new () => {
              loadSource(u: string): void
              attachMedia(v: HTMLVideoElement): void
              on(e: string, f: (e: string, d: { fatal: boolean; details: string }) => void): void
            }
            hlsErrors: string[]
          }
          w.hlsErrors = []
          const video = document.getElementById('v') as HTMLVideoElement
          const hls = new w.Hls()
          hls.on('hlsError', (_e, d) => {
            if (d.fatal) w.hlsErrors.push(d.details)
          })
          hls.loadSource('/hls/live.m3u8')
          hls.attachMedia(video)
          void video.play().catch(() => {})
        })
        const played = await waitUntil(
          'hls.js to play /hls/live.m3u8 past 1 s',
          45_000,
          () =>
            hlsPage.evaluate(() => ({
              currentTime: (document.getElementById('v') as HTMLVideoElement).currentTime,
              errors: (globalThis as unknown as { hlsErrors: string[] }).hlsErrors,
            })),
          (p) => p.currentTime > 1 || p.errors.length > 0,
        )
        assert.deepEqual(played.errors, [], 'hls.js fatal errors')
        t.diagnostic(`hls.js played the live playlist to ${played.currentTime.toFixed(2)} s`)
      } finally {
        await hlsPage.close()
      }
    } catch (err) {
      failed = true
      throw err
    }
  })

  test('a page opened late starts at the live edge and plays certified slots at once', async (t) => {
    try {
      assert.ok(finals.size > 0, 'needs the finalised slots of the first test')
      const late = await page!.context().newPage()
      try {
        await late.goto(devnet!.view.viewerUrl, { timeout: 20_000 })
        await late.waitForFunction(() => 'nsnViewer' in globalThis, undefined, { timeout: 20_000 })
        const played = await waitUntil(
          'the late page to play a certified slot',
          40_000,
          () => playbackOf(late),
          (p) => p.appended.length > 0 && p.currentTime > 0.5 && p.behindLive !== null,
        )
        for (const a of played.appended) {
          const result = await chain!.slotResult(BigInt(a.slot))
          assert.ok(result !== null, `slot ${a.slot}: no chain result`)
          assert.ok(
            result.certificate.members.some((m) => bytesToHex(m.content_hash) === a.hash),
            `slot ${a.slot}: the late page played ${a.hash}, which is not certified`,
          )
        }
        // At the live edge, not replaying the backlog from the first slot: one slot behind the newest
        // certified one, which itself trails the chain's slot by generation and agreement.
        assert.ok(
          played.behindLive! <= 2 && (played.behindChain ?? 0) <= 4,
          `the late page shows slot ${played.onScreen}, ${played.behindLive} behind live, ${played.behindChain} behind the chain`,
        )
        // The history lists the archived slots; a past one plays after the page checked its hash.
        const past = [...finals.keys()][0]!
        await late.locator(`#history button[data-slot="${past}"]`).click({ timeout: 20_000 })
        const status = late.locator('#archive-status')
        await waitUntil(
          `slot ${past} to play from the history`,
          20_000,
          async () => ({
            verdict: await status.getAttribute('data-verdict'),
            text: await status.textContent(),
          }),
          (x) => x.verdict !== null,
        )
        assert.equal(await status.getAttribute('data-verdict'), 'played', (await status.textContent()) ?? '')
        assert.ok(finals.get(past)!.contentHashes.has((await status.getAttribute('data-hash'))!))
        t.diagnostic(`history: ${await status.textContent()}`)
        t.diagnostic(
          `late page appended slots ${played.appended.map((a) => a.slot).join(', ')}; on screen ${played.onScreen}, ${played.behindLive} behind live`,
        )
      } finally {
        await late.close()
      }
    } catch (err) {
      failed = true
      throw err
    }
  })

  test('a tampered chunk injected on the mesh is refused and not played, and the page says so', async (t) => {
    try {
      assert.ok(finals.size > 0, 'needs the finalised slots of the previous test')
      // The newest slot the page played: the page tracks only a window of slots around the chain's
      // current one (docs/protocol.md §6), so an old slot's chunks would be refused as STALE_SLOT.
      const newest = (await slotsOf(page!))
        .filter((s) => s.status === 'verified' && s.played)
        .sort((a, b) => Number(BigInt(b.slot) - BigInt(a.slot)))[0]
      assert.ok(newest !== undefined, 'the page played no slot')
      const slotNo = newest.slot
      const submitted = await chain!.slotResult(BigInt(slotNo))
      assert.ok(submitted !== null, `chain: no result for slot ${slotNo}`)
      const certifiedHashes = new Set(submitted.certificate.members.map((m) => bytesToHex(m.content_hash)))
      const before = newest
      const playbackBefore = await playbackOf(page!)
      const members = before.members!
      const playedHash = before.playedHash!

      // The directors' own keys: a tampered chunk that relays accept must be signed by an elected one.
      const keys = new Map<string, NodeKey>()
      for (let i = 0; i < 5; i++) {
        const k = await NodeKey.load(join(dataDir, `director-${i}`, 'node.key'))
        keys.set(bytesToHex(k.publicKeyProto), k)
      }
      const memberKey = keys.get(members[0]!.signer)
      assert.ok(memberKey !== undefined, 'the canonical member is one of the devnet directors')
      // A member that did not publish the played video but certified the same content: its chunk
      // with the certified content_id is new to every relay (no DUPLICATE), yet its bytes differ.
      const conflictMember = members.find(
        (m) => m.signer !== before.playedSigner && m.contentHash === playedHash && keys.has(m.signer),
      )
      const outsider = [...keys.keys()].find((k) => !members.some((m) => m.signer === k))

      injector = new P2PNode(
        {
          key: await NodeKey.generate(),
          listen: ['/ip4/127.0.0.1/tcp/0'],
          bootstrap: devnet!.directorProcs.map(
            (p) => p.ready.listen.find((a) => a.includes('/tcp/') && !a.includes('/ws'))!,
          ),
          topics: ['video'],
          rateLimit: false,
        },
        { logger: pino({ level: 'silent' }) },
      )
      await injector.start()
      const mesh = await injector.waitForMesh('video', 1, 20_000)
      assert.ok(mesh >= 1, `injector joined no video mesh (peers ${mesh})`)

      const slot = BigInt(slotNo)
      const expected: string[] = []
      // 1. Correctly signed by the canonical member, but not the certified content.
      const fake = new Uint8Array(4096).map((_, i) => (i * 31 + 7) & 0xff)
      const [notCertified] = buildVideoChunks(bytesToHex(blake3(fake)), slot, fake, memberKey)
      await injector.publish('video', encodeVideoChunk(notCertified!))
      expected.push('NOT_CERTIFIED')
      // 2. Claims the certified content, signed by a certifying member, with other bytes.
      if (conflictMember !== undefined) {
        const forged = signedChunk(keys.get(conflictMember.signer)!, {
          slot,
          contentId: playedHash,
          index: 0,
          total: before.playedChunks!,
          payload: new Uint8Array(1000).fill(0x42),
        })
        await injector.publish('video', encodeVideoChunk(forged))
        expected.push('CONFLICT')
      } else t.diagnostic('no second member certified the played content: CONFLICT case skipped')
      // 3. An elected director outside the certificate.
      if (outsider !== undefined) {
        const [c] = buildVideoChunks(bytesToHex(blake3(fake)), slot, fake, keys.get(outsider)!)
        await injector.publish('video', encodeVideoChunk(c!))
        expected.push('NOT_MEMBER')
      } else t.diagnostic('all five directors are certificate members: NOT_MEMBER case skipped')

      const after = await waitUntil(
        `slot ${slotNo} to show refusals ${expected.join(', ')}`,
        30_000,
        () => slotsOf(page!),
        (s) => {
          const codes = new Set(s.find((x) => x.slot === slotNo)?.refusals.map((r) => r.code))
          return expected.every((c) => codes.has(c))
        },
      )
      const s = after.find((x) => x.slot === slotNo)!
      // Still the certified content, played once.
      assert.equal(s.status, 'verified')
      assert.equal(s.playedHash, playedHash)
      assert.ok(certifiedHashes.has(s.playedHash!))
      const playback = await playbackOf(page!)
      assert.deepEqual(
        playback.appended.filter((a) => a.slot === slotNo),
        playbackBefore.appended.filter((a) => a.slot === slotNo),
      )
      for (const a of playback.appended) {
        const fin = finals.get(a.slot)
        if (fin !== undefined) assert.ok(fin.contentHashes.has(a.hash), `slot ${a.slot}: appended ${a.hash}`)
      }
      // And the page says so, on that slot's row.
      const row = page!.locator(`tr[data-slot="${slotNo}"]`)
      assert.equal(await row.getAttribute('data-status'), 'verified')
      assert.ok(Number(await row.getAttribute('data-refusals')) >= expected.length)
      const notes = (await row.locator('[data-testid="notes"]').textContent()) ?? ''
      for (const code of expected) assert.ok(notes.includes(code), `notes cell lacks ${code}: ${notes}`)
      t.diagnostic(`slot ${slotNo} refused: ${s.refusals.map((r) => `${r.code}(${r.signer})`).join(' ')}`)
      assert.deepEqual(pageErrors, [])
    } catch (err) {
      failed = true
      throw err
    }
  })

  test('a tampered chunk that arrives before its certificate waits, is refused, and the slot plays its certified video', async (t) => {
    try {
      assert.ok(injector !== null, 'needs the injector of the previous test')
      // The network keeps going after the two slots: the slot after the current one has its
      // recipe already, and its certificate is at least a slot away.
      const target = devnet!.view.slot! + 1n
      const key = await NodeKey.load(join(dataDir, 'director-0', 'node.key'))
      const fake = new Uint8Array(8192).map((_, i) => (i * 17 + 3) & 0xff)
      const [early] = buildVideoChunks(bytesToHex(blake3(fake)), target, fake, key)
      await injector.publish('video', encodeVideoChunk(early!))
      const waiting = await waitUntil(
        `slot ${target} to hold the early chunk before its certificate`,
        10_000,
        () => slotsOf(page!),
        (s) => s.some((x) => x.slot === target.toString()),
      )
      const seen = waiting.find((x) => x.slot === target.toString())!
      assert.equal(seen.certified, false, `slot ${target} was certified before the injection landed`)

      const slots = await waitUntil(
        `slot ${target} to be certified, the early chunk refused, and the certified video played`,
        45_000,
        () => slotsOf(page!),
        (s) => {
          const x = s.find((y) => y.slot === target.toString())
          // director-0 signed it: NOT_CERTIFIED when it is a member, NOT_MEMBER when it is not.
          return (
            x?.status === 'verified' &&
            x.refusals.some((r) => r.code === 'NOT_CERTIFIED' || r.code === 'NOT_MEMBER')
          )
        },
      )
      const s = slots.find((x) => x.slot === target.toString())!
      assert.equal(s.played, true)
      assert.ok(s.members!.some((m) => m.contentHash === s.playedHash))
      assert.notEqual(s.playedHash, bytesToHex(blake3(fake)))
      // The chain agrees on what was certified (submitted; finality follows the challenge period).
      const result = await waitUntil(
        `the chain to hold slot ${target}'s result`,
        15_000,
        () => chain!.slotResult(target),
        (r) => r !== null,
      )
      assert.ok(result!.certificate.members.some((m) => bytesToHex(m.content_hash) === s.playedHash))
      const playback = await playbackOf(page!)
      assert.deepEqual(
        playback.appended.filter((a) => a.slot === target.toString()).map((a) => a.hash),
        [s.playedHash],
      )
      t.diagnostic(
        `slot ${target}: refused ${s.refusals.map((r) => r.code).join(' ')}; played ${s.playedHash}`,
      )
      assert.deepEqual(pageErrors, [])
    } catch (err) {
      failed = true
      throw err
    }
  })
})

/** A chunk with a header of our choosing, correctly signed by `key` (relays check only the signature). */
function signedChunk(
  key: NodeKey,
  c: { slot: bigint; contentId: string; index: number; total: number; payload: Uint8Array },
): VideoChunk {
  const header = {
    version: VIDEO_CHUNK_VERSION,
    slot: c.slot,
    content_id: c.contentId,
    chunk_index: c.index,
    total_chunks: c.total,
    timestamp_ms: BigInt(Date.now()),
    is_keyframe: c.index === 0,
    payload_hash: blake3(c.payload),
  }
  return {
    header,
    payload: c.payload,
    signer: key.publicKeyProto,
    signature: key.sign(encodeVideoChunkHeader(header)),
  }
}

async function waitForFinished(devnet: Devnet, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const d = devnet.view.directors.map((x) => `${x.name}=${x.state} ${[...x.slots].slice(-3).join(',')}`)
      reject(
        new Error(
          `devnet: ${devnet.view.finalized.length}/${SLOTS} slots final after ${timeoutMs} ms ` +
            `(block ${devnet.view.block}; ${d.join('; ')}; log: ${devnet.view.log.join(' | ')})`,
        ),
      )
    }, timeoutMs)
  })
  try {
    await Promise.race([devnet.finished, timeout])
  } finally {
    clearTimeout(timer)
  }
}
