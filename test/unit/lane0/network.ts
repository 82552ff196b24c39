// A whole Lane 0 network in one process for director tests: n DirectorServices over one fake gossip
// hub, one fake chain, one manual clock, fake sidecars, and a viewer that assembles certified slots.

import type { ChainInfo } from '../../../src/chain/index.ts'
import { signRecipe } from '../../../src/crypto/index.ts'
import {
  DirectorService,
  describeState,
  type Lane0Config,
  type Lane0Metrics,
  type Logger,
  type SlotStageEvent,
} from '../../../src/lane0/index.ts'
import { ManualClock } from '../../../src/scheduler/index.ts'
import { CertifiedSlots } from '../../../src/trust/index.ts'
import { decodeBftSignal, decodeVideoChunk, encodeRecipe, type Recipe } from '../../../src/types/index.ts'
import { sampleRecipe, testKeys, unitEmbedding } from '../../fixtures/index.ts'
import {
  FakeChain,
  FakeGossipHub,
  FakeSidecar,
  fakeVideo,
  nearEmbedding,
  protoKeys,
  tempDir,
} from './fakes.ts'

export const BASE_EMBEDDING = unitEmbedding(7)

export interface NetNode {
  index: number
  director: DirectorService
  chainClient: ReturnType<FakeChain['client']>
  sidecar: FakeSidecar
  journalDir: string
  states: string[]
  slots: SlotStageEvent[]
  prewarm: { epoch: bigint; ok: boolean; reason: string | null }[]
  errors: { where: string; code: string }[]
}

export function recipeFor(slot: bigint, id = `recipe-${slot}`): Recipe {
  const base = sampleRecipe({ recipe_id: id })
  return { ...base, slot_params: { ...base.slot_params, slot_number: slot } }
}

export async function makeNetwork(
  opts: {
    n?: number
    config?: Partial<Lane0Config>
    videoBytes?: number
    start?: boolean
    /** Metrics and logger of director i (default none / silent). */
    observe?: (i: number) => { metrics?: Lane0Metrics; logger?: Logger }
    /** Chain parameters (e.g. `{ quorum: 1 }`). */
    chain?: Partial<ChainInfo>
    /** Directors elected by `net.elected` (the first keys). @default 5 */
    electedCount?: number
    /** Join the viewer (a subscriber of bft and video). @default true */
    viewer?: boolean
  } = {},
) {
  const n = opts.n ?? 5
  const keys = await testKeys(7)
  const hub = new FakeGossipHub()
  const chain = new FakeChain(opts.chain)
  const clock = new ManualClock()
  const video = fakeVideo(opts.videoBytes ?? 2500)
  const dirs = await Promise.all(keys.slice(0, n).map(() => tempDir('lane0-director-')))
  const config: Partial<Lane0Config> = { chunkSize: 1000, ...opts.config }

  const makeNode = (i: number, journalDir: string, sidecar?: FakeSidecar): NetNode => {
    const sc = sidecar ?? new FakeSidecar(video, nearEmbedding(BASE_EMBEDDING, i + 1, 0.05))
    sc.clock = clock
    const gossip = hub.join(`d${i}`)
    const chainClient = chain.client()
    const director = new DirectorService(
      { key: keys[i]!, gossip, chain: chainClient, sidecar: sc, clock, ...opts.observe?.(i) },
      { journalDir, config, journalFsync: false },
    )
    const node: NetNode = {
      index: i,
      director,
      sidecar: sc,
      journalDir,
      chainClient,
      states: [],
      slots: [],
      prewarm: [],
      errors: [],
    }
    director.events.on('state', (s) => node.states.push(describeState(s.to)))
    director.events.on('slot', (e) => node.slots.push(e))
    director.events.on('prewarm', (p) => node.prewarm.push(p))
    director.events.on('error', (e) => node.errors.push(e))
    return node
  }
  const nodes = dirs.map((d, i) => makeNode(i, d.path))
  const crashed = new Set<NetNode>()
  const extra: NetNode[] = []

  // The viewer: takes certificates from the bft topic and chunks from the video topic.
  const viewerGossip = hub.join('viewer')
  const viewer = new CertifiedSlots({ slotsPerEpoch: 1 })
  if (opts.viewer === false) hub.leave('viewer')
  else {
    viewerGossip.subscribe('bft', (m) => {
      const s = decodeBftSignal(m.data)
      if (s.kind === 'Certificate') viewer.addCertificate(s.value)
    })
    viewerGossip.subscribe('video', (m) => viewer.addChunk(decodeVideoChunk(m.data)))
  }

  const author = hub.join('author')
  author.subscribe('recipes', () => {})
  const elected = protoKeys(keys.slice(0, opts.electedCount ?? 5))

  const net = {
    keys,
    hub,
    chain,
    clock,
    video,
    nodes,
    viewer,
    elected,
    /** A new node (e.g. a restart on an existing journal); stopped by cleanup(). */
    restart(i: number, journalDir: string): NetNode {
      const node = makeNode(i, journalDir)
      extra.push(node)
      return node
    },
    /** Publish a recipe signed by director 0 (directors are authors by default). */
    async publishRecipe(slot: bigint, id?: string): Promise<Recipe> {
      const r = signRecipe(recipeFor(slot, id), keys[0]!)
      await author.publish('recipes', encodeRecipe(r))
      return r
    },
    stageOf(node: NetNode, slot: bigint, stage: SlotStageEvent['stage']): SlotStageEvent | undefined {
      return node.slots.find((e) => e.slot === slot && e.stage === stage)
    },
    /** Simulate SIGKILL: the node's chain connection and gossip vanish, nothing runs any more. */
    crash(node: NetNode): void {
      node.chainClient.kill()
      hub.leave(`d${node.index}`)
      crashed.add(node)
    },
    async cleanup(): Promise<void> {
      await Promise.all(
        [...nodes, ...extra]
          .filter((x) => !crashed.has(x))
          .map((x) => x.director.stop({ finishSlot: false }).catch(() => {})),
      )
      await Promise.all(dirs.map((d) => d.cleanup()))
    },
  }
  if (opts.start !== false) await Promise.all(nodes.map((x) => x.director.start()))
  return net
}

export type Net = Awaited<ReturnType<typeof makeNetwork>>
