// `nsn devchain`: run the local dev chain in this process until SIGINT/SIGTERM. Prints one JSON
// line on stdout once listening ({"event":"listening","url","port","genesisHash","bestBlock"}) so
// that scripts and tests can read the bound port; logs go to stderr.
import { readFile } from 'node:fs/promises'
import { Command, InvalidArgumentError } from 'commander'
import { Registry } from 'prom-client'
import {
  CHAIN_PARAM_DEFAULTS,
  type ChainParams,
  createDevChainMetrics,
  DEVCHAIN_DEFAULTS,
  DevChainError,
  DevChainServer,
  genesisAccountsFromJson,
  hex,
  parseListen,
} from '../chain/index.ts'
import { createLogger, type LogFormat } from '../node/logging.ts'
import { logFormatOption } from './log-options.ts'

function int(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v)
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`)
    return n
  }
}

interface DevchainFlags {
  dataDir: string
  listen: string
  blockMs: number
  reset: boolean
  allowRemote: boolean
  seed?: string
  epochBlocks?: number
  lookaheadBlocks?: number
  challengeBlocks?: number
  blocksPerSlot?: number
  directors?: number
  quorum?: number
  cooldownEpochs?: number
  genesis?: string
  snapshotEvery: number
  logLevel: string
  logFormat: LogFormat
  allowRegister: string[]
  allowOrigin: string[]
}

const collect = (v: string, all: string[]) => [...all, v]

export function devchainCommand(): Command {
  const d = CHAIN_PARAM_DEFAULTS
  return (
    new Command('devchain')
      .description('run the local dev chain (WebSocket JSON-RPC on loopback; see docs/chain.md)')
      // addCommand() does not inherit the root's settings: throw instead of exiting, like the others.
      .exitOverride()
      .option('--data-dir <dir>', 'folder for chain.json, snapshot.json and the WAL', './devchain-data')
      .option(
        '--listen <host:port>',
        'address to serve on (port 0: any free port)',
        `${DEVCHAIN_DEFAULTS.host}:${DEVCHAIN_DEFAULTS.port}`,
      )
      .option('--block-ms <n>', 'block interval in ms', int('--block-ms', 1), DEVCHAIN_DEFAULTS.blockMs)
      .option('--reset', 'delete this chain in --data-dir and start a new one', false)
      .option('--allow-remote', 'accept clients from non-loopback addresses', false)
      .option('--seed <text>', `genesis seed (new chains; default "${d.seed}")`)
      .option(
        '--epoch-blocks <n>',
        `blocks per epoch (new chains; default ${d.epochLengthBlocks})`,
        int('--epoch-blocks', 2),
      )
      .option(
        '--lookahead-blocks <n>',
        `On-Deck lead in blocks (default ${d.lookaheadBlocks})`,
        int('--lookahead-blocks', 1),
      )
      .option(
        '--challenge-blocks <n>',
        `challenge period in blocks (default ${d.challengePeriodBlocks})`,
        int('--challenge-blocks', 1),
      )
      .option(
        '--blocks-per-slot <n>',
        `blocks per slot (default ${d.blocksPerSlot})`,
        int('--blocks-per-slot', 1),
      )
      .option(
        '--directors <n>',
        `directors per epoch (default ${d.directorsPerEpoch})`,
        int('--directors', 1),
      )
      .option('--quorum <n>', `certificate quorum (default ${d.quorum})`, int('--quorum', 1))
      .option(
        '--cooldown-epochs <n>',
        `cooldown in epochs (default ${d.cooldownEpochs})`,
        int('--cooldown-epochs', 0),
      )
      .option(
        '--genesis <file>',
        'JSON {"accounts":[{peer, account?, role, region, stake, reputation?}]} registered at block 0',
      )
      .option(
        '--snapshot-every <n>',
        'blocks between snapshots',
        int('--snapshot-every', 1),
        DEVCHAIN_DEFAULTS.snapshotEveryBlocks,
      )
      .option('--log-level <level>', 'pino level (logs go to stderr)', 'info')
      .option(
        '--allow-register <hexkey>',
        'admit this account or peer key to chain_register (repeatable)',
        collect,
        [],
      )
      .option(
        '--allow-origin <origin>',
        'allow WebSocket handshakes from this browser origin (repeatable)',
        collect,
        [],
      )
      .addOption(logFormatOption())
      .addHelpText(
        'after',
        '\nExit codes: 0 stopped cleanly, 2 bad usage, 3 failed (busy port, locked or damaged data folder).',
      )
      .action(async (f: DevchainFlags) => {
        const logger = createLogger(f.logLevel, f.logFormat)
        const { host, port } = parseListen(f.listen)
        let genesisAccounts: ChainParams['genesisAccounts'] | undefined
        if (f.genesis !== undefined) {
          let doc: { accounts?: unknown }
          try {
            doc = JSON.parse(await readFile(f.genesis, 'utf8'))
          } catch (err) {
            throw new DevChainError(
              'INVALID_CONFIG',
              `--genesis ${f.genesis}: ${(err as Error).message}`,
              'genesis',
            )
          }
          genesisAccounts = genesisAccountsFromJson(doc.accounts, 'accounts')
        }
        const register = new Registry()
        const server = await DevChainServer.start(
          {
            dataDir: f.dataDir,
            host,
            port,
            blockMs: f.blockMs,
            reset: f.reset,
            allowRemote: f.allowRemote,
            snapshotEveryBlocks: f.snapshotEvery,
            registrationAllowlist: f.allowRegister.map((k) => k.toLowerCase().replace(/^0x/, '')),
            allowedOrigins: f.allowOrigin,
            // Only what was given on the command line: an existing chain keeps its stored genesis.
            params: {
              seed: f.seed,
              epochLengthBlocks: f.epochBlocks,
              lookaheadBlocks: f.lookaheadBlocks,
              challengePeriodBlocks: f.challengeBlocks,
              blocksPerSlot: f.blocksPerSlot,
              directorsPerEpoch: f.directors,
              quorum: f.quorum,
              cooldownEpochs: f.cooldownEpochs,
              genesisAccounts,
            },
          },
          { logger, metrics: createDevChainMetrics(register), register },
        ).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'EADDRINUSE')
            throw new Error(
              `--listen ${f.listen}: address already in use; choose another port (port 0: any free port)`,
            )
          if (err.code === 'EADDRNOTAVAIL') throw new Error(`--listen ${f.listen}: no such local address`)
          throw err
        })
        process.stdout.write(
          `${JSON.stringify({
            event: 'listening',
            url: server.url,
            port: server.port,
            genesisHash: hex(server.genesisHash),
            bestBlock: server.bestBlock.toString(),
          })}\n`,
        )
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            logger.info({ signal }, 'stopping dev chain')
            server.stop().then(resolve, (err) => {
              logger.error({ err }, 'dev chain did not stop cleanly')
              process.exitCode = 3
              resolve()
            })
          }
          server.onFatal(() => {
            process.exitCode = 3
            stop('storage failure')
          })
          process.once('SIGINT', () => stop('SIGINT'))
          process.once('SIGTERM', () => stop('SIGTERM'))
        })
      })
  )
}
