// Recipe signatures (docs/protocol.md §4): Ed25519 over "NSN-RECIPE-v1" ‖ SCALE(recipe with an empty
// signature), by an author whose key `director_id` names.
import { bytesToHex, encodeRecipe, type Recipe, RecipeError, unsignedRecipe } from '../types/index.ts'
import { DOMAIN, signDomain, verifyDomain } from './domain.ts'
import type { NodeKey } from './keys.ts'
import { publicKeyFromId } from './proto-key.ts'

/** Sign `recipe` as `key`: sets director_id (hex public key) and the signature. */
export function signRecipe(recipe: Recipe, key: NodeKey): Recipe {
  const unsigned = unsignedRecipe({
    ...recipe,
    security: { ...recipe.security, director_id: key.publicKeyHex },
  })
  const signature = signDomain(key, DOMAIN.recipe, [encodeRecipe(unsigned)])
  return { ...unsigned, security: { ...unsigned.security, ed25519_signature: signature } }
}

/**
 * Check the signature and, when `authorised` is given, that the author is in it (hex raw public
 * keys). Returns the author's raw public key; throws RecipeError BAD_SIGNATURE / UNAUTHORISED_AUTHOR.
 */
export function verifyRecipeSignature(recipe: Recipe, authorised?: ReadonlySet<string>): Uint8Array {
  const author = publicKeyFromId(recipe.security.director_id)
  if (author === null) {
    throw new RecipeError(
      'INVALID_FORMAT',
      'security.director_id',
      'security.director_id: names no Ed25519 key (expected 64 hex characters or an Ed25519 PeerId)',
    )
  }
  if (authorised !== undefined && !authorised.has(bytesToHex(author))) {
    throw new RecipeError(
      'UNAUTHORISED_AUTHOR',
      'security.director_id',
      'security.director_id: author is not authorised',
    )
  }
  const sig = recipe.security.ed25519_signature
  if (
    sig.length !== 64 ||
    !verifyDomain(author, DOMAIN.recipe, [encodeRecipe(unsignedRecipe(recipe))], sig)
  ) {
    throw new RecipeError(
      'BAD_SIGNATURE',
      'security.ed25519_signature',
      'security.ed25519_signature: does not verify',
    )
  }
  return author
}
