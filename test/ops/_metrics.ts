// The metric names the shipped alert rules and dashboard use, and the metric names the code defines.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { dashboardQueries } from '../../scripts/gen-dashboard.ts'

export const ROOT = new URL('../..', import.meta.url).pathname
export const RULES = join(ROOT, 'ops/prometheus/nsn-rules.yml')

interface Rule {
  alert?: string
  record?: string
  expr: string
}

export function rules(): Rule[] {
  const doc = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }
  return doc.groups.flatMap((g) => g.rules)
}

/** Series names a PromQL expression reads (histogram suffixes kept as written). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>()
  for (const m of expr.matchAll(/\b(nsn_[a-z0-9_]+|nsn:[a-z0-9_:]+|up)\b(?!\s*\()/g)) names.add(m[1]!)
  return [...names]
}

/** Every series name the rules and the dashboard query. */
export function referencedMetrics(): string[] {
  const exprs = [...rules().map((r) => r.expr), ...dashboardQueries()]
  return [...new Set(exprs.flatMap(metricNames))].sort()
}

/** Base names the sources define (prom-client `name: '…'`), plus the default process metrics. */
export function definedMetrics(): Set<string> {
  const out = new Set<string>()
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      if (statSync(p).isDirectory()) walk(p)
      else if (name.endsWith('.ts'))
        for (const m of readFileSync(p, 'utf8').matchAll(/name: '(nsn_[a-z0-9_]+)'/g)) out.add(m[1]!)
    }
  }
  walk(join(ROOT, 'src'))
  return out
}

/** A histogram's or counter's series name reduced to the name it is defined under. */
export function baseName(series: string): string {
  return series.replace(/_(bucket|sum|count)$/, '')
}
