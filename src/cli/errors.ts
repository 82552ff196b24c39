// Errors a command raises itself (as opposed to commander's parse errors, which it prints).

/** Bad usage discovered by a command's action: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}
