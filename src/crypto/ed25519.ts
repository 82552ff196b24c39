// Ed25519 on node:crypto (27.7k signs/s, 8.8k verifies/s here; @noble/curves is 20x slower).
// Public KeyObjects are cached because building one per chunk would dominate verification.
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto'

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Private KeyObject from a 32-byte Ed25519 seed. */
export function privateKeyObject(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new Error(`Ed25519 seed must be 32 bytes, got ${seed.length}`)
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
}

const publicKeyCache = new Map<string, KeyObject>()
/** Directors are few; the cache bound only protects against a flood of forged signer keys. */
const PUBLIC_KEY_CACHE_MAX = 1024

/** Public KeyObject from a 32-byte raw key (cached). */
export function publicKeyObject(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64')
  let key = publicKeyCache.get(id)
  if (key === undefined) {
    if (raw.length !== 32) throw new Error(`Ed25519 public key must be 32 bytes, got ${raw.length}`)
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' })
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_MAX) publicKeyCache.clear()
    publicKeyCache.set(id, key)
  }
  return key
}

export function ed25519Sign(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, message, privateKey))
}

/** False (never a throw) for a malformed key or signature. */
export function ed25519Verify(publicKeyRaw: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKeyRaw.length !== 32 || signature.length !== 64) return false
  try {
    return nodeVerify(null, message, publicKeyObject(publicKeyRaw), signature)
  } catch {
    return false
  }
}
