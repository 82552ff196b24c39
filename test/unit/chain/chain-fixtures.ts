// Chain test fixtures shared by the unit and integration tests of src/chain: director keys,
// genesis accounts, certificates signed for a given chain.
import { type GenesisAccount, NSN_UNIT, REGIONS, type Region } from '../../../src/chain/index.ts'
import type { NodeKey } from '../../../src/crypto/index.ts'
import type { Certificate } from '../../../src/types/index.ts'
import { buildCertificate } from '../../fixtures/index.ts'

export const DIRECTOR_STAKE = 100n * NSN_UNIT

export function genesisDirectors(
  keys: NodeKey[],
  opts: { regions?: Region[]; reputations?: bigint[] } = {},
): GenesisAccount[] {
  return keys.map((k, i) => ({
    peer: k.publicKeyProto,
    role: 'director' as const,
    region: opts.regions?.[i] ?? REGIONS[i % REGIONS.length]!,
    stake: DIRECTOR_STAKE,
    reputation: opts.reputations?.[i] ?? 0n,
  }))
}

/** A certificate for `slot` of `epoch` on the chain `genesisHash`: `members` agree, `committers` sign. */
export function certificateFor(
  genesisHash: Uint8Array,
  epoch: bigint,
  slot: bigint,
  members: NodeKey[],
  committers: NodeKey[] = members,
  recipeByte = 7,
): { certificate: Certificate; canonicalHash: Uint8Array } {
  return buildCertificate({
    networkId: genesisHash,
    epoch,
    slot,
    recipeHash: new Uint8Array(32).fill(recipeByte),
    memberKeys: members,
    committers,
  })
}
