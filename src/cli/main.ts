// The `nsn` command line. Commands parse flags and call into the library; no business rules here.
import { Command, CommanderError, InvalidArgumentError } from 'commander'
import { initBlake3, KeyError, NodeKey } from '../crypto/index.ts'
import { ConfigError } from '../node/config.ts'
import { DataDirLockedError } from '../node/lock.ts'
import { NodeStartError } from '../node/node.ts'
import { PACKAGE_VERSION } from '../node/package-info.ts'
import { watchParent } from '../node/processes.ts'
import { bytesToHex, DecodeError, RecipeError, type RecipeFormat } from '../types/index.ts'
import { devchainCommand } from './devchain.ts'
import { devnetCommand } from './devnet.ts'
import { doctorCommand } from './doctor.ts'
import { UsageError } from './errors.ts'
import { exportCommand } from './export.ts'
import { EXIT, inspectRecipe, inspectVideoChunk, readInput, renderReport } from './inspect.ts'
import { nodeCommand, statusCommand } from './node.ts'
import { recipeCommand } from './recipe.ts'
import { registerCommand } from './register.ts'
import { sidecarCommand } from './sidecar.ts'

/** Exit codes shared by every command (documented in the README). */
export const EXIT_CODES = { ok: 0, invalid: 1, usage: 2, failure: 3 } as const

function parseFormat(v: string): RecipeFormat {
  if (v === 'scale' || v === 'json' || v === 'cbor') return v
  throw new InvalidArgumentError('must be scale, json or cbor')
}

export function buildProgram(): Command {
  const program = new Command('nsn')
    .description('NSN Lane 0 director node')
    .version(PACKAGE_VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })

  program
    .command('keygen')
    .description('create an Ed25519 node key (libp2p protobuf, mode 0600) and print its PeerId')
    .option('--out <file>', 'where to write the key', 'node.key')
    .option('--force', 'overwrite an existing key file', false)
    .addHelpText(
      'after',
      '\nPrints the PeerId, then the public key (libp2p protobuf, 0x08011220…) that `nsn register`\n' +
        'and a dev chain genesis file take, then the raw Ed25519 key (lane0.recipeAuthors).',
    )
    .action(async (opts: { out: string; force: boolean }) => {
      const key = await NodeKey.generate()
      try {
        await key.save(opts.out, { overwrite: opts.force })
      } catch (err) {
        if (err instanceof KeyError && err.code === 'EXISTS')
          throw new KeyError(
            'EXISTS',
            opts.out,
            `${opts.out}: a key file already exists; --force overwrites it`,
          )
        throw err
      }
      process.stdout.write(
        `${key.peerId.toString()}\npublicKey 0x${bytesToHex(key.publicKeyProto)}\nauthorKey ${key.publicKeyHex}\n`,
      )
    })

  program
    .command('inspect')
    .description('decode a wire message, print it as JSON and say whether it is valid')
    .argument('<type>', 'recipe | video-chunk')
    .argument('<file>', 'a file, or - for standard input')
    .option('--format <format>', 'recipe encoding: scale | json | cbor (default: detected)', parseFormat)
    .option('--serde', "print a recipe as Rust's serde_json emits it (bytes as number arrays, u64 bare)")
    .addHelpText('after', '\nExit codes: 0 valid, 1 decodes but invalid, 2 unusable input.')
    .action(async (type: string, file: string, opts: { format?: RecipeFormat; serde?: boolean }) => {
      let input: Uint8Array
      try {
        input = await readInput(file)
      } catch (err) {
        process.stderr.write(`nsn inspect: cannot read ${file}: ${(err as Error).message}\n`)
        process.exitCode = EXIT.unusable
        return
      }
      let result: ReturnType<typeof inspectRecipe>
      if (type === 'recipe') result = inspectRecipe(input, opts.format, Date.now(), { serde: opts.serde })
      else if (type === 'video-chunk') result = inspectVideoChunk(input)
      else {
        process.stderr.write(`nsn inspect: unknown type "${type}" (expected recipe or video-chunk)\n`)
        process.exitCode = EXIT.unusable
        return
      }
      process.stdout.write(renderReport(result))
      process.exitCode = result.exitCode
    })

  program.addCommand(devchainCommand())
  program.addCommand(sidecarCommand())

  program.addCommand(nodeCommand())
  program.addCommand(statusCommand())
  program.addCommand(devnetCommand())
  program.addCommand(recipeCommand())
  program.addCommand(registerCommand())
  program.addCommand(doctorCommand())
  program.addCommand(exportCommand())
  // Commands added with addCommand do not inherit these; every command must throw, not exit.
  const override = (cmd: Command) => {
    for (const c of cmd.commands) {
      c.exitOverride()
      c.configureOutput({ writeErr: (s) => process.stderr.write(s) })
      override(c)
    }
  }
  override(program)
  return program
}

/** Errors that are the user's input or environment, not a bug: one line each, with its exit code. */
const KNOWN_ERRORS: [new (...args: never[]) => Error, string, number][] = [
  [UsageError, '', EXIT_CODES.usage],
  [RecipeError, 'nsn: invalid recipe: ', EXIT_CODES.invalid],
  [DecodeError, 'nsn: unusable input: ', EXIT_CODES.usage],
  [ConfigError, 'nsn: configuration: ', EXIT_CODES.usage],
  [NodeStartError, 'nsn: cannot start: ', EXIT_CODES.failure],
  [KeyError, 'nsn: ', EXIT_CODES.failure],
  [DataDirLockedError, 'nsn: ', EXIT_CODES.failure],
]

/** Run the CLI; every error ends as one clear line on stderr and an exit code, never a stack trace. */
export async function main(argv: string[]): Promise<void> {
  await initBlake3()
  watchParent()
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_CODES.usage
      return
    }
    for (const [cls, prefix, code] of KNOWN_ERRORS) {
      if (err instanceof cls) {
        process.stderr.write(`${prefix}${err.message}\n`)
        process.exitCode = code
        return
      }
    }
    process.stderr.write(`nsn: ${(err as Error).message ?? String(err)}\n`)
    if (process.env.NSN_DEBUG) process.stderr.write(`${(err as Error).stack}\n`)
    process.exitCode = EXIT_CODES.failure
  }
}
