// `nsn export --slot N --out FILE`: writes a certified slot's video from the node's archive, after
// verifying it again as a viewer does (certificate against the elected set, every chunk, BLAKE3 of
// the whole, the recipe). Uncertified or unverified content is refused, with the reason.
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Command } from 'commander'
import { ArchiveVerifyError, SlotArchive } from '../archive/index.ts'
import { loadConfig } from '../node/config.ts'
import { UsageError } from './errors.ts'

interface ExportFlags {
  slot: string
  out: string
  config?: string
  dataDir?: string
}

export function exportCommand(): Command {
  return new Command('export')
    .description("write a certified slot's verified video from the node's archive")
    .requiredOption('--slot <n>', 'slot number')
    .requiredOption('--out <file>', 'where to write the video (MP4)')
    .option('-c, --config <file>', 'the node’s YAML configuration (for node.dataDir)')
    .option('--data-dir <dir>', 'the node’s data folder (node.dataDir)')
    .addHelpText(
      'after',
      '\nExit codes: 0 written, 1 stored but does not verify, 2 not archived or bad usage.',
    )
    .action(async (flags: ExportFlags) => {
      if (!/^[0-9]{1,19}$/.test(flags.slot))
        throw new UsageError(`--slot: "${flags.slot}" is not a slot number`)
      const slot = BigInt(flags.slot)
      const config = await loadConfig({
        file: flags.config,
        env: process.env,
        set: flags.dataDir === undefined ? [] : [`node.dataDir=${flags.dataDir}`],
      })
      const dir = join(resolve(config.node.dataDir), 'archive')
      const archive = await SlotArchive.open({}, { dir, maxBytes: Number.MAX_SAFE_INTEGER, readOnly: true })
      let stored: Awaited<ReturnType<SlotArchive['read']>>
      try {
        stored = await archive.read(slot)
      } catch (err) {
        if (!(err instanceof ArchiveVerifyError)) throw err
        process.stderr.write(`nsn export: slot ${slot} does not verify, not written: ${err.message}\n`)
        process.exitCode = 1
        return
      }
      if (stored === null) {
        const held = archive.list(null, 5).map((s) => s.slot)
        throw new UsageError(
          `nsn export: slot ${slot} is not in the archive at ${dir} (certified and verified slots only; newest held: ${held.join(', ') || 'none'})`,
        )
      }
      await writeFile(flags.out, stored.video)
      process.stdout.write(
        `${JSON.stringify({ slot: stored.record.slot, contentHash: stored.record.contentHash, bytes: stored.video.length, out: flags.out })}\n`,
      )
    })
}
