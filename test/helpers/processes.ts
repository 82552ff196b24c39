// Process-tree helpers for tests that must prove no process outlives them (reads /proc).
import { readdirSync, readFileSync } from 'node:fs'

/** The command line of a living (non-zombie) process, or null. */
export function cmdline(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return null
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 160)
  } catch {
    return null
  }
}

/** Every living descendant of `root` (children, grandchildren, …), zombies excluded. */
export function descendants(root: number): { pid: number; cmd: string }[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (fields[0] === 'Z') continue // a zombie is already gone, only not reaped yet
      const ppid = Number(fields[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
    } catch {
      // the process ended while we read
    }
  }
  const out: { pid: number; cmd: string }[] = []
  const stack = [...(children.get(root) ?? [])]
  while (stack.length > 0) {
    const pid = stack.pop()!
    out.push({ pid, cmd: cmdline(pid) ?? '?' })
    stack.push(...(children.get(pid) ?? []))
  }
  return out
}
