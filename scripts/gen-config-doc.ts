// Writes docs/config.md from the config schema. Run: node --import tsx scripts/gen-config-doc.ts
import { writeFileSync } from 'node:fs'
import { renderConfigDoc } from '../src/node/config-doc.ts'

const root = new URL('..', import.meta.url).pathname
writeFileSync(`${root}docs/config.md`, renderConfigDoc())
console.log('wrote docs/config.md')
