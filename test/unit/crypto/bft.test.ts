// Certificate verification (docs/protocol.md §5 step 5): forgeries are refused with the reason.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  CertificateError,
  embeddingHash,
  rankMembers,
  signProposal,
  verifyCertificate,
  verifyProposalSignature,
} from '../../../src/crypto/index.ts'
import { bytesToHex } from '../../../src/types/index.ts'
import { buildCertificate, TEST_NETWORK_ID, testKeys, unitEmbedding } from '../../fixtures/index.ts'
import { expectCode } from '../../helpers.ts'

describe('verifyCertificate', async () => {
  const keys = await testKeys(7)
  const elected = keys.slice(0, 5)
  const outsider = keys[6]!
  const ctx = { networkId: TEST_NETWORK_ID, elected: elected.map((k) => k.publicKeyProto), quorum: 3 }
  const base = { epoch: 2n, slot: 77n }

  it('accepts an honest certificate and returns its canonical hash', () => {
    const { certificate, canonicalHash } = buildCertificate({
      ...base,
      memberKeys: elected.slice(0, 3),
      committers: elected.slice(0, 4),
    })
    assert.equal(bytesToHex(verifyCertificate(certificate, ctx)), bytesToHex(canonicalHash))
  })

  it('too few commits', () => {
    const { certificate } = buildCertificate({
      ...base,
      memberKeys: elected.slice(0, 3),
      committers: elected.slice(0, 2),
    })
    expectCode(() => verifyCertificate(certificate, ctx), CertificateError, 'TOO_FEW_COMMITS')
  })

  it('duplicate signer', () => {
    const { certificate } = buildCertificate({
      ...base,
      memberKeys: elected.slice(0, 3),
      committers: [elected[0]!, elected[1]!, elected[0]!],
    })
    expectCode(() => verifyCertificate(certificate, ctx), CertificateError, 'DUPLICATE_SIGNER')
  })

  it('unelected committer', () => {
    const { certificate } = buildCertificate({
      ...base,
      memberKeys: elected.slice(0, 3),
      committers: [elected[0]!, elected[1]!, outsider],
    })
    expectCode(() => verifyCertificate(certificate, ctx), CertificateError, 'UNELECTED_SIGNER')
  })

  it('unelected member', () => {
    const { certificate } = buildCertificate({
      ...base,
      memberKeys: [elected[0]!, elected[1]!, outsider],
      committers: elected.slice(0, 3),
    })
    expectCode(() => verifyCertificate(certificate, ctx), CertificateError, 'UNELECTED_MEMBER')
  })

  it('bad signature: a commit over another canonical hash, or a member changed after signing', () => {
    const { certificate } = buildCertificate({
      ...base,
      memberKeys: elected.slice(0, 3),
      committers: elected.slice(0, 3),
    })
    const swapped = {
      ...certificate,
      members: certificate.members.map((m, i) =>
        i === 0 ? { ...m, content_hash: new Uint8Array(32).fill(0xaa) } : m,
      ),
    }
    expectCode(() => verifyCertificate(swapped, ctx), CertificateError, 'BAD_SIGNATURE')
    const otherNetwork = { ...ctx, networkId: new Uint8Array(32).fill(1) }
    expectCode(() => verifyCertificate(certificate, otherNetwork), CertificateError, 'BAD_SIGNATURE')
    const otherSlot = { ...certificate, slot: 78n }
    assert.throws(() => verifyCertificate(otherSlot, ctx), CertificateError)
  })

  it('members out of rank order', () => {
    const { certificate } = buildCertificate({
      ...base,
      memberKeys: elected.slice(0, 3),
      committers: elected.slice(0, 3),
    })
    const reversed = { ...certificate, members: [...certificate.members].reverse() }
    expectCode(() => verifyCertificate(reversed, ctx), CertificateError, 'MEMBER_ORDER')
  })

  it('too few members', () => {
    const { certificate } = buildCertificate({
      ...base,
      memberKeys: elected.slice(0, 2),
      committers: elected.slice(0, 3),
    })
    expectCode(() => verifyCertificate(certificate, ctx), CertificateError, 'TOO_FEW_MEMBERS')
  })

  it('rank order rotates with the slot', () => {
    const firsts = new Set<string>()
    for (let s = 0n; s < 40n; s++)
      firsts.add(
        bytesToHex(
          rankMembers(
            s,
            elected.map((k) => ({ signer: k.publicKeyProto })),
          )[0]!.signer,
        ),
      )
    assert.ok(firsts.size >= 3, `canonical director varies across slots (${firsts.size} distinct)`)
  })
})

describe('proposal signatures', async () => {
  const [key] = await testKeys(1)
  const p = {
    epoch: 1n,
    slot: 5n,
    recipe_hash: new Uint8Array(32).fill(1),
    content_hash: new Uint8Array(32).fill(2),
    embedding: unitEmbedding(3),
  }
  it('verify, and fail on any changed field or network', () => {
    const signed = signProposal(key!, TEST_NETWORK_ID, p)
    assert.ok(verifyProposalSignature(TEST_NETWORK_ID, signed))
    assert.ok(!verifyProposalSignature(new Uint8Array(32), signed))
    assert.ok(
      !verifyProposalSignature(TEST_NETWORK_ID, { ...signed, slot: 6n }),
      'replay into another slot fails',
    )
    const emb = new Float32Array(signed.embedding)
    emb[0] = emb[0]! + 0.01
    assert.ok(!verifyProposalSignature(TEST_NETWORK_ID, { ...signed, embedding: emb }))
    assert.notEqual(bytesToHex(embeddingHash(emb)), bytesToHex(embeddingHash(signed.embedding)))
  })
})
