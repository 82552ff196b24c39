// BLAKE3 behind one interface: the native addon (@napi-rs/blake-hash, ~4 GiB/s here) when it loads,
// else hash-wasm (~750 MiB/s, also what browsers use). Both give the same digests (tested).
import { createRequire } from 'node:module'
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
