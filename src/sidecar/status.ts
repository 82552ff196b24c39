// SidecarError ⇄ gRPC status. The server sends a standard status code (what a foreign client, such as
// the reference Rust node, understands) plus the exact SidecarError code in the `nsn-error-code`
// trailer; the client trusts the trailer and falls back to the status code.
import { Metadata, type ServiceError, status } from '@grpc/grpc-js'
import { ERROR_CODE_METADATA_KEY } from './constants.ts'
import { SidecarError, type SidecarErrorCode } from './types.ts'

const GRPC_STATUS: Record<SidecarErrorCode, status> = {
  UNAVAILABLE: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNKNOWN_PLUGIN: status.NOT_FOUND,
  POLICY_DENIED: status.PERMISSION_DENIED,
  PLUGIN_FAILED: status.UNKNOWN,
  PLUGIN_TIMEOUT: status.DEADLINE_EXCEEDED,
  BAD_OUTPUT: status.INTERNAL,
  CANCELLED: status.CANCELLED,
  DUPLICATE_TASK: status.ALREADY_EXISTS,
  BUSY: status.RESOURCE_EXHAUSTED,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  INTERNAL: status.INTERNAL,
  OUTPUT_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  NOT_FOUND: status.NOT_FOUND,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
}

const KNOWN_CODES = new Set(Object.keys(GRPC_STATUS))

/** The gRPC error a server handler passes to its callback for `err`. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const e =
    err instanceof SidecarError
      ? err
      : new SidecarError('INTERNAL', `internal error: ${(err as Error)?.message}`)
  const metadata = new Metadata()
  metadata.set(ERROR_CODE_METADATA_KEY, e.code)
  return { code: GRPC_STATUS[e.code], details: e.message, metadata }
}

/**
 * A client-side gRPC error as a SidecarError. Only a transport failure (UNAVAILABLE without the
 * server's trailer: connection refused or dropped) is retryable; a plugin's own failure never is.
 */
export function fromServiceError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err
  const se = err as Partial<ServiceError>
  const details = se.details || (err as Error)?.message || 'unknown error'
  const fromServer = se.metadata?.get(ERROR_CODE_METADATA_KEY)[0]
  if (typeof fromServer === 'string' && KNOWN_CODES.has(fromServer))
    return new SidecarError(fromServer as SidecarErrorCode, details, false)
  switch (se.code) {
    case status.UNAVAILABLE:
      return new SidecarError('UNAVAILABLE', `sidecar unavailable: ${details}`, true)
    case status.DEADLINE_EXCEEDED:
      return new SidecarError('DEADLINE_EXCEEDED', `sidecar call deadline exceeded: ${details}`)
    case status.CANCELLED:
      return new SidecarError('CANCELLED', `sidecar call cancelled: ${details}`)
    case status.NOT_FOUND:
      return new SidecarError('NOT_FOUND', details)
    case status.PERMISSION_DENIED:
      return new SidecarError('POLICY_DENIED', details)
    case status.ALREADY_EXISTS:
      return new SidecarError('DUPLICATE_TASK', details)
    case status.RESOURCE_EXHAUSTED:
      return new SidecarError('BUSY', details)
    case status.INVALID_ARGUMENT:
      return new SidecarError('INVALID_ARGUMENT', details)
    case status.UNIMPLEMENTED:
      return new SidecarError('UNIMPLEMENTED', details)
    default:
      return new SidecarError('INTERNAL', `sidecar error (gRPC status ${se.code}): ${details}`)
  }
}
