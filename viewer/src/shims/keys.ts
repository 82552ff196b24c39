// Browser stand-in for src/crypto/keys.ts: key files do not exist in a browser.
export class KeyError extends Error {}
export class NodeKey {
  private constructor() {
    throw new Error('the viewer holds no private keys')
  }
}
