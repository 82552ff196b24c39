// Typed errors of src/chain: configuration/persistence failures of the dev chain, rejected
// registrations (a domain rejection, serialisable), and client-side infrastructure failures.

export type DevChainErrorCode =
  | 'INVALID_CONFIG'
  | 'CONFIG_MISMATCH'
  | 'CORRUPT_STATE'
  | 'REMOTE_NOT_ALLOWED'
  | 'DATA_DIR_LOCKED'
  | 'STORAGE_FAILED'
  | 'STOPPED'

/** The dev chain cannot start or continue: bad configuration, a damaged data folder, a failed fsync. */
export class DevChainError extends Error {
  override readonly name = 'DevChainError'
  constructor(
    readonly code: DevChainErrorCode,
    message: string,
    /** The configuration field or file concerned, when there is one. */
    readonly field?: string,
  ) {
    super(message)
  }
}

export type RegisterRejectCode =
  | 'BAD_SIGNATURE'
  | 'BAD_PEER_BINDING'
  | 'BAD_NONCE'
  | 'STAKE_TOO_LOW'
  | 'ACCOUNT_BOUND'
  | 'PEER_TAKEN'
  /** Neither a genesis account nor on the operator's registration allowlist. */
  | 'NOT_ADMITTED'

/** A registration the chain refuses (one PeerId per account, one account per PeerId, stake rules). */
export class RegisterError extends Error {
  override readonly name = 'RegisterError'
  constructor(
    readonly code: RegisterRejectCode,
    message: string,
    readonly field?: string,
  ) {
    super(message)
  }
  toJSON(): { code: string; message: string; field?: string } {
    return { code: this.code, message: this.message, field: this.field }
  }
}

export type ChainClientErrorCode =
  /** The connection dropped before an answer. */
  | 'DISCONNECTED'
  | 'TIMEOUT'
  /** `close()` was called. */
  | 'CLOSED'
  /** The server answered something this client does not understand. */
  | 'PROTOCOL'
  /** The server refused the request's parameters (JSON-RPC -32602); `field` names the parameter. */
  | 'INVALID_PARAMS'
  /** The chain behind the URL is a different chain than the one first seen (reset or wrong node). */
  | 'GENESIS_CHANGED'
  /** A subscription asked for events older than the server keeps. */
  | 'EVENTS_PRUNED'
  /** The server is shutting down or lost its storage. */
  | 'UNAVAILABLE'
  /** A per-connection limit of the server (subscriptions, calls per second) was reached. */
  | 'LIMIT_EXCEEDED'
  /** The operation is not possible on this chain (e.g. an account ≠ node key on Substrate). */
  | 'UNSUPPORTED'
  /** The runtime refused an extrinsic (Substrate dispatch error); `detail` names it. */
  | 'DISPATCH_ERROR'
  /** The runtime lacks a pallet, call, storage item or event the client needs; `detail` lists them. */
  | 'INCOMPATIBLE_RUNTIME'
  /** The signing account cannot pay the transaction fee (Substrate InvalidTransaction::Payment). */
  | 'INSUFFICIENT_FUNDS'
  /** The transaction pool refused an extrinsic as invalid; `detail` says why (e.g. Stale, BadProof). */
  | 'INVALID_TRANSACTION'
  | RegisterRejectCode

/** A ChainClient call that failed. `code` says why; `field`/`detail` carry the server's specifics. */
export class ChainClientError extends Error {
  override readonly name = 'ChainClientError'
  constructor(
    readonly code: ChainClientErrorCode,
    message: string,
    readonly field?: string,
    readonly detail?: string,
  ) {
    super(message)
  }
}
