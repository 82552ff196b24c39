// RecipeProcessor (docs/protocol.md §4): decoding in three encodings, validation, author authentication,
// the bounded slot-ordered queue, expiry, the deterministic conflict rule, the cut-off.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { blake3, signRecipe } from '../../../src/crypto/index.ts'
import { Lane0ConfigError, RecipeProcessor, RecipeQueueError } from '../../../src/lane0/index.ts'
import { ManualClock, SlotClock } from '../../../src/scheduler/index.ts'
import {
  bytesToHex,
  encodeRecipe,
  type Recipe,
  RecipeError,
  recipeToCbor,
  recipeToJson,
} from '../../../src/types/index.ts'
import { sampleRecipe, testKeys } from '../../fixtures/index.ts'
import { expectCode } from '../../helpers.ts'
import { FakeGossipHub, protoKeys } from './fakes.ts'

const utf8 = new TextEncoder()

async function setup(
  opts: ConstructorParameters<typeof RecipeProcessor>[1] extends infer I ? Partial<I> : never = {},
) {
  const keys = await testKeys(7)
  const hub = new FakeGossipHub()
  const gossip = hub.join('me')
  const clock = new ManualClock(1_700_000_000_000)
  const rp = new RecipeProcessor({ gossip, clock }, { slotClock: new SlotClock(2, 4), ...opts })
  rp.start()
  // Epoch 1 = slots 4..7, elected: keys 0..4.
  rp.setElected(1n, protoKeys(keys.slice(0, 5)))
  rp.setCurrentSlot(4n)
  return { keys, hub, gossip, clock, rp }
}

function recipeFor(slot: bigint, overrides: Partial<Recipe> = {}, timestamp = 1_700_000_000n): Recipe {
  const base = sampleRecipe(overrides)
  return {
    ...base,
    slot_params: { ...base.slot_params, slot_number: slot },
    security: { ...base.security, timestamp },
  }
}

const hashOf = (r: Recipe) => bytesToHex(blake3(encodeRecipe(r)))

describe('RecipeProcessor', () => {
  it('accepts a signed recipe in SCALE, JSON and CBOR and queues it by slot', async () => {
    const { keys, gossip, rp } = await setup()
    const r5 = signRecipe(recipeFor(5n), keys[0]!)
    const r6 = signRecipe(recipeFor(6n), keys[1]!)
    const r7 = signRecipe(recipeFor(7n), keys[2]!)
    assert.equal(await gossip.receive('recipes', encodeRecipe(r6)), 'accept')
    assert.equal(await gossip.receive('recipes', utf8.encode(recipeToJson(r5))), 'accept')
    assert.equal(await gossip.receive('recipes', recipeToCbor(r7)), 'accept')
    assert.deepEqual(rp.pendingSlots(), [5n, 6n, 7n])
    assert.equal(rp.peek(5n)?.format, 'json')
    assert.equal(rp.peek(7n)?.format, 'cbor')
    assert.equal(bytesToHex(rp.peek(6n)!.recipeHash), hashOf(r6))
    assert.equal(rp.peek(6n)?.author, keys[1]!.publicKeyHex)
  })

  it('rejects malformed and badly signed recipes; ignores out-of-bounds, unauthorised and undecidable ones', async () => {
    const { keys, gossip, rp } = await setup()
    assert.equal(await gossip.receive('recipes', utf8.encode('{"recipe_id":')), 'reject', 'bad JSON')
    const bad = signRecipe(
      recipeFor(5n, { slot_params: { slot_number: 5n, duration_sec: 1, resolution: '320x240', fps: 24 } }),
      keys[0]!,
    )
    // Bounds and the author set are local settings (docs/protocol.md §2): ignore, never reject.
    assert.equal(await gossip.receive('recipes', encodeRecipe(bad)), 'ignore', 'duration below 5 s')
    const tampered = { ...signRecipe(recipeFor(5n), keys[0]!), recipe_id: 'other' }
    assert.equal(
      await gossip.receive('recipes', encodeRecipe(tampered)),
      'reject',
      'signature no longer verifies',
    )
    const outsider = signRecipe(recipeFor(5n), keys[6]!)
    assert.equal(
      await gossip.receive('recipes', encodeRecipe(outsider)),
      'ignore',
      'author not a director of epoch 1',
    )
    const past = signRecipe(recipeFor(3n), keys[0]!)
    assert.equal(await gossip.receive('recipes', encodeRecipe(past)), 'ignore', 'slot 3 is past')
    const future = signRecipe(recipeFor(5n, {}, 1_700_000_100n), keys[0]!)
    assert.equal(
      await gossip.receive('recipes', encodeRecipe(future)),
      'ignore',
      'timestamp ahead of our clock',
    )
    const nextEpoch = signRecipe(recipeFor(9n), keys[6]!)
    assert.equal(
      await gossip.receive('recipes', encodeRecipe(nextEpoch)),
      'ignore',
      'epoch 2 authors not known yet',
    )
    assert.deepEqual(rp.pendingSlots(), [])
    expectCode(() => rp.ingest(encodeRecipe(outsider)), RecipeError, 'UNAUTHORISED_AUTHOR')
    expectCode(() => rp.ingest(encodeRecipe(nextEpoch)), RecipeQueueError, 'NO_AUTHORS')
  })

  it('takes configured authors in addition to (or instead of) the epoch directors', async () => {
    const keys = await testKeys(7)
    const { gossip, rp } = await setup({
      authors: [keys[6]!.peerId.toString()],
      epochDirectorsAreAuthors: false,
    })
    assert.equal(await gossip.receive('recipes', encodeRecipe(signRecipe(recipeFor(5n), keys[6]!))), 'accept')
    assert.equal(await gossip.receive('recipes', encodeRecipe(signRecipe(recipeFor(6n), keys[0]!))), 'ignore')
    assert.deepEqual(rp.pendingSlots(), [5n])
    const gossip2 = new FakeGossipHub().join('x')
    expectCode(
      () =>
        new RecipeProcessor({ gossip: gossip2 }, { slotClock: new SlotClock(1, 1), authors: ['not-a-key'] }),
      Lane0ConfigError,
      'INVALID_VALUE',
    )
  })

  it('settles conflicts by the smallest (timestamp, BLAKE3(recipe)), in any arrival order', async () => {
    const keys = await testKeys(5)
    const early = signRecipe(recipeFor(5n, { recipe_id: 'early' }, 1_699_999_990n), keys[0]!)
    const lateA = signRecipe(recipeFor(5n, { recipe_id: 'late-a' }, 1_699_999_995n), keys[1]!)
    const lateB = signRecipe(recipeFor(5n, { recipe_id: 'late-b' }, 1_699_999_995n), keys[2]!)
    const tieWinner = hashOf(lateA) < hashOf(lateB) ? lateA : lateB
    for (const order of [
      [early, lateA, lateB],
      [lateB, lateA, early],
      [lateA, early, lateB],
    ]) {
      const { gossip, rp } = await setup()
      const conflicts: { winner: string; loser: string }[] = []
      rp.events.on('conflict', (c) => conflicts.push(c))
      for (const r of order)
        assert.equal(await gossip.receive('recipes', encodeRecipe(r)), 'accept', 'losers are forwarded too')
      assert.equal(rp.peek(5n)?.recipe.recipe_id, 'early')
      assert.equal(conflicts.length, 2)
      for (const c of conflicts) assert.notEqual(c.winner, c.loser, 'both hashes logged')
    }
    const { gossip, rp } = await setup()
    await gossip.receive('recipes', encodeRecipe(lateA))
    await gossip.receive('recipes', encodeRecipe(lateB))
    assert.equal(rp.peek(5n)?.recipe.recipe_id, tieWinner.recipe_id, 'equal timestamps: smaller hash wins')
    assert.equal(await gossip.receive('recipes', encodeRecipe(lateA)), 'ignore', 'duplicate')
  })

  it('freezes a slot at its cut-off; a late recipe is taken only by an empty slot', async () => {
    const { keys, gossip, rp } = await setup()
    await gossip.receive(
      'recipes',
      encodeRecipe(signRecipe(recipeFor(5n, { recipe_id: 'first' }, 1_699_999_999n), keys[0]!)),
    )
    const taken = rp.take(5n)
    assert.equal(taken?.recipe.recipe_id, 'first')
    const better = signRecipe(recipeFor(5n, { recipe_id: 'earlier-but-late' }, 1_699_999_000n), keys[1]!)
    assert.equal(await gossip.receive('recipes', encodeRecipe(better)), 'ignore', 'after the cut-off')
    assert.equal(rp.take(6n), null)
    const waiting = rp.waitFor(6n)
    assert.equal(
      await gossip.receive(
        'recipes',
        encodeRecipe(signRecipe(recipeFor(6n, { recipe_id: 'late' }), keys[2]!)),
      ),
      'accept',
    )
    assert.equal((await waiting).recipe.recipe_id, 'late')
    assert.equal(
      await gossip.receive(
        'recipes',
        encodeRecipe(signRecipe(recipeFor(6n, { recipe_id: 'later' }), keys[3]!)),
      ),
      'ignore',
    )
    const ctrl = new AbortController()
    rp.take(7n)
    const w7 = rp.waitFor(7n, ctrl.signal)
    ctrl.abort(new Error('slot over'))
    await assert.rejects(w7, /slot over/)
  })

  it('keeps at most queueMax slots, ordered by slot, and expires past slots', async () => {
    const { keys, gossip, rp } = await setup({ queueMax: 3 })
    rp.setElected(2n, protoKeys(keys.slice(0, 5)))
    for (const s of [8n, 5n, 7n])
      await gossip.receive('recipes', encodeRecipe(signRecipe(recipeFor(s), keys[0]!)))
    assert.deepEqual(rp.pendingSlots(), [5n, 7n, 8n])
    assert.equal(
      await gossip.receive('recipes', encodeRecipe(signRecipe(recipeFor(9n), keys[0]!))),
      'ignore',
      'full',
    )
    assert.equal(await gossip.receive('recipes', encodeRecipe(signRecipe(recipeFor(6n), keys[0]!))), 'accept')
    assert.deepEqual(rp.pendingSlots(), [5n, 6n, 7n], 'the furthest slot made room for a nearer one')
    rp.setCurrentSlot(7n)
    assert.deepEqual(rp.pendingSlots(), [7n])
  })

  it('refuses slots too far ahead, and keeps recipes that arrive On-Deck for the epoch', async () => {
    const { keys, gossip, rp } = await setup({ maxSlotsAhead: 10 })
    rp.setElected(5n, protoKeys(keys.slice(0, 5)))
    assert.equal(
      await gossip.receive('recipes', encodeRecipe(signRecipe(recipeFor(20n), keys[0]!))),
      'ignore',
    )
    // On-Deck for epoch 2 (slots 8..11): its directors are known, the slots are ahead: kept.
    rp.setElected(2n, protoKeys(keys.slice(2, 7)))
    assert.equal(await gossip.receive('recipes', encodeRecipe(signRecipe(recipeFor(8n), keys[6]!))), 'accept')
    rp.setCurrentSlot(8n)
    assert.equal(rp.take(8n)?.author, keys[6]!.publicKeyHex)
  })
})
