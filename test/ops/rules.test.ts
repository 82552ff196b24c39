// The shipped Prometheus rules and Grafana dashboard, checked by the real tools: `promtool check
// rules`, `promtool test rules` (every alert firing and not firing), the generated files up to date,
// and every metric they name defined by the code.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { parse } from 'yaml'
import { dashboard } from '../../scripts/gen-dashboard.ts'
import { rulesTestYaml } from '../../scripts/gen-rules-tests.ts'
import { baseName, definedMetrics, ROOT, referencedMetrics, rules } from './_metrics.ts'

const dir = join(ROOT, 'ops/prometheus')

function promtool(args: string[]) {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 120_000 })
  assert.equal(r.error, undefined, `promtool not runnable (apt-get install prometheus): ${r.error?.message}`)
  return r
}

describe('Prometheus rules', () => {
  test('promtool check rules', () => {
    const r = promtool(['check', 'rules', 'nsn-rules.yml'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /SUCCESS: \d+ rules found/)
  })

  test('promtool test rules: every alert fires and stays quiet in its unit test', () => {
    assert.equal(
      readFileSync(join(dir, 'nsn-rules.test.yml'), 'utf8'),
      rulesTestYaml(),
      'run scripts/gen-rules-tests.ts',
    )
    const doc = parse(readFileSync(join(dir, 'nsn-rules.test.yml'), 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[]
    }
    const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? [])
    for (const alert of rules().flatMap((r) => (r.alert ? [r.alert] : []))) {
      assert.ok(
        cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0),
        `${alert}: no firing case`,
      )
      assert.ok(
        cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0),
        `${alert}: no quiet case`,
      )
    }
    const r = promtool(['test', 'rules', 'nsn-rules.test.yml'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /SUCCESS/)
  })

  test('every alert has a summary and a description saying what to check', () => {
    const doc = parse(readFileSync(join(dir, 'nsn-rules.yml'), 'utf8')) as {
      groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[]
    }
    for (const r of doc.groups.flatMap((g) => g.rules)) {
      if (r.alert === undefined) continue
      assert.ok((r.annotations?.summary ?? '').length > 10, `${r.alert}: summary`)
      assert.match(
        r.annotations?.description ?? '',
        /[Cc]heck|[Rr]un|[Cc]ompare|[Tt]he code label/,
        `${r.alert}: what to check`,
      )
    }
  })
})

describe('Grafana dashboard', () => {
  test('ops/grafana/nsn.json is the generated dashboard, with a query in every panel', () => {
    const file = JSON.parse(readFileSync(join(ROOT, 'ops/grafana/nsn.json'), 'utf8'))
    assert.deepEqual(file, dashboard(), 'run scripts/gen-dashboard.ts')
    const panels = (file.panels as { type: string; title: string; targets?: { expr: string }[] }[]).filter(
      (p) => p.type !== 'row',
    )
    assert.ok(panels.length >= 20)
    for (const p of panels)
      assert.ok((p.targets ?? []).length > 0 && p.targets!.every((t) => t.expr), p.title)
    const rows = (file.panels as { type: string; title: string }[])
      .filter((p) => p.type === 'row')
      .map((p) => p.title)
    assert.deepEqual(rows, ['Slot pipeline', 'BFT', 'p2p', 'Chain', 'Sidecar', 'Process'])
  })
})

test('every metric the rules and the dashboard name is defined by the code', () => {
  const defined = definedMetrics()
  const recorded = new Set(rules().flatMap((r) => (r.record ? [r.record] : [])))
  const unknown = referencedMetrics().filter((m) => {
    if (m === 'up' || recorded.has(m)) return false
    if (m.startsWith('nsn_process_')) return false // prom-client's default metrics, prefixed (src/node/node.ts)
    return !defined.has(baseName(m))
  })
  assert.deepEqual(unknown, [])
})
