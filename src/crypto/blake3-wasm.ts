// The WASM BLAKE3 (hash-wasm): the fallback in Node and the only path in browsers. No node:
// imports, so the viewer bundles this file as it is.
import { createBLAKE3, type IHasher } from 'hash-wasm'

/** Incremental hasher. */
export interface Blake3Hasher {
  update(data: Uint8Array): Blake3Hasher
  digest(): Uint8Array
}

export interface Blake3 {
  readonly kind: 'native' | 'wasm'
  hash(data: Uint8Array): Uint8Array
  createHasher(): Blake3Hasher
}

/** A WASM BLAKE3 (hash-wasm): one instance, shared by synchronous calls. */
export async function createWasmBlake3(): Promise<Blake3> {
  const wasm: IHasher = await createBLAKE3()
  return {
    kind: 'wasm',
    // JS cannot interleave two synchronous calls, so one instance serves every one-shot hash.
    hash: (data) => wasm.init().update(data).digest('binary'),
    // hash-wasm creates instances asynchronously; an incremental hasher keeps references to the
    // parts and runs them through the shared instance in one synchronous pass at digest().
    createHasher: () => {
      const parts: Uint8Array[] = []
      const hasher: Blake3Hasher = {
        update: (data) => {
          parts.push(data)
          return hasher
        },
        digest: () => {
          wasm.init()
          for (const p of parts) wasm.update(p)
          return wasm.digest('binary')
        },
      }
      return hasher
    },
  }
}
