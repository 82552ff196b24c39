// `nsn register`: register (or update) a node key on the dev chain as a director, validator or relay
// with a region and a stake — the signed chain_register call, so nobody writes JSON-RPC by hand.
// Idempotent: a registration the chain already holds is not sent again.
import { Command, InvalidArgumentError, Option } from 'commander'
import { CHAIN_PARAM_DEFAULTS, DevChainClient, REGIONS } from '../chain/index.ts'
import { NodeKey } from '../crypto/index.ts'
import { bytesToHex } from '../types/index.ts'

function amount(v: string): bigint {
  if (!/^[0-9]{1,39}$/.test(v)) throw new InvalidArgumentError('must be a whole number of base units')
  return BigInt(v)
}

interface RegisterFlags {
  key: string
  chainUrl: string
  role: 'director' | 'validator' | 'relay'
  region: string
  stake?: bigint
}

export function registerCommand(): Command {
  return new Command('register')
    .description("register a node's key on the dev chain (role, region, stake) so that it can be elected")
    .requiredOption('--key <file>', 'the node key file (nsn keygen; the node.keyFile the node runs with)')
    .option('--chain-url <url>', 'dev chain WebSocket endpoint', 'ws://127.0.0.1:9955')
    .addOption(
      new Option('--role <role>', 'role on chain')
        .choices(['director', 'validator', 'relay'])
        .default('director'),
    )
    .addOption(new Option('--region <region>', 'region').choices([...REGIONS]).default(REGIONS[0]))
    .option('--stake <units>', 'stake in base units (default: the chain minimum for the role)', amount)
    .addHelpText(
      'after',
      '\nPrints one JSON line {"event":"registered",…}. A director is elected from the next On-Deck\n' +
        'election on (docs/chain.md). Exit codes: 0 registered, 2 bad usage, 3 the chain refused or is unreachable.',
    )
    .action(async (f: RegisterFlags) => {
      const key = await NodeKey.load(f.key)
      const stake = f.stake ?? CHAIN_PARAM_DEFAULTS.minStake[f.role]
      const chain = new DevChainClient({ url: f.chainUrl })
      try {
        try {
          await chain.info()
        } catch (err) {
          throw new Error(`--chain-url ${f.chainUrl}: no dev chain answers (${(err as Error).message})`)
        }
        await chain.register({ publicKey: key.publicKeyProto, role: f.role, region: f.region, stake }, key)
        const acc = await chain.getAccount({ peer: key.publicKeyProto })
        process.stdout.write(
          `${JSON.stringify({
            event: 'registered',
            peerId: key.peerId.toString(),
            publicKey: `0x${bytesToHex(key.publicKeyProto)}`,
            role: acc?.role ?? f.role,
            region: acc?.region ?? f.region,
            stake: (acc?.stake ?? stake).toString(),
          })}\n`,
        )
      } finally {
        await chain.close()
      }
    })
}
