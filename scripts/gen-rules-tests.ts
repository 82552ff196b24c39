// Writes ops/prometheus/nsn-rules.test.yml (the `promtool test rules` unit tests) from the cases
// below and the annotations in ops/prometheus/nsn-rules.yml, so a changed summary does not mean
// editing every expected alert by hand. Every alert gets a firing case and a not-firing one.
// Usage: node --import tsx scripts/gen-rules-tests.ts [--check]  (--check: fail if the file differs)
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'

const dir = join(new URL('..', import.meta.url).pathname, 'ops/prometheus')

interface Case {
  alert: string
  /** Input series, promtool notation. */
  series: Record<string, string>
  /** When the alert fires, with the label sets expected (beside alertname and severity). */
  firesAt: string
  firing: Record<string, string>[]
  /** A time at which nothing fires yet (inside `for`, or before the condition). */
  quietAt: string
}

const MiB = 1024 * 1024
export const CASES: Case[] = [
  {
    alert: 'NsnNodeDown',
    series: { 'up{job="nsn",instance="a"}': '0x10', 'up{job="nsn",instance="b"}': '1x10' },
    firesAt: '2m',
    firing: [{ job: 'nsn', instance: 'a' }],
    quietAt: '0m',
  },
  {
    alert: 'NsnNoPeers',
    series: { 'nsn_p2p_peers{instance="a"}': '0x10', 'nsn_p2p_peers{instance="b"}': '3x10' },
    firesAt: '3m',
    firing: [{ instance: 'a' }],
    quietAt: '1m',
  },
  {
    alert: 'NsnMeshBelowLowerBound',
    series: {
      'nsn_p2p_mesh_peers{instance="a",topic="bft"}': '2x10',
      'nsn_p2p_mesh_peers{instance="a",topic="recipes"}': '0x10',
      'nsn_p2p_mesh_peers{instance="b",topic="video"}': '6x10',
    },
    firesAt: '5m',
    firing: [{ instance: 'a', topic: 'bft' }],
    quietAt: '2m',
  },
  {
    alert: 'NsnSlotsFailing',
    series: {
      'nsn_lane0_slots_total{instance="a",result="failed"}': '0+1x30',
      'nsn_lane0_slots_total{instance="a",result="success"}': '0x30',
      'nsn_lane0_slots_total{instance="b",result="failed"}': '0x30',
      'nsn_lane0_slots_total{instance="b",result="success"}': '0+1x30',
    },
    firesAt: '20m',
    firing: [{ instance: 'a' }],
    quietAt: '3m',
  },
  {
    alert: 'NsnNoCertificate',
    series: {
      'nsn_lane0_bft_rounds_total{instance="a",outcome="certified"}': '5x30',
      'nsn_lane0_director_state{instance="a",state="Active"}': '1x30',
      'nsn_lane0_bft_rounds_total{instance="b",outcome="certified"}': '0+1x30',
      'nsn_lane0_director_state{instance="b",state="Active"}': '1x30',
      'nsn_lane0_bft_rounds_total{instance="c",outcome="certified"}': '5x30',
      'nsn_lane0_director_state{instance="c",state="Active"}': '0x30',
    },
    firesAt: '20m',
    firing: [{ instance: 'a' }],
    quietAt: '3m',
  },
  {
    alert: 'NsnChainSubmissionStuck',
    series: {
      'nsn_node_oldest_inflight_slot_lag{instance="a"}': '5x10',
      'nsn_node_oldest_inflight_slot_lag{instance="b"}': '1x10',
    },
    firesAt: '4m',
    firing: [{ instance: 'a' }],
    quietAt: '1m',
  },
  {
    alert: 'NsnChainUnreachable',
    series: {
      'nsn_chain_client_connected{instance="a"}': '0x10',
      'nsn_node_chain_block_age_seconds{instance="a"}': '5x10',
      'nsn_chain_client_connected{instance="b"}': '1x10',
      'nsn_node_chain_block_age_seconds{instance="b"}': '100x10',
      'nsn_chain_client_connected{instance="c"}': '1x10',
      'nsn_node_chain_block_age_seconds{instance="c"}': '2x10',
    },
    firesAt: '3m',
    firing: [{ instance: 'a' }, { instance: 'b' }],
    quietAt: '0m',
  },
  {
    alert: 'NsnSidecarUnhealthy',
    series: {
      'nsn_node_health_check{instance="a",check="sidecar"}': '0x10',
      'nsn_node_health_check{instance="b",check="sidecar"}': '1x10',
    },
    firesAt: '3m',
    firing: [{ instance: 'a', check: 'sidecar' }],
    quietAt: '0m',
  },
  {
    alert: 'NsnPluginFailing',
    series: {
      'nsn_lane0_sidecar_errors_total{instance="a",code="TIMEOUT"}': '0+1x20',
      'nsn_lane0_sidecar_errors_total{instance="b",code="TIMEOUT"}': '0x20',
    },
    firesAt: '12m',
    firing: [{ instance: 'a' }],
    quietAt: '1m',
  },
  {
    alert: 'NsnGraylistedPeersRising',
    series: {
      'nsn_p2p_graylisted_total{instance="a"}': '0 0 0 0 0 1 1 1 1 1',
      'nsn_p2p_graylisted_total{instance="b"}': '0x10',
    },
    firesAt: '7m',
    firing: [{ instance: 'a' }],
    quietAt: '3m',
  },
  {
    alert: 'NsnRssGrowing',
    series: {
      // 600 MiB growing by 6 MB a minute; flat 700 MiB; growing but small.
      'nsn_process_process_resident_memory_bytes{instance="a"}': `${600 * MiB}+6000000x90`,
      'nsn_process_process_resident_memory_bytes{instance="b"}': `${700 * MiB}x90`,
      'nsn_process_process_resident_memory_bytes{instance="c"}': `${10 * MiB}+6000000x90`,
    },
    firesAt: '80m',
    firing: [{ instance: 'a' }],
    quietAt: '20m',
  },
  {
    alert: 'NsnDiskNearlyFull',
    series: {
      'nsn_node_disk_free_bytes{instance="a"}': '500000000x10',
      'nsn_node_disk_size_bytes{instance="a"}': '100000000000x10',
      'nsn_node_disk_free_bytes{instance="b"}': '50000000000x10',
      'nsn_node_disk_size_bytes{instance="b"}': '100000000000x10',
    },
    firesAt: '7m',
    firing: [{ instance: 'a' }],
    quietAt: '2m',
  },
  {
    alert: 'NsnDirectorNotRegistered',
    series: {
      'nsn_node_health_check{instance="a",check="registration"}': '0x10',
      'nsn_node_health_check{instance="b",check="registration"}': '1x10',
    },
    firesAt: '4m',
    firing: [{ instance: 'a', check: 'registration' }],
    quietAt: '1m',
  },
]

interface Rule {
  alert?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

/** Expand `{{ $labels.x }}` (the only template the rules use). */
function expand(text: string, labels: Record<string, string>): string {
  return text.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, (_m, k: string) => labels[k] ?? '')
}

export function rulesTestYaml(): string {
  const rules = parse(readFileSync(join(dir, 'nsn-rules.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }
  const alerts = new Map(rules.groups.flatMap((g) => g.rules).flatMap((r) => (r.alert ? [[r.alert, r]] : [])))
  const missing = [...alerts.keys()].filter((a) => !CASES.some((c) => c.alert === a))
  if (missing.length > 0) throw new Error(`no test case for ${missing.join(', ')}`)
  const tests: unknown[] = CASES.map((c) => {
    const rule = alerts.get(c.alert)
    if (rule === undefined) throw new Error(`${c.alert}: no such alert in nsn-rules.yml`)
    return {
      interval: '1m',
      input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
      alert_rule_test: [
        { eval_time: c.quietAt, alertname: c.alert, exp_alerts: [] },
        {
          eval_time: c.firesAt,
          alertname: c.alert,
          exp_alerts: c.firing.map((l) => {
            const labels = { ...(rule.labels ?? {}), ...l }
            const annotations = Object.fromEntries(
              Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, expand(v, labels)]),
            )
            return { exp_labels: labels, exp_annotations: annotations }
          }),
        },
      ],
    }
  })
  // The stage latency recording rules: 1 of 2 observations per second at or below 1 s, 1 in (1, 5].
  tests.push({
    interval: '1m',
    input_series: [
      {
        series: 'nsn_lane0_slot_stage_duration_seconds_bucket{instance="a",stage="generate",le="1"}',
        values: '0+60x10',
      },
      {
        series: 'nsn_lane0_slot_stage_duration_seconds_bucket{instance="a",stage="generate",le="5"}',
        values: '0+120x10',
      },
      {
        series: 'nsn_lane0_slot_stage_duration_seconds_bucket{instance="a",stage="generate",le="+Inf"}',
        values: '0+120x10',
      },
    ],
    promql_expr_test: [
      {
        expr: 'nsn:slot_stage_duration_seconds:p50',
        eval_time: '8m',
        exp_samples: [{ labels: 'nsn:slot_stage_duration_seconds:p50{stage="generate"}', value: 1 }],
      },
      {
        expr: 'nsn:slot_stage_duration_seconds:p99',
        eval_time: '8m',
        exp_samples: [{ labels: 'nsn:slot_stage_duration_seconds:p99{stage="generate"}', value: 4.92 }],
      },
    ],
  })
  const header =
    '# promtool unit tests of nsn-rules.yml: every alert firing and not firing, and the latency\n' +
    '# recording rules. Generated by scripts/gen-rules-tests.ts; run: promtool test rules nsn-rules.test.yml\n'
  return (
    header + stringify({ rule_files: ['nsn-rules.yml'], evaluation_interval: '1m', tests }, { lineWidth: 0 })
  )
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = rulesTestYaml()
  const path = join(dir, 'nsn-rules.test.yml')
  if (process.argv.includes('--check')) {
    if (readFileSync(path, 'utf8') !== text) {
      console.error(`${path} is out of date: run node --import tsx scripts/gen-rules-tests.ts`)
      process.exit(1)
    }
  } else {
    writeFileSync(path, text)
    console.log(`wrote ${path}`)
  }
}
