// /health: healthy only when the node can do its job — chain blocks arriving, (directors) the key
// registered on chain and the sidecar answering, and at least one peer. Slow checks (the chain's
// account record, the sidecar's health RPC) are sampled in the background; /health reads the last
// sample, so the endpoint never waits on a dead dependency.
import { statfs } from 'node:fs/promises'
import { Gauge, type Registry } from 'prom-client'
import type { ChainClient, ChainInfo } from '../chain/index.ts'
import { DevChainClient } from '../chain/index.ts'
import type { P2PNode } from '../p2p/index.ts'
import type { EpochTracker } from '../scheduler/index.ts'
import type { SidecarClient } from '../sidecar/index.ts'

export interface HealthCheck {
  ok: boolean
  detail: string
}

export interface HealthReport {
  healthy: boolean
  /** One line per failing check, saying what to look at. */
  reasons: string[]
  checks: Record<string, HealthCheck>
}

export interface HealthParts {
  role: string
  publicKeyProto: Uint8Array
  chain: ChainClient
  chainInfo: ChainInfo
  p2p: P2PNode
  tracker: EpochTracker
  sidecar: SidecarClient | null
  /** Director pipeline: slots in flight (generation to chain submission). */
  director?: { status(): { inflightSlots: bigint[] } } | null
  /** Folder whose free space is exported (the key, journal and sidecar outputs live there). */
  dataDir?: string
  /** Where the node-level gauges go (nsn_node_*). */
  registry?: Registry
  /** Static labels of nsn_node_info. */
  info?: { version: string; role: string; peerId: string }
}

/** Gauges an operator alerts on that no component exports by itself (ops/prometheus/nsn-rules.yml). */
function nodeGauges(registry: Registry) {
  const registers = [registry]
  return {
    info: new Gauge({
      name: 'nsn_node_info',
      help: 'Always 1; labels: version, role, peer_id',
      labelNames: ['version', 'role', 'peer_id'],
      registers,
    }),
    healthy: new Gauge({ name: 'nsn_node_healthy', help: '1 when /health answers 200', registers }),
    check: new Gauge({
      name: 'nsn_node_health_check',
      help: '1 when the /health check passes, by check (chain, peers, registration, sidecar)',
      labelNames: ['check'],
      registers,
    }),
    blockAge: new Gauge({
      name: 'nsn_node_chain_block_age_seconds',
      help: 'Seconds since the last chain block this node saw',
      registers,
    }),
    inflight: new Gauge({
      name: 'nsn_node_inflight_slots',
      help: 'Slots this director is working on (recipe to chain submission)',
      registers,
    }),
    inflightLag: new Gauge({
      name: 'nsn_node_oldest_inflight_slot_lag',
      help: 'Current slot minus the oldest slot still in flight (0 when none): a stuck submission grows it',
      registers,
    }),
    diskFree: new Gauge({
      name: 'nsn_node_disk_free_bytes',
      help: 'Free bytes on the file system of the data folder (key, journal, sidecar outputs)',
      registers,
    }),
    diskSize: new Gauge({
      name: 'nsn_node_disk_size_bytes',
      help: 'Size of the file system of the data folder',
      registers,
    }),
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** Chain blocks older than this mean the chain is unreachable or stalled. */
export function chainStaleMs(info: ChainInfo): number {
  return Math.max(3000, 3 * info.blockTimeMs)
}

export class HealthMonitor {
  private lastBlockAtMs = Date.now()
  private registered: boolean | null = null
  private sidecarOk: { ok: boolean; detail: string } = { ok: false, detail: 'not checked yet' }
  private timer: NodeJS.Timeout | null = null
  private off: (() => void) | null = null
  private sampling = false
  private readonly gauges: ReturnType<typeof nodeGauges> | null

  constructor(
    private readonly parts: HealthParts,
    private readonly intervalMs = 2000,
  ) {
    this.gauges = parts.registry ? nodeGauges(parts.registry) : null
    if (this.gauges && parts.info)
      this.gauges.info.set(
        { version: parts.info.version, role: parts.info.role, peer_id: parts.info.peerId },
        1,
      )
  }

  start(): void {
    this.off = this.parts.tracker.events.on('chain', (ev) => {
      if (ev.type === 'NewBlock') this.lastBlockAtMs = Date.now()
    })
    void this.sample()
    this.timer = setInterval(() => void this.sample(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.off?.()
  }

  private async sample(): Promise<void> {
    if (this.sampling) return
    this.sampling = true
    try {
      const { chain, sidecar, role, publicKeyProto } = this.parts
      if (role === 'director' && chain instanceof DevChainClient) {
        const acc = await chain.getAccount({ peer: publicKeyProto }).catch(() => undefined)
        if (acc !== undefined) this.registered = acc !== null && acc.role === 'director'
      }
      if (sidecar !== null) {
        try {
          const h = await sidecar.healthCheck({ signal: AbortSignal.timeout(1500) })
          this.sidecarOk = h.healthy
            ? { ok: true, detail: `plugins: ${h.plugins.join(', ') || 'none'}` }
            : { ok: false, detail: 'the sidecar reports itself unhealthy: check its plugins and log' }
        } catch (err) {
          this.sidecarOk = { ok: false, detail: `the sidecar does not answer (${(err as Error).message})` }
        }
      }
      await this.export()
    } finally {
      this.sampling = false
    }
  }

  private async export(): Promise<void> {
    const g = this.gauges
    if (g === null) return
    const r = this.report()
    g.healthy.set(r.healthy ? 1 : 0)
    for (const [name, c] of Object.entries(r.checks)) g.check.set({ check: name }, c.ok ? 1 : 0)
    g.blockAge.set((Date.now() - this.lastBlockAtMs) / 1000)
    const d = this.parts.director?.status()
    if (d !== undefined) {
      g.inflight.set(d.inflightSlots.length)
      const slot = this.parts.tracker.currentSlot
      const oldest = d.inflightSlots.reduce<bigint | null>((m, s) => (m === null || s < m ? s : m), null)
      g.inflightLag.set(slot !== null && oldest !== null && slot > oldest ? Number(slot - oldest) : 0)
    }
    if (this.parts.dataDir !== undefined) {
      const fs = await statfs(this.parts.dataDir).catch(() => null)
      if (fs !== null) {
        g.diskFree.set(fs.bavail * fs.bsize)
        g.diskSize.set(fs.blocks * fs.bsize)
      }
    }
  }

  report(nowMs = Date.now()): HealthReport {
    const { tracker, chainInfo, p2p, role, publicKeyProto } = this.parts
    const checks: Record<string, HealthCheck> = {}
    const ageMs = nowMs - this.lastBlockAtMs
    const stale = chainStaleMs(chainInfo)
    checks.chain =
      tracker.currentBlock === null
        ? { ok: false, detail: 'no chain block seen yet: check chain.url and that the chain is running' }
        : ageMs > stale
          ? {
              ok: false,
              detail: `no chain block for ${Math.round(ageMs / 1000)} s (block ${tracker.currentBlock}): the chain is unreachable or stalled`,
            }
          : { ok: true, detail: `block ${tracker.currentBlock}` }
    const s = p2p.status()
    checks.peers = !s.started
      ? { ok: false, detail: 'p2p not started' }
      : s.peers === 0
        ? { ok: false, detail: 'no peers: check p2p.bootstrap and that the other nodes are reachable' }
        : { ok: true, detail: `${s.peers} peer(s)` }
    if (role === 'director') {
      const epoch = tracker.currentEpoch
      const elected = epoch !== null && (tracker.directors(epoch) ?? []).some((d) => equal(d, publicKeyProto))
      checks.registration =
        this.registered === false
          ? {
              ok: false,
              detail:
                'this key is not registered as a director on chain: run `nsn register` (docs/operating.md)',
            }
          : {
              ok: true,
              detail: `${this.registered === null ? 'registration unknown' : 'registered'}; ${elected ? `elected for epoch ${epoch}` : 'not elected this epoch (standby)'}`,
            }
      checks.sidecar = this.sidecarOk
    }
    const reasons = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([name, c]) => `${name}: ${c.detail}`)
    return { healthy: reasons.length === 0, reasons, checks }
  }
}
