#!/usr/bin/env node
// `nsn` entry point: the Node 20 polyfill first, then the TypeScript CLI through tsx (no build step).
import { register } from 'tsx/esm/api'

register()
await import('../src/polyfill.ts')
const { main } = await import('../src/cli/main.ts')
await main(process.argv)
