// The deterministic BFT decision of docs/protocol.md §5 step 4, pure and allocation-light: cosine
// similarity on Float32Array, and the largest set in which every pair agrees (cosine ≥ τ), ties
// broken by the sorted signer keys. Every honest director given the same proposals picks the same set;
// decideRound() turns that set into ranked certificate members and the canonical hash.
import { canonicalHash, compareBytes, embeddingHash, rankMembers } from '../crypto/index.ts'
import { type CertificateMember, equalBytes, type Proposal } from '../types/index.ts'

/** Cosine similarity of two equal-length vectors; 0 when either is all zeros. Hot path: no allocation. */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  const n = a.length
  if (b.length !== n) throw new RangeError(`cosine: lengths ${n} and ${b.length} differ`)
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < n; i++) {
    const x = a[i]!
    const y = b[i]!
    dot += x * y
    na += x * x
    nb += y * y
  }
  if (na === 0 || nb === 0) return 0
  return dot / Math.sqrt(na * nb)
}

/** L2 norm, and whether every value is finite (NaN/∞ make the norm NaN/∞). */
export function l2Norm(v: Float32Array): number {
  let s = 0
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!
  return Math.sqrt(s)
}

/** docs/protocol.md §5 step 2: `dim` finite values with L2 norm within `tolerance` of 1. */
export function embeddingProblem(v: Float32Array, dim: number, tolerance: number): string | null {
  if (v.length !== dim) return `has ${v.length} values, expected ${dim}`
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return `value ${i} is not finite`
  const norm = l2Norm(v)
  if (Math.abs(norm - 1) > tolerance) return `L2 norm ${norm} is not within ${tolerance} of 1`
  return null
}

export interface AgreementCandidate {
  signer: Uint8Array
  embedding: Float32Array
}

export interface Agreement<T> {
  /** The agreeing set, ordered by signer key (not yet by rank). */
  members: T[]
  /** Mean pairwise cosine of the members (1 for a single member, 0 for none). */
  similarity: number
}

/** Exhaustive subset search is used up to this many candidates (docs/protocol.md §5: n ≤ 7). */
export const EXHAUSTIVE_MAX = 7

/**
 * The largest subset of `candidates` in which every pair has cosine ≥ `threshold`. Among equally
 * large subsets, the one whose signer keys, sorted ascending, compare smallest element by element.
 * Up to 7 candidates every subset is checked; beyond that Bron–Kerbosch enumerates the maximal
 * cliques (every maximum set is one of them, so the answer is the same). Signers must be distinct.
 */
export function largestAgreeingSet<T extends AgreementCandidate>(
  candidates: readonly T[],
  threshold: number,
): Agreement<T> {
  const sorted = [...candidates].sort((a, b) => compareBytes(a.signer, b.signer))
  const n = sorted.length
  if (n === 0) return { members: [], similarity: 0 }
  const sim: number[][] = sorted.map(() => new Array<number>(n).fill(1))
  // Neighbour sets as bit masks over indices in key order (n ≤ 32: MAX_DIRECTORS).
  const adj: number[] = new Array<number>(n).fill(0)
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const c = cosineSimilarity(sorted[i]!.embedding, sorted[j]!.embedding)
      sim[i]![j] = c
      sim[j]![i] = c
      if (c >= threshold) {
        adj[i]! |= 1 << j
        adj[j]! |= 1 << i
      }
    }
  }
  const best = agreeingMask(n, adj)
  const idx = indices(best)
  let total = 0
  let pairs = 0
  for (let a = 0; a < idx.length; a++) {
    for (let b = a + 1; b < idx.length; b++) {
      total += sim[idx[a]!]![idx[b]!]!
      pairs++
    }
  }
  return { members: idx.map((i) => sorted[i]!), similarity: pairs === 0 ? 1 : total / pairs }
}

/**
 * The winning subset as a bit mask over `n` candidates in key order, from the agreement graph's
 * adjacency masks. `method` is for tests that cross-check both searches.
 */
export function agreeingMask(
  n: number,
  adj: readonly number[],
  method: 'auto' | 'exhaustive' | 'bron-kerbosch' = 'auto',
): number {
  if (method === 'exhaustive' || (method === 'auto' && n <= EXHAUSTIVE_MAX)) return exhaustive(n, adj)
  return bronKerbosch(n, adj)
}

function indices(mask: number): number[] {
  const out: number[] = []
  for (let i = 0; mask >>> i !== 0; i++) if ((mask >>> i) & 1) out.push(i)
  return out
}

function popcount(x: number): number {
  let c = 0
  for (let v = x >>> 0; v !== 0; v &= v - 1) c++
  return c
}

/**
 * Whether `a` beats `b`: larger, or equally large with a lexicographically smaller index list.
 * Indices follow sorted signer keys, so the smaller index list is the smaller sorted key list.
 */
function better(a: number, b: number): boolean {
  const ca = popcount(a)
  const cb = popcount(b)
  if (ca !== cb) return ca > cb
  const ia = indices(a)
  const ib = indices(b)
  for (let i = 0; i < ia.length; i++) if (ia[i] !== ib[i]) return ia[i]! < ib[i]!
  return false
}

function exhaustive(n: number, adj: readonly number[]): number {
  let best = 0
  for (let mask = 1; mask < 1 << n; mask++) {
    let clique = true
    for (let i = 0; i < n && clique; i++) {
      if ((mask >>> i) & 1 && (mask & ~adj[i]! & ~(1 << i)) !== 0) clique = false
    }
    if (clique && better(mask, best)) best = mask
  }
  return best
}

function bronKerbosch(n: number, adj: readonly number[]): number {
  let best = 0
  const all = n === 32 ? 0xffffffff : (1 << n) - 1
  const visit = (r: number, p: number, x: number): void => {
    if (p === 0 && x === 0) {
      if (better(r, best)) best = r
      return
    }
    // Cannot beat the best size: prune (ties still need visiting to apply the key order).
    if (popcount(r) + popcount(p) < popcount(best)) return
    for (let v = 0; v < n; v++) {
      const bit = 1 << v
      if ((p & bit) === 0) continue
      visit(r | bit, p & adj[v]!, x & adj[v]!)
      p &= ~bit
      x |= bit
    }
  }
  visit(0, all, 0)
  return best >>> 0
}

/** Mean pairwise cosine of `embeddings` (1 for a single one, as for an agreeing set of one). */
export function meanPairwiseCosine(embeddings: readonly Float32Array[]): number {
  let total = 0
  let pairs = 0
  for (let i = 0; i < embeddings.length; i++)
    for (let j = i + 1; j < embeddings.length; j++) {
      total += cosineSimilarity(embeddings[i]!, embeddings[j]!)
      pairs++
    }
  return pairs === 0 ? 1 : total / pairs
}

/** What decideRound() reads: the round's identity and the network's rule parameters. */
export interface DecisionInput {
  networkId: Uint8Array
  epoch: bigint
  slot: bigint
  /** Our recipe hash: only proposals for the same recipe are candidates. */
  recipeHash: Uint8Array
  quorum: number
  threshold: number
}

/** §5 step 4's outcome: the members in rank order and the canonical hash, or null below the quorum. */
export interface RoundDecision {
  decision: {
    members: CertificateMember[]
    canonicalHash: Uint8Array
    similarity: number
    matchingRecipe: number
  } | null
  /** Size of the largest agreeing set (even below the quorum). */
  size: number
  /** Candidates carrying our recipe hash. */
  matching: number
}

/**
 * docs/protocol.md §5 step 4 over the non-equivocating proposals received: the largest agreeing set
 * among those with our recipe hash, ranked (§5 step 4), and its canonical hash — when it reaches q.
 */
export function decideRound(input: DecisionInput, proposals: readonly Proposal[]): RoundDecision {
  const candidates = proposals.filter((p) => equalBytes(p.recipe_hash, input.recipeHash))
  const agreement = largestAgreeingSet(candidates, input.threshold)
  const size = agreement.members.length
  if (size < input.quorum) return { decision: null, size, matching: candidates.length }
  const members = rankMembers(
    input.slot,
    agreement.members.map((p) => ({
      signer: p.signer,
      content_hash: p.content_hash,
      embedding_hash: embeddingHash(p.embedding),
    })),
  )
  const hash = canonicalHash(input.networkId, input.epoch, input.slot, input.recipeHash, members)
  return {
    decision: {
      members,
      canonicalHash: hash,
      similarity: agreement.similarity,
      matchingRecipe: candidates.length,
    },
    size,
    matching: candidates.length,
  }
}
