// Public surface of src/p2p.
export * from './video.ts'
