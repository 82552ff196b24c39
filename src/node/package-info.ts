// Where the package is installed (its package.json), for files shipped beside the code: plugins,
// the viewer sources, the version. Found by walking up, so the same code runs from src/ (tsx) and
// from a compiled dist/.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot(from: string): string {
  let dir = from
  for (let i = 0; i < 10; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'plugins'))) return dir
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  throw new Error(`cannot find the nsn package root above ${from}`)
}

export const PACKAGE_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)))

export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version
