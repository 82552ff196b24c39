// The README's "One director on your own dev chain", command for command (free ports instead of
// the defaults): a dev chain with quorum 1, two keys, `nsn register`, a director, a viewer, and
// `nsn recipe submit --wait`, which exits 0 once the chain records the director's result.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { type DevChainReady, type NodeReady, type NsnProcess, startNsn } from '../../../src/node/processes.ts'
import { fetchStatus, waitFor } from '../../helpers/network.ts'
import { runNsn } from './_nsn.ts'

const dir = await mkdtemp(join(tmpdir(), 'nsn-one-director-'))
const procs: NsnProcess<{ event: string }>[] = []
after(async () => {
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
