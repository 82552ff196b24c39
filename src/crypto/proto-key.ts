// Public keys in libp2p protobuf form and the identifiers that name them. Browser-safe (no node:
// imports here): the viewer bundles this with a browser Ed25519 in place of ./ed25519.ts.
import { peerIdFromString } from '@libp2p/peer-id'
import { ed25519Verify } from './ed25519.ts'

/** libp2p protobuf public key prefix for Ed25519: field 1 (KeyType) = 1, field 2 (Data) of 32 bytes. */
export const ED25519_PUBLIC_KEY_PROTO_PREFIX = new Uint8Array([0x08, 0x01, 0x12, 0x20])

/** libp2p protobuf form (36 bytes) of a raw 32-byte Ed25519 public key. */
export function publicKeyToProto(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(36)
  out.set(ED25519_PUBLIC_KEY_PROTO_PREFIX)
  out.set(raw, 4)
  return out
}

/** Raw 32-byte key from a libp2p protobuf Ed25519 public key, or null when it is not one. */
export function publicKeyFromProto(proto: Uint8Array): Uint8Array | null {
  if (proto.length !== 36) return null
  for (let i = 0; i < 4; i++) if (proto[i] !== ED25519_PUBLIC_KEY_PROTO_PREFIX[i]) return null
  return proto.subarray(4)
}

/**
 * Raw public key named by an identifier: 64 hex characters, or an Ed25519 PeerId (whose
 * identity multihash embeds the key). Null when it names no Ed25519 key.
 */
export function publicKeyFromId(id: string): Uint8Array | null {
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(id)) return new Uint8Array(Buffer.from(id.replace(/^0x/, ''), 'hex'))
  try {
    const pid = peerIdFromString(id)
    if (pid.type !== 'Ed25519') return null
    return pid.publicKey.raw
  } catch {
    return null
  }
}

/** Verify with a libp2p protobuf public key; false for anything malformed. */
export function verifyWithProtoKey(
  signerProto: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const raw = publicKeyFromProto(signerProto)
  return raw !== null && ed25519Verify(raw, message, signature)
}
