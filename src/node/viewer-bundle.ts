// Builds the browser viewer (viewer/src/main.ts) with esbuild, in memory, at node start. The
// viewer reuses the node's own decoding and verification code (src/types, src/crypto/bft.ts,
// src/p2p/video.ts); only Ed25519, BLAKE3 and key files are swapped for browser versions.
import { join, resolve } from 'node:path'
import { build, type Plugin } from 'esbuild'
import { PACKAGE_ROOT } from './package-info.ts'

const root = PACKAGE_ROOT

/** Node-only modules of src/crypto and their browser stand-ins. */
const BROWSER_SHIMS: Record<string, string> = {
  [join(root, 'src/crypto/ed25519.ts')]: join(root, 'viewer/src/shims/ed25519.ts'),
  [join(root, 'src/crypto/blake3.ts')]: join(root, 'viewer/src/shims/blake3.ts'),
  [join(root, 'src/crypto/keys.ts')]: join(root, 'viewer/src/shims/keys.ts'),
}

const shimPlugin: Plugin = {
  name: 'nsn-browser-shims',
  setup(b) {
    b.onResolve({ filter: /\.ts$/ }, (args) => {
      if (args.kind === 'entry-point') return undefined
      const target = BROWSER_SHIMS[resolve(args.resolveDir, args.path)]
      return target === undefined ? undefined : { path: target }
    })
  },
}

export interface ViewerAssets {
  html: string
  js: string
}

/** Bundle the viewer page; throws with esbuild's message when the viewer does not build. */
export async function buildViewerAssets(): Promise<ViewerAssets> {
  const result = await build({
    entryPoints: [join(root, 'viewer/src/main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: true,
    sourcemap: false,
    logLevel: 'silent',
    plugins: [shimPlugin],
  })
  const { readFile } = await import('node:fs/promises')
  const html = await readFile(join(root, 'viewer/index.html'), 'utf8')
  return { html, js: result.outputFiles[0]!.text }
}
