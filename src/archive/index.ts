// Public surface of src/archive: the certified archive (docs/protocol.md §12), what feeds it from
// gossip, and how a stored or fetched slot is verified again.

export { Fmp4Error, type Fmp4Layout, type Fmp4Segment, fmp4Layout } from './fmp4.ts'
export { type HlsInit, HlsService } from './hls.ts'
export { MAX_SLOTS_PAGE, serveArchive } from './http.ts'
export {
  type ArchiveRefusal,
  ArchiveVerifyError,
  chunksOf,
  type SlotRecord,
  type StoredChunk,
  toRecord,
  type VerifiedSlot,
  verifyRecord,
  verifySlot,
} from './record.ts'
export { ArchiveRecorder, type ArchiveRecorderComponents } from './recorder.ts'
export { type ArchivedSlot, SlotArchive, type SlotArchiveInit } from './store.ts'
