// Public surface of src/crypto: node keys, Ed25519, BLAKE3, domain tags, recipe signatures.
export * from './bft.ts'
export * from './blake3.ts'
export * from './domain.ts'
export * from './ed25519.ts'
export * from './keys.ts'
export * from './proto-key.ts'
export * from './recipe.ts'
