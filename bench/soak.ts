// Soak: a whole devnet (dev chain, five directors, the viewer) for SOAK_SLOTS slots (default 100, 12 s
// devnet slots: about 20 minutes). Every 10 slots it prints each process's RSS and open file
// descriptors (from /proc), and at the end the growth per slot after warm-up (the first 10 slots):
// the goal is no growth. Prints figures, asserts nothing. Usage: SOAK_SLOTS=100 npm run bench -- soak
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DevChainClient } from '../src/chain/index.ts'
import { initBlake3 } from '../src/crypto/index.ts'
import { Devnet } from '../src/node/devnet.ts'

const SLOTS = Number(process.env.SOAK_SLOTS ?? 100)
const WARMUP = 10

interface Sample {
  slot: number
  rssMiB: number
  fds: number
}

async function sample(pid: number): Promise<{ rssMiB: number; fds: number } | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
    const fds = (await readdir(`/proc/${pid}/fd`)).length
    return { rssMiB: kb / 1024, fds }
  } catch {
    return null
  }
}

await initBlake3()
const dataDir = await mkdtemp(join(tmpdir(), 'nsn-bench-soak-'))
const devnet = new Devnet({ dataDir, reset: false, directors: 5, viewerPort: 0 })
const series = new Map<string, Sample[]>()
let chain: DevChainClient | null = null
try {
  await devnet.start()
  const procs = [
    ['devchain', devnet.chainProc!],
    ...devnet.directorProcs.map((p, i) => [`director-${i}`, p] as const),
    ['viewer', devnet.viewerProc!],
  ] as const
  chain = new DevChainClient({ url: devnet.chainProc!.ready.url })
  const info = await chain.info()
  let first: bigint | null = null
  let finalized = 0
  let lastPrinted = -1
  const deadline = Date.now() + SLOTS * Number(info.blocksPerSlot) * 1000 * 4
  await new Promise<void>((resolve) => {
    const off = chain!.subscribe((ev) => {
      if (ev.type === 'BftResultFinalized') finalized++
      if (ev.type !== 'NewBlock') return
      const slot = ev.block / BigInt(info.blocksPerSlot)
      first ??= slot
      const n = Number(slot - first)
      if (n % 10 === 0 && n !== lastPrinted) {
        lastPrinted = n
        void Promise.all(procs.map(async ([name, p]) => [name, await sample(p.child.pid!)] as const)).then(
          (rows) => {
            const line = rows.map(([name, s]) => {
              if (s !== null) {
                const list = series.get(name) ?? []
                list.push({ slot: n, ...s })
                series.set(name, list)
              }
              return `${name} ${s === null ? 'gone' : `${s.rssMiB.toFixed(0)} MiB ${s.fds} fds`}`
            })
            console.log(`slot +${n} (finalized ${finalized}): ${line.join(' | ')}`)
          },
        )
      }
      if (n >= SLOTS || Date.now() > deadline) {
        off()
        resolve()
      }
    }, 0n)
  })
  console.log(`\n${SLOTS} slots, ${finalized} finalized. Growth per slot after slot +${WARMUP}:`)
  for (const [name, list] of series) {
    const a = list.find((s) => s.slot >= WARMUP)
    const b = list[list.length - 1]
    if (a === undefined || b === undefined || b.slot === a.slot) continue
    const slots = b.slot - a.slot
    console.log(
      `  ${name}: RSS ${(((b.rssMiB - a.rssMiB) * 1024) / slots).toFixed(1)} KiB/slot (${a.rssMiB.toFixed(0)} → ${b.rssMiB.toFixed(0)} MiB), fds ${((b.fds - a.fds) / slots).toFixed(2)}/slot (${a.fds} → ${b.fds})`,
    )
  }
} finally {
  await chain?.close().catch(() => {})
  await devnet.stop()
  await rm(dataDir, { recursive: true, force: true })
}
