// Browser stand-in for src/crypto/ed25519.ts: verification with @noble/curves. The viewer only
// verifies; it never holds or uses a private key.
import { ed25519 } from '@noble/curves/ed25519.js'

export function ed25519Verify(publicKeyRaw: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKeyRaw.length !== 32 || signature.length !== 64) return false
  try {
    return ed25519.verify(signature, message, publicKeyRaw)
  } catch {
    return false
  }
}

function noKeys(): never {
  throw new Error('the viewer holds no private keys')
}
export const privateKeyObject = noKeys
export const publicKeyObject = noKeys
export const ed25519Sign = noKeys
