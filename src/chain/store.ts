// Persistence of the dev chain in its data folder: chain.json (genesis parameters, written once),
// snapshot.json (whole state at a WAL sequence number) and wal-<firstSeq>.log segments (every input
// after it). A call is acknowledged only after its WAL record is fsynced (group commit: one fdatasync
// covers every record queued meanwhile); files are replaced by write-temp, fsync, rename, fsync-dir.
// Restart = snapshot + replay of later records through the same state machine; a torn last record
// (crash mid-write, never acknowledged) is cut off, damage anywhere else refuses to start.
import { randomBytes } from 'node:crypto'
import { link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { Logger } from 'pino'
import { type ChainParams, resolveChainParams } from './config.ts'
import { DevChainError } from './errors.ts'
import { firstParamMismatch, genesisHashOf, paramsFromJson, paramsToJson } from './genesis.ts'
import type { DevChainMetrics } from './metrics.ts'
import { hex, parseEvidenceParams, parseRegisterParams, parseSubmitParams } from './rpc.ts'
import { ChainState, type SealedBlock } from './state.ts'

export type WalRecord =
  | { t: 'reg'; p: Record<string, unknown> }
  | { t: 'sub'; p: Record<string, unknown> }
  | { t: 'evd'; p: Record<string, unknown> }
  | { t: 'blk'; n: string }

type QueueItem =
  | { kind: 'line'; seq: number; text: string }
  | { kind: 'rotate'; firstSeq: number; done: () => void }

const CHAIN_FILE = 'chain.json'
const SNAPSHOT_FILE = 'snapshot.json'
const LOCK_FILE = 'LOCK'
const SEGMENT_RE = /^wal-(\d{12})\.log$/
const segmentName = (firstSeq: number) => `wal-${String(firstSeq).padStart(12, '0')}.log`
const FORMAT = 'nsn-devchain/1'

export interface StoreOpenOptions {
  dataDir: string
  params: Partial<ChainParams>
  reset: boolean
  eventRetentionBlocks: number
  logger: Logger
  metrics: DevChainMetrics | null
}

export interface Recovery {
  fromSnapshot: boolean
  /** WAL records applied after the snapshot. */
  replayed: number
  /** Bytes of a torn last record cut off. */
  truncatedBytes: number
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  )
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Replace `path` atomically: temp file, fsync, rename, fsync of the folder. */
async function writeFileAtomic(dir: string, name: string, data: string): Promise<void> {
  const tmp = join(dir, `${name}.tmp`)
  const fh = await open(tmp, 'w', 0o644)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, join(dir, name))
  await fsyncDir(dir)
}

function encodeLine(seq: number, rec: WalRecord): string {
  const json = JSON.stringify({ seq, ...rec })
  const crc = crc32(Buffer.from(json, 'utf8')).toString(16).padStart(8, '0')
  return `${crc} ${json}\n`
}

interface ParsedLine {
  seq: number
  rec: WalRecord
}

function parseLine(line: Buffer): ParsedLine | null {
  if (line.length < 10 || line[8] !== 0x20) return null
  const crc = line.subarray(0, 8).toString('latin1')
  const body = line.subarray(9)
  if (crc32(body).toString(16).padStart(8, '0') !== crc) return null
  try {
    const o = JSON.parse(body.toString('utf8')) as { seq: number } & WalRecord
    if (!Number.isSafeInteger(o.seq)) return null
    const { seq, ...rec } = o
    return { seq, rec: rec as WalRecord }
  } catch {
    return null
  }
}

/** Re-run one recorded input; anything but the original outcome means the files disagree. */
function replay(state: ChainState, seq: number, rec: WalRecord): void {
  const fail = (why: string) => {
    throw new DevChainError('CORRUPT_STATE', `WAL record ${seq}: ${why}`, 'wal')
  }
  try {
    if (rec.t === 'reg') state.applyRegister(parseRegisterParams(rec.p))
    else if (rec.t === 'sub') {
      const r = state.applySubmit(parseSubmitParams(rec.p))
      if (!r.mutated) fail(`submission no longer accepted (${JSON.stringify(r.outcome)})`)
    } else if (rec.t === 'evd') {
      const r = state.applyEvidence(parseEvidenceParams(rec.p).evidence)
      if (!r.mutated) fail(`evidence no longer recorded (${JSON.stringify(r.outcome)})`)
    } else if (rec.t === 'blk') {
      const b = state.sealBlock()
      if (b.number.toString() !== rec.n) fail(`sealed block ${b.number}, record says ${rec.n}`)
    } else fail('unknown record type')
  } catch (err) {
    if (err instanceof DevChainError) throw err
    fail((err as Error).message)
  }
  state.seq = seq
}

export class ChainStore {
  private queue: QueueItem[] = []
  private flushing = false
  private durableSeq: number
  private waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = []
  private failed: Error | null = null
  private seq: number
  private snapshotting = false
  private closed = false
  private fatalListeners: ((err: Error) => void)[] = []

  private constructor(
    private readonly dir: string,
    private fh: Awaited<ReturnType<typeof open>>,
    private segmentFirstSeq: number,
    lastSeq: number,
    private readonly logger: Logger,
    private readonly metrics: DevChainMetrics | null,
  ) {
    this.seq = lastSeq
    this.durableSeq = lastSeq
  }

  /** Open (or create) the data folder and rebuild the state. `genesis` is set for a new chain. */
  static async open(
    o: StoreOpenOptions,
  ): Promise<{ store: ChainStore; state: ChainState; genesis: SealedBlock | null; recovery: Recovery }> {
    const dir = o.dataDir
    await mkdir(dir, { recursive: true })
    await ChainStore.lock(dir)
    try {
      return await ChainStore.openLocked(o)
    } catch (err) {
      await rm(join(dir, LOCK_FILE), { force: true })
      throw err
    }
  }

  private static async openLocked(
    o: StoreOpenOptions,
  ): Promise<{ store: ChainStore; state: ChainState; genesis: SealedBlock | null; recovery: Recovery }> {
    const dir = o.dataDir
    if (o.reset) await ChainStore.removeChainFiles(dir)

    let params: ChainParams
    const chainPath = join(dir, CHAIN_FILE)
    if (await exists(chainPath)) {
      let stored: { format?: string; genesisHash?: string; params?: unknown }
      try {
        stored = JSON.parse(await readFile(chainPath, 'utf8'))
      } catch (err) {
        throw new DevChainError(
          'CORRUPT_STATE',
          `${chainPath}: unreadable (${(err as Error).message})`,
          CHAIN_FILE,
        )
      }
      if (stored.format !== FORMAT) {
        throw new DevChainError(
          'CORRUPT_STATE',
          `${chainPath}: unknown format ${String(stored.format)}`,
          CHAIN_FILE,
        )
      }
      params = paramsFromJson(stored.params)
      if (hex(genesisHashOf(params)) !== stored.genesisHash) {
        throw new DevChainError(
          'CORRUPT_STATE',
          `${chainPath}: parameters do not hash to the stored genesis`,
          CHAIN_FILE,
        )
      }
      const diff = firstParamMismatch(params, o.params)
      if (diff !== null) {
        throw new DevChainError(
          'CONFIG_MISMATCH',
          `${diff}: differs from the chain stored in ${dir} (its genesis is fixed); drop the option or use --reset`,
          diff,
        )
      }
    } else {
      params = resolveChainParams(o.params)
      const doc = { format: FORMAT, genesisHash: hex(genesisHashOf(params)), params: paramsToJson(params) }
      await writeFileAtomic(dir, CHAIN_FILE, `${JSON.stringify(doc, null, 2)}\n`)
    }

    const stateOpts = { eventRetentionBlocks: o.eventRetentionBlocks }
    let state: ChainState
    let genesis: SealedBlock | null = null
    const snapPath = join(dir, SNAPSHOT_FILE)
    const fromSnapshot = await exists(snapPath)
    if (fromSnapshot) {
      let snap: unknown
      try {
        snap = JSON.parse(await readFile(snapPath, 'utf8'))
      } catch (err) {
        throw new DevChainError(
          'CORRUPT_STATE',
          `${snapPath}: unreadable (${(err as Error).message})`,
          SNAPSHOT_FILE,
        )
      }
      state = ChainState.fromSnapshot(params, stateOpts, snap)
    } else {
      const g = ChainState.genesis(params, stateOpts)
      state = g.state
      genesis = g.block
    }

    const segments = (await readdir(dir))
      .map((n) => SEGMENT_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ name: m[0], firstSeq: Number(m[1]) }))
      .sort((a, b) => a.firstSeq - b.firstSeq)
    const snapSeq = state.seq
    let expected = snapSeq + 1
    let lastSeq = snapSeq
    let replayed = 0
    let truncatedBytes = 0
    for (const [si, seg] of segments.entries()) {
      const path = join(dir, seg.name)
      const buf = await readFile(path)
      let off = 0
      while (off < buf.length) {
        const nl = buf.indexOf(0x0a, off)
        const parsed = nl < 0 ? null : parseLine(buf.subarray(off, nl))
        if (parsed === null) {
          // Only the end of the newest segment may be damaged: that write was never acknowledged.
          const rest =
            nl < 0
              ? []
              : buf
                  .subarray(nl + 1)
                  .toString('latin1')
                  .split('\n')
          const laterValid = rest.some((l) => l.length > 0 && parseLine(Buffer.from(l, 'latin1')) !== null)
          if (si !== segments.length - 1 || laterValid) {
            throw new DevChainError('CORRUPT_STATE', `${path}: damaged record at byte ${off}`, seg.name)
          }
          truncatedBytes = buf.length - off
          const fh = await open(path, 'r+')
          try {
            await fh.truncate(off)
            await fh.sync()
          } finally {
            await fh.close()
          }
          o.logger.warn(
            { segment: seg.name, offset: off, bytes: truncatedBytes },
            'cut off a torn WAL record',
          )
          break
        }
        off = nl + 1
        if (parsed.seq <= snapSeq) continue
        if (parsed.seq !== expected) {
          throw new DevChainError(
            'CORRUPT_STATE',
            `${path}: record ${parsed.seq} where ${expected} was expected`,
            seg.name,
          )
        }
        replay(state, parsed.seq, parsed.rec)
        lastSeq = parsed.seq
        expected++
        replayed++
      }
    }
    const firstSeq = lastSeq + 1
    const fh = await open(join(dir, segmentName(firstSeq)), 'a')
    await fsyncDir(dir)
    const store = new ChainStore(dir, fh, firstSeq, lastSeq, o.logger, o.metrics)
    return { store, state, genesis, recovery: { fromSnapshot, replayed, truncatedBytes } }
  }

  /**
   * One process per data folder; a lock left by a killed process (dead pid) is taken over. The lock
   * appears atomically with its content (written to a private file, then hard-linked into place), so
   * nobody ever reads an empty lock; a stale lock is moved aside by rename and checked to be exactly
   * the one judged stale, so two processes taking over at once cannot both end up holding it.
   */
  private static async lock(dir: string): Promise<void> {
    const path = join(dir, LOCK_FILE)
    const token = `${process.pid} ${randomBytes(8).toString('hex')}`
    const mine = join(dir, `${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`)
    await writeFile(mine, token)
    try {
      for (let attempt = 0; attempt < 8; attempt++) {
        try {
          await link(mine, path)
          return
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        }
        const seen = (await readFile(path, 'utf8').catch(() => '')).trim()
        const pid = Number(seen.split(' ')[0])
        // Our own pid: another store in this process holds the folder.
        let alive = pid === process.pid
        if (!alive && Number.isSafeInteger(pid) && pid > 0) {
          try {
            process.kill(pid, 0)
            alive = true
          } catch (err) {
            alive = (err as NodeJS.ErrnoException).code === 'EPERM'
          }
        }
        if (alive) {
          throw new DevChainError(
            'DATA_DIR_LOCKED',
            `${dir}: in use by process ${pid} (${LOCK_FILE})`,
            'dataDir',
          )
        }
        if (seen === '') continue // vanished meanwhile: try again
        const aside = `${path}.stale.${randomBytes(4).toString('hex')}`
        try {
          await rename(path, aside)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
          throw err
        }
        const moved = (await readFile(aside, 'utf8').catch(() => '')).trim()
        if (moved !== seen) {
          // We moved a lock someone took in the meantime: put it back (unless yet another exists).
          await link(aside, path).catch(() => {})
        }
        await rm(aside, { force: true })
      }
      throw new DevChainError('DATA_DIR_LOCKED', `${dir}: cannot take ${LOCK_FILE}`, 'dataDir')
    } finally {
      await rm(mine, { force: true })
    }
  }

  /** `--reset`: remove exactly the files this store writes, nothing else in the folder. */
  private static async removeChainFiles(dir: string): Promise<void> {
    for (const name of await readdir(dir)) {
      if (
        name === CHAIN_FILE ||
        name === SNAPSHOT_FILE ||
        name === `${CHAIN_FILE}.tmp` ||
        name === `${SNAPSHOT_FILE}.tmp` ||
        SEGMENT_RE.test(name)
      ) {
        await rm(join(dir, name), { force: true })
      }
    }
    await fsyncDir(dir)
  }

  get lastSeq(): number {
    return this.seq
  }

  onFatal(cb: (err: Error) => void): void {
    this.fatalListeners.push(cb)
  }

  /** Queue a record; `durable` resolves once it (and everything before it) is fsynced. */
  append(rec: WalRecord): { seq: number; durable: Promise<void> } {
    if (this.failed) return { seq: this.seq, durable: Promise.reject(this.failed) }
    if (this.closed)
      return { seq: this.seq, durable: Promise.reject(new DevChainError('STOPPED', 'store is closed')) }
    const seq = ++this.seq
    this.queue.push({ kind: 'line', seq, text: encodeLine(seq, rec) })
    void this.flush()
    return { seq, durable: this.waitDurable(seq) }
  }

  /** Resolves once every record up to `seq` is on disk. */
  waitDurable(seq: number = this.seq): Promise<void> {
    if (this.failed) return Promise.reject(this.failed)
    if (seq <= this.durableSeq) return Promise.resolve()
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }))
  }

  private async flush(): Promise<void> {
    if (this.flushing) return
    this.flushing = true
    try {
      while (this.queue.length > 0 && this.failed === null) {
        const item = this.queue[0]!
        if (item.kind === 'rotate') {
          this.queue.shift()
          await this.fh.close()
          this.fh = await open(join(this.dir, segmentName(item.firstSeq)), 'a')
          this.segmentFirstSeq = item.firstSeq
          await fsyncDir(this.dir)
          item.done()
          continue
        }
        let n = 0
        while (n < this.queue.length && this.queue[n]!.kind === 'line') n++
        const batch = this.queue.splice(0, n) as Extract<QueueItem, { kind: 'line' }>[]
        const data = batch.map((b) => b.text).join('')
        const t0 = process.hrtime.bigint()
        await this.fh.write(data)
        await this.fh.datasync()
        this.metrics?.walSyncSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9)
        this.metrics?.walBytes.inc(Buffer.byteLength(data))
        this.durableSeq = batch[batch.length - 1]!.seq
        const ready = this.waiters.filter((w) => w.seq <= this.durableSeq)
        this.waiters = this.waiters.filter((w) => w.seq > this.durableSeq)
        for (const w of ready) w.resolve()
      }
    } catch (err) {
      this.fail(new DevChainError('STORAGE_FAILED', `WAL write failed: ${(err as Error).message}`, 'wal'))
    } finally {
      this.flushing = false
    }
  }

  private fail(err: Error): void {
    if (this.failed) return
    this.failed = err
    this.logger.fatal({ err }, 'storage failed: no further call can be acknowledged')
    for (const w of this.waiters) w.reject(err)
    this.waiters = []
    for (const cb of this.fatalListeners) cb(err)
  }

  /**
   * Snapshot the state at its current sequence number, then drop the WAL segments it covers.
   * Skipped while a snapshot is already being written.
   */
  async snapshot(state: ChainState): Promise<boolean> {
    if (this.snapshotting || this.failed || this.closed) return false
    if (state.seq !== this.seq) {
      throw new DevChainError('CORRUPT_STATE', `snapshot at state seq ${state.seq} but WAL seq ${this.seq}`)
    }
    this.snapshotting = true
    const t0 = process.hrtime.bigint()
    try {
      const seq = state.seq
      const data = JSON.stringify(state.toSnapshot())
      const rotated = new Promise<void>((done) => {
        if (this.segmentFirstSeq === seq + 1 && !this.queue.some((q) => q.kind === 'rotate')) done()
        else this.queue.push({ kind: 'rotate', firstSeq: seq + 1, done })
      })
      void this.flush()
      await writeFileAtomic(this.dir, SNAPSHOT_FILE, data)
      await rotated
      for (const name of await readdir(this.dir)) {
        const m = SEGMENT_RE.exec(name)
        if (m && Number(m[1]) <= seq) await rm(join(this.dir, name), { force: true })
      }
      await fsyncDir(this.dir)
      this.metrics?.snapshotSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9)
      this.logger.debug({ seq, bytes: data.length }, 'snapshot written')
      return true
    } catch (err) {
      this.fail(
        new DevChainError('STORAGE_FAILED', `snapshot failed: ${(err as Error).message}`, SNAPSHOT_FILE),
      )
      return false
    } finally {
      this.snapshotting = false
    }
  }

  /** Wait for queued records, close the segment and release the lock. */
  async close(): Promise<void> {
    if (this.closed) return
    await this.waitDurable().catch(() => {})
    while (this.flushing || this.snapshotting) await new Promise((r) => setTimeout(r, 5))
    this.closed = true
    await this.fh.close().catch(() => {})
    await rm(join(this.dir, LOCK_FILE), { force: true })
  }
}
