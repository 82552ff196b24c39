// Domain separation tags (docs/protocol.md §4, §5): every signature covers `tag ‖ fields`, so that a
// signature made for one purpose can never be replayed as another.
import { concatBytes } from '../types/index.ts'
import { ed25519Verify } from './ed25519.ts'
import type { NodeKey } from './keys.ts'

export const DOMAIN = {
  recipe: 'NSN-RECIPE-v1',
  bftProposal: 'NSN-BFT-PROPOSAL-v1',
  bftCommit: 'NSN-BFT-COMMIT-v1',
  bftResult: 'NSN-BFT-RESULT-v1',
} as const

export type DomainTag = (typeof DOMAIN)[keyof typeof DOMAIN]

const tagBytes = new Map<string, Uint8Array>(
  Object.values(DOMAIN).map((t) => [t, new TextEncoder().encode(t)]),
)

/** The exact bytes signed for `tag` over `parts`. */
export function domainMessage(tag: DomainTag, parts: readonly Uint8Array[]): Uint8Array {
  return concatBytes([tagBytes.get(tag)!, ...parts])
}

export function signDomain(key: NodeKey, tag: DomainTag, parts: readonly Uint8Array[]): Uint8Array {
  return key.sign(domainMessage(tag, parts))
}

export function verifyDomain(
  publicKeyRaw: Uint8Array,
  tag: DomainTag,
  parts: readonly Uint8Array[],
  signature: Uint8Array,
): boolean {
  return ed25519Verify(publicKeyRaw, domainMessage(tag, parts), signature)
}
