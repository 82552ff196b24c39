// The genesis of a dev chain: its parameters in a canonical JSON form (what chain.json stores) and
// the genesis hash derived from them, which is the network_id (docs/protocol.md §1). The same parameters
// always give the same hash, so a restarted chain keeps its identity.
import { blake3 } from '../crypto/index.ts'
import { concatBytes } from '../types/index.ts'
import type { NodeRole } from './client.ts'
import { type ChainParams, type GenesisAccount, NODE_ROLES, resolveChainParams } from './config.ts'
import { DevChainError } from './errors.ts'
import { bytesFromJson, hex, isRegionValue, RpcError } from './rpc.ts'
import { CHAIN_DOMAIN } from './signing.ts'

/** Canonical JSON value of the parameters: fixed key order, u64/u128 as decimal strings, bytes as hex. */
export function paramsToJson(p: ChainParams): Record<string, unknown> {
  return {
    seed: p.seed,
    epochLengthBlocks: p.epochLengthBlocks,
    lookaheadBlocks: p.lookaheadBlocks,
    challengePeriodBlocks: p.challengePeriodBlocks,
    blocksPerSlot: p.blocksPerSlot,
    directorsPerEpoch: p.directorsPerEpoch,
    quorum: p.quorum,
    jitterPercent: p.jitterPercent,
    maxDirectorsPerRegion: p.maxDirectorsPerRegion,
    cooldownEpochs: p.cooldownEpochs,
    reputationPerResult: p.reputationPerResult.toString(),
    minStake: Object.fromEntries(NODE_ROLES.map((r) => [r, p.minStake[r].toString()])),
    epochRetention: p.epochRetention,
    genesisAccounts: p.genesisAccounts.map((a) => ({
      peer: hex(a.peer),
      account: hex(a.account ?? a.peer),
      role: a.role,
      region: a.region,
      stake: a.stake.toString(),
      reputation: (a.reputation ?? 0n).toString(),
    })),
  }
}

function big(v: unknown, field: string): bigint {
  if (typeof v !== 'string' || !/^[0-9]{1,39}$/.test(v)) {
    throw new DevChainError('INVALID_CONFIG', `${field}: expected a decimal string`, field)
  }
  return BigInt(v)
}

/** Genesis accounts from JSON (`--genesis` file or chain.json); errors name the entry and field. */
export function genesisAccountsFromJson(v: unknown, field = 'genesisAccounts'): GenesisAccount[] {
  if (!Array.isArray(v)) throw new DevChainError('INVALID_CONFIG', `${field}: expected an array`, field)
  return v.map((raw, i) => {
    const f = `${field}[${i}]`
    if (typeof raw !== 'object' || raw === null)
      throw new DevChainError('INVALID_CONFIG', `${f}: expected an object`, f)
    const o = raw as Record<string, unknown>
    try {
      const peer = bytesFromJson(o.peer, `${f}.peer`, { len: 36 })
      const account =
        o.account === undefined ? undefined : bytesFromJson(o.account, `${f}.account`, { len: 36 })
      if (typeof o.role !== 'string' || !NODE_ROLES.includes(o.role as NodeRole)) {
        throw new DevChainError(
          'INVALID_CONFIG',
          `${f}.role: must be one of ${NODE_ROLES.join(', ')}`,
          `${f}.role`,
        )
      }
      if (!isRegionValue(o.region)) {
        throw new DevChainError(
          'INVALID_CONFIG',
          `${f}.region: unknown region ${String(o.region)}`,
          `${f}.region`,
        )
      }
      return {
        peer,
        ...(account ? { account } : {}),
        role: o.role as NodeRole,
        region: o.region,
        stake: big(o.stake, `${f}.stake`),
        reputation: o.reputation === undefined ? 0n : big(o.reputation, `${f}.reputation`),
      }
    } catch (err) {
      if (err instanceof RpcError) throw new DevChainError('INVALID_CONFIG', err.message, err.data?.field)
      throw err
    }
  })
}

/** Parameters from their canonical JSON (chain.json), validated. */
export function paramsFromJson(v: unknown): ChainParams {
  if (typeof v !== 'object' || v === null)
    throw new DevChainError('INVALID_CONFIG', 'params: expected an object')
  const o = v as Record<string, unknown>
  const ms = (o.minStake ?? {}) as Record<string, unknown>
  return resolveChainParams({
    seed: o.seed as string,
    epochLengthBlocks: o.epochLengthBlocks as number,
    lookaheadBlocks: o.lookaheadBlocks as number,
    challengePeriodBlocks: o.challengePeriodBlocks as number,
    blocksPerSlot: o.blocksPerSlot as number,
    directorsPerEpoch: o.directorsPerEpoch as number,
    quorum: o.quorum as number,
    jitterPercent: o.jitterPercent as number,
    maxDirectorsPerRegion: o.maxDirectorsPerRegion as number,
    cooldownEpochs: o.cooldownEpochs as number,
    reputationPerResult: big(o.reputationPerResult, 'reputationPerResult'),
    minStake: {
      director: big(ms.director, 'minStake.director'),
      validator: big(ms.validator, 'minStake.validator'),
      relay: big(ms.relay, 'minStake.relay'),
    },
    epochRetention: o.epochRetention as number,
    genesisAccounts: genesisAccountsFromJson(o.genesisAccounts),
  })
}

/** BLAKE3(tag ‖ canonical JSON of the parameters): the network_id. */
export function genesisHashOf(p: ChainParams): Uint8Array {
  return blake3(
    concatBytes([CHAIN_DOMAIN.genesis, new TextEncoder().encode(JSON.stringify(paramsToJson(p)))]),
  )
}

/**
 * The first field in which `given` (explicitly set values only) differs from `stored`, or null.
 * Lets a restart refuse flags that would silently describe a different chain.
 */
export function firstParamMismatch(stored: ChainParams, given: Partial<ChainParams>): string | null {
  const s = paramsToJson(stored)
  const g = paramsToJson(resolveChainParams({ ...stored, ...stripUndefined(given) }))
  for (const k of Object.keys(s)) {
    if (JSON.stringify(s[k]) !== JSON.stringify(g[k])) return k
  }
  return null
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
