// Serves the browser viewer: the page and its bundle over HTTP, and a WebSocket feed of the gossip
// messages a viewer needs (video chunks, BFT signals, recipe prompts, elected sets). The node
// forwards what its validators accepted; the browser verifies everything again before playing.
// Fan-out to many viewers: frames are shared (never copied per client), each client's socket is fed
// only while its buffer is below a low-water mark, frames waiting for a client are bounded in bytes
// (a client that falls further behind is dropped, the others are unaffected), and connections are
// capped before the WebSocket handshake.
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
  /** Bytes of recent frames replayed to a newly connected browser. @default 16 MiB */
  historyBytes?: number
  /** Live frames one client may have waiting; a client further behind is dropped. @default 8 MiB */
  maxQueueBytes?: number
  /** Connected viewers; more are refused with 503 before the handshake. @default 1024 */
  maxClients?: number
}

/** Frames are handed to a client's socket only while it holds less than this (backpressure). */
const SOCKET_LOW_WATER_BYTES = 256 * 1024

interface Client {
  ws: WebSocket
  /** Frames replayed at connection (hello, infos, history): shared, not counted against the queue. */
  replay: Uint8Array[]
  replayAt: number
  /** Live frames since connection, waiting for the socket. */
  queue: Uint8Array[]
  queueAt: number
  queuedBytes: number
}

export interface ViewerFeedStats {
  clients: number
  /** Clients dropped for falling more than maxQueueBytes behind. */
  dropped: number
  /** Connections refused at the cap. */
  refused: number
  /** Live bytes waiting in client queues, and bytes in their sockets' buffers. */
  queuedBytes: number
  socketBytes: number
}

export class ViewerFeed {
  private readonly wss: WebSocketServer
  private readonly history: Uint8Array[] = []
  private historySize = 0
  private readonly infos = new Map<string, Uint8Array>()
  private readonly unsubscribe: (() => void)[] = []
  private readonly historyBytes: number
  private readonly maxQueueBytes: number
  private readonly maxClients: number
  private readonly clients = new Set<Client>()
  private dropped = 0
  private refused = 0

  constructor(
    private readonly components: { gossip: Gossip; logger?: Logger },
    private readonly init: ViewerFeedInit,
  ) {
    this.historyBytes = init.historyBytes ?? 16 * 1024 * 1024
    this.maxQueueBytes = init.maxQueueBytes ?? 8 * 1024 * 1024
    this.maxClients = init.maxClients ?? 1024
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
      if (this.wss.clients.size >= this.maxClients) {
        this.refused++
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
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

  stats(): ViewerFeedStats {
    let queuedBytes = 0
    let socketBytes = 0
    for (const c of this.clients) {
      queuedBytes += c.queuedBytes
      socketBytes += c.ws.bufferedAmount
    }
    return {
      clients: this.clients.size,
      dropped: this.dropped,
      refused: this.refused,
      queuedBytes,
      socketBytes,
    }
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
    const c: Client = {
      ws,
      replay: [this.hello(), ...this.infos.values(), ...this.history],
      replayAt: 0,
      queue: [],
      queueAt: 0,
      queuedBytes: 0,
    }
    this.clients.add(c)
    ws.on('close', () => this.clients.delete(c))
    ws.on('error', () => ws.terminate())
    this.pump(c)
  }

  /** Hand frames to the client's socket while its buffer is below the low-water mark. */
  private pump(c: Client): void {
    const ws = c.ws
    while (ws.readyState === ws.OPEN && ws.bufferedAmount < SOCKET_LOW_WATER_BYTES) {
      let frame: Uint8Array | undefined
      if (c.replayAt < c.replay.length) {
        frame = c.replay[c.replayAt++]
        if (c.replayAt === c.replay.length) {
          c.replay = []
          c.replayAt = 0
        }
      } else if (c.queueAt < c.queue.length) {
        frame = c.queue[c.queueAt++]!
        c.queuedBytes -= frame.length
        if (c.queueAt === c.queue.length) {
          c.queue = []
          c.queueAt = 0
        }
      }
      if (frame === undefined) return
      // The callback runs once the frame left for the kernel: feed the socket again from there.
      ws.send(frame, (err) => {
        if (err === undefined || err === null) this.pump(c)
      })
    }
  }

  private enqueue(c: Client, frame: Uint8Array): void {
    c.queue.push(frame)
    c.queuedBytes += frame.length
    if (c.queuedBytes > this.maxQueueBytes) {
      // Too far behind: drop it rather than hold frames for it (and never slow the others down).
      this.dropped++
      this.clients.delete(c)
      c.queue = []
      c.replay = []
      c.queuedBytes = 0
      c.ws.terminate()
      this.components.logger?.debug({ dropped: this.dropped }, 'slow viewer dropped')
      return
    }
    this.pump(c)
  }

  private broadcast(frame: Uint8Array, keep: boolean): void {
    if (keep) {
      this.history.push(frame)
      this.historySize += frame.length
      while (this.historySize > this.historyBytes && this.history.length > 1) {
        this.historySize -= this.history.shift()!.length
      }
    }
    for (const c of this.clients) if (c.ws.readyState === c.ws.OPEN) this.enqueue(c, frame)
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
