// Public surface of src/p2p.
export * from './gossip.ts'
export * from './topics.ts'
export * from './video.ts'
