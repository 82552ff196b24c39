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
  wait: boolean
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/**
 * What the chain says about a recipe before it is published: a slot that has begun or passed is
 * refused by every director (docs/protocol.md §3), so it is refused here; an author that is not elected
 * for the slot's epoch is accepted only by nodes listing it in lane0.recipeAuthors, which this
 * command cannot see, so that is a warning.
 */
async function checkAgainstChain(chainUrl: string, slot: bigint, key: NodeKey): Promise<void> {
  const chain = new DevChainClient({ url: chainUrl })
  try {
    const info = await chain.info()
    const current = info.bestBlock / BigInt(info.blocksPerSlot)
    if (slot <= current)
      throw new RecipeSubmitError(
        `slot ${slot} has begun or passed (the chain is in slot ${current}): every director drops it; use --slot ${current + 1n} or later`,
      )
    const epoch = slot / BigInt(info.slotsPerEpoch)
    const elected = await chain.electedDirectors(epoch)
    if (elected.length > 0 && !elected.some((d) => equalBytes(d, key.publicKeyProto)))
      process.stderr.write(
        `nsn recipe submit: warning: ${key.peerId} is not an elected director of epoch ${epoch}; directors accept it only if their lane0.recipeAuthors lists ${key.publicKeyHex}\n`,
      )
  } finally {
    await chain.close()
  }
}

/** Wait until the chain records a result for `slot` (a director queued and produced it), or the slot is over. */
async function waitForResult(chainUrl: string, slot: bigint, timeoutMs: number): Promise<boolean> {
  const chain = new DevChainClient({ url: chainUrl })
  try {
    const info = await chain.info()
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs)
      const done = (v: boolean) => {
        clearTimeout(timer)
        off()
        resolve(v)
      }
      const off = chain.subscribe((ev) => {
        if ((ev.type === 'BftResultSubmitted' || ev.type === 'BftResultFinalized') && ev.slot === slot)
          done(true)
        // Two slots after its own, a result would have been submitted (submission follows the slot).
        else if (ev.type === 'NewBlock' && ev.block / BigInt(info.blocksPerSlot) > slot + 2n) done(false)
      })
    })
  } finally {
    await chain.close()
  }
}

/** A recipe that cannot be delivered as asked: exit 3 with the reason. */
export class RecipeSubmitError extends Error {
  override readonly name = 'RecipeSubmitError'
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
    .option('--file <recipe.json>', 'start from this JSON recipe (snake_case; docs/protocol.md §3)')
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
    .option(
      '--wait',
      'after publishing, wait until the chain records a result for the slot (needs --chain-url)',
      false,
    )
    .addHelpText(
      'after',
      '\nWith --chain-url the slot is checked first (a begun or past slot is refused) and the author is\n' +
        'checked against the elected directors. The author key must not be the key of a node you publish\n' +
        'through (a node cannot dial itself): sign with a separate key listed in lane0.recipeAuthors.\n' +
        'Exit codes: 0 published (or printed; with --wait: a director produced the slot), 1 the recipe is\n' +
        'invalid, 2 bad usage, 3 not published or (--wait) no result for the slot.',
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
      const own = f.bootstrap.find((b) => b.endsWith(`/p2p/${key.peerId}`))
      if (own !== undefined)
        throw new UsageError(
          `nsn recipe submit: --key is the node key of ${own}: a node cannot dial itself, so the recipe would reach no peer; sign with a separate author key (nsn keygen --out author.key) listed in lane0.recipeAuthors, or publish through another node`,
        )
      if (f.wait && f.chainUrl === undefined)
        throw new UsageError('nsn recipe submit: --wait needs --chain-url')
      if (f.chainUrl !== undefined) await checkAgainstChain(f.chainUrl, signed.slot_params.slot_number, key)
      const recipients = await publishRecipe(key, f.bootstrap, encodeRecipe(signed), f.timeoutMs)
      process.stdout.write(
        `${JSON.stringify({ event: 'published', slot: signed.slot_params.slot_number.toString(), recipe_id: signed.recipe_id, recipients })}\n`,
      )
      if (f.wait) {
        const slot = signed.slot_params.slot_number
        if (!(await waitForResult(f.chainUrl!, slot, 10 * 60_000)))
          throw new RecipeSubmitError(
            `no director produced slot ${slot}: it was not queued (refused: see the directors' logs and nsn_lane0_recipes_total) or its slot failed (nsn status)`,
          )
        process.stdout.write(`${JSON.stringify({ event: 'result', slot: slot.toString() })}\n`)
      }
    })
  return recipe
}
