// Entry point of the vortex-lane0 plugin process: TypeScript through the repo's tsx (no build
// step), the Node 20 polyfill first, then the generator. Run by the sidecar, or by hand:
//   node plugins/vortex-lane0/run.mjs < input.json
import { register } from 'tsx/esm/api'

register()
await import('../../src/polyfill.ts')
await import('./src/main.ts')
