import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import {
  discoverPlugins,
  ManifestError,
  type PluginManifest,
  resolveEntrypoint,
  validateManifest,
} from '../../../src/sidecar/index.ts'
import { expectCode } from '../../helpers.ts'

const FIXTURES = new URL('../../fixtures/plugins/', import.meta.url).pathname
const TSX = 'file:///tsx/loader.mjs'

function manifest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema_version: '1.0',
    name: 'demo',
    version: '1.0.0',
    entrypoint: 'main.mjs',
    description: 'demo plugin',
    supported_lanes: ['lane0'],
    deterministic: true,
    resources: { vram_gb: 0, max_latency_ms: 1000, max_concurrency: 1 },
    io: { input_schema: {}, output_schema: {} },
    ...overrides,
  }
}

describe('validateManifest', () => {
  test('accepts the docs/protocol.md §9 fields and normalises lanes', () => {
    const m = validateManifest(manifest({ supported_lanes: ['LANE0', 'lane1', 'lane0'] }))
    assert.deepEqual(m.supported_lanes, ['lane0', 'lane1'])
    assert.equal(m.resources.max_latency_ms, 1000)
  })

  const cases: [string, Record<string, unknown>, string, string][] = [
    ['missing name', { name: undefined }, 'MISSING_FIELD', 'name'],
    ['empty version', { version: '  ' }, 'MISSING_FIELD', 'version'],
    ['unsupported schema', { schema_version: '2.0' }, 'UNSUPPORTED_VERSION', 'schema_version'],
    ['numeric schema', { schema_version: 1 }, 'INVALID_TYPE', 'schema_version'],
    ['bad name', { name: '../evil' }, 'INVALID_VALUE', 'name'],
    ['lanes not a list', { supported_lanes: 'lane0' }, 'INVALID_TYPE', 'supported_lanes'],
    ['no lanes', { supported_lanes: [] }, 'MISSING_FIELD', 'supported_lanes'],
    ['unknown lane', { supported_lanes: ['lane0', 'lane9'] }, 'INVALID_VALUE', 'supported_lanes[1]'],
    ['deterministic as string', { deterministic: 'yes' }, 'INVALID_TYPE', 'deterministic'],
    ['typo field', { determinstic: true }, 'UNKNOWN_FIELD', 'determinstic'],
    [
      'vram as text',
      { resources: { vram_gb: 'lots', max_latency_ms: 1, max_concurrency: 1 } },
      'INVALID_TYPE',
      'resources.vram_gb',
    ],
    [
      'negative vram',
      { resources: { vram_gb: -1, max_latency_ms: 1, max_concurrency: 1 } },
      'OUT_OF_BOUNDS',
      'resources.vram_gb',
    ],
    [
      'zero latency',
      { resources: { vram_gb: 0, max_latency_ms: 0, max_concurrency: 1 } },
      'OUT_OF_BOUNDS',
      'resources.max_latency_ms',
    ],
    [
      'fractional concurrency',
      { resources: { vram_gb: 0, max_latency_ms: 1, max_concurrency: 1.5 } },
      'INVALID_TYPE',
      'resources.max_concurrency',
    ],
    [
      'unknown resource',
      { resources: { vram_gb: 0, max_latency_ms: 1, max_concurrency: 1, gpus: 2 } },
      'UNKNOWN_FIELD',
      'resources.gpus',
    ],
    [
      'io schema not a mapping',
      { io: { input_schema: [], output_schema: {} } },
      'INVALID_TYPE',
      'io.input_schema',
    ],
    ['missing io', { io: undefined }, 'MISSING_FIELD', 'io'],
  ]
  for (const [name, over, code, field] of cases) {
    test(`refuses ${name} with ${code} on ${field}`, () => {
      const value = manifest(over)
      for (const [k, v] of Object.entries(over)) if (v === undefined) delete value[k]
      const err = expectCode(() => validateManifest(value, 'x.yaml'), ManifestError, code, name)
      assert.equal(err.field, field)
      assert.equal(err.file, 'x.yaml')
    })
  }
})

describe('resolveEntrypoint', () => {
  const m = (entrypoint: string) => validateManifest(manifest({ entrypoint })) as PluginManifest

  test('runs .mjs with node, .ts with node + tsx, other files directly when executable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsn-ep-'))
    try {
      await writeFile(join(dir, 'a.mjs'), '')
      await writeFile(join(dir, 'b.ts'), '')
      await writeFile(join(dir, 'run.sh'), '#!/bin/sh\n')
      await writeFile(join(dir, 'data.bin'), '')
      await chmod(join(dir, 'run.sh'), 0o755)
      const a = await resolveEntrypoint(dir, m('a.mjs'), { tsxImport: TSX })
      assert.deepEqual(a, { command: process.execPath, args: [join(dir, 'a.mjs')], viaRunner: false })
      const b = await resolveEntrypoint(dir, m('b.ts'), { tsxImport: TSX })
      assert.deepEqual(b.args, ['--import', TSX, join(dir, 'b.ts')])
      const c = await resolveEntrypoint(dir, m('run.sh'), { tsxImport: TSX })
      assert.deepEqual(c, { command: join(dir, 'run.sh'), args: [], viaRunner: false })
      for (const bad of ['data.bin', '../a.mjs', '/bin/sh', 'missing.mjs', 'plugin:Class']) {
        await assert.rejects(resolveEntrypoint(dir, m(bad), { tsxImport: TSX }), (e: unknown) => {
          assert.ok(e instanceof ManifestError, bad)
          assert.equal(e.code, 'BAD_ENTRYPOINT', bad)
          assert.equal(e.field, 'entrypoint', bad)
          return true
        })
      }
      // The reference Vortex form: run through the configured runner command, refused without one.
      const runner = ['python3', '-m', 'vortex.plugins.runner']
      const py = await resolveEntrypoint(dir, m('vortex.plugins.lane0:Lane0Plugin'), {
        tsxImport: TSX,
        runnerCommand: runner,
      })
      assert.deepEqual(py, {
        command: 'python3',
        args: ['-m', 'vortex.plugins.runner', '--plugin', 'demo'],
        viaRunner: true,
      })
      for (const bad of ['a.b:', ':Class', 'a..b:C', 'a/b:C', 'a.b:C.D']) {
        await assert.rejects(
          resolveEntrypoint(dir, m(bad), { tsxImport: TSX, runnerCommand: runner }),
          ManifestError,
        )
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('discoverPlugins', () => {
  test('loads valid folders and rejects each bad manifest with a code and field', async () => {
    const d = await discoverPlugins(join(FIXTURES, 'invalid'), { tsxImport: TSX })
    assert.deepEqual([...d.plugins.keys()], ['ok'])
    const got = Object.fromEntries(d.rejected.map((r) => [r.name, `${r.error.code}:${r.error.field}`]))
    assert.deepEqual(got, {
      'bad-lane': 'INVALID_VALUE:supported_lanes[0]',
      escape: 'BAD_ENTRYPOINT:entrypoint',
      'missing-entry': 'BAD_ENTRYPOINT:entrypoint',
      'no-name': 'MISSING_FIELD:name',
      'unknown-key': 'UNKNOWN_FIELD:determinstic',
      'wrong-folder': 'NAME_MISMATCH:name',
    })
    for (const r of d.rejected) assert.ok(r.error.message.includes('manifest.yaml'), r.name)
  })

  test('skips folders without a manifest, and the fixtures folder holds the expected plugins', async () => {
    const d = await discoverPlugins(FIXTURES, { tsxImport: TSX })
    assert.ok(!d.plugins.has('invalid'))
    assert.ok(d.plugins.has('echo') && d.plugins.has('sleeper') && d.plugins.has('tsecho'))
    assert.deepEqual(
      d.rejected.map((r) => `${r.name}:${r.error.code}:${r.error.field}`),
      ['broken:INVALID_TYPE:resources.vram_gb'],
    )
  })

  test('YAML that does not parse, or repeats a key, rejects the plugin with INVALID_YAML', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsn-yaml-'))
    try {
      await mkdir(join(dir, 'unparsable'))
      await writeFile(join(dir, 'unparsable', 'manifest.yaml'), 'name: [unclosed\n  - : :\n')
      await mkdir(join(dir, 'twice'))
      await writeFile(join(dir, 'twice', 'manifest.yaml'), 'name: twice\nname: again\n')
      const d = await discoverPlugins(dir, { tsxImport: TSX })
      assert.deepEqual(
        d.rejected.map((r) => `${r.name}:${r.error.code}`),
        ['twice:INVALID_YAML', 'unparsable:INVALID_YAML'],
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('a missing plugins folder is an error, not an empty registry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsn-none-'))
    await rm(dir, { recursive: true })
    await assert.rejects(discoverPlugins(dir, { tsxImport: TSX }), (e: unknown) => {
      assert.ok(e instanceof ManifestError)
      assert.equal(e.code, 'UNREADABLE')
      return true
    })
    await mkdir(dir)
    assert.equal((await discoverPlugins(dir, { tsxImport: TSX })).plugins.size, 0)
    await rm(dir, { recursive: true })
  })
})
