// Runs every bench/*.ts (or the ones whose name contains an argument) one after another; each
// prints its own figures. Each bench is also an entry point of its own (`node --import tsx
// bench/x.ts`) that loads src/polyfill.ts first; the runner preloads it as well, for a bench that
// does not.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const wanted = process.argv.slice(2)
const files = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort()
let failed = 0
for (const f of files) {
  console.log(`\n=== bench/${f}`)
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', './src/polyfill.ts', join('bench', f)],
    {
      cwd: root,
      stdio: 'inherit',
    },
  )
  if (r.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
