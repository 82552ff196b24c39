// Plugin JSON as Python writes it: `json.dumps` emits the non-standard tokens NaN, Infinity and
// -Infinity for non-finite floats (allow_nan=True by default). Read as null, so that the field at
// fault is refused with its own name (e.g. `clip_embedding[3]`: EMBEDDING_NOT_FINITE) rather than
// the whole document as "not JSON".

const NON_FINITE = /([[,:]\s*)-?(?:NaN|Infinity)(?=\s*[,\]}])/g

/** JSON.parse; only when that fails, again with Python's non-finite tokens read as null. */
export function parsePluginJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    const patched = text.replace(NON_FINITE, '$1null')
    if (patched === text) throw err
    try {
      return JSON.parse(patched)
    } catch {
      throw err
    }
  }
}
