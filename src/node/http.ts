// The node's HTTP surface (127.0.0.1 by default): /metrics (Prometheus), /health, /api/status, the
// archive (/api/slots, /hls/…) and the viewer page with its WebSocket feed. Read-only: nothing here changes the node's state.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { type HlsService, type SlotArchive, serveArchive } from '../archive/index.ts'
import type { ViewerAssets } from './viewer-bundle.ts'
import { serveViewer, type ViewerFeed } from './viewer-feed.ts'

export interface HttpInit {
  host: string
  port: number
}

export interface HttpComponents {
  registry: Registry
  /** JSON-serialisable status (bigints are written as decimal strings). */
  status: () => unknown
  /** Healthy when every part the node runs is up; the reasons are shown when it is not. */
  health: () => { healthy: boolean; reasons: string[]; checks?: Record<string, unknown> }
  viewer?: { feed: ViewerFeed; assets: ViewerAssets }
  /** Certified slots this node verified and stored (GET /api/slots). */
  archive?: SlotArchive
  /** The archive as HLS (/hls/live.m3u8, /hls/slots/<n>/index.m3u8). */
  hls?: HlsService
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
    return v
  })
}

export class HttpApi {
  private readonly server: Server

  constructor(
    private readonly components: HttpComponents,
    private readonly init: HttpInit,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(`internal error: ${(err as Error).message}\n`)
      })
    })
    if (components.viewer) components.viewer.feed.attach(this.server)
  }

  async start(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.init.port, this.init.host, () => resolve())
    })
    return this.address()
  }

  address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo
    return { host: a.address, port: a.port }
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === '/metrics') {
      const body = await this.components.registry.metrics()
      res.writeHead(200, { 'content-type': this.components.registry.contentType }).end(body)
      return
    }
    if (path === '/health') {
      const h = this.components.health()
      res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(toJson(h))
      return
    }
    if (path === '/api/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(toJson(this.components.status()))
      return
    }
    if (this.components.archive && (await serveArchive(req, res, this.components.archive))) return
    if (this.components.hls && (await this.components.hls.serve(req, res))) return
    if (this.components.viewer && serveViewer(req, res, this.components.viewer.assets)) return
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
  }
}
