// Browser stand-in for src/crypto/blake3.ts: the WASM path only (no native addon in a browser).
// The page awaits initBlake3() once before verifying anything.
import { type Blake3, createWasmBlake3 } from '../../../src/crypto/blake3-wasm.ts'

export type { Blake3, Blake3Hasher } from '../../../src/crypto/blake3-wasm.ts'
export { createWasmBlake3 }

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
