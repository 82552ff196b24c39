// `nsn recipe submit`: build a recipe from flags or a JSON file, sign it with an author key, and
// publish it on /nsn/recipes/1.0.0 (or just print it with --print).
import { readFile } from 'node:fs/promises'
import { Command, InvalidArgumentError } from 'commander'
import pino from 'pino'
import { DevChainClient } from '../chain/index.ts'
import { NodeKey, signRecipe } from '../crypto/index.ts'
import { devnetRecipe } from '../node/devnet.ts'
import { P2PNode } from '../p2p/index.ts'
import { encodeRecipe, type Recipe, recipeFromJson, recipeToJson, validateRecipe } from '../types/index.ts'
import { UsageError } from './errors.ts'

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

function u64(v: string): bigint {
  if (!/^[0-9]{1,20}$/.test(v)) throw new InvalidArgumentError('must be a whole number')
  return BigInt(v)
}

function int(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n)) throw new InvalidArgumentError('must be a whole number')
  return n
}

interface SubmitFlags {
  key: string
  file?: string
  slot?: bigint
  chainUrl?: string
  prompt?: string
  script?: string
  duration?: number
  fps?: number
  resolution?: string
  bootstrap: string[]
  print: boolean
  timeoutMs: number
}

/** The slot after the chain's current one (so the recipe arrives before its slot starts). */
async function nextSlot(chainUrl: string): Promise<bigint> {
  const chain = new DevChainClient({ url: chainUrl })
  try {
    const info = await chain.info()
    return info.bestBlock / BigInt(info.blocksPerSlot) + 1n
  } finally {
    await chain.close()
  }
}

/** Publish once a peer of the recipes mesh can take it; gives up after `timeoutMs`. */
async function publishRecipe(
  key: NodeKey,
  bootstrap: string[],
  bytes: Uint8Array,
  timeoutMs: number,
): Promise<number> {
  const node = new P2PNode(
    { key, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, topics: ['recipes'], rateLimit: false },
    { logger: pino({ level: 'silent' }) },
  )
  await node.start()
  try {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try {
        return (await node.publish('recipes', bytes)).recipients
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`no peer took the recipe within ${timeoutMs} ms (${(err as Error).message})`)
        await new Promise((r) => setTimeout(r, 250))
      }
    }
  } finally {
    await node.stop()
  }
}

export function recipeCommand(): Command {
  const recipe = new Command('recipe').description('recipes: build, sign, publish')
  recipe
    .command('submit')
    .description('build a recipe from flags or a JSON file, sign it and publish it on the mesh')
    .requiredOption('--key <file>', 'author key file (an authorised author: see lane0.recipeAuthors)')
    .option('--file <recipe.json>', 'start from this JSON recipe (snake_case; PROTOCOL.md §3)')
    .option('--slot <n>', 'slot number (default: the next slot, from --chain-url)', u64)
    .option('--chain-url <url>', 'dev chain to ask for the current slot')
    .option('--prompt <text>', 'visual_track.prompt')
    .option('--script <text>', 'audio_track.script')
    .option('--duration <sec>', 'slot_params.duration_sec', int)
    .option('--fps <n>', 'slot_params.fps', int)
    .option('--resolution <WxH>', 'slot_params.resolution')
    .option('--bootstrap <multiaddr>', 'a node to publish through, repeatable', collect, [])
    .option('--print', 'print the signed recipe as JSON instead of publishing it', false)
    .option('--timeout-ms <ms>', 'how long to wait for a peer', int, 15_000)
    .addHelpText(
      'after',
      '\nExit codes: 0 published (or printed), 1 the recipe is invalid, 2 bad usage, 3 not published.',
    )
    .action(async (f: SubmitFlags) => {
      const key = await NodeKey.load(f.key)
      let slot = f.slot
      if (slot === undefined && f.file === undefined) {
        if (f.chainUrl === undefined)
          throw new UsageError('nsn recipe submit: give --slot, --chain-url or --file')
        slot = await nextSlot(f.chainUrl)
      }
      let r: Recipe =
        f.file !== undefined ? recipeFromJson(await readFile(f.file, 'utf8')) : devnetRecipe(slot!, f.prompt)
      r = {
        ...r,
        slot_params: {
          ...r.slot_params,
          ...(slot !== undefined ? { slot_number: slot } : {}),
          ...(f.duration !== undefined ? { duration_sec: f.duration } : {}),
          ...(f.fps !== undefined ? { fps: f.fps } : {}),
          ...(f.resolution !== undefined ? { resolution: f.resolution } : {}),
        },
        audio_track: { ...r.audio_track, ...(f.script !== undefined ? { script: f.script } : {}) },
        visual_track: { ...r.visual_track, ...(f.prompt !== undefined ? { prompt: f.prompt } : {}) },
        security: { ...r.security, timestamp: BigInt(Math.floor(Date.now() / 1000)) },
      }
      const signed = signRecipe(r, key)
      validateRecipe(signed, { nowMs: Date.now() })
      if (f.print) {
        process.stdout.write(`${recipeToJson(signed, 2)}\n`)
        return
      }
      if (f.bootstrap.length === 0)
        throw new UsageError('nsn recipe submit: --bootstrap: give at least one node to publish through')
      const recipients = await publishRecipe(key, f.bootstrap, encodeRecipe(signed), f.timeoutMs)
      process.stdout.write(
        `${JSON.stringify({ event: 'published', slot: signed.slot_params.slot_number.toString(), recipe_id: signed.recipe_id, recipients })}\n`,
      )
    })
  return recipe
}
