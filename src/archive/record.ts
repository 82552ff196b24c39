// What the archive keeps of one certified slot (docs/protocol.md §12), and how a stored slot is
// verified again exactly as a viewer verifies it: the certificate against the elected set the chain
// gave, every chunk's hash and signature, membership and content_id, BLAKE3 of the whole, and the
// recipe against the certificate's recipe_hash. Browser-free but pure: no `node:` imports.
import { blake3 } from '../crypto/blake3.ts'
import {
  CertifiedSlots,
  type CompletedSlot,
  checkCertificate,
  type RefusalCode,
  type TrustAnchor,
} from '../trust/index.ts'
import {
  bytesToHex,
  type Certificate,
  decodeCertificate,
  decodeRecipe,
  encodeCertificate,
  encodeRecipe,
  equalBytes,
  hexToBytes,
  type Recipe,
  VIDEO_CHUNK_VERSION,
  type VideoChunk,
} from '../types/index.ts'

/** One chunk's signed header fields beside its payload's place in the stored video. */
export interface StoredChunk {
  size: number
  timestampMs: string
  keyframe: boolean
  /** hex Ed25519 signature over SCALE(header). */
  signature: string
}

/** The JSON record written beside the video (`<content_hash>.json`). */
export interface SlotRecord {
  version: 1
  slot: string
  epoch: string
  /** hex content_hash: the key of the record and its video. */
  contentHash: string
  /** hex protobuf key of the member whose chunks these are. */
  signer: string
  /** The member's rank in the certificate (0 = canonical). */
  rank: number
  bytes: number
  storedAtMs: number
  /** hex SCALE Certificate. */
  certificate: string
  /** hex SCALE Recipe (the certificate's recipe_hash is BLAKE3 of these bytes). */
  recipe: string
  /** hex protobuf keys: the chain's elected set of the slot's epoch, the certificate's trust anchor. */
  elected: string[]
  /** Network the certificate was checked against (hex genesis hash) and its quorum. */
  networkId: string
  quorum: number
  slotsPerEpoch: number
  chunks: StoredChunk[]
}

/** A fully verified slot, ready to be stored. */
export interface VerifiedSlot {
  completed: CompletedSlot
  recipe: Recipe
  elected: readonly Uint8Array[]
  anchor: TrustAnchor
}

export function toRecord(v: VerifiedSlot, storedAtMs: number): SlotRecord {
  const c = v.completed
  return {
    version: 1,
    slot: c.slot.toString(),
    epoch: c.certificate.epoch.toString(),
    contentHash: bytesToHex(c.contentHash),
    signer: bytesToHex(c.signer),
    rank: c.rank,
    bytes: c.video.length,
    storedAtMs,
    certificate: bytesToHex(encodeCertificate(c.certificate)),
    recipe: bytesToHex(encodeRecipe(v.recipe)),
    elected: v.elected.map(bytesToHex),
    networkId: bytesToHex(v.anchor.networkId),
    quorum: v.anchor.quorum,
    slotsPerEpoch: v.anchor.slotsPerEpoch,
    chunks: c.chunks.map((ch) => ({
      size: ch.payload.length,
      timestampMs: ch.header.timestamp_ms.toString(),
      keyframe: ch.header.is_keyframe,
      signature: bytesToHex(ch.signature),
    })),
  }
}

/** The signed chunks of a record, rebuilt from its video (payload hashes recomputed). */
export function chunksOf(record: SlotRecord, video: Uint8Array): VideoChunk[] {
  const signer = hexToBytes(record.signer)
  const total = record.chunks.length
  let offset = 0
  return record.chunks.map((c, i) => {
    const payload = video.subarray(offset, offset + c.size)
    offset += c.size
    return {
      header: {
        version: VIDEO_CHUNK_VERSION,
        slot: BigInt(record.slot),
        content_id: record.contentHash,
        chunk_index: i,
        total_chunks: total,
        timestamp_ms: BigInt(c.timestampMs),
        is_keyframe: c.keyframe,
        payload_hash: blake3(payload),
      },
      payload,
      signer,
      signature: hexToBytes(c.signature),
    }
  })
}

/** Why a stored slot is not (or no longer) trusted. */
export type ArchiveRefusal =
  | { code: 'CERTIFICATE'; detail: string }
  | { code: 'RECIPE'; detail: string }
  | { code: 'CHUNK'; refusal: RefusalCode }
  | { code: 'INCOMPLETE'; detail: string }

export class ArchiveVerifyError extends Error {
  override readonly name = 'ArchiveVerifyError'
  constructor(readonly refusal: ArchiveRefusal) {
    super(
      refusal.code === 'CHUNK'
        ? `chunk refused: ${refusal.refusal}`
        : `${refusal.code.toLowerCase()}: ${refusal.detail}`,
    )
  }
}

/**
 * Verify `chunks` of `certificate` as a viewer does and return the completed slot; throws
 * ArchiveVerifyError. Used for stored slots and for slots fetched from peers.
 */
export function verifySlot(parts: {
  certificate: Certificate
  chunks: readonly VideoChunk[]
  recipe: Recipe
  elected: readonly Uint8Array[]
  anchor: TrustAnchor
}): CompletedSlot {
  const { certificate } = parts
  try {
    checkCertificate(certificate, parts.anchor, parts.elected)
  } catch (err) {
    throw new ArchiveVerifyError({ code: 'CERTIFICATE', detail: (err as Error).message })
  }
  if (!equalBytes(blake3(encodeRecipe(parts.recipe)), certificate.recipe_hash))
    throw new ArchiveVerifyError({
      code: 'RECIPE',
      detail: 'BLAKE3(recipe) is not the certificate’s recipe_hash',
    })
  const trust = new CertifiedSlots({ slotsPerEpoch: parts.anchor.slotsPerEpoch })
  trust.setElected(certificate.epoch, parts.elected)
  trust.addCertificate(certificate)
  for (const c of parts.chunks) {
    if (c.header.slot !== certificate.slot)
      throw new ArchiveVerifyError({ code: 'INCOMPLETE', detail: `chunk of slot ${c.header.slot}` })
    const r = trust.addChunk(c)
    if (r.status === 'refused') throw new ArchiveVerifyError({ code: 'CHUNK', refusal: r.code })
    if (r.status === 'complete') return r.completed
  }
  throw new ArchiveVerifyError({
    code: 'INCOMPLETE',
    detail: `${parts.chunks.length} chunks do not complete the video`,
  })
}

/** Verify a stored record with its video; returns the completed slot or throws ArchiveVerifyError. */
export function verifyRecord(record: SlotRecord, video: Uint8Array): CompletedSlot {
  let certificate: Certificate
  let recipe: Recipe
  try {
    certificate = decodeCertificate(hexToBytes(record.certificate))
    recipe = decodeRecipe(hexToBytes(record.recipe))
  } catch (err) {
    throw new ArchiveVerifyError({ code: 'CERTIFICATE', detail: (err as Error).message })
  }
  const done = verifySlot({
    certificate,
    chunks: chunksOf(record, video),
    recipe,
    elected: record.elected.map(hexToBytes),
    anchor: {
      networkId: hexToBytes(record.networkId),
      quorum: record.quorum,
      slotsPerEpoch: record.slotsPerEpoch,
    },
  })
  if (bytesToHex(done.contentHash) !== record.contentHash)
    throw new ArchiveVerifyError({
      code: 'INCOMPLETE',
      detail: 'record key is not the verified content hash',
    })
  return done
}
