// `nsn devnet`: the whole network on one machine — a dev chain, five director nodes (each with its
// embedded sidecar and the reference plugin), a viewer node serving the viewer page, and a recipe
// author that publishes one signed recipe per slot. Every part is a real process talking over
// loopback; this module only starts, watches and stops them.
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import pino from 'pino'
import { type ChainEvent, DevChainClient, REGIONS } from '../chain/index.ts'
import { initBlake3, NodeKey, signRecipe } from '../crypto/index.ts'
import { P2PNode } from '../p2p/index.ts'
import { bytesToHex, encodeRecipe, type Recipe } from '../types/index.ts'
import { DEVNET_CHAIN } from './devnet-profile.ts'
import { type DevChainReady, type NodeReady, type NsnProcess, startNsn } from './processes.ts'

/** Built-in prompts, one per slot in turn (or `--prompt`). */
export const DEVNET_PROMPTS = [
  'a lighthouse at dusk, waves rolling in',
  'a paper boat drifting down a rainy street',
  'a fox walking through a snowy birch forest',
  'neon city skyline at night, slow drone flight',
  'a hot air balloon rising over green hills',
  'an astronaut planting a tree on the moon',
] as const

export interface DevnetOptions {
  dataDir: string
  reset: boolean
  /** Stop after this many finalised slots (undefined: run until stopped). */
  slots?: number
  prompt?: string
  directors: number
  /** Viewer page port (0: any). */
  viewerPort: number
  /** Progress callback (the CLI renders it). */
  onUpdate?: (view: DevnetView) => void
  /** Extra `--set` assignments for every director (tests: Byzantine settings). */
  directorSet?: (index: number) => string[]
}

/** What the live view shows. */
export interface DevnetView {
  chainUrl: string
  viewerUrl: string
  block: bigint
  slot: bigint | null
  finalized: bigint[]
  directors: { name: string; http: string; state: string; slots: Map<string, string> }[]
  log: string[]
}

export interface DevnetSlotRecipe {
  slot: bigint
  recipe: Recipe
}

/** A recipe for `slot` from the built-in list, short enough for a CPU-only machine. */
export function devnetRecipe(slot: bigint, prompt?: string): Recipe {
  const p = prompt ?? DEVNET_PROMPTS[Number(slot % BigInt(DEVNET_PROMPTS.length))]!
  return {
    recipe_id: `devnet-slot-${slot}`,
    version: '1.0.0',
    slot_params: { slot_number: slot, duration_sec: 5, resolution: '320x240', fps: 24 },
    audio_track: { script: `Slot ${slot}. ${p}.`, voice_id: 'en-us', speed: 1, emotion: 'calm' },
    visual_track: {
      prompt: p,
      negative_prompt: 'blurry, low quality',
      motion_preset: ['slow_pan', 'orbit', 'zoom', 'drift'][Number(slot % 4n)]!,
      expression_sequence: ['neutral'],
      camera_motion: ['dolly_in', 'pan_left', 'tilt_up', 'static'][Number(slot % 4n)]!,
    },
    semantic_constraints: { min_clip_score: 0.5, banned_concepts: [], required_concepts: [] },
    security: {
      director_id: '',
      ed25519_signature: new Uint8Array(0),
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
    },
  }
}

export class Devnet {
  private readonly procs: NsnProcess<{ event: string }>[] = []
  private author: P2PNode | null = null
  private chainClient: DevChainClient | null = null
  private pollTimer: NodeJS.Timeout | null = null
  private readonly published = new Set<bigint>()
  readonly view: DevnetView
  readonly directorProcs: NsnProcess<NodeReady>[] = []
  viewerProc: NsnProcess<NodeReady> | null = null
  chainProc: NsnProcess<DevChainReady> | null = null
  private finishedResolve: (() => void) | null = null
  /** Resolves when `slots` slots are final. */
  readonly finished: Promise<void>
  private stopped = false

  constructor(private readonly opts: DevnetOptions) {
    this.view = { chainUrl: '', viewerUrl: '', block: 0n, slot: null, finalized: [], directors: [], log: [] }
    this.finished = new Promise((r) => {
      this.finishedResolve = r
    })
  }

  private note(line: string): void {
    this.view.log.push(line)
    if (this.view.log.length > 8) this.view.log.shift()
    this.opts.onUpdate?.(this.view)
  }

  async start(): Promise<void> {
    await initBlake3()
    const dir = resolve(this.opts.dataDir)
    if (this.opts.reset) await rm(dir, { recursive: true, force: true })
    await mkdir(join(dir, 'logs'), { recursive: true })
    const logs = (name: string) => join(dir, 'logs', `${name}.log`)

    const keys = await Promise.all(
      Array.from({ length: this.opts.directors }, (_, i) =>
        NodeKey.loadOrCreate(join(dir, `director-${i}`, 'node.key')),
      ),
    )
    const authorKey = await NodeKey.loadOrCreate(join(dir, 'author', 'node.key'))

    // The chain registers the directors at genesis, so the first epoch elects them.
    const genesis = join(dir, 'genesis.json')
    await writeFile(
      genesis,
      JSON.stringify({
        accounts: keys.map((k, i) => ({
          peer: `0x${bytesToHex(k.publicKeyProto)}`,
          role: 'director',
          region: REGIONS[i % REGIONS.length],
          stake: '100000000000000000000', // the director minimum (docs/chain.md)
        })),
      }),
    )
    const c = DEVNET_CHAIN
    this.chainProc = await startNsn<DevChainReady>(
      'devchain',
      [
        'devchain',
        '--data-dir',
        join(dir, 'chain'),
        '--listen',
        '127.0.0.1:0',
        '--block-ms',
        String(c.blockMs),
        '--epoch-blocks',
        String(c.epochLengthBlocks),
        '--lookahead-blocks',
        String(c.lookaheadBlocks),
        '--challenge-blocks',
        String(c.challengePeriodBlocks),
        '--blocks-per-slot',
        String(c.blocksPerSlot),
        '--directors',
        String(c.directors),
        '--quorum',
        String(c.quorum),
        '--genesis',
        genesis,
        '--log-level',
        'warn',
      ],
      { logFile: logs('devchain') },
    )
    this.procs.push(this.chainProc)
    const chainUrl = this.chainProc.ready.url
    this.view.chainUrl = chainUrl
    this.note(`dev chain ${chainUrl}`)

    const nodeArgs = (
      name: string,
      role: 'director' | 'viewer',
      bootstrap: string[],
      extra: string[] = [],
    ) => [
      'node',
      '--profile',
      'devnet',
      '--role',
      role,
      '--data-dir',
      join(dir, name),
      '--chain-url',
      chainUrl,
      '--set',
      `lane0.recipeAuthors=${authorKey.publicKeyHex}`,
      ...bootstrap.flatMap((b) => ['--bootstrap', b]),
      ...extra,
    ]
    const tcpAddr = (r: NodeReady) => r.listen.find((a) => a.includes('/tcp/') && !a.includes('/ws'))!
    const first = await startNsn<NodeReady>(
      'director-0',
      nodeArgs('director-0', 'director', [], this.setFor(0)),
      {
        logFile: logs('director-0'),
      },
    )
    this.directorProcs.push(first)
    this.procs.push(first)
    const boot = [tcpAddr(first.ready)]
    const rest = await Promise.all(
      keys.slice(1).map((_, j) =>
        startNsn<NodeReady>(
          `director-${j + 1}`,
          nodeArgs(`director-${j + 1}`, 'director', boot, this.setFor(j + 1)),
          {
            logFile: logs(`director-${j + 1}`),
          },
        ),
      ),
    )
    this.directorProcs.push(...rest)
    this.procs.push(...rest)
    this.viewerProc = await startNsn<NodeReady>(
      'viewer',
      nodeArgs('viewer', 'viewer', boot, ['--http-port', String(this.opts.viewerPort)]),
      { logFile: logs('viewer') },
    )
    this.procs.push(this.viewerProc)
    this.view.viewerUrl = `${this.viewerProc.ready.http}/viewer/`
    this.view.directors = this.directorProcs.map((p, i) => ({
      name: `director-${i}`,
      http: p.ready.http,
      state: 'starting',
      slots: new Map(),
    }))
    this.note(`viewer ${this.view.viewerUrl}`)

    // The recipe author: its own libp2p identity on the recipes topic only.
    this.author = new P2PNode(
      {
        key: authorKey,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: boot,
        topics: ['recipes'],
        rateLimit: false,
      },
      { logger: pino({ level: 'silent' }) },
    )
    await this.author.start()
    this.chainClient = new DevChainClient({ url: chainUrl })
    const info = await this.chainClient.info()
    this.chainClient.subscribe((ev) => void this.onChainEvent(ev, info.blocksPerSlot, authorKey))
    this.pollTimer = setInterval(() => void this.poll(), 500)
  }

  private setFor(i: number): string[] {
    return (this.opts.directorSet?.(i) ?? []).flatMap((s) => ['--set', s])
  }

  private async onChainEvent(ev: ChainEvent, blocksPerSlot: number, authorKey: NodeKey): Promise<void> {
    if (this.stopped) return
    if (ev.type === 'NewBlock') {
      this.view.block = ev.block
      const slot = ev.block / BigInt(blocksPerSlot)
      this.view.slot = slot
      // Publish for the next two slots, well before their cut-off; retried every block until sent.
      for (const target of [slot + 1n, slot + 2n]) {
        if (this.published.has(target)) continue
        const recipe = signRecipe(devnetRecipe(target, this.opts.prompt), authorKey)
        try {
          await this.author!.publish('recipes', encodeRecipe(recipe))
          this.published.add(target)
          this.note(`recipe for slot ${target}: "${recipe.visual_track.prompt}"`)
        } catch {
          // no peer in the recipes mesh yet: the next block retries
        }
      }
      this.opts.onUpdate?.(this.view)
    } else if (ev.type === 'BftResultFinalized') {
      this.view.finalized.push(ev.slot)
      this.note(`slot ${ev.slot} final on chain (block ${ev.block})`)
      if (this.opts.slots !== undefined && this.view.finalized.length >= this.opts.slots)
        this.finishedResolve?.()
    } else if (ev.type === 'BftResultSubmitted') {
      this.note(`slot ${ev.slot} result accepted by the chain (block ${ev.block})`)
    }
  }

  private async poll(): Promise<void> {
    await Promise.all(
      this.view.directors.map(async (d) => {
        try {
          const res = await fetch(`${d.http}/api/status`, { signal: AbortSignal.timeout(400) })
          const s = (await res.json()) as {
            director: { stateText: string; recentSlots: { slot: string; stage: string }[] } | null
          }
          if (s.director === null) return
          d.state = s.director.stateText
          for (const r of s.director.recentSlots) d.slots.set(r.slot, r.stage)
        } catch {
          d.state = 'unreachable'
        }
      }),
    )
    this.opts.onUpdate?.(this.view)
  }

  /** Stop the author, then every process in reverse start order. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.pollTimer) clearInterval(this.pollTimer)
    await this.chainClient?.close().catch(() => {})
    await this.author?.stop().catch(() => {})
    for (const p of [...this.procs].reverse()) await p.stop()
  }
}
