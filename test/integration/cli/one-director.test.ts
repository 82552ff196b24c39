// The README's "One director on your own dev chain", command for command (free ports instead of
// the defaults): a dev chain with quorum 1, two keys, `nsn register`, a director, a viewer, and
// `nsn recipe submit --wait`, which exits 0 once the chain records the director's result. Then, on
// the same director, recipes it refuses: each logged with its code, one line per code per window.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { pino } from 'pino'
import { NodeKey, signRecipe } from '../../../src/crypto/index.ts'
import { devnetRecipe } from '../../../src/node/devnet.ts'
import { type DevChainReady, type NodeReady, type NsnProcess, startNsn } from '../../../src/node/processes.ts'
import { P2PNode } from '../../../src/p2p/index.ts'
import { encodeRecipe } from '../../../src/types/index.ts'
import { fetchStatus, waitFor } from '../../helpers/network.ts'
import { runNsn } from './_nsn.ts'

const dir = await mkdtemp(join(tmpdir(), 'nsn-one-director-'))
const procs: NsnProcess<{ event: string }>[] = []
/** What the first test leaves running for the second. */
const shared: { boot?: string; http?: string; author?: string; log?: string; chainUrl?: string } = {}
let flooder: P2PNode | null = null
after(async () => {
  await flooder?.stop()
  for (const p of procs.reverse()) await p.stop()
  await rm(dir, { recursive: true, force: true })
})

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

test('one director on its own dev chain: register, run, submit a recipe, get a result on chain', async () => {
  const director = join(dir, 'director.key')
  const author = join(dir, 'author.key')
  const d = await runNsn(['keygen', '--out', director])
  const a = await runNsn(['keygen', '--out', author])
  const peerId = d.stdout.split('\n')[0]!
  const authorKey = a.stdout.split('\n')[2]!.replace(/^authorKey /, '')
  const publicKey = d.stdout.split('\n')[1]!.replace(/^publicKey /, '')
  const chain = await startNsn<DevChainReady>(
    'devchain',
    // biome-ignore format: the README's command line
    ['devchain', '--data-dir', join(dir, 'chain'), '--listen', '127.0.0.1:0', '--directors', '1', '--quorum', '1', '--block-ms', '500', '--blocks-per-slot', '24', '--epoch-blocks', '48', '--lookahead-blocks', '10', '--challenge-blocks', '6', '--log-level', 'warn', '--allow-register', publicKey],
    { logFile: join(dir, 'devchain.log') },
  )
  procs.push(chain)
  const url = chain.ready.url
  const reg = await runNsn(['register', '--key', director, '--chain-url', url])
  assert.equal(reg.code, 0, reg.stderr)
  const p2p = await freePort()
  const node = await startNsn<NodeReady>(
    'director',
    // biome-ignore format: the README's command line
    ['node', '--profile', 'devnet', '--data-dir', join(dir, 'director'), '--set', `node.keyFile=${director}`, '--chain-url', url, '--http-port', '0', '--listen', `/ip4/127.0.0.1/tcp/${p2p}`, '--set', `lane0.recipeAuthors=${authorKey}`],
    { logFile: join(dir, 'director.log') },
  )
  procs.push(node)
  assert.equal(node.ready.peerId, peerId)
  const boot = `/ip4/127.0.0.1/tcp/${p2p}/p2p/${peerId}`
  const viewer = await startNsn<NodeReady>(
    'viewer',
    // biome-ignore format: the README's command line
    ['node', '--profile', 'devnet', '--role', 'viewer', '--data-dir', join(dir, 'viewer'), '--chain-url', url, '--http-port', '0', '--bootstrap', boot],
    { logFile: join(dir, 'viewer.log') },
  )
  procs.push(viewer)
  Object.assign(shared, {
    boot,
    http: node.ready.http,
    author,
    log: join(dir, 'director.log'),
    chainUrl: url,
  })
  // A key registered now is elected at the next On-Deck election: a recipe for a slot of the
  // epoch before it has no director. Submit once the director is OnDeck or Active (README step).
  await waitFor(
    'the registered director OnDeck or Active',
    async () => /^(OnDeck|Active)/.test((await fetchStatus(node.ready.http)).director?.stateText ?? ''),
    { timeoutMs: 120_000 },
  )
  const submit = await runNsn(
    // biome-ignore format: the README's command line
    ['recipe', 'submit', '--key', author, '--chain-url', url, '--bootstrap', boot, '--prompt', 'a lighthouse at dusk', '--wait'],
    { timeoutMs: 300_000 },
  )
  assert.equal(submit.code, 0, submit.stderr + submit.stdout)
  const lines = submit.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; slot: string })
  assert.deepEqual(
    lines.map((l) => l.event),
    ['published', 'result'],
  )
  assert.equal(lines[0]!.slot, lines[1]!.slot)
})

interface RefusalLine {
  time: number
  code: string
  suppressed: number
  msg: string
}

async function refusals(log: string): Promise<RefusalLine[]> {
  const text = await readFile(log, 'utf8').catch(() => '')
  const out: RefusalLine[] = []
  for (const l of text.split('\n')) {
    if (!l.includes('refused (')) continue
    try {
      const j = JSON.parse(l) as RefusalLine & { topic?: string }
      if (j.topic === 'recipes') out.push(j)
    } catch {
      // a partly written last line
    }
  }
  return out
}

test('recipes the director refuses are logged with their code, at most one line per code per window', async () => {
  assert.ok(shared.log !== undefined, 'the first test started the director')
  const log = shared.log
  const stranger = join(dir, 'stranger.key')
  assert.equal((await runNsn(['keygen', '--out', stranger])).code, 0)
  const slot = BigInt((await fetchStatus(shared.http!)).chain.slot ?? '0')
  // `--wait` says when no director produced the slot (exit 3); it waits for that slot to pass, so it
  // runs alongside the rest, with a key of its own (two publishers with one PeerId collide).
  const stranger2 = join(dir, 'stranger2.key')
  assert.equal((await runNsn(['keygen', '--out', stranger2])).code, 0)
  const waited = runNsn(
    // biome-ignore format: one command line
    ['recipe', 'submit', '--key', stranger2, '--chain-url', shared.chainUrl!, '--bootstrap', shared.boot!, '--slot', String(slot + 2n), '--prompt', 'not queued', '--wait'],
    { timeoutMs: 180_000 },
  )

  // An author the director does not authorise, for the next slot.
  const u = await runNsn([
    'recipe',
    'submit',
    '--key',
    stranger,
    '--bootstrap',
    shared.boot!,
    '--slot',
    String(slot + 10n),
  ])
  assert.equal(u.code, 0, u.stderr)
  const first = await waitFor(
    'an UNAUTHORISED_AUTHOR line',
    async () => (await refusals(log)).find((r) => r.code === 'UNAUTHORISED_AUTHOR'),
    { timeoutMs: 20_000, seen: async () => JSON.stringify(await refusals(log)) },
  )
  assert.match(first.msg, /^recipe refused \(UNAUTHORISED_AUTHOR\): /)
  assert.equal(first.suppressed, 0)

  // The authorised author, for a slot that has passed.
  const past = await runNsn([
    'recipe',
    'submit',
    '--key',
    shared.author!,
    '--bootstrap',
    shared.boot!,
    '--slot',
    '0',
  ])
  assert.equal(past.code, 0, past.stderr)
  const stale = await waitFor(
    'a STALE line',
    async () => (await refusals(log)).find((r) => r.code === 'STALE'),
    { timeoutMs: 20_000, seen: async () => JSON.stringify(await refusals(log)) },
  )
  assert.match(stale.msg, /^recipe refused \(STALE\): slot_params\.slot_number/)

  // A flood from the stranger (within its rate budget): no further line inside the window, then
  // one line that counts what it left out.
  const key = await NodeKey.load(stranger)
  flooder = new P2PNode(
    {
      key,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [shared.boot!],
      topics: ['recipes'],
      rateLimit: false,
    },
    { logger: pino({ level: 'silent' }) },
  )
  await flooder.start()
  const send = async (n: number) => {
    const r = devnetRecipe(slot + 10n)
    r.recipe_id = `flood-${n}`
    await flooder!.publish('recipes', encodeRecipe(signRecipe(r, key)))
    return true
  }
  await waitFor('the flooder connected and subscribed', () => send(0).catch(() => false), {
    timeoutMs: 20_000,
  })
  // Fewer than the explanations per window (REFUSAL_LOG_DEFAULTS), so each is attributed its code.
  const FLOOD = 10
  for (let n = 1; n <= FLOOD; n++) await send(n)
  let n = FLOOD
  const second = await waitFor(
    'a second UNAUTHORISED_AUTHOR line once the window has passed',
    async () => {
      const lines = (await refusals(log)).filter((r) => r.code === 'UNAUTHORISED_AUTHOR')
      if (lines.length >= 2) return lines
      await send(++n) // one more every probe: the one after the window is logged
      return null
    },
    { timeoutMs: 40_000, intervalMs: 1000, seen: async () => JSON.stringify(await refusals(log)) },
  )
  assert.equal(second.length, 2, JSON.stringify(second))
  assert.ok(
    second[1]!.time - second[0]!.time >= 10_000,
    `lines ${second[1]!.time - second[0]!.time} ms apart`,
  )
  assert.ok(second[1]!.suppressed >= FLOOD, `suppressed ${second[1]!.suppressed}, flood ${FLOOD}`)
  assert.match(second[1]!.msg, /\[\d+ more UNAUTHORISED_AUTHOR since the last line\]$/)
  const ignored = (await fetchStatus(shared.http!)).p2p.validation.recipes?.ignore ?? 0
  assert.ok(ignored >= FLOOD, `the director counted the flood as ignored: ${ignored}`)
  const w = await waited
  assert.equal(w.code, 3, w.stderr + w.stdout)
  assert.equal(JSON.parse(w.stdout.trim().split('\n')[0]!).event, 'published')
  assert.match(
    w.stderr.trim().split('\n').at(-1)!,
    new RegExp(
      `^nsn: no director produced slot ${slot + 2n}: it was not queued \\(refused: see the directors' logs`,
    ),
  )
})
