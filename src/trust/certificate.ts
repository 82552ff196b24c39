// Which certificates and which chunks a viewer trusts (docs/protocol.md §6): the certificate is
// checked against the chain's elected set of its epoch, and a chunk is vouched for only by a
// member of it whose certified content_hash is the chunk's content_id.
import { CertificateError, verifyCertificate } from '../crypto/bft.ts'
import {
  bytesToHex,
  type Certificate,
  type CertificateMember,
  equalBytes,
  type VideoChunk,
} from '../types/index.ts'

/** What a viewer trusts certificates against: the chain, never the sender. */
export interface TrustAnchor {
  networkId: Uint8Array
  quorum: number
  slotsPerEpoch: number
}

/**
 * Check `cert` against the elected set of its epoch (null when the chain has not said yet, which
 * refuses it). Returns the canonical content hash; throws CertificateError with its code otherwise.
 */
export function checkCertificate(
  cert: Certificate,
  anchor: TrustAnchor,
  elected: readonly Uint8Array[] | null,
): Uint8Array {
  if (cert.slot / BigInt(anchor.slotsPerEpoch) !== cert.epoch)
    throw new CertificateError('UNELECTED_MEMBER', `slot ${cert.slot} is not in epoch ${cert.epoch}`)
  if (elected === null)
    throw new CertificateError('UNELECTED_MEMBER', `epoch ${cert.epoch}: elected set unknown`)
  return verifyCertificate(cert, {
    networkId: anchor.networkId,
    elected: [...elected],
    quorum: anchor.quorum,
  })
}

export type MemberCheck =
  | { member: CertificateMember; rank: number }
  | { refusal: 'NOT_MEMBER' | 'NOT_CERTIFIED' }

/** The certificate member that vouches for `chunk` (signer is a member, content_id = hex(its content_hash)). */
export function certifiedMember(cert: Certificate, chunk: VideoChunk): MemberCheck {
  const rank = cert.members.findIndex((m) => equalBytes(m.signer, chunk.signer))
  if (rank < 0) return { refusal: 'NOT_MEMBER' }
  const member = cert.members[rank]!
  if (chunk.header.content_id !== bytesToHex(member.content_hash)) return { refusal: 'NOT_CERTIFIED' }
  return { member, rank }
}
