// `nsn devnet`: run the local network (the main job; `npm start`) with a live view of each slot.
import { Command, InvalidArgumentError } from 'commander'
import { Devnet, type DevnetOptions, type DevnetView } from '../node/devnet.ts'
import { runUntilSignal } from './node.ts'

function wholeNumber(min: number): (v: string) => number {
  return (v) => {
    const n = Number(v)
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`must be a whole number >= ${min}`)
    return n
  }
}

/** One line per recent slot: each director's stage, and whether the chain finalised it. */
export function renderView(v: DevnetView): string {
  const slots = new Set<string>()
  for (const d of v.directors) for (const s of d.slots.keys()) slots.add(s)
  const recent = [...slots].sort((a, b) => Number(BigInt(a) - BigInt(b))).slice(-6)
  const lines = [
    `chain ${v.chainUrl}  block ${v.block}  slot ${v.slot ?? '-'}  final since start ${v.finalized.length}`,
    `viewer ${v.viewerUrl}`,
    `directors (state: Standby, OnDeck{epoch}, Active{epoch, slot}, Draining{epoch}):`,
    `  ${v.directors.map((d) => `${d.name}=${d.state}`).join('  ')}`,
    '',
    `${'slot'.padEnd(10)} ${v.directors.map((d) => d.name.padEnd(18)).join(' ')}`,
  ]
  for (const s of recent) {
    const stages = v.directors.map((d) => (d.slots.get(s) ?? '-').padEnd(18))
    const final = v.finalized.some((f) => f.toString() === s) ? 'FINAL' : ''
    lines.push(`${s.padEnd(10)} ${stages.join(' ')} ${final}`)
  }
  lines.push('', ...v.log.map((l) => `  ${l}`))
  return lines.join('\n')
}

export function devnetCommand(): Command {
  return new Command('devnet')
    .description('run a local network: dev chain, directors with sidecars, recipe author, viewer')
    .option('--data-dir <dir>', 'everything the devnet writes (keys, chain, journals, logs)', '.nsn-devnet')
    .option('--reset', 'start from an empty data folder', false)
    .option('--slots <n>', 'stop after this many slots are final on chain (>= 1)', wholeNumber(1))
    .option('--prompt <text>', 'use this prompt for every slot (default: a built-in list)')
    .option('--directors <n>', 'director nodes (>= 1)', wholeNumber(1), 5)
    .option('--viewer-port <port>', 'port of the viewer page (0: any)', wholeNumber(0), 8080)
    .addHelpText('after', '\nLogs of every process: <data-dir>/logs/. Ctrl-C stops every process.')
    .action(
      async (
        opts: Pick<DevnetOptions, 'dataDir' | 'reset' | 'slots' | 'prompt' | 'directors' | 'viewerPort'>,
      ) => {
        const tty = process.stdout.isTTY === true
        let last = ''
        const devnet = new Devnet({
          ...opts,
          // A terminal gets a redrawn screen; a pipe gets the progress lines as they happen.
          onUpdate: (v) => {
            if (!tty) return
            const text = renderView(v)
            if (text === last) return
            last = text
            process.stdout.write(`\x1b[H\x1b[2J${text}\n`)
          },
          onLog: (line) => {
            if (!tty) process.stdout.write(`${line}\n`)
          },
          onStage: (line) => {
            if (!tty) process.stdout.write(`${line}\n`)
          },
        })
        try {
          await devnet.start()
          process.stdout.write(`devnet running: viewer ${devnet.view.viewerUrl}\n`)
          if (opts.slots !== undefined) {
            const finishedOrSignal = new Promise<void>((resolve) => {
              void devnet.finished.then(resolve)
              void runUntilSignal(async () => resolve())
            })
            await finishedOrSignal
          } else {
            await runUntilSignal(async () => {})
          }
        } finally {
          await devnet.stop()
          process.stdout.write(
            `devnet stopped; ${devnet.view.finalized.length} slot(s) final: ${devnet.view.finalized.join(', ')}\n`,
          )
        }
      },
    )
}
