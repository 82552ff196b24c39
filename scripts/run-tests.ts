// Test runner: Node 20's `node --test` neither expands globs nor finds .ts files (it takes only the
// paths it is given and looks for .js/.mjs/.cjs by default), so this lists test/**/*.test.ts itself and hands them to node's runner, with tsx and the
// polyfill loaded first. Usage: run-tests.ts [unit|integration|e2e|<path substring>...]
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const filters = process.argv.slice(2)

function walk(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (name === 'node_modules') continue // test/substrate/ has its own installed packages
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (name.endsWith('.test.ts')) out.push(relative(root, p))
  }
  return out
}

// Unit tests first (fast feedback), then integration, then browser end-to-end.
const order = ['test/unit/', 'test/integration/', 'test/e2e/']
const rank = (f: string) => {
  const i = order.findIndex((o) => f.startsWith(o))
  return i === -1 ? order.length : i
}
const files = walk(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))

if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`)
  process.exit(1)
}

// Unit tests touch no ports or processes of their own: they run two files at a time. Integration and
// end-to-end tests start real processes and ports: one file at a time keeps them apart.
function run(group: string[], concurrency: number): Promise<number> {
  if (group.length === 0) return Promise.resolve(0)
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      './src/polyfill.ts',
      '--test',
      `--test-concurrency=${concurrency}`,
      ...group,
    ],
    { cwd: root, stdio: 'inherit' },
  )
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))))
}

const unit = files.filter((f) => f.startsWith('test/unit/'))
const unitCode = await run(unit, 2)
const restCode = await run(
  files.filter((f) => !f.startsWith('test/unit/')),
  1,
)
process.exit(unitCode !== 0 ? unitCode : restCode)
