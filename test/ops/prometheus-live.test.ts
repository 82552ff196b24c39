// A real Prometheus scraping a running devnet: every node's /metrics from a generated file_sd
// target list, the shipped rules loaded. Every metric the rules and the dashboard name exists with
// data (except the few that only appear with their first event, listed below), every dashboard
// query evaluates without error through the HTTP API, and killing a director makes NsnNodeDown go
// pending for that target.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { dashboardQueries } from '../../scripts/gen-dashboard.ts'
import { Devnet } from '../../src/node/devnet.ts'
import { waitFor } from '../helpers/network.ts'
import { baseName, RULES, referencedMetrics } from './_metrics.ts'

/** Counters with labels have no series until their first event; a one-slot devnet has none of these. */
const EVENT_ONLY = new Set([
  'nsn_lane0_sidecar_errors_total', // a failed generation
  'nsn_lane0_bft_equivocations_total', // an equivocating director
])

const dir = await mkdtemp(join(tmpdir(), 'nsn-prom-live-'))
let devnet: Devnet | null = null
let prom: ChildProcess | null = null
let base = ''

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) })
  const body = (await res.json()) as { status: string; data: T; error?: string }
  if (body.status !== 'success') throw new Error(`${path}: ${body.error}`)
  return body.data
}

const query = (q: string) =>
  api<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>(
    `/api/v1/query?query=${encodeURIComponent(q)}`,
  )

before(async () => {
  devnet = new Devnet({ dataDir: join(dir, 'net'), reset: false, directors: 3, viewerPort: 0, slots: 1 })
  await devnet.start()
  const targets = [...devnet.directorProcs, devnet.viewerProc!].map((p) => new URL(p.ready.http).host)
  await writeFile(join(dir, 'targets.json'), JSON.stringify([{ targets, labels: { job: 'nsn' } }]))
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: [${JSON.stringify(RULES)}]`,
      'scrape_configs:',
      '  - job_name: nsn',
      `    file_sd_configs: [{ files: [${JSON.stringify(join(dir, 'targets.json'))}], refresh_interval: 1s }]`,
      '',
    ].join('\n'),
  )
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const log = createWriteStream(join(dir, 'prometheus.log'))
  prom = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  prom.stdout!.pipe(log)
  prom.stderr!.pipe(log)
  await waitFor('prometheus ready', async () => (await fetch(`${base}/-/ready`)).ok, { timeoutMs: 60_000 })
})

after(async () => {
  if (prom !== null && prom.exitCode === null) {
    const gone = new Promise((r) => prom!.once('exit', r))
    prom.kill('SIGTERM')
    const t = setTimeout(() => prom!.kill('SIGKILL'), 10_000)
    await gone
    clearTimeout(t)
  }
  await devnet?.stop()
  await rm(dir, { recursive: true, force: true })
})

test('Prometheus scrapes the devnet: metrics present, dashboard queries valid, a killed director alerts', async () => {
  // Every target is up.
  let seen = ''
  await waitFor(
    'every devnet node scraped and up',
    async () => {
      const r = await query('up{job="nsn"}')
      seen = JSON.stringify(r.result.map((x) => [x.metric.instance, x.value[1]]))
      return r.result.length === 4 && r.result.every((x) => x.value[1] === '1')
    },
    { timeoutMs: 60_000, seen: () => seen },
  )
  // One slot final: the pipeline, BFT and chain metrics have data.
  await Promise.race([
    devnet!.finished,
    new Promise((_, rej) => setTimeout(() => rej(new Error('no slot final within 240 s')), 240_000)),
  ])
  const missing = async () => {
    const out: string[] = []
    for (const m of referencedMetrics()) {
      if (EVENT_ONLY.has(baseName(m))) continue
      const r = await query(`count({__name__="${m}"})`)
      if (r.result.length === 0) out.push(m)
    }
    return out
  }
  let absent: string[] = []
  await waitFor(
    'every metric of the rules and the dashboard to have data',
    async () => {
      absent = await missing()
      return absent.length === 0
    },
    { timeoutMs: 90_000, intervalMs: 2000, seen: () => absent.join(', ') },
  )

  // Every dashboard query evaluates (Grafana's variables replaced by what Grafana would send).
  for (const q of dashboardQueries()) {
    const expr = q
      .replaceAll('$instance', '.*')
      .replaceAll('$__rate_interval', '30s')
      .replaceAll('$__range', '5m')
    await query(expr) // throws with Prometheus's error message
  }

  // Kill a director: NsnNodeDown goes pending for its target.
  const victim = devnet!.directorProcs[0]!
  const instance = new URL(victim.ready.http).host
  await victim.kill()
  let alerts = ''
  await waitFor(
    `NsnNodeDown pending for ${instance}`,
    async () => {
      const a = await api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts')
      alerts = JSON.stringify(a.alerts.map((x) => [x.labels.alertname, x.labels.instance, x.state]))
      return a.alerts.some(
        (x) =>
          x.labels.alertname === 'NsnNodeDown' && x.labels.instance === instance && x.state === 'pending',
      )
    },
    { timeoutMs: 60_000, seen: () => alerts },
  )
  // The others are not reported down.
  const down = await query('up{job="nsn"} == 0')
  assert.deepEqual(
    down.result.map((x) => x.metric.instance),
    [instance],
  )
})
