// The generator's video in a real Chromium through Media Source Extensions, the way the viewer plays
// it: the reported MIME type is supported, the whole clip buffers, and frames decode while playing.
// Skipped when no Chromium is installed.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { describe, test } from 'node:test'
import { chromium } from 'playwright-core'
import { initBlake3 } from '../../../src/crypto/index.ts'
import { parseVortexOutput, readVortexVideo, vortexRequest } from '../../../src/sidecar/index.ts'
import { sampleRecipe } from '../../fixtures/index.ts'
import { REPO_PLUGINS, startSidecar } from './_helpers.ts'

await initBlake3()

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-headless-shell', '/usr/bin/chromium-browser'].find(
  (p) => existsSync(p),
)

const PAGE = `<!doctype html><video id=v muted></video><script>
window.play = async (mime) => {
  const v = document.getElementById('v')
  const supported = MediaSource.isTypeSupported(mime)
  const ms = new MediaSource()
  v.src = URL.createObjectURL(ms)
  await new Promise((r) => ms.addEventListener('sourceopen', r, { once: true }))
  const sb = ms.addSourceBuffer(mime)
  const buf = await (await fetch('/video.mp4')).arrayBuffer()
  await new Promise((resolve, reject) => { sb.onupdateend = resolve; sb.onerror = reject; sb.appendBuffer(buf) })
  ms.endOfStream()
  await v.play()
  await new Promise((r) => setTimeout(r, 1200))
  const q = v.getVideoPlaybackQuality()
  return { supported, buffered: v.buffered.length ? v.buffered.end(0) : 0, currentTime: v.currentTime,
           frames: q.totalVideoFrames, width: v.videoWidth, height: v.videoHeight, error: v.error && v.error.message }
}</script>`

describe('vortex-lane0 video in Chromium (MSE)', {
  skip: CHROMIUM === undefined ? 'no Chromium installed' : false,
}, () => {
  test('the fMP4 plays through Media Source Extensions with the reported MIME type', async () => {
    const h = await startSidecar({ pluginsDir: REPO_PLUGINS })
    let server: Server | undefined
    let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined
    try {
      const res = await h.client.executeTask(
        vortexRequest(sampleRecipe(), { taskId: 'mse-1', audioMode: 'synth' }),
      )
      const out = parseVortexOutput(res.resultMetadata)
      const { video } = await readVortexVideo(out, { outputDir: h.server.runner.workDir })
      const srv = createServer((req, reply) => {
        if (req.url === '/video.mp4') reply.writeHead(200, { 'content-type': 'video/mp4' }).end(video)
        else reply.writeHead(200, { 'content-type': 'text/html' }).end(PAGE)
      })
      server = srv
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
      const port = (srv.address() as { port: number }).port
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        timeout: 20_000,
        args: [
          '--no-sandbox',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          '--autoplay-policy=no-user-gesture-required',
        ],
      })
      const page = await browser.newPage()
      page.setDefaultTimeout(15_000)
      await page.goto(`http://127.0.0.1:${port}/`)
      const r = await page.evaluate(
        (mime) => (window as unknown as { play(m: string): Promise<Record<string, unknown>> }).play(mime),
        out.mime,
      )
      assert.equal(r.supported, true, out.mime)
      assert.equal(r.error, null)
      assert.ok(Math.abs((r.buffered as number) - 10) < 0.05, `buffered to ${r.buffered}`)
      assert.ok((r.currentTime as number) > 0.5, `played to ${r.currentTime}`)
      assert.ok((r.frames as number) >= 10, `decoded ${r.frames} frames`)
      assert.deepEqual([r.width, r.height], [320, 240])
    } finally {
      await browser?.close()
      server?.close()
      await h.stop()
    }
  })
})
