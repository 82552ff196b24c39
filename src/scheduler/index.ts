// Public surface of src/scheduler: injected clock, slot arithmetic, epoch tracking, lane state.
export * from './clock.ts'
export * from './emitter.ts'
export * from './epoch-tracker.ts'
export * from './errors.ts'
export * from './lane-state.ts'
export * from './slot-clock.ts'
