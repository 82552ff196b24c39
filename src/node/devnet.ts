// `nsn devnet`: the whole network on one machine — a dev chain, five director nodes (each with its
// embedded sidecar and the reference plugin), a viewer node serving the viewer page, and a recipe
// author that publishes one signed recipe per slot. Every part is a real process talking over
// loopback; this module only starts, watches and stops them.
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import pino from 'pino'
import { type ChainEvent, DevChainClient, REGIONS } from '../chain/index.ts'
import { initBlake3, NodeKey, signRecipe } from '../crypto/index.ts'
import { P2PNode, TOPICS } from '../p2p/index.ts'
import { bytesToHex, encodeRecipe, type Recipe } from '../types/index.ts'
import { DEVNET_CHAIN, DEVNET_VIDEO_SEC } from './devnet-profile.ts'
import { DataDirLockedError, lockHoldersBelow } from './lock.ts'
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
  /** Each progress line as it happens (the CLI prints them when stdout is not a terminal). */
  onLog?: (line: string) => void
  /** Each director state or slot stage change (the CLI prints them when stdout is not a terminal). */
  onStage?: (line: string) => void
  /** Extra `--set` assignments for every director (tests: Byzantine settings). */
  directorSet?: (index: number) => string[]
  /**
   * Directors registered at genesis (so elected) whose process is not started: a test runs an
   * adversary holding that key instead.
   */
  skipDirectors?: readonly number[]
  /** The chain endpoint director `index` uses (tests: a proxy in front of the chain). @default the dev chain */
  chainUrlFor?: (index: number, chainUrl: string) => string
  /**
   * Run after the dev chain and the directors' key folders exist, before any director starts (tests:
   * put a director's journal folder on a small filesystem).
   */
  beforeDirectors?: (dataDir: string) => Promise<void>
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

/** A recipe for `slot` from the built-in list: a full slot of 320x240 video, light enough for a CPU-only machine. */
export function devnetRecipe(slot: bigint, prompt?: string): Recipe {
  const p = prompt ?? DEVNET_PROMPTS[Number(slot % BigInt(DEVNET_PROMPTS.length))]!
  return {
    recipe_id: `devnet-slot-${slot}`,
    version: '1.0.0',
    slot_params: { slot_number: slot, duration_sec: DEVNET_VIDEO_SEC, resolution: '320x240', fps: 24 },
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

/**
 * `n` distinct TCP ports that are free now, below the kernel's ephemeral range (32768+) so that no
 * outgoing connection takes one between this check and the node binding it.
 */
async function freePorts(n: number): Promise<number[]> {
  const out: number[] = []
  for (let attempt = 0; out.length < n && attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (out.includes(port)) continue
    const ok = await new Promise<boolean>((res) => {
      const srv = createServer()
      srv.once('error', () => res(false))
      srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)))
    })
    if (ok) out.push(port)
  }
  if (out.length < n) throw new Error(`devnet: found only ${out.length} of ${n} free TCP ports`)
  return out
}

/** Blocks the author waits, once every director runs, for all of them to show on the recipes topic. */
const RECIPE_SUBSCRIBE_WAIT_BLOCKS = 20

export class Devnet {
  private readonly procs: NsnProcess<{ event: string }>[] = []
  private author: P2PNode | null = null
  private chainClient: DevChainClient | null = null
  private pollTimer: NodeJS.Timeout | null = null
  /** Slots whose recipe is sent or being sent (pruned as slots pass). */
  private readonly published = new Set<bigint>()
  /** PeerIds of the directors started at start-up, once every one of them (and the viewer) runs. */
  private runningDirectors: string[] | null = null
  /** Blocks seen since every director was running (bounds the wait for their subscriptions). */
  private blocksSinceRunning = 0
  /** Recipes are published from here on (every director runs and listens on the recipes topic). */
  private recipesOpen = false
  readonly view: DevnetView
  /** Running director processes in index order (skipped directors have none; a restart replaces its entry). */
  readonly directorProcs: NsnProcess<NodeReady>[] = []
  private readonly byIndex = new Map<number, NsnProcess<NodeReady>>()
  private readonly directorArgs = new Map<number, string[]>()
  /** TCP multiaddr (with /p2p/) of every started director, by index. */
  readonly directorAddrs = new Map<number, string>()
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
    this.opts.onLog?.(line)
    this.opts.onUpdate?.(this.view)
  }

  async start(): Promise<void> {
    await initBlake3()
    const dir = resolve(this.opts.dataDir)
    // A folder another devnet (or an orphan of one) still uses is neither shared nor wiped.
    const holders = await lockHoldersBelow(dir, 1)
    if (holders.length > 0) {
      const h = holders[0]!
      throw new DataDirLockedError(h.dir, h.pid)
    }
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
    this.note(`starting the dev chain (${dir})`)
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

    // The recipe author: its own libp2p identity on the recipes topic only. It starts before the
    // directors, which dial it, so it can publish the slot they are in as soon as they all run.
    this.author = new P2PNode(
      { key: authorKey, listen: ['/ip4/127.0.0.1/tcp/0'], topics: ['recipes'], rateLimit: false },
      { logger: pino({ level: 'silent' }) },
    )
    await this.author.start()
    const authorAddr = this.author.multiaddrs().find((a) => a.includes('/tcp/'))!
    this.chainClient = new DevChainClient({ url: chainUrl })
    const info = await this.chainClient.info()
    this.chainClient.subscribe((ev) => void this.onChainEvent(ev, info.blocksPerSlot, authorKey))

    const nodeArgs = (
      name: string,
      role: 'director' | 'viewer',
      url: string,
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
      url,
      '--set',
      `lane0.recipeAuthors=${authorKey.publicKeyHex}`,
      ...[...bootstrap, authorAddr].flatMap((b) => ['--bootstrap', b]),
      ...extra,
    ]
    // Every director dials every other one (ports chosen up front, PeerIds known from the keys), so
    // the mesh is complete rather than a star around one node whose loss would partition the network.
    // They start in parallel: of two directors, the later one's dial reaches the earlier one.
    await this.opts.beforeDirectors?.(dir)
    const skip = new Set(this.opts.skipDirectors ?? [])
    const started = keys.map((_, i) => i).filter((i) => !skip.has(i))
    const ports = await freePorts(started.length)
    for (const [j, i] of started.entries())
      this.directorAddrs.set(i, `/ip4/127.0.0.1/tcp/${ports[j]}/p2p/${keys[i]!.peerId}`)
    this.note(
      `starting ${started.length} directors, each with its sidecar and plugin (logs: ${join(dir, 'logs')})`,
    )
    const results = await Promise.allSettled(
      started.map(async (i) => {
        const name = `director-${i}`
        const url = this.opts.chainUrlFor?.(i, chainUrl) ?? chainUrl
        const listen = [
          '--listen',
          `/ip4/127.0.0.1/tcp/${ports[started.indexOf(i)]!}`,
          '--listen',
          '/ip4/127.0.0.1/tcp/0/ws',
        ]
        const boot = started.filter((k) => k !== i).map((k) => this.directorAddrs.get(k)!)
        this.directorArgs.set(i, nodeArgs(name, 'director', url, boot, [...listen, ...this.setFor(i)]))
        const p = await startNsn<NodeReady>(name, this.directorArgs.get(i)!, { logFile: logs(name) })
        this.note(`${name} running: ${p.ready.peerId} ${p.ready.http}`)
        this.byIndex.set(i, p)
        this.procs.push(p)
        return p
      }),
    )
    // Whatever started is in `procs` (stop() ends it) even when another director failed to start.
    const failed = results.find((r) => r.status === 'rejected')
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
    for (const i of started) this.directorProcs.push(this.byIndex.get(i)!)
    const boot = started.map((i) => this.directorAddrs.get(i)!)
    this.note('starting the viewer node')
    this.viewerProc = await startNsn<NodeReady>(
      'viewer',
      nodeArgs('viewer', 'viewer', chainUrl, boot, ['--http-port', String(this.opts.viewerPort)]),
      { logFile: logs('viewer') },
    )
    this.procs.push(this.viewerProc)
    this.view.viewerUrl = `${this.viewerProc.ready.http}/viewer/`
    this.view.directors = [...this.byIndex]
      .sort(([a], [b]) => a - b)
      .map(([i, p]) => ({
        name: `director-${i}`,
        http: p.ready.http,
        state: 'starting',
        slots: new Map(),
      }))
    this.note(`viewer ${this.view.viewerUrl}`)
    // Only now: generation starts with the first recipe, and would slow the viewer's start.
    this.runningDirectors = started.map((i) => keys[i]!.peerId.toString())
    this.pollTimer = setInterval(() => void this.poll(), 500)
  }

  /** The running (or last) process of director `index`, or null if it was never started. */
  directorProc(index: number): NsnProcess<NodeReady> | null {
    return this.byIndex.get(index) ?? null
  }

  /**
   * Start director `index` again after it exited (crash tests): same data folder, key and settings,
   * dialling every other director. Throws when it is still running or was never started.
   */
  async restartDirector(index: number): Promise<NsnProcess<NodeReady>> {
    const prev = this.byIndex.get(index)
    const args = this.directorArgs.get(index)
    if (prev === undefined || args === undefined) throw new Error(`director-${index}: never started`)
    if (prev.child.exitCode === null && prev.child.signalCode === null)
      throw new Error(`director-${index}: still running`)
    if (this.stopped) throw new Error('devnet stopped')
    const name = `director-${index}`
    // Same listen port and bootstrap list: the others' reconnect attempts find it there again.
    const p = await startNsn<NodeReady>(name, args, {
      logFile: join(resolve(this.opts.dataDir), 'logs', `${name}.log`),
    })
    this.procs.push(p)
    this.byIndex.set(index, p)
    this.directorProcs[this.directorProcs.indexOf(prev)] = p
    const v = this.view.directors.find((d) => d.name === name)
    if (v !== undefined) v.http = p.ready.http
    return p
  }

  /**
   * Start the dev chain again after it exited (fault tests): same data folder and settings, on the
   * same port, so every client's reconnect finds it at the URL it knows. Throws while it still runs.
   */
  async restartChain(): Promise<NsnProcess<DevChainReady>> {
    const prev = this.chainProc
    if (prev === null) throw new Error('devchain: never started')
    if (prev.child.exitCode === null && prev.child.signalCode === null)
      throw new Error('devchain: still running')
    if (this.stopped) throw new Error('devnet stopped')
    // spawnargs: [node, nsn.js, ...the arguments it was started with]
    const args = prev.child.spawnargs
      .slice(2)
      .map((a) => (a === '127.0.0.1:0' ? `127.0.0.1:${prev.ready.port}` : a))
    const p = await startNsn<DevChainReady>('devchain', args, {
      logFile: join(resolve(this.opts.dataDir), 'logs', 'devchain.log'),
    })
    this.procs.push(p)
    this.chainProc = p
    return p
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
      if (!this.openRecipes(slot)) {
        this.opts.onUpdate?.(this.view)
        return
      }
      // Publish for this slot (a director waiting for its recipe takes the first valid one until the
      // slot ends) and the next two, well before their cut-off; retried every block until sent.
      // Claimed before the await, so a block arriving mid-publish does not publish the same slot twice.
      for (const s of this.published) if (s < slot) this.published.delete(s)
      for (const target of [slot, slot + 1n, slot + 2n]) {
        if (this.published.has(target)) continue
        this.published.add(target)
        const recipe = signRecipe(devnetRecipe(target, this.opts.prompt), authorKey)
        try {
          await this.author!.publish('recipes', encodeRecipe(recipe))
          this.note(`recipe for slot ${target}: "${recipe.visual_track.prompt}"`)
        } catch {
          this.published.delete(target) // no peer in the recipes mesh yet: the next block retries
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

  /**
   * Whether recipes may be published yet. A director takes in recipes only once it runs (before, a
   * recipe reaches no recipe queue and its copies are then duplicates), so the author waits until
   * every director started at start-up runs and it sees each one subscribed to the recipes topic —
   * or, should a subscription not show, for at most `RECIPE_SUBSCRIBE_WAIT_BLOCKS` blocks.
   */
  private openRecipes(slot: bigint): boolean {
    if (this.recipesOpen) return true
    const running = this.runningDirectors
    if (running === null) return false
    const pubsub = this.author?.libp2p?.services.pubsub as
      | { getSubscribers(topic: string): { toString(): string }[] }
      | undefined
    const subscribed = new Set((pubsub?.getSubscribers(TOPICS.recipes) ?? []).map(String))
    this.blocksSinceRunning++
    if (!running.every((p) => subscribed.has(p)) && this.blocksSinceRunning < RECIPE_SUBSCRIBE_WAIT_BLOCKS)
      return false
    this.recipesOpen = true
    this.note(`publishing recipes from slot ${slot} (every director is running)`)
    return true
  }

  private async poll(): Promise<void> {
    await Promise.all(
      this.view.directors.map(async (d) => {
        try {
          const res = await fetch(`${d.http}/api/status`, { signal: AbortSignal.timeout(400) })
          const s = (await res.json()) as {
            director: {
              stateText: string
              recentSlots: { slot: string; stage: string; failed: { code: string } | null }[]
            } | null
          }
          if (s.director === null) return
          if (d.state !== s.director.stateText) this.opts.onStage?.(`${d.name}: ${s.director.stateText}`)
          d.state = s.director.stateText
          for (const r of s.director.recentSlots) {
            const stage = r.stage === 'failed' && r.failed ? `failed:${r.failed.code}` : r.stage
            if (d.slots.get(r.slot) !== stage) this.opts.onStage?.(`${d.name} slot ${r.slot}: ${stage}`)
            d.slots.set(r.slot, stage)
          }
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
