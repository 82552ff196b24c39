// A hostile external sidecar names files the director must never read: its key file, a path that
// climbs out of the sidecar's work folder, a symlink out of it, a FIFO. The director reads file
// outputs only from the configured sidecar work folder (realpath containment, on the director's
// side), and otherwise only inline data.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { blake3 } from '../../../src/crypto/index.ts'
import { VortexClient, VortexError } from '../../../src/lane0/index.ts'
import { ManualClock } from '../../../src/scheduler/index.ts'
import { encodeRecipe } from '../../../src/types/index.ts'
import { signedSampleRecipe, unitEmbedding } from '../../fixtures/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { FakeSidecar, fakeVideo, pluginOutput, tempDir } from './fakes.ts'

const EMB = unitEmbedding(5)
const VIDEO = fakeVideo(3000)

describe('director reads plugin files only from the sidecar work folder', async () => {
  const recipe = await signedSampleRecipe()
  const recipeHash = blake3(encodeRecipe(recipe))
  const data = await tempDir('nsn-contain-')
  after(() => data.cleanup())
  // A node's data folder: its key beside the sidecar's work folder, as src/node/node.ts lays it out.
  const keyFile = join(data.path, 'node.key')
  await writeFile(keyFile, new Uint8Array(68).fill(0x42), { mode: 0o600 })
  const work = join(data.path, 'sidecar')
  const task = join(work, 'tasks', 't1')
  await mkdir(task, { recursive: true })
  const good = join(task, 'video.mp4')
  await writeFile(good, VIDEO)
  await symlink(keyFile, join(task, 'link.mp4'))
  execFileSync('mkfifo', [join(task, 'fifo.mp4')])

  const answer = (fields: Record<string, unknown>) => {
    const sidecar = new FakeSidecar(VIDEO, EMB)
    sidecar.behaviours = [
      {
        kind: 'raw',
        metadata: pluginOutput({ video: VIDEO, embedding: EMB, videoPath: good, extra: fields }),
      },
    ]
    return sidecar
  }

  const hostile: [string, Record<string, unknown>, string][] = [
    ["the node's key file", { video_path: keyFile }, 'video_path'],
    [
      'a path climbing out of the work folder',
      { video_path: join(task, '..', '..', '..', 'node.key') },
      'video_path',
    ],
    ['a symlink inside the work folder to the key', { video_path: join(task, 'link.mp4') }, 'video_path'],
    ['a FIFO (never a regular file)', { video_path: join(task, 'fifo.mp4') }, 'video_path'],
    ['audio from the key file', { audio_path: keyFile }, 'audio_path'],
    ['audio_waveform naming the key file', { audio_waveform: keyFile }, 'audio_path'],
  ]
  for (const [what, fields, field] of hostile) {
    it(`refuses ${what}`, async () => {
      const vc = new VortexClient({ sidecar: answer(fields), clock: new ManualClock() }, { outputDir: work })
      const err = await expectRejectedWithCode(
        vc.generate(recipe, 42n, recipeHash),
        VortexError,
        'BAD_OUTPUT',
      )
      assert.equal(err.details.field, field, err.message)
      assert.match(err.message, /outside the sidecar work folder|not a regular file/)
    })
  }

  it('reads a file inside the work folder', async () => {
    const vc = new VortexClient({ sidecar: answer({}), clock: new ManualClock() }, { outputDir: work })
    const out = await vc.generate(recipe, 42n, recipeHash)
    assert.deepEqual(out.video, VIDEO)
  })

  it('with no work folder configured (an external sidecar) only inline outputs are taken', async () => {
    const vc = new VortexClient({ sidecar: answer({}), clock: new ManualClock() })
    const err = await expectRejectedWithCode(vc.generate(recipe, 42n, recipeHash), VortexError, 'BAD_OUTPUT')
    assert.equal(err.details.field, 'video_path')
    assert.match(err.message, /sidecar\.workDir/)
    const inline = new FakeSidecar(VIDEO, EMB)
    const ok = await new VortexClient({ sidecar: inline, clock: new ManualClock() }).generate(
      recipe,
      42n,
      recipeHash,
    )
    assert.deepEqual(ok.video, VIDEO)
  })
})
