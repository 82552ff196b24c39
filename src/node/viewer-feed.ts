// Serves the browser viewer: the page and its bundle over HTTP, and a WebSocket feed of the gossip
// messages a viewer needs (video chunks, BFT signals, recipe prompts, elected sets). The node
// forwards what its validators accepted; the browser verifies everything again before playing.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { type WebSocket, WebSocketServer } from 'ws'
import type { Gossip } from '../p2p/index.ts'
import { bytesToHex, decodeRecipeAny } from '../types/index.ts'
import type { ViewerAssets } from './viewer-bundle.ts'
import {
  encodeFeedFrame,
  encodeFeedInfo,
  FEED_TAG,
  type FeedInfo,
  VIEWER_WS_PATH,
} from './viewer-protocol.ts'

export interface ViewerFeedInit {
  networkId: Uint8Array
  quorum: number
  slotsPerEpoch: number
  /** PeerId of this node, shown on the page. */
  nodeId: string
  /** Bytes of recent frames replayed to a newly connected browser. @default 64 MiB */
  historyBytes?: number
  /** A browser that has this much unsent data gets no more chunks until it catches up. @default 32 MiB */
  maxBufferedBytes?: number
}

export class ViewerFeed {
  private readonly wss: WebSocketServer
  private readonly history: Uint8Array[] = []
  private historySize = 0
  private readonly infos = new Map<string, Uint8Array>()
  private readonly unsubscribe: (() => void)[] = []
  private readonly historyBytes: number
  private readonly maxBufferedBytes: number

  constructor(
    private readonly components: { gossip: Gossip; logger?: Logger },
    private readonly init: ViewerFeedInit,
  ) {
    this.historyBytes = init.historyBytes ?? 64 * 1024 * 1024
    this.maxBufferedBytes = init.maxBufferedBytes ?? 32 * 1024 * 1024
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 1024 })
    this.wss.on('connection', (ws) => this.onConnection(ws))
  }

  start(): void {
    const { gossip } = this.components
    this.unsubscribe.push(
      gossip.subscribe('video', (m) => this.broadcast(encodeFeedFrame(FEED_TAG.chunk, m.data), true)),
      gossip.subscribe('bft', (m) => this.broadcast(encodeFeedFrame(FEED_TAG.bft, m.data), true)),
      gossip.subscribe('recipes', (m) => {
        try {
          const { recipe } = decodeRecipeAny(m.data)
          this.setRecipe(recipe.slot_params.slot_number, recipe.recipe_id, recipe.visual_track.prompt)
        } catch {
          // validated by the recipes topic validator already; nothing to show otherwise
        }
      }),
    )
  }

  /** Route WebSocket upgrades for the viewer path on `server`. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket, head) => {
      if (req.url?.split('?')[0] !== VIEWER_WS_PATH) {
        socket.destroy()
        return
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req))
    })
  }

  /** The chain's elected set for an epoch: the browser's trust anchor for certificates. */
  setElected(epoch: bigint, directors: readonly Uint8Array[]): void {
    this.setInfo(`epoch:${epoch}`, {
      type: 'epoch',
      epoch: epoch.toString(),
      directors: directors.map(bytesToHex),
    })
  }

  /** The chain's current slot (docs/protocol.md §6: viewers track a window of slots around it). */
  setCurrentSlot(slot: bigint): void {
    this.setInfo('slot', { type: 'slot', slot: slot.toString() })
  }

  setRecipe(slot: bigint, recipeId: string, prompt: string): void {
    this.setInfo(`recipe:${slot}`, { type: 'recipe', slot: slot.toString(), recipeId, prompt })
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u()
    for (const ws of this.wss.clients) ws.terminate()
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
  }

  private hello(): Uint8Array {
    return encodeFeedInfo({
      type: 'hello',
      networkId: bytesToHex(this.init.networkId),
      quorum: this.init.quorum,
      slotsPerEpoch: this.init.slotsPerEpoch,
      node: this.init.nodeId,
    })
  }

  private setInfo(key: string, info: FeedInfo): void {
    const frame = encodeFeedInfo(info)
    this.infos.set(key, frame)
    if (this.infos.size > 256) this.infos.delete(this.infos.keys().next().value!) // oldest first
    this.broadcast(frame, false)
  }

  private onConnection(ws: WebSocket): void {
    ws.send(this.hello())
    for (const frame of this.infos.values()) ws.send(frame)
    for (const frame of this.history) ws.send(frame)
    ws.on('error', () => ws.terminate())
  }

  private broadcast(frame: Uint8Array, keep: boolean): void {
    if (keep) {
      this.history.push(frame)
      this.historySize += frame.length
      while (this.historySize > this.historyBytes && this.history.length > 1) {
        this.historySize -= this.history.shift()!.length
      }
    }
    for (const ws of this.wss.clients) {
      if (ws.readyState !== ws.OPEN) continue
      // A slow browser skips chunks rather than growing this process's memory without bound.
      if (ws.bufferedAmount > this.maxBufferedBytes && frame[0] === FEED_TAG.chunk) continue
      ws.send(frame)
    }
  }
}

/** HTTP handler for the page and its bundle; returns false when the path is not the viewer's. */
export function serveViewer(req: IncomingMessage, res: ServerResponse, assets: ViewerAssets): boolean {
  const path = (req.url ?? '/').split('?')[0]
  if (path === '/' || path === '/viewer') {
    res.writeHead(302, { location: '/viewer/' }).end()
    return true
  }
  if (path === '/viewer/' || path === '/viewer/index.html') {
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' })
      .end(assets.html)
    return true
  }
  if (path === '/viewer/app.js') {
    res
      .writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' })
      .end(assets.js)
    return true
  }
  return false
}
