// The certified archive on disk (docs/protocol.md §12): one video and one JSON record per certified
// slot under `<dataDir>/archive`, keyed by content_hash, bounded by `archive.maxBytes` with the
// oldest slots evicted first, and read back at start so history survives restarts.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { type SlotRecord, toRecord, type VerifiedSlot, verifyRecord } from './record.ts'

/** What `GET /api/slots` lists of a stored slot. */
export interface ArchivedSlot {
  slot: bigint
  epoch: bigint
  contentHash: string
  signer: string
  rank: number
  bytes: number
  storedAtMs: number
}

export interface SlotArchiveInit {
  /** Folder of the archive (created if missing). */
  dir: string
  /** Video bytes kept; the oldest slots are evicted beyond it. 0 keeps nothing. */
  maxBytes: number
  /** Only read (`nsn export` beside a running node): nothing is created, cleaned or evicted. */
  readOnly?: boolean
}

const HASH_FILE = /^([0-9a-f]{64})\.json$/

function summary(r: SlotRecord): ArchivedSlot {
  return {
    slot: BigInt(r.slot),
    epoch: BigInt(r.epoch),
    contentHash: r.contentHash,
    signer: r.signer,
    rank: r.rank,
    bytes: r.bytes,
    storedAtMs: r.storedAtMs,
  }
}

export class SlotArchive {
  /** slot → record, kept sorted by insertion; eviction picks the smallest slot. */
  private readonly bySlot = new Map<bigint, SlotRecord>()
  private size = 0
  /** Content hashes whose bytes were verified since start (reads skip re-verification). */
  private readonly verified = new Set<string>()

  private constructor(
    private readonly components: { logger?: Logger },
    private readonly init: SlotArchiveInit,
  ) {}

  /** Open (or create) the archive folder and index what it holds. */
  static async open(components: { logger?: Logger }, init: SlotArchiveInit): Promise<SlotArchive> {
    const a = new SlotArchive(components, init)
    if (init.readOnly !== true) await mkdir(init.dir, { recursive: true })
    await a.load()
    return a
  }

  private async load(): Promise<void> {
    const names = new Set(
      await readdir(this.init.dir).catch((err: NodeJS.ErrnoException) => {
        if (this.init.readOnly === true && err.code === 'ENOENT') return [] as string[]
        throw err
      }),
    )
    const writable = this.init.readOnly !== true
    for (const name of names) {
      const m = HASH_FILE.exec(name)
      if (m === null) {
        // Leftovers of an interrupted write: the JSON record is written last, so a video without one
        // (or a temporary file) was never part of the archive.
        if (!writable) continue
        if (name.endsWith('.tmp') || (name.endsWith('.mp4') && !names.has(name.replace(/\.mp4$/, '.json'))))
          await rm(join(this.init.dir, name), { force: true })
        continue
      }
      try {
        const r = JSON.parse(await readFile(join(this.init.dir, name), 'utf8')) as SlotRecord
        if (r.version !== 1 || r.contentHash !== m[1] || !names.has(`${m[1]}.mp4`))
          throw new Error('not a slot record of this version')
        const slot = BigInt(r.slot)
        const held = this.bySlot.get(slot)
        if (held !== undefined && writable) await this.remove(held)
        this.bySlot.set(slot, r)
        this.size += r.bytes
      } catch (err) {
        this.components.logger?.warn({ file: name, err: (err as Error).message }, 'archive record skipped')
      }
    }
    if (writable) await this.evict()
  }

  /** Video bytes held. */
  get bytes(): number {
    return this.size
  }

  get count(): number {
    return this.bySlot.size
  }

  has(slot: bigint): boolean {
    return this.bySlot.has(slot)
  }

  /** The stored slot's summary, if any. */
  get(slot: bigint): ArchivedSlot | null {
    const r = this.bySlot.get(slot)
    return r === undefined ? null : summary(r)
  }

  /** The stored slot whose content hash is `hex`, if any. */
  slotOf(hex: string): bigint | null {
    for (const [slot, r] of this.bySlot) if (r.contentHash === hex) return slot
    return null
  }

  /** Newest first: up to `limit` slots below `before` (all when null). */
  list(before: bigint | null, limit: number): ArchivedSlot[] {
    const slots = [...this.bySlot.keys()]
      .filter((s) => before === null || s < before)
      .sort((a, b) => (a < b ? 1 : -1))
    return slots.slice(0, limit).map((s) => summary(this.bySlot.get(s)!))
  }

  /** The newest stored slots, oldest first (what a late page plays). */
  latest(n: number): ArchivedSlot[] {
    return this.list(null, n).reverse()
  }

  /** Store a fully verified slot; a slot already held is kept (the first verified content stays). */
  async put(v: VerifiedSlot): Promise<boolean> {
    if (this.init.readOnly === true || this.init.maxBytes <= 0 || this.bySlot.has(v.completed.slot))
      return false
    if (v.completed.video.length > this.init.maxBytes) return false
    const record = toRecord(v, Date.now())
    const base = join(this.init.dir, record.contentHash)
    await writeFile(`${base}.mp4.tmp`, v.completed.video)
    await rename(`${base}.mp4.tmp`, `${base}.mp4`)
    await writeFile(`${base}.json.tmp`, JSON.stringify(record))
    await rename(`${base}.json.tmp`, `${base}.json`)
    this.bySlot.set(v.completed.slot, record)
    this.size += record.bytes
    this.verified.add(record.contentHash)
    await this.evict()
    return true
  }

  /**
   * The stored record and video of `slot`, verified again as a viewer would (once per start);
   * null when the slot is not held. Throws ArchiveVerifyError when the stored bytes no longer verify.
   */
  async read(slot: bigint): Promise<{ record: SlotRecord; video: Uint8Array } | null> {
    const record = this.bySlot.get(slot)
    if (record === undefined) return null
    const video = new Uint8Array(await readFile(join(this.init.dir, `${record.contentHash}.mp4`)))
    if (!this.verified.has(record.contentHash)) {
      verifyRecord(record, video)
      this.verified.add(record.contentHash)
    }
    return { record, video }
  }

  private async evict(): Promise<void> {
    while (this.size > this.init.maxBytes && this.bySlot.size > 0) {
      let oldest: bigint | undefined
      for (const s of this.bySlot.keys()) if (oldest === undefined || s < oldest) oldest = s
      await this.remove(this.bySlot.get(oldest!)!)
    }
  }

  private async remove(r: SlotRecord): Promise<void> {
    const slot = BigInt(r.slot)
    if (this.bySlot.get(slot) === r) {
      this.bySlot.delete(slot)
      this.size -= r.bytes
    }
    this.verified.delete(r.contentHash)
    const base = join(this.init.dir, r.contentHash)
    // The record first: a video without its record is cleaned up at the next start.
    await rm(`${base}.json`, { force: true })
    await rm(`${base}.mp4`, { force: true })
  }
}
