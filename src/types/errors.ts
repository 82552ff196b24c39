// Typed errors for bad input: a `code` union, the field path and,
// where there is one, the bound. Tests check `code` and `field`, never the message text.

export type DecodeErrorCode =
  | 'TRUNCATED'
  | 'TRAILING_BYTES'
  | 'OVERSIZE'
  | 'LENGTH_TOO_LARGE'
  | 'NON_CANONICAL'
  | 'INVALID_UTF8'
  | 'INVALID_BOOL'
  | 'INVALID_ENUM'
  | 'INVALID_TYPE'
  | 'INVALID_HEX'
  | 'INVALID_BYTE'
  | 'INVALID_LENGTH'
  | 'INVALID_JSON'
  | 'INVALID_CBOR'
  | 'UNKNOWN_FIELD'
  | 'MISSING_FIELD'
  | 'OUT_OF_RANGE'
  | 'UNKNOWN_FORMAT'

/** A wire message that cannot be decoded. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError'
  constructor(
    readonly code: DecodeErrorCode,
    /** Dotted path of the offending field, e.g. `slot_params.fps` or `header.content_id`. */
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
  toJSON(): { code: string; field: string; message: string } {
    return { code: this.code, field: this.field, message: this.message }
  }
}

export type RecipeErrorCode =
  | 'MISSING_FIELD'
  | 'OUT_OF_BOUNDS'
  | 'TOO_LONG'
  | 'TOO_MANY'
  | 'INVALID_FORMAT'
  | 'FUTURE_TIMESTAMP'
  | 'SLOT_PAST'
  | 'BAD_SIGNATURE'
  | 'UNAUTHORISED_AUTHOR'

/** A recipe that decodes but breaks a rule of docs/protocol.md §4. */
export class RecipeError extends Error {
  override readonly name = 'RecipeError'
  constructor(
    readonly code: RecipeErrorCode,
    readonly field: string,
    message: string,
    /** The bound that was broken, when there is one (e.g. `5..60`, `<= 128 bytes`). */
    readonly bound?: string,
  ) {
    super(message)
  }
  toJSON(): { code: string; field: string; message: string; bound?: string } {
    return { code: this.code, field: this.field, message: this.message, bound: this.bound }
  }
}
