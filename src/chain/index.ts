// Public surface of src/chain: the ChainClient seam, the dev chain (server, client, rules) and the
// Substrate client for real NSN networks.
export * from './client.ts'
export * from './config.ts'
export * from './devchain-client.ts'
export * from './election.ts'
export * from './errors.ts'
export {
  firstParamMismatch,
  genesisAccountsFromJson,
  genesisHashOf,
  paramsFromJson,
  paramsToJson,
} from './genesis.ts'
export * from './metrics.ts'
export { hex, RPC_ERROR_CODES, RPC_METHODS, RpcError, type RpcErrorCode, type RpcMethod } from './rpc.ts'
export { type DevChainComponents, type DevChainInit, DevChainServer } from './server.ts'
export { peerBindingBytes, registrationSigningBytes, submitSigningBytes } from './signing.ts'
export type { AccountRecord, EpochRecord, ResultRecord, SealedBlock } from './state.ts'
export { ChainState } from './state.ts'
export type { Recovery } from './store.ts'
export { dispatchErrorName, SubstrateChainClient, type SubstrateChainClientInit } from './substrate-client.ts'
export * from './substrate-mapping.ts'
