// BLAKE3 behind one interface: the native addon (@napi-rs/blake-hash, ~4 GiB/s here) when it loads,
// else hash-wasm (~750 MiB/s, also what browsers use). Both give the same digests (tested).
import { createRequire } from 'node:module'
import { type Blake3, type Blake3Hasher, createWasmBlake3 } from './blake3-wasm.ts'

export { type Blake3, type Blake3Hasher, createWasmBlake3 }

interface NativeModule {
  blake3(input: Uint8Array): Buffer
  Blake3Hasher: new () => { update(input: Uint8Array): unknown; digestBuffer(): Buffer }
}

function loadNative(): Blake3 | null {
  try {
    const mod = createRequire(import.meta.url)('@napi-rs/blake-hash') as NativeModule
    return {
      kind: 'native',
      hash: (data) => {
        const d = mod.blake3(data)
        return new Uint8Array(d.buffer, d.byteOffset, 32)
      },
      createHasher: () => {
        const h = new mod.Blake3Hasher()
        const hasher: Blake3Hasher = {
          update: (data) => {
            h.update(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
            return hasher
          },
          digest: () => new Uint8Array(h.digestBuffer()),
        }
        return hasher
      },
    }
  } catch {
    return null
  }
}

let active: Blake3 | null = loadNative()

/**
 * Make sure a BLAKE3 implementation is loaded (the WASM one if the native addon is unavailable).
 * Entry points await this once at start; after that `blake3()` is synchronous.
 */
export async function initBlake3(): Promise<Blake3> {
  if (active === null) active = await createWasmBlake3()
  return active
}

/** The implementation in use. */
export function blake3Impl(): Blake3 {
  if (active === null) throw new Error('BLAKE3 not initialised: await initBlake3() at start-up')
  return active
}

/** BLAKE3-256 of `data`. */
export function blake3(data: Uint8Array): Uint8Array {
  return blake3Impl().hash(data)
}
