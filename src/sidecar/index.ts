// Public surface of src/sidecar: the ExecuteTask contract, the gRPC server that runs plugins, the
// gRPC client, manifests and policy, the progress-line format, and the vortex-lane0 plugin contract.
export * from './client.ts'
export * from './constants.ts'
export * from './manifest.ts'
export * from './policy.ts'
export * from './progress.ts'
export { PROTO_PATH, sidecarService } from './proto.ts'
export * from './remux.ts'
export * from './runner.ts'
export * from './server.ts'
export { fromServiceError, toServiceError } from './status.ts'
export * from './types.ts'
export * from './vortex.ts'
