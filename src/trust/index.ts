// Public surface of src/trust: what a viewer trusts (docs/protocol.md §6). Browser-safe: no `node:`
// imports, no DOM; the page, the node's viewer role, the archive, HLS and the tests import it.
export { type AddResult, ContentAssembly } from './assembly.ts'
export { certifiedMember, checkCertificate, type MemberCheck, type TrustAnchor } from './certificate.ts'
export { REFUSAL_TEXT, type RefusalCode } from './refusal.ts'
export {
  CertifiedSlots,
  type CertifiedSlotsInit,
  type ChunkOutcome,
  type CompletedSlot,
} from './slots.ts'
