// Byzantine directors for the network tests: a libp2p node in the test process holding an elected
// director's key (its real process is not started), which joins the mesh under that director's PeerId
// and sends what an honest director never would — two different signed proposals for one slot, or a
// proposal and signed chunks for a video of its own, and certificates it forged. Everything is built
// with the library's own signing functions, so only the protocol rules can stop it.
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import {
  blake3,
  canonicalHash,
  embeddingHash,
  type NodeKey,
  rankMembers,
  signCommit,
  signProposal,
} from '../../../src/crypto/index.ts'
import { buildVideoChunks, P2PNode, validateBftDecodes } from '../../../src/p2p/index.ts'
import {
  bytesToHex,
  type Certificate,
  type CertificateMember,
  EMBEDDING_DIM,
  encodeBftSignal,
  encodeVideoChunk,
  type Proposal,
} from '../../../src/types/index.ts'

/** A random unit vector (cosine with any fixed vector ≈ 0: never in an honest agreeing set). */
export function randomEmbedding(): Float32Array {
  const v = new Float32Array(EMBEDDING_DIM)
  let norm = 0
  const r = randomBytes(EMBEDDING_DIM * 2)
  for (let i = 0; i < EMBEDDING_DIM; i++) {
    v[i] = r.readInt16LE(i * 2) / 32768
    norm += v[i]! * v[i]!
  }
  const n = Math.sqrt(norm)
  for (let i = 0; i < EMBEDDING_DIM; i++) v[i] = v[i]! / n
  return v
}

export interface ByzantineInit {
  key: NodeKey
  networkId: Uint8Array
  bootstrap: string[]
  slotsPerEpoch: number
  elected: (epoch: bigint) => readonly Uint8Array[] | null
  recipeAuthors: string[]
}

/** One Byzantine director: a P2PNode with the director's key, and the messages it forges. */
export class ByzantineDirector {
  readonly p2p: P2PNode
  /** Honest proposals seen on /nsn/bft/1.0.0, by slot. */
  readonly honestProposals = new Map<bigint, Proposal[]>()
  private readonly waiters = new Set<() => void>()

  constructor(private readonly init: ByzantineInit) {
    const electedForSlot = (slot: bigint) => init.elected(slot / BigInt(init.slotsPerEpoch))
    this.p2p = new P2PNode(
      {
        key: init.key,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: init.bootstrap,
        rateLimit: false,
        electedForSlot,
        recipes: { authorisedAuthors: () => new Set(init.recipeAuthors) },
      },
      { logger: pino({ level: 'silent' }) },
    )
  }

  get publicKeyProto(): Uint8Array {
    return this.init.key.publicKeyProto
  }

  async start(): Promise<void> {
    const self = bytesToHex(this.init.key.publicKeyProto)
    // An adversary reads every BftSignal that decodes (it has no reason to wait for full rules).
    this.p2p.setValidator('bft', (data) => validateBftDecodes(data))
    this.p2p.subscribeDecoded('bft', (signal) => {
      if (signal.kind !== 'Proposal' || bytesToHex(signal.value.signer) === self) return
      const list = this.honestProposals.get(signal.value.slot) ?? []
      list.push(signal.value)
      this.honestProposals.set(signal.value.slot, list)
      for (const w of [...this.waiters]) w()
    })
    await this.p2p.start()
  }

  stop(): Promise<void> {
    return this.p2p.stop()
  }

  /** Sign a proposal for `slot` with this key over arbitrary content. */
  proposal(
    epoch: bigint,
    slot: bigint,
    recipeHash: Uint8Array,
    contentHash: Uint8Array,
    embedding: Float32Array,
  ): Proposal {
    return signProposal(this.init.key, this.init.networkId, {
      epoch,
      slot,
      recipe_hash: recipeHash,
      content_hash: contentHash,
      embedding,
    })
  }

  async publishProposal(p: Proposal): Promise<void> {
    await this.p2p.publish('bft', encodeBftSignal({ kind: 'Proposal', value: p }))
  }

  async publishCertificate(cert: Certificate): Promise<void> {
    await this.p2p.publish('bft', encodeBftSignal({ kind: 'Certificate', value: cert }))
  }

  /** Chunks of `video` signed by this key under `contentId` (which need not be BLAKE3(video)). */
  async publishVideo(slot: bigint, contentId: string, video: Uint8Array): Promise<number> {
    const chunks = buildVideoChunks(contentId, slot, video, this.init.key, { chunkSize: 64 * 1024 })
    let sent = 0
    for (const c of chunks) {
      await this.p2p.publish('video', encodeVideoChunk(c))
      sent++
    }
    return sent
  }

  /** Resolve with the first honest proposal of `slot` seen (or null after `timeoutMs`). */
  async waitHonestProposal(slot: bigint, timeoutMs: number): Promise<Proposal | null> {
    const have = () => this.honestProposals.get(slot)?.[0] ?? null
    if (have() !== null) return have()
    return new Promise((resolve) => {
      const done = () => {
        const p = have()
        if (p === null) return
        clearTimeout(timer)
        this.waiters.delete(done)
        resolve(p)
      }
      const timer = setTimeout(() => {
        this.waiters.delete(done)
        resolve(null)
      }, timeoutMs)
      this.waiters.add(done)
    })
  }
}

/**
 * Certificates forged by `signers` (the Byzantine keys) for a video of their own: `badSignature` adds
 * a commit in an honest director's name with a signature that is not its own (the only way to reach
 * the quorum without honest votes); `tooFewCommits` carries only the Byzantine commits.
 */
export function forgeCertificates(args: {
  networkId: Uint8Array
  epoch: bigint
  slot: bigint
  recipeHash: Uint8Array
  contentHash: Uint8Array
  signers: NodeKey[]
  honestName: Uint8Array
}): { badSignature: Certificate; tooFewCommits: Certificate } {
  const fakeMember = (signer: Uint8Array): CertificateMember => ({
    signer,
    content_hash: args.contentHash,
    embedding_hash: embeddingHash(randomEmbedding()),
  })
  const members = rankMembers(args.slot, [
    ...args.signers.map((k) => fakeMember(k.publicKeyProto)),
    fakeMember(args.honestName),
  ])
  const hash = canonicalHash(args.networkId, args.epoch, args.slot, args.recipeHash, members)
  const commits = args.signers.map((k) => {
    const c = signCommit(k, args.networkId, { epoch: args.epoch, slot: args.slot, canonical_hash: hash })
    return { signer: c.signer, signature: c.signature }
  })
  const base = { epoch: args.epoch, slot: args.slot, recipe_hash: args.recipeHash, members }
  return {
    badSignature: {
      ...base,
      commits: [...commits, { signer: args.honestName, signature: commits[0]!.signature }],
    },
    tooFewCommits: { ...base, commits },
  }
}

/** A "different video": bytes no honest director generated (BLAKE3 gives its content hash). */
export function otherVideo(bytes = 150_000): { video: Uint8Array; contentHash: Uint8Array } {
  const video = new Uint8Array(randomBytes(bytes))
  return { video, contentHash: blake3(video) }
}
