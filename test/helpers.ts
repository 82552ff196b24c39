// Assertion helpers shared by the tests.
import assert from 'node:assert/strict'

/** Assert that `fn` throws an error of class `cls` whose `code` is `code`; returns the error. */
export function expectCode<E extends Error & { code: string }>(
  fn: () => unknown,
  cls: new (...args: never[]) => E,
  code: string,
  context = '',
): E {
  try {
    fn()
  } catch (err) {
    assert.ok(
      err instanceof cls,
      `${context}: expected ${cls.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`,
    )
    assert.equal(
      (err as E).code,
      code,
      `${context}: expected code ${code}, got ${(err as E).code}: ${(err as Error).message}`,
    )
    return err as E
  }
  assert.fail(`${context}: expected ${cls.name} ${code}, nothing was thrown`)
}

/** Async variant of expectCode. */
export async function expectRejectedWithCode<E extends Error & { code: string }>(
  promise: Promise<unknown>,
  cls: new (...args: never[]) => E,
  code: string,
  context = '',
): Promise<E> {
  try {
    await promise
  } catch (err) {
    assert.ok(
      err instanceof cls,
      `${context}: expected ${cls.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`,
    )
    assert.equal(
      (err as E).code,
      code,
      `${context}: expected code ${code}, got ${(err as E).code}: ${(err as Error).message}`,
    )
    return err as E
  }
  assert.fail(`${context}: expected ${cls.name} ${code}, the promise resolved`)
}
