// Writes ops/grafana/nsn.json, the Grafana dashboard of NSN nodes, from the compact panel list
// below (one row per area: slot pipeline, BFT, p2p, chain, sidecar, process).
// Usage: node --import tsx scripts/gen-dashboard.ts [--check]  (--check: fail if the file differs)
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

interface PanelSpec {
  title: string
  unit?: string
  /** PromQL, legend. */
  targets: [string, string][]
}

/** Grafana's datasource variable (a literal `${…}` in the JSON, not a template string). */
const DS = '$' + '{datasource}'
const SEL = '{job="nsn", instance=~"$instance"}'
const by = (m: string, labels: string, extra = '') =>
  `sum by (${labels}) (rate(${m}{job="nsn", instance=~"$instance"${extra}}[$__rate_interval]))`

export const ROWS: [string, PanelSpec[]][] = [
  [
    'Slot pipeline',
    [
      {
        title: 'Stage latency p50 / p99',
        unit: 's',
        targets: [
          ['nsn:slot_stage_duration_seconds:p50', 'p50 {{stage}}'],
          ['nsn:slot_stage_duration_seconds:p99', 'p99 {{stage}}'],
        ],
      },
      {
        title: 'Slot outcomes',
        unit: 'ops',
        targets: [[by('nsn_lane0_slots_total', 'result'), '{{result}}']],
      },
      {
        title: 'Similarity of the agreeing set (p50)',
        targets: [
          [
            `histogram_quantile(0.5, sum by (le) (rate(nsn_lane0_bft_similarity_ratio_bucket${SEL}[$__rate_interval])))`,
            'similarity p50',
          ],
        ],
      },
      {
        title: 'Director state',
        targets: [
          [`max by (instance, state) (nsn_lane0_director_state${SEL}) == 1`, '{{instance}} {{state}}'],
        ],
      },
      { title: 'Recipes', unit: 'ops', targets: [[by('nsn_lane0_recipes_total', 'result'), '{{result}}']] },
      {
        title: 'Slots in flight',
        targets: [
          [`nsn_node_inflight_slots${SEL}`, '{{instance}}'],
          [`nsn_node_oldest_inflight_slot_lag${SEL}`, 'lag {{instance}}'],
        ],
      },
    ],
  ],
  [
    'BFT',
    [
      {
        title: 'Rounds by outcome',
        unit: 'ops',
        targets: [[by('nsn_lane0_bft_rounds_total', 'outcome'), '{{outcome}}']],
      },
      {
        title: 'Proposals received',
        unit: 'ops',
        targets: [[by('nsn_lane0_bft_proposals_received_total', 'result'), '{{result}}']],
      },
      {
        title: 'Commits received',
        unit: 'ops',
        targets: [[by('nsn_lane0_bft_commits_received_total', 'result'), '{{result}}']],
      },
      {
        title: 'Equivocations',
        targets: [[`sum(increase(nsn_lane0_bft_equivocations_total${SEL}[$__range]))`, 'equivocations']],
      },
      {
        title: 'Round duration p99',
        unit: 's',
        targets: [
          [
            `histogram_quantile(0.99, sum by (le) (rate(nsn_lane0_bft_round_duration_seconds_bucket${SEL}[$__rate_interval])))`,
            'p99',
          ],
        ],
      },
    ],
  ],
  [
    'p2p',
    [
      { title: 'Peers', targets: [[`nsn_p2p_peers${SEL}`, '{{instance}}']] },
      {
        title: 'Mesh peers (bft, video)',
        targets: [
          [
            `nsn_p2p_mesh_peers{job="nsn", instance=~"$instance", topic=~"bft|video"}`,
            '{{instance}} {{topic}}',
          ],
        ],
      },
      {
        title: 'Validation refusals by code',
        unit: 'ops',
        targets: [
          [by('nsn_p2p_validations_total', 'topic, code', ', result!="accept"'), '{{topic}} {{code}}'],
        ],
      },
      {
        title: 'Graylisted peers',
        targets: [[`sum by (instance) (increase(nsn_p2p_graylisted_total${SEL}[$__range]))`, '{{instance}}']],
      },
      {
        title: 'Published bandwidth',
        unit: 'Bps',
        targets: [[by('nsn_p2p_published_bytes_total', 'topic'), '{{topic}}']],
      },
      {
        title: 'Connections',
        targets: [[`sum by (transport) (nsn_p2p_connections${SEL})`, '{{transport}}']],
      },
      {
        title: 'Health checks failing',
        targets: [[`nsn_node_health_check${SEL} == 0`, '{{instance}} {{check}}']],
      },
    ],
  ],
  [
    'Chain',
    [
      {
        title: 'Submissions by outcome',
        unit: 'ops',
        targets: [[by('nsn_lane0_chain_submissions_total', 'outcome'), '{{outcome}}']],
      },
      {
        title: 'Block age (finality lag input)',
        unit: 's',
        targets: [[`nsn_node_chain_block_age_seconds${SEL}`, '{{instance}}']],
      },
      { title: 'Chain connected', targets: [[`nsn_chain_client_connected${SEL}`, '{{instance}}']] },
      {
        title: 'Chain reconnects',
        targets: [
          [`sum by (instance) (increase(nsn_chain_client_reconnects_total${SEL}[$__range]))`, '{{instance}}'],
        ],
      },
    ],
  ],
  [
    'Sidecar',
    [
      {
        title: 'Generation duration p50 / p99',
        unit: 's',
        targets: [
          [
            `histogram_quantile(0.5, sum by (le) (rate(nsn_lane0_generation_duration_seconds_bucket${SEL}[$__rate_interval])))`,
            'p50',
          ],
          [
            `histogram_quantile(0.99, sum by (le) (rate(nsn_lane0_generation_duration_seconds_bucket${SEL}[$__rate_interval])))`,
            'p99',
          ],
        ],
      },
      {
        title: 'Generation errors by code',
        targets: [[`sum by (code) (increase(nsn_lane0_sidecar_errors_total${SEL}[$__range]))`, '{{code}}']],
      },
    ],
  ],
  [
    'Process',
    [
      {
        title: 'CPU',
        unit: 'percentunit',
        targets: [[`rate(nsn_process_process_cpu_seconds_total${SEL}[$__rate_interval])`, '{{instance}}']],
      },
      {
        title: 'Resident memory',
        unit: 'bytes',
        targets: [[`nsn_process_process_resident_memory_bytes${SEL}`, '{{instance}}']],
      },
      {
        title: 'Event-loop lag p99',
        unit: 's',
        targets: [[`nsn_process_nodejs_eventloop_lag_p99_seconds${SEL}`, '{{instance}}']],
      },
      {
        title: 'Data folder disk free',
        unit: 'bytes',
        targets: [[`nsn_node_disk_free_bytes${SEL}`, '{{instance}}']],
      },
    ],
  ],
]

export function dashboard(): Record<string, unknown> {
  const panels: unknown[] = []
  let id = 1
  let y = 0
  for (const [row, specs] of ROWS) {
    panels.push({
      type: 'row',
      title: row,
      id: id++,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    })
    y += 1
    specs.forEach((p, i) => {
      panels.push({
        type: 'timeseries',
        title: p.title,
        id: id++,
        datasource: { type: 'prometheus', uid: DS },
        gridPos: { h: 8, w: 8, x: (i % 3) * 8, y: y + Math.floor(i / 3) * 8 },
        fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
        options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
        targets: p.targets.map(([expr, legendFormat], k) => ({
          refId: String.fromCharCode(65 + k),
          expr,
          legendFormat,
          datasource: { type: 'prometheus', uid: DS },
        })),
      })
    })
    y += Math.ceil(specs.length / 3) * 8
  }
  return {
    title: 'NSN nodes',
    uid: 'nsn-nodes',
    tags: ['nsn'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
        {
          name: 'instance',
          type: 'query',
          datasource: { type: 'prometheus', uid: DS },
          query: 'label_values(up{job="nsn"}, instance)',
          includeAll: true,
          multi: true,
          current: { text: 'All', value: '$__all' },
          refresh: 2,
        },
      ],
    },
    annotations: { list: [] },
    panels,
  }
}

/** Every PromQL query of the dashboard. */
export function dashboardQueries(): string[] {
  return ROWS.flatMap(([, specs]) => specs.flatMap((p) => p.targets.map(([e]) => e)))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = join(new URL('..', import.meta.url).pathname, 'ops/grafana/nsn.json')
  const text = `${JSON.stringify(dashboard(), null, 2)}\n`
  if (process.argv.includes('--check')) {
    if (readFileSync(path, 'utf8') !== text) {
      console.error(`${path} is out of date: run node --import tsx scripts/gen-dashboard.ts`)
      process.exit(1)
    }
  } else {
    writeFileSync(path, text)
    console.log(`wrote ${path}`)
  }
}
