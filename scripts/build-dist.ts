// After `tsc -p tsconfig.build.json`: make dist/ runnable — its own entry point (dist/bin/nsn.js,
// no tsx) and the non-TypeScript files the compiled code reads beside itself (the sidecar's proto).
// Plugins and the viewer sources are read from the package root (src/node/package-info.ts).
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const dist = join(root, 'dist')
mkdirSync(join(dist, 'bin'), { recursive: true })
writeFileSync(
  join(dist, 'bin/nsn.js'),
  [
    '#!/usr/bin/env node',
    '// `nsn` from the compiled JavaScript (npm run build): the Node 20 polyfill first, then the CLI.',
    "await import('../src/polyfill.js')",
    "const { main } = await import('../src/cli/main.js')",
    'await main(process.argv)',
    '',
  ].join('\n'),
)
chmodSync(join(dist, 'bin/nsn.js'), 0o755)
copyFileSync(join(root, 'src/sidecar/sidecar.proto'), join(dist, 'src/sidecar/sidecar.proto'))
console.log('dist/bin/nsn.js and dist/src/sidecar/sidecar.proto written')
