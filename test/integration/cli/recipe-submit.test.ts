// `nsn recipe submit` as an author runs it: the real CLI process publishes through a real libp2p
// node on 127.0.0.1, whose recipes validator (author allowlist, bounds, signature) accepts it.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { NodeKey, verifyRecipeSignature } from '../../../src/crypto/index.ts'
import type { GossipMessage } from '../../../src/p2p/index.ts'
import { decodeRecipeAny } from '../../../src/types/index.ts'
import { testKey } from '../../fixtures/index.ts'
import { addrOf, startNode, stopAll, type TestNode, until } from '../p2p/helpers.ts'

const root = new URL('../../../', import.meta.url).pathname
const dir = await mkdtemp(join(tmpdir(), 'nsn-recipe-'))
const started: TestNode[] = []
after(async () => {
  await stopAll(started)
  await rm(dir, { recursive: true, force: true })
})

function nsn(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin/nsn.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('nsn recipe submit', () => {
  it('publishes a signed recipe that a node validates and delivers', async () => {
    const author = await NodeKey.generate()
    const keyFile = join(dir, 'author.key')
    await author.save(keyFile)
    const received: GossipMessage[] = []
    const { node } = await startNode(started, await testKey(1), {
      topics: ['recipes'],
      recipes: { authorisedAuthors: () => new Set([author.publicKeyHex]) },
    })
    node.subscribe('recipes', (m) => received.push(m))
    const r = await nsn([
      'recipe',
      'submit',
      '--key',
      keyFile,
      '--slot',
      '9007199254740993',
      '--prompt',
      'a red kite over the dunes',
      '--bootstrap',
      addrOf(node, 'tcp'),
    ])
    assert.equal(r.code, 0, r.stderr)
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!)
    assert.equal(report.slot, '9007199254740993')
    assert.ok(report.recipients >= 1)
    assert.ok(await until(() => received.length === 1, 10_000), 'the node delivered the recipe')
    const { recipe } = decodeRecipeAny(received[0]!.data)
    assert.equal(recipe.visual_track.prompt, 'a red kite over the dunes')
    assert.equal(recipe.slot_params.slot_number, 9007199254740993n)
    verifyRecipeSignature(recipe, new Set([author.publicKeyHex]))
  })

  it('an author the node does not authorise is refused before delivery (ignored: the author set is a node setting)', async () => {
    const stranger = await NodeKey.generate()
    const keyFile = join(dir, 'stranger.key')
    await stranger.save(keyFile)
    const received: GossipMessage[] = []
    const { node } = await startNode(started, await testKey(2), {
      topics: ['recipes'],
      recipes: { authorisedAuthors: () => new Set(['00'.repeat(32)]) },
    })
    node.subscribe('recipes', (m) => received.push(m))
    await nsn([
      'recipe',
      'submit',
      '--key',
      keyFile,
      '--slot',
      '7',
      '--bootstrap',
      addrOf(node, 'tcp'),
      '--timeout-ms',
      '3000',
    ])
    const counted = await until(() => (node.status().validation.recipes?.ignore ?? 0) >= 1, 10_000)
    assert.ok(counted, `counted as an ignore; seen ${JSON.stringify(node.status().validation.recipes)}`)
    assert.equal(received.length, 0)
    assert.equal(node.status().validation.recipes?.reject ?? 0, 0, 'a local author set never rejects')
  })

  it('usage and invalid recipes get their exit codes', async () => {
    const keyFile = join(dir, 'author.key')
    assert.equal((await nsn(['recipe', 'submit', '--key', keyFile, '--slot', '5'])).code, 2)
    const bad = await nsn(['recipe', 'submit', '--key', keyFile, '--slot', '5', '--fps', '10', '--print'])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /slot_params\.fps/)
  })
})
