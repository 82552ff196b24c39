// One member's certified video put back together by chunk_index (docs/protocol.md §6). The first
// payload of an index is kept: a later different one is a conflict, never a replacement.
import type { VideoChunk } from '../types/index.ts'
import { equalBytes } from '../types/index.ts'

export type AddResult = 'added' | 'duplicate' | 'CONFLICT' | 'TOTAL_MISMATCH'

export class ContentAssembly {
  private readonly parts = new Map<number, VideoChunk>()
  private size = 0

  constructor(
    readonly contentHash: Uint8Array,
    readonly total: number,
  ) {}

  /** Keeps the first payload of an index: a later different one is a conflict, never a replacement. */
  add(chunk: VideoChunk): AddResult {
    const { chunk_index: index, total_chunks: total } = chunk.header
    if (total !== this.total || index >= this.total) return 'TOTAL_MISMATCH'
    const held = this.parts.get(index)
    if (held !== undefined) return equalBytes(held.payload, chunk.payload) ? 'duplicate' : 'CONFLICT'
    // Our own copy: the caller's buffer may be a view into a reused frame.
    this.parts.set(index, { ...chunk, payload: chunk.payload.slice() })
    this.size += chunk.payload.length
    return 'added'
  }

  get received(): number {
    return this.parts.size
  }

  /** Payload bytes held. */
  get bytesHeld(): number {
    return this.size
  }

  get complete(): boolean {
    return this.parts.size === this.total
  }

  /** The video in index order; only when complete. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size)
    let o = 0
    for (const c of this.chunks()) {
      out.set(c.payload, o)
      o += c.payload.length
    }
    return out
  }

  /** The signed chunks in index order (what a peer is served, docs/protocol.md §12); only when complete. */
  chunks(): VideoChunk[] {
    if (!this.complete) throw new Error(`content incomplete: ${this.parts.size}/${this.total} chunks`)
    return Array.from({ length: this.total }, (_, i) => this.parts.get(i)!)
  }
}
