// Assertion helpers shared by the tests.
import assert from 'node:assert/strict'

type CodedClass<E> = new (...args: never[]) => E

/** Assert that `err` is a `cls` with `code`; returns it typed. */
function assertCoded<E extends Error & { code: string }>(
  err: unknown,
  cls: CodedClass<E>,
  code: string,
  context: string,
): E {
  assert.ok(
    err instanceof cls,
    `${context}: expected ${cls.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`,
  )
  assert.equal(err.code, code, `${context}: expected code ${code}, got ${err.code}: ${err.message}`)
  return err
}

/** Assert that `fn` throws an error of class `cls` whose `code` is `code`; returns the error. */
export function expectCode<E extends Error & { code: string }>(
  fn: () => unknown,
  cls: CodedClass<E>,
  code: string,
  context = '',
): E {
  try {
    fn()
  } catch (err) {
    return assertCoded(err, cls, code, context)
  }
  assert.fail(`${context}: expected ${cls.name} ${code}, nothing was thrown`)
}

/** Async variant of expectCode. */
export async function expectRejectedWithCode<E extends Error & { code: string }>(
  promise: Promise<unknown>,
  cls: CodedClass<E>,
  code: string,
  context = '',
): Promise<E> {
  try {
    await promise
  } catch (err) {
    return assertCoded(err, cls, code, context)
  }
  assert.fail(`${context}: expected ${cls.name} ${code}, the promise resolved`)
}
