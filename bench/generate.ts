// Generation time of a 10 s, 24 fps, 320x240 slot by vortex-lane0, and the sidecar's overhead per
// call (empty plugin round trip through gRPC, p50/p99). Prints figures, asserts nothing.
import '../src/polyfill.ts' // first: Node 20 lacks Promise.withResolvers and a global WebSocket
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { initBlake3 } from '../src/crypto/index.ts'
import { devnetRecipe } from '../src/node/devnet.ts'
import { DEVNET_CHAIN, DEVNET_VIDEO_SEC } from '../src/node/devnet-profile.ts'
import { parseVortexOutput, SidecarClient, SidecarServer, vortexRequest } from '../src/sidecar/index.ts'
import { RecipeCodec } from '../src/types/index.ts'
import { sampleRecipe } from '../test/fixtures/index.ts'

await initBlake3()
const root = new URL('..', import.meta.url).pathname
const GEN_RUNS = 3
const ECHO_CALLS = 60

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
const ms = (x: number) => `${x.toFixed(1)} ms`
const mib = (x: number) => `${(x / 1024 / 1024).toFixed(1)} MiB`

const recipe = sampleRecipe() // 10 s, 24 fps, 320x240
console.log(
  `recipe: ${recipe.slot_params.duration_sec} s, ${recipe.slot_params.fps} fps, ${recipe.slot_params.resolution}`,
)

// 1. The plugin process alone, under /usr/bin/time for its CPU (start-up included).
const input = JSON.stringify({
  recipe: RecipeCodec.toPlain(recipe, 'json'),
  slot_id: 42,
  audio_mode: 'synth',
})
const direct = spawnSync(
  '/usr/bin/time',
  ['-f', '%U %S %M', process.execPath, join(root, 'plugins/vortex-lane0/run.mjs')],
  {
    input,
    env: { ...process.env, NSN_TASK_DIR: '' },
    maxBuffer: 64 * 1024 * 1024,
  },
)
if (direct.status === 0) {
  const tail = direct.stderr.toString().trim().split('\n').pop() ?? ''
  const [user, sys, maxKb] = tail.split(' ').map(Number)
  const out = JSON.parse(direct.stdout.toString()).output
  console.log(
    `plugin process (inline output): generation ${out.generation_time_ms} ms, process CPU ${((user! + sys!) * 1000).toFixed(0)} ms (user ${user} s, sys ${sys} s), max RSS ${(maxKb! / 1024).toFixed(0)} MiB, video ${out.video_bytes} bytes`,
  )
} else {
  console.log(
    `plugin process under /usr/bin/time failed (${direct.status}): ${direct.stderr.toString().slice(0, 300)}`,
  )
}

// 2. Through the sidecar: wall time of ExecuteTask and the plugin's own generation time.
const server = await SidecarServer.start({ pluginsDir: join(root, 'plugins'), port: 0 })
const client = new SidecarClient({ address: server.address })
try {
  const wall: number[] = []
  const gen: number[] = []
  for (let i = 0; i < GEN_RUNS; i++) {
    const t0 = performance.now()
    const res = await client.executeTask(
      vortexRequest(recipe, { taskId: `bench-gen-${i}`, audioMode: 'synth' }),
    )
    wall.push(performance.now() - t0)
    gen.push(parseVortexOutput(res.resultMetadata).generationTimeMs)
  }
  console.log(
    `vortex-lane0 via sidecar x${GEN_RUNS}: ExecuteTask wall p50 ${ms(pct(wall, 50))} max ${ms(Math.max(...wall))}; generation p50 ${ms(pct(gen, 50))} max ${ms(Math.max(...gen))}`,
  )
  const espeak = await client.executeTask(
    vortexRequest(recipe, { taskId: 'bench-gen-espeak', audioMode: 'auto' }),
  )
  const eo = parseVortexOutput(espeak.resultMetadata)
  console.log(
    `with audio_mode auto (${eo.audioSource}): generation ${ms(eo.generationTimeMs)}, ExecuteTask ${ms(espeak.executionTimeMs)}`,
  )
} finally {
  client.close()
  await server.stop()
}

// 3. Sidecar overhead: the echo fixture through gRPC versus the same process spawned directly.
const fixtures = join(root, 'test/fixtures/plugins')
const s2 = await SidecarServer.start({ pluginsDir: fixtures, port: 0, policy: { allowlist: ['echo'] } })
const c2 = new SidecarClient({ address: s2.address })
try {
  const rt: number[] = []
  const proc: number[] = []
  const over: number[] = []
  for (let i = 0; i < ECHO_CALLS; i++) {
    const t0 = performance.now()
    const res = await c2.executeTask({
      taskId: `echo-${i}`,
      parameters: new TextEncoder().encode('{}'),
      timeoutMs: 5_000,
      pluginName: 'echo',
      lane: 1,
    })
    const total = performance.now() - t0
    rt.push(total)
    // executionTimeMs is the server's spawn-to-exit time of the plugin process.
    proc.push(res.executionTimeMs)
    over.push(total - res.executionTimeMs)
  }
  const small: number[] = []
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now()
    await c2.getTaskStatus('echo-0')
    small.push(performance.now() - t0)
  }
  console.log(
    `empty plugin round trip via sidecar x${ECHO_CALLS}: p50 ${ms(pct(rt, 50))} p99 ${ms(pct(rt, 99))}`,
  )
  console.log(
    `  plugin process (node start to exit, server-measured): p50 ${ms(pct(proc, 50))} p99 ${ms(pct(proc, 99))}`,
  )
  console.log(
    `  sidecar overhead (round trip minus process): p50 ${ms(pct(over, 50))} p99 ${ms(pct(over, 99))}`,
  )
  console.log(`GetTaskStatus (gRPC only) x200: p50 ${ms(pct(small, 50))} p99 ${ms(pct(small, 99))}`)
} finally {
  c2.close()
  await s2.stop()
}
// 4. The devnet's load: every director generates the same full-slot clip (with its narration muxed
// in) at the same moment. The slot's video lasts the slot, so the five must finish well inside one
// slot for slot N+1 to be generated, agreed and published while slot N plays.
{
  const slotSec = (DEVNET_CHAIN.blocksPerSlot * DEVNET_CHAIN.blockMs) / 1000
  const devInput = JSON.stringify({
    recipe: RecipeCodec.toPlain(devnetRecipe(7n), 'json'),
    slot_id: 7,
    output_mode: 'inline',
  })
  const one = () =>
    new Promise<{ wallMs: number; cpuMs: number; genMs: number; audio: boolean }>((resolve, reject) => {
      const t0 = performance.now()
      const child = spawn(
        '/usr/bin/time',
        ['-f', '%U %S', process.execPath, join(root, 'plugins/vortex-lane0/run.mjs')],
        { env: { ...process.env, NSN_TASK_DIR: '' } },
      )
      let out = ''
      let err = ''
      child.stdout.on('data', (d) => {
        out += d
      })
      child.stderr.on('data', (d) => {
        err += d
      })
      child.on('error', reject)
      child.on('close', (code) => {
        if (code !== 0) return reject(new Error(`plugin exited ${code}: ${err.slice(-300)}`))
        const [user, sys] = (err.trim().split('\n').pop() ?? '').split(' ').map(Number)
        const o = JSON.parse(out).output
        resolve({
          wallMs: performance.now() - t0,
          cpuMs: (user! + sys!) * 1000,
          genMs: o.generation_time_ms,
          audio: o.audio_muxed === true,
        })
      })
      child.stdin.end(devInput)
    })
  for (const n of [1, DEVNET_CHAIN.directors]) {
    const t0 = performance.now()
    const runs = await Promise.all(Array.from({ length: n }, one))
    const wall = performance.now() - t0
    const cpu = runs.reduce((a, r) => a + r.cpuMs, 0)
    console.log(
      `devnet slot clip (${DEVNET_VIDEO_SEC} s, 24 fps, 320x240, narration muxed: ${runs.every((r) => r.audio)}) x${n} at once: ` +
        `all done in ${ms(wall)} = ${(wall / (slotSec * 1000)).toFixed(2)} of a ${slotSec} s slot; ` +
        `CPU ${ms(cpu)} total (${ms(cpu / n)} each, ${(cpu / (slotSec * 1000)).toFixed(2)} core-slots)`,
    )
  }
}
console.log(`bench process RSS ${mib(process.memoryUsage.rss())}`)
