// The exact bytes that dev chain calls sign, and the dev chain's own hashes (genesis, blocks,
// transactions, election seeds). Every one starts with its own domain tag so that no signature or
// hash made for one purpose can be replayed as another (docs/protocol.md §1: the genesis hash is the
// network_id and goes into every call, so calls cannot be replayed across chains either).
import { blake3 } from '../crypto/index.ts'
import { concatBytes } from '../types/index.ts'
import type { NodeRole } from './client.ts'
import { REGIONS, type Region } from './config.ts'

const enc = new TextEncoder()

/** Domain tags of the dev chain (kept here rather than in crypto's DOMAIN: only src/chain uses them). */
export const CHAIN_DOMAIN = {
  register: enc.encode('NSN-CHAIN-REGISTER-v1'),
  peerBinding: enc.encode('NSN-CHAIN-PEER-BIND-v1'),
  submit: enc.encode('NSN-CHAIN-SUBMIT-v1'),
  genesis: enc.encode('NSN-DEVCHAIN-GENESIS-v1'),
  block: enc.encode('NSN-DEVCHAIN-BLOCK-v1'),
  election: enc.encode('NSN-DEVCHAIN-ELECTION-v1'),
  tx: enc.encode('NSN-DEVCHAIN-TX-v1'),
} as const

export const ROLE_INDEX: Record<NodeRole, number> = { director: 0, validator: 1, relay: 2 }

export function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, v, true)
  return b
}

export function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, v, true)
  return b
}

export function u128le(v: bigint): Uint8Array {
  const b = new Uint8Array(16)
  const dv = new DataView(b.buffer)
  dv.setBigUint64(0, v & 0xffffffffffffffffn, true)
  dv.setBigUint64(8, v >> 64n, true)
  return b
}

export interface RegistrationCall {
  account: Uint8Array
  peer: Uint8Array
  role: NodeRole
  region: Region
  stake: bigint
  nonce: number
}

/** tag ‖ genesis ‖ account ‖ peer ‖ role u8 ‖ region u8 ‖ stake u128 LE ‖ nonce u32 LE. */
export function registrationSigningBytes(genesisHash: Uint8Array, c: RegistrationCall): Uint8Array {
  return concatBytes([
    CHAIN_DOMAIN.register,
    genesisHash,
    c.account,
    c.peer,
    new Uint8Array([ROLE_INDEX[c.role], REGIONS.indexOf(c.region)]),
    u128le(c.stake),
    u32le(c.nonce),
  ])
}

/** What the node key signs to consent to being bound to `account`: tag ‖ genesis ‖ account. */
export function peerBindingBytes(genesisHash: Uint8Array, account: Uint8Array): Uint8Array {
  return concatBytes([CHAIN_DOMAIN.peerBinding, genesisHash, account])
}

/** tag ‖ genesis ‖ slot u64 LE ‖ BLAKE3(SCALE(certificate)). */
export function submitSigningBytes(
  genesisHash: Uint8Array,
  slot: bigint,
  certificateScale: Uint8Array,
): Uint8Array {
  return concatBytes([CHAIN_DOMAIN.submit, genesisHash, u64le(slot), blake3(certificateScale)])
}

export function txHash(signedBytes: Uint8Array, signature: Uint8Array): Uint8Array {
  return blake3(concatBytes([CHAIN_DOMAIN.tx, signedBytes, signature]))
}

/** BLAKE3(tag ‖ parent ‖ number ‖ BLAKE3(tx hashes)): no timestamps, so equal histories give equal hashes. */
export function blockHash(parent: Uint8Array, number: bigint, txHashes: readonly Uint8Array[]): Uint8Array {
  return blake3(concatBytes([CHAIN_DOMAIN.block, parent, u64le(number), blake3(concatBytes(txHashes))]))
}

/** Seed of the election of `epoch`, drawn from the hash of the block before the election block. */
export function electionSeed(parentHash: Uint8Array, epoch: bigint): Uint8Array {
  return blake3(concatBytes([CHAIN_DOMAIN.election, parentHash, u64le(epoch)]))
}
