// The operator's plugin policy (docs/protocol.md §9): which plugins may run, on which lane, within which
// declared latency and VRAM. Applied at discovery and again before every task, before anything runs.
import {
  DEFAULT_LANE0_MAX_LATENCY_MS,
  DEFAULT_LANE1_MAX_LATENCY_MS,
  DEFAULT_POLICY_MAX_VRAM_GB,
} from './constants.ts'
import type { Lane, PluginManifest } from './manifest.ts'

export interface PluginPolicy {
  /** Plugin names that may run; `null` = every valid plugin in the plugins folder. @default null */
  allowlist: readonly string[] | null
  /** Largest declared `resources.vram_gb`, and the budget shared by running tasks. @default 11.5 */
  maxVramGb: number
  /** Largest declared `resources.max_latency_ms` on Lane 0. @default 45000 */
  lane0MaxLatencyMs: number
  /** Largest declared `resources.max_latency_ms` on Lane 1. @default 120000 */
  lane1MaxLatencyMs: number
}

export const DEFAULT_POLICY: Readonly<PluginPolicy> = Object.freeze({
  allowlist: null,
  maxVramGb: DEFAULT_POLICY_MAX_VRAM_GB,
  lane0MaxLatencyMs: DEFAULT_LANE0_MAX_LATENCY_MS,
  lane1MaxLatencyMs: DEFAULT_LANE1_MAX_LATENCY_MS,
})

export type PolicyRule =
  | 'NOT_ALLOWLISTED'
  | 'LANE_UNSUPPORTED'
  | 'NOT_DETERMINISTIC'
  | 'LATENCY_CEILING'
  | 'VRAM_CEILING'

/** A plugin the policy refuses for a lane; `code` names the rule. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError'
  constructor(
    readonly code: PolicyRule,
    readonly plugin: string,
    readonly lane: Lane,
    message: string,
  ) {
    super(message)
  }
}

/** Throws PolicyError when `manifest` may not run on `lane` under `policy`. */
export function checkPolicy(manifest: PluginManifest, lane: Lane, policy: PluginPolicy): void {
  const n = manifest.name
  if (policy.allowlist !== null && !policy.allowlist.includes(n))
    throw new PolicyError('NOT_ALLOWLISTED', n, lane, `plugin "${n}" is not in the allowlist`)
  if (!manifest.supported_lanes.includes(lane))
    throw new PolicyError(
      'LANE_UNSUPPORTED',
      n,
      lane,
      `plugin "${n}" supports ${manifest.supported_lanes.join(', ')}, not ${lane}`,
    )
  // Lane 0 results are compared across directors (docs/protocol.md §5): only deterministic generators.
  if (lane === 'lane0' && !manifest.deterministic)
    throw new PolicyError(
      'NOT_DETERMINISTIC',
      n,
      lane,
      `plugin "${n}" must declare deterministic: true for lane0`,
    )
  const ceiling = lane === 'lane0' ? policy.lane0MaxLatencyMs : policy.lane1MaxLatencyMs
  if (manifest.resources.max_latency_ms > ceiling)
    throw new PolicyError(
      'LATENCY_CEILING',
      n,
      lane,
      `plugin "${n}" resources.max_latency_ms ${manifest.resources.max_latency_ms} exceeds the ${lane} ceiling of ${ceiling} ms`,
    )
  if (manifest.resources.vram_gb > policy.maxVramGb)
    throw new PolicyError(
      'VRAM_CEILING',
      n,
      lane,
      `plugin "${n}" resources.vram_gb ${manifest.resources.vram_gb} exceeds the ceiling of ${policy.maxVramGb} GB`,
    )
}

/** The lanes on which `manifest` may run, and the refusal for each other declared lane. */
export function allowedLanes(
  manifest: PluginManifest,
  policy: PluginPolicy,
): { allowed: Lane[]; refused: PolicyError[] } {
  const allowed: Lane[] = []
  const refused: PolicyError[] = []
  for (const lane of manifest.supported_lanes) {
    try {
      checkPolicy(manifest, lane, policy)
      allowed.push(lane)
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err
      refused.push(err)
    }
  }
  return { allowed, refused }
}

/** The proto's lane number (0 or 1) as a lane name; anything else is refused by the caller. */
export function laneOf(n: number): Lane | null {
  if (n === 0) return 'lane0'
  if (n === 1) return 'lane1'
  return null
}
