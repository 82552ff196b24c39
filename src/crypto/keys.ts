// The node key (docs/protocol.md §1): one Ed25519 key that is the libp2p identity and signs everything.
// File format: libp2p protobuf private-key bytes, mode 0600; a key readable by others is refused.

import type { KeyObject } from 'node:crypto'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readFile, rename, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { bytesToHex } from '../types/index.ts'
import { ed25519Sign, privateKeyObject } from './ed25519.ts'
import { publicKeyToProto } from './proto-key.ts'

export type KeyErrorCode = 'NOT_FOUND' | 'EXISTS' | 'INSECURE_PERMISSIONS' | 'INVALID_KEY' | 'WRONG_KEY_TYPE'

export class KeyError extends Error {
  override readonly name = 'KeyError'
  constructor(
    readonly code: KeyErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message)
  }
}

export class NodeKey {
  /** 32-byte raw Ed25519 public key. */
  readonly publicKey: Uint8Array
  /** libp2p protobuf public key (36 bytes): the `signer` field of chunks and BFT messages. */
  readonly publicKeyProto: Uint8Array
  readonly peerId: PeerId
  private readonly signingKey: KeyObject

  private constructor(readonly privateKey: Ed25519PrivateKey) {
    this.publicKey = privateKey.publicKey.raw
    this.publicKeyProto = publicKeyToProto(this.publicKey)
    this.peerId = peerIdFromPrivateKey(privateKey)
    this.signingKey = privateKeyObject(privateKey.raw.subarray(0, 32))
  }

  /** A fresh random key. */
  static async generate(): Promise<NodeKey> {
    return NodeKey.fromSeed(randomBytes(32))
  }

  /** Deterministic key from a 32-byte seed (tests and devnet fixtures). */
  static async fromSeed(seed: Uint8Array): Promise<NodeKey> {
    return new NodeKey(await generateKeyPairFromSeed('Ed25519', seed))
  }

  static fromProtobuf(bytes: Uint8Array, path = '<bytes>'): NodeKey {
    let key: ReturnType<typeof privateKeyFromProtobuf>
    try {
      key = privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new KeyError(
        'INVALID_KEY',
        path,
        `${path}: not a libp2p protobuf private key (${(err as Error).message})`,
      )
    }
    if (key.type !== 'Ed25519') {
      throw new KeyError('WRONG_KEY_TYPE', path, `${path}: key type ${key.type}, expected Ed25519`)
    }
    return new NodeKey(key)
  }

  /** Load a key file; refuse one that group or others can read (it would leak the identity). */
  static async load(path: string): Promise<NodeKey> {
    let mode: number
    try {
      mode = (await stat(path)).mode
    } catch {
      throw new KeyError(
        'NOT_FOUND',
        path,
        `${path}: key file not found (create one with \`nsn keygen --out ${path}\`)`,
      )
    }
    if ((mode & 0o077) !== 0) {
      throw new KeyError(
        'INSECURE_PERMISSIONS',
        path,
        `${path}: key file mode ${(mode & 0o777).toString(8)} lets others read it; run \`chmod 600 ${path}\``,
      )
    }
    return NodeKey.fromProtobuf(new Uint8Array(await readFile(path)), path)
  }

  /** Load the key at `path`, or create one there if none exists. */
  static async loadOrCreate(path: string): Promise<NodeKey> {
    try {
      return await NodeKey.load(path)
    } catch (err) {
      if (!(err instanceof KeyError && err.code === 'NOT_FOUND')) throw err
    }
    const key = await NodeKey.generate()
    await key.save(path)
    return key
  }

  /** Write atomically with mode 0600 (temp file, fsync, rename). Refuses to overwrite. */
  async save(path: string, { overwrite = false } = {}): Promise<void> {
    await mkdir(dirname(path), { recursive: true })
    if (!overwrite) {
      const exists = await stat(path).then(
        () => true,
        () => false,
      )
      if (exists) throw new KeyError('EXISTS', path, `${path}: a key file already exists; not overwriting it`)
    }
    const tmp = `${path}.tmp-${process.pid}`
    const fh = await open(tmp, 'w', 0o600)
    try {
      await fh.writeFile(privateKeyToProtobuf(this.privateKey))
      await fh.sync()
    } finally {
      await fh.close()
    }
    await chmod(tmp, 0o600)
    await rename(tmp, path)
    // The rename is durable only once the folder entry is.
    await syncFolder(dirname(path))
  }

  sign(message: Uint8Array): Uint8Array {
    return ed25519Sign(this.signingKey, message)
  }

  /** Hex of the raw public key (the recipe `director_id` form). */
  get publicKeyHex(): string {
    return bytesToHex(this.publicKey)
  }
}

/** Errors of a filesystem that cannot fsync a folder at all: the file itself was synced. */
const FOLDER_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'ENOTSUP', 'EPERM'])

/**
 * fsync a folder so that a rename inside it survives a crash. Only "this filesystem cannot sync a
 * folder" is tolerated; any other error (EIO, ENOSPC, …) is thrown: losing it would lose a write.
 */
export async function syncFolder(dir: string): Promise<void> {
  let d: Awaited<ReturnType<typeof open>>
  try {
    d = await open(dir, 'r')
  } catch (err) {
    if (FOLDER_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) return
    throw err
  }
  try {
    await d.sync()
  } catch (err) {
    if (!FOLDER_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw err
  } finally {
    await d.close()
  }
}
