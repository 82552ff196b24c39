// Browser stand-in for src/crypto/blake3.ts: hash-wasm only (no native addon in a browser).
// The page awaits initBlake3() once before verifying anything.
import { createBLAKE3 } from 'hash-wasm'

export interface Blake3Hasher {
  update(data: Uint8Array): Blake3Hasher
  digest(): Uint8Array
}

export interface Blake3 {
  readonly kind: 'native' | 'wasm'
  hash(data: Uint8Array): Uint8Array
  createHasher(): Blake3Hasher
}

export async function createWasmBlake3(): Promise<Blake3> {
  const h = await createBLAKE3()
  return {
    kind: 'wasm',
    hash: (data) => h.init().update(data).digest('binary'),
    createHasher: () => {
      const parts: Uint8Array[] = []
      const hasher: Blake3Hasher = {
        update: (data) => {
          parts.push(data)
          return hasher
        },
        digest: () => {
          h.init()
          for (const p of parts) h.update(p)
          return h.digest('binary')
        },
      }
      return hasher
    },
  }
}

let active: Blake3 | null = null

export async function initBlake3(): Promise<Blake3> {
  if (active === null) active = await createWasmBlake3()
  return active
}

export function blake3Impl(): Blake3 {
  if (active === null) throw new Error('BLAKE3 not initialised: await initBlake3() first')
  return active
}

export function blake3(data: Uint8Array): Uint8Array {
  return blake3Impl().hash(data)
}
