// One process per data folder (key, journal, sidecar tasks), like the dev chain's LOCK: a file
// holding the owner's pid, created exclusively; a lock whose pid is dead (kill -9) is taken over.
import { open, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'

export const LOCK_FILE = 'LOCK'

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError'
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`${dir}: in use by process ${pid} (${LOCK_FILE}); stop that process first, or use another folder`)
  }
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The live pid holding `dir`, or null. */
export async function lockHolder(dir: string): Promise<number | null> {
  const pid = Number((await readFile(join(dir, LOCK_FILE), 'utf8').catch(() => '')).trim())
  return alive(pid) ? pid : null
}

/** Take `dir`'s lock; returns the release function. Throws DataDirLockedError when a live process holds it. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx')
      await fh.writeFile(String(process.pid))
      await fh.close()
      return async () => {
        const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim())
        if (pid === process.pid) await rm(path, { force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = await lockHolder(dir)
    if (holder !== null) throw new DataDirLockedError(dir, holder)
    await rm(path, { force: true })
  }
  throw new Error(`${dir}: cannot take ${LOCK_FILE}`)
}

/** Live holders of `dir` or of any folder up to `depth` levels below it (devnet --reset). */
export async function lockHoldersBelow(dir: string, depth = 2): Promise<{ dir: string; pid: number }[]> {
  const out: { dir: string; pid: number }[] = []
  const pid = await lockHolder(dir)
  if (pid !== null) out.push({ dir, pid })
  if (depth === 0) return out
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  for (const e of entries)
    if (e.isDirectory()) out.push(...(await lockHoldersBelow(join(dir, e.name), depth - 1)))
  return out
}
