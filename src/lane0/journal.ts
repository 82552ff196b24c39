// The slot journal (docs/lane0.md "journal"): one JSON file per slot in a data folder, replaced
// atomically (write temp → fsync → rename → fsync folder), recording the stage reached, output paths,
// the certificate and the chain submission state, so that a restarted director resumes: nothing
// submitted twice, nothing acknowledged lost, unfinished submissions retried.
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { syncFolder } from '../crypto/index.ts'
import {
  bytesToHex,
  type Certificate,
  decodeCertificate,
  encodeCertificate,
  hexToBytes,
} from '../types/index.ts'
import { JournalError } from './errors.ts'

/** The furthest pipeline stage a slot reached (docs/lane0.md "journal"). */
export type JournalStage =
  | 'recipe'
  | 'generated'
  | 'certified'
  | 'published'
  | 'submitted'
  | 'failed'
  | 'abandoned'

/**
 * Chain submission state. Terminal: accepted (our call), observed (the chain holds our canonical hash
 * from another submitter, or from an earlier call whose answer was lost), rejected, conflict (the
 * chain holds a different result). `inflight` is written before each call: found on restart it means
 * "maybe sent", so the chain is asked before anything is sent again.
 */
export type SubmissionState =
  | 'none'
  | 'scheduled'
  | 'inflight'
  | 'retrying'
  | 'accepted'
  | 'observed'
  | 'rejected'
  | 'conflict'

export const TERMINAL_SUBMISSION_STATES: ReadonlySet<SubmissionState> = new Set([
  'accepted',
  'observed',
  'rejected',
  'conflict',
])

export interface JournalSubmission {
  state: SubmissionState
  attempts: number
  /** Earliest time of the next attempt (Unix ms). */
  notBeforeMs: number | null
  /** Block that included our submission (accepted) or the recorded result (observed). */
  block: bigint | null
  /** Rejection code or last `unknown` reason. */
  detail: string | null
}

export interface JournalEntry {
  epoch: bigint
  slot: bigint
  stage: JournalStage
  recipeId: string | null
  recipeHash: Uint8Array | null
  contentHash: Uint8Array | null
  videoPath: string | null
  mime: string | null
  canonicalHash: Uint8Array | null
  certificate: Certificate | null
  /** Our position among the certificate members (-1: not a member). */
  localRank: number | null
  publish: { action: string; published: number; total: number } | null
  submission: JournalSubmission
  finalized: boolean
  error: { stage: string; code: string; message: string } | null
  /**
   * The BFT messages this director signed for the slot (SCALE BftSignal bytes), written before they
   * are published (docs/protocol.md §5 step 5): after a restart exactly these are re-sent, never new ones.
   */
  signed: { proposal: Uint8Array | null; commit: Uint8Array | null }
  updatedAtMs: number
}

export function newJournalEntry(epoch: bigint, slot: bigint, nowMs: number): JournalEntry {
  return {
    epoch,
    slot,
    stage: 'recipe',
    recipeId: null,
    recipeHash: null,
    contentHash: null,
    videoPath: null,
    mime: null,
    canonicalHash: null,
    certificate: null,
    localRank: null,
    publish: null,
    submission: { state: 'none', attempts: 0, notBeforeMs: null, block: null, detail: null },
    finalized: false,
    error: null,
    signed: { proposal: null, commit: null },
    updatedAtMs: nowMs,
  }
}

const FORMAT_VERSION = 1
const hex = (b: Uint8Array | null) => (b === null ? null : bytesToHex(b))
const unhex = (s: unknown) => (typeof s === 'string' ? hexToBytes(s) : null)
const big = (s: unknown) => (typeof s === 'string' ? BigInt(s) : null)

/** JSON form: u64 as decimal strings, bytes as hex, the certificate as hex SCALE. */
export function entryToJson(e: JournalEntry): string {
  return `${JSON.stringify(
    {
      version: FORMAT_VERSION,
      epoch: e.epoch.toString(),
      slot: e.slot.toString(),
      stage: e.stage,
      recipe_id: e.recipeId,
      recipe_hash: hex(e.recipeHash),
      content_hash: hex(e.contentHash),
      video_path: e.videoPath,
      mime: e.mime,
      canonical_hash: hex(e.canonicalHash),
      certificate: e.certificate === null ? null : bytesToHex(encodeCertificate(e.certificate)),
      local_rank: e.localRank,
      publish: e.publish,
      submission: {
        state: e.submission.state,
        attempts: e.submission.attempts,
        not_before_ms: e.submission.notBeforeMs,
        block: e.submission.block?.toString() ?? null,
        detail: e.submission.detail,
      },
      finalized: e.finalized,
      error: e.error,
      signed: { proposal: hex(e.signed.proposal), commit: hex(e.signed.commit) },
      updated_at_ms: e.updatedAtMs,
    },
    null,
    1,
  )}\n`
}

export function entryFromJson(text: string): JournalEntry {
  const j = JSON.parse(text) as Record<string, unknown>
  if (j.version !== FORMAT_VERSION) throw new Error(`version: ${String(j.version)} is not ${FORMAT_VERSION}`)
  const sub = (j.submission ?? {}) as Record<string, unknown>
  const epoch = big(j.epoch)
  const slot = big(j.slot)
  if (epoch === null || slot === null) throw new Error('epoch/slot: missing')
  return {
    epoch,
    slot,
    stage: j.stage as JournalStage,
    recipeId: (j.recipe_id as string | null) ?? null,
    recipeHash: unhex(j.recipe_hash),
    contentHash: unhex(j.content_hash),
    videoPath: (j.video_path as string | null) ?? null,
    mime: (j.mime as string | null) ?? null,
    canonicalHash: unhex(j.canonical_hash),
    certificate: typeof j.certificate === 'string' ? decodeCertificate(hexToBytes(j.certificate)) : null,
    localRank: (j.local_rank as number | null) ?? null,
    publish: (j.publish as JournalEntry['publish']) ?? null,
    submission: {
      state: (sub.state as SubmissionState) ?? 'none',
      attempts: (sub.attempts as number) ?? 0,
      notBeforeMs: (sub.not_before_ms as number | null) ?? null,
      block: big(sub.block),
      detail: (sub.detail as string | null) ?? null,
    },
    finalized: j.finalized === true,
    error: (j.error as JournalEntry['error']) ?? null,
    signed: {
      proposal: unhex((j.signed as Record<string, unknown> | undefined)?.proposal),
      commit: unhex((j.signed as Record<string, unknown> | undefined)?.commit),
    },
    updatedAtMs: (j.updated_at_ms as number) ?? 0,
  }
}

const FILE_RE = /^slot-(\d{20})\.json$/

/** Write errors that describe the folder's filesystem, not the program (errno → what it means). */
const DISK_CONDITIONS: Record<string, string> = {
  ENOSPC: 'full',
  EDQUOT: 'over its disk quota',
  EROFS: 'on a read-only filesystem',
  EACCES: 'not writable by this user',
  EPERM: 'not writable by this user',
}

export interface SlotJournalOptions {
  /** fsync files and the folder (turn off only in throwaway tests). @default true */
  fsync?: boolean
}

export class SlotJournal {
  private readonly entries = new Map<bigint, JournalEntry>()
  private readonly writes = new Map<bigint, Promise<unknown>>()
  private readonly fsync: boolean
  /** Files found unreadable at open (renamed to *.corrupt, never silently reused). */
  readonly corrupt: string[] = []
  private opened = false

  constructor(
    readonly dir: string,
    options: SlotJournalOptions = {},
  ) {
    this.fsync = options.fsync ?? true
  }

  private file(slot: bigint): string {
    return join(this.dir, `slot-${slot.toString().padStart(20, '0')}.json`)
  }

  /** Create the folder if needed and load every entry; returns them by slot ascending. */
  async open(): Promise<JournalEntry[]> {
    try {
      await mkdir(this.dir, { recursive: true })
      for (const name of await readdir(this.dir)) {
        const path = join(this.dir, name)
        if (name.endsWith('.tmp')) {
          // A write that never reached its rename: the previous file (if any) is still intact.
          await rm(path, { force: true })
          continue
        }
        if (!FILE_RE.test(name)) continue
        try {
          const e = entryFromJson(await readFile(path, 'utf8'))
          this.entries.set(e.slot, e)
        } catch {
          this.corrupt.push(path)
          await rename(path, `${path}.corrupt`)
        }
      }
    } catch (err) {
      throw new JournalError(
        'IO',
        this.dir,
        `${this.dir}: cannot open the slot journal (${(err as Error).message})`,
        err,
      )
    }
    this.opened = true
    return this.list()
  }

  list(): JournalEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : 0))
  }

  get(slot: bigint): JournalEntry | undefined {
    return this.entries.get(slot)
  }

  /**
   * Apply `change` to the slot's entry (created with `init` if absent) and persist it durably.
   * Updates of one slot are applied in call order.
   */
  update(
    slot: bigint,
    change: (e: JournalEntry) => JournalEntry,
    init?: () => JournalEntry,
  ): Promise<JournalEntry> {
    if (!this.opened)
      return Promise.reject(new JournalError('IO', this.dir, `${this.dir}: journal not opened`))
    const prev = this.writes.get(slot) ?? Promise.resolve()
    const next = prev.then(async () => {
      const cur = this.entries.get(slot) ?? init?.()
      if (cur === undefined) throw new JournalError('IO', this.file(slot), `slot ${slot}: no journal entry`)
      const updated = change(structuredClone(cur))
      await this.write(slot, updated)
      this.entries.set(slot, updated)
      return updated
    })
    const settled = next.catch(() => {})
    this.writes.set(slot, settled)
    void settled.then(() => {
      if (this.writes.get(slot) === settled) this.writes.delete(slot)
    })
    return next
  }

  private async write(slot: bigint, e: JournalEntry): Promise<void> {
    const path = this.file(slot)
    const tmp = `${path}.tmp`
    try {
      const fh = await open(tmp, 'w', 0o600)
      try {
        await fh.writeFile(entryToJson(e))
        if (this.fsync) await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, path)
      if (this.fsync) await this.syncDir()
    } catch (err) {
      // The previous file of the slot is intact (the rename is the commit point); a partial temp
      // file would only hold on to the space that ran out.
      await rm(tmp, { force: true }).catch(() => {})
      throw this.writeError(slot, path, err)
    }
  }

  /**
   * A write failure as an operator reads it. A full, read-only or forbidden folder is a condition of
   * the machine, not a bug: one line naming the folder and what it means, without a stack trace.
   */
  private writeError(slot: bigint, path: string, err: unknown): JournalError {
    const code = (err as NodeJS.ErrnoException).code ?? ''
    const condition = DISK_CONDITIONS[code]
    if (condition === undefined)
      return new JournalError('IO', path, `${path}: journal write failed (${(err as Error).message})`, err)
    const e = new JournalError(
      'IO',
      this.dir,
      `${this.dir}: the journal folder is ${condition} (${code}); slot ${slot} is not journaled, so this director sits it out (it keeps relaying) until the folder is writable again`,
    )
    e.stack = `${e.name}: ${e.message}`
    return e
  }

  private async syncDir(): Promise<void> {
    // The rename is durable only once the folder entry is; an I/O error here is a failed write.
    await syncFolder(this.dir)
  }

  /** Wait for every pending write. */
  async flush(): Promise<void> {
    await Promise.all([...this.writes.values()])
  }

  /**
   * Delete entries below `beforeSlot` that nothing waits on any more: everything except a submission
   * still owed to the chain (those stay until accepted or definitively answered).
   */
  async prune(beforeSlot: bigint): Promise<number> {
    let n = 0
    for (const e of this.list()) {
      if (e.slot >= beforeSlot) break
      const owed = e.submission.state !== 'none' && !TERMINAL_SUBMISSION_STATES.has(e.submission.state)
      if (owed || this.writes.has(e.slot)) continue
      await rm(this.file(e.slot), { force: true })
      this.entries.delete(e.slot)
      n++
    }
    return n
  }
}
