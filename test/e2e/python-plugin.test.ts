// The devnet with every director generating through the reference-shaped Python plugin
// (plugins/vortex-py via `python3 -m vortex.plugins.runner`: VP9 in IVF, Opus, a raw embedding): the
// directors normalise, remux into WebM, certify a slot, the chain finalises it, and headless Chromium
// plays the certified WebM on the viewer page. Skipped without Chromium.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type Browser, chromium, type Page } from 'playwright-core'
import { DevChainClient } from '../../src/chain/index.ts'
import { initBlake3 } from '../../src/crypto/index.ts'
import { Devnet } from '../../src/node/devnet.ts'
import { bytesToHex } from '../../src/types/index.ts'
import { descendants } from '../helpers/processes.ts'
import { waitFor } from '../helpers/wait.ts'

await initBlake3()

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-headless-shell'].find((p) => existsSync(p))

describe('devnet on the Python plugin: WebM certified and played in Chromium', {
  skip: CHROMIUM === undefined ? 'no Chromium installed' : false,
  timeout: 200_000,
}, () => {
  let dataDir = ''
  let devnet: Devnet | null = null
  let browser: Browser | null = null
  let page: Page | null = null
  let chain: DevChainClient | null = null
  let preexisting = new Set<number>()

  before(async () => {
    preexisting = new Set(descendants(process.pid).map((d) => d.pid))
    dataDir = await mkdtemp(join(tmpdir(), 'nsn-e2e-py-'))
    devnet = new Devnet({
      dataDir,
      reset: true,
      slots: 1,
      directors: 5,
      viewerPort: 0,
      directorSet: () => ['lane0.vortexPlugin=vortex-py'],
    })
    await devnet.start()
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: 30_000,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
      ],
    })
    page = await (await browser.newContext()).newPage()
    await page.goto(devnet.view.viewerUrl, { timeout: 20_000 })
    await page.waitForFunction(() => 'nsnViewer' in globalThis, undefined, { timeout: 20_000 })
  })

  after(async () => {
    await browser?.close().catch(() => {})
    await chain?.close().catch(() => {})
    await devnet?.stop()
    const leftOver = () => descendants(process.pid).filter((d) => !preexisting.has(d.pid))
    const left = await waitFor('child processes to end', () => leftOver().length === 0, {
      timeoutMs: 10_000,
      seen: () => JSON.stringify(leftOver()),
    }).catch((err: Error) => err)
    await rm(dataDir, { recursive: true, force: true })
    if (left instanceof Error) throw left
  })

  test('a slot is final on chain and its certified WebM plays', async (t) => {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      devnet!.finished,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`no slot final within 150 s; log: ${devnet!.view.log.slice(-12).join(' | ')}`)),
          150_000,
        )
      }),
    ]).finally(() => clearTimeout(timer))
    const slot = devnet!.view.finalized[0]!
    chain = new DevChainClient({ url: devnet!.view.chainUrl })
    const result = await chain.slotResult(slot)
    assert.ok(result?.finalized, `slot ${slot} final on chain`)
    const certified = new Set(result.certificate.members.map((m) => bytesToHex(m.content_hash)))

    const probe = () =>
      page!.evaluate(() => {
        const v = document.getElementById('video') as HTMLVideoElement
        const n = globalThis as unknown as {
          nsnViewer: { playback(): { appended: { slot: string; hash: string }[] } }
        }
        return {
          appended: n.nsnViewer.playback().appended,
          currentTime: v.currentTime,
          frames: v.getVideoPlaybackQuality().totalVideoFrames,
          error: v.error?.message ?? null,
          webmVp9Opus: MediaSource.isTypeSupported('video/webm; codecs="vp9,opus"'),
        }
      })
    let last: Awaited<ReturnType<typeof probe>> | null = null
    const played = await waitFor(
      `slot ${slot} played as WebM past 1 s`,
      async () => {
        last = await probe()
        return last.error !== null || (last.currentTime > 1 && last.frames > 0) ? last : null
      },
      { timeoutMs: 30_000, intervalMs: 500, seen: () => JSON.stringify(last) },
    )
    assert.equal(played.error, null)
    assert.ok(played.webmVp9Opus)
    const mine = played.appended.filter((a) => a.slot === slot.toString())
    assert.ok(mine.length > 0 && mine.every((a) => certified.has(a.hash)), JSON.stringify(played.appended))
    t.diagnostic(`slot ${slot}: played ${played.currentTime.toFixed(2)} s, ${played.frames} frames`)
  })
})
