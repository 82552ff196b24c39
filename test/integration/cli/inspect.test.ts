// `nsn keygen` and `nsn inspect` as a user runs them: the real CLI process, files and stdin.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { buildVideoChunks } from '../../../src/p2p/index.ts'
import { encodeRecipe, encodeVideoChunk, recipeToCbor, recipeToJson } from '../../../src/types/index.ts'
import { signedSampleRecipe, testKey } from '../../fixtures/index.ts'

const root = new URL('../../../', import.meta.url).pathname
const dir = await mkdtemp(join(tmpdir(), 'nsn-cli-'))
after(() => rm(dir, { recursive: true, force: true }))

function nsn(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, [join(root, 'bin/nsn.js'), ...args], {
    input,
    encoding: 'utf8',
    timeout: 30_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('nsn keygen', () => {
  it('writes a 0600 key, prints its PeerId, and refuses to overwrite', async () => {
    const out = join(dir, 'node.key')
    const r = nsn(['keygen', '--out', out])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.split('\n')[0]!, /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/)
    assert.equal((await stat(out)).mode & 0o777, 0o600)
    const again = nsn(['keygen', '--out', out])
    assert.equal(again.code, 3)
    assert.match(again.stderr, /already exists/)
    assert.doesNotMatch(again.stderr, /at .*\.ts:\d+/, 'no stack trace')
  })
})

describe('nsn inspect', async () => {
  const recipe = await signedSampleRecipe({ recipe_id: 'cli' })
  // timestamp far in the past is fine; validation only refuses the future
  const files = {
    scale: join(dir, 'r.scale'),
    json: join(dir, 'r.json'),
    cbor: join(dir, 'r.cbor'),
    tampered: join(dir, 'r-bad.json'),
    garbage: join(dir, 'garbage.bin'),
    chunk: join(dir, 'c.bin'),
    badChunk: join(dir, 'c-bad.bin'),
  }
  await writeFile(files.scale, encodeRecipe(recipe))
  await writeFile(files.json, recipeToJson(recipe, 2))
  await writeFile(files.cbor, recipeToCbor(recipe))
  await writeFile(files.tampered, recipeToJson({ ...recipe, recipe_id: 'changed' }))
  await writeFile(files.garbage, new Uint8Array([0xff, 0x01, 0x02]))
  const chunk = buildVideoChunks(
    'ab'.repeat(32),
    2n ** 60n,
    new Uint8Array(5000).fill(7),
    await testKey(0),
  )[0]!
  await writeFile(files.chunk, encodeVideoChunk(chunk))
  const bad = encodeVideoChunk(chunk)
  bad[bad.length - 200] = bad[bad.length - 200]! ^ 0xff // inside the payload
  await writeFile(files.badChunk, bad)

  for (const fmt of ['scale', 'json', 'cbor'] as const) {
    it(`a signed recipe in ${fmt} is valid (exit 0), u64 printed as a decimal string`, () => {
      const r = nsn(['inspect', 'recipe', files[fmt]])
      assert.equal(r.code, 0, r.stderr)
      const report = JSON.parse(r.stdout)
      assert.equal(report.format, fmt)
      assert.equal(report.verdict, 'valid')
      assert.equal(report.message.slot_params.slot_number, '42')
      assert.equal(report.message.recipe_id, 'cli')
    })
  }

  it('--serde prints the recipe as serde_json does: bytes as number arrays, u64 bare and exact', async () => {
    const big = await signedSampleRecipe({
      slot_params: { slot_number: 2n ** 63n + 5n, duration_sec: 10, resolution: '320x240', fps: 24 },
    })
    const file = join(dir, 'r-big.json')
    await writeFile(file, recipeToJson(big))
    const r = nsn(['inspect', 'recipe', file, '--serde'])
    assert.match(r.stdout, new RegExp(`"slot_number": ${2n ** 63n + 5n},`), 'every digit, no quotes')
    const sig = r.stdout.match(/"ed25519_signature": \[([\s\d,]*)\]/)
    assert.ok(sig, r.stdout)
    assert.deepEqual(
      sig[1]!.split(',').map((x) => Number(x.trim())),
      Array.from(big.security.ed25519_signature),
    )
    // What --serde printed is itself accepted as input.
    const message = r.stdout.slice(r.stdout.indexOf('"message": ') + 11, r.stdout.lastIndexOf('"verdict"'))
    await writeFile(file, message.trim().replace(/,$/, ''))
    const back = nsn(['inspect', 'recipe', file])
    assert.equal(back.code, 0, back.stdout)
    assert.equal(JSON.parse(back.stdout).message.slot_params.slot_number, (2n ** 63n + 5n).toString())
  })

  it('a tampered recipe is invalid (exit 1) with the reason', () => {
    const r = nsn(['inspect', 'recipe', files.tampered])
    assert.equal(r.code, 1)
    assert.equal(JSON.parse(r.stdout).reason.code, 'BAD_SIGNATURE')
  })

  it('garbage is unusable input (exit 2) naming the field', () => {
    const r = nsn(['inspect', 'recipe', files.garbage])
    assert.equal(r.code, 2)
    const report = JSON.parse(r.stdout)
    assert.ok(report.error.code && report.error.field !== undefined)
  })

  it('reads standard input with -', async () => {
    const r = nsn(['inspect', 'recipe', '-', '--format', 'scale'], encodeRecipe(recipe))
    assert.equal(r.code, 0, r.stderr)
  })

  it('a video chunk: valid, then one flipped payload byte → invalid BAD_HASH', () => {
    const ok = nsn(['inspect', 'video-chunk', files.chunk])
    assert.equal(ok.code, 0, ok.stderr)
    const report = JSON.parse(ok.stdout)
    assert.equal(report.verdict, 'valid')
    assert.equal(report.message.header.slot, (2n ** 60n).toString())
    const bad = nsn(['inspect', 'video-chunk', files.badChunk])
    assert.equal(bad.code, 1)
    assert.equal(JSON.parse(bad.stdout).reason.code, 'BAD_HASH')
  })

  it('a missing file and an unknown type are exit 2 without a stack trace', () => {
    const r = nsn(['inspect', 'recipe', join(dir, 'missing')])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /cannot read/)
    assert.equal(nsn(['inspect', 'thing', files.scale]).code, 2)
    assert.equal(nsn(['inspect', 'recipe', files.scale, '--format', 'xml']).code, 2)
  })
})
