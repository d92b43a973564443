/**
 * How deeply JSON text nests, read before it is parsed: a server bounds a body's depth with it, so a deeply nested
 * body is refused before `JSON.parse`, validation or an error formatter can recurse through it.
 */

/** The deepest nesting of arrays and objects outside strings, in one linear scan, stopping once past `limit`. */
export const depthOf = (text: string, limit = Number.POSITIVE_INFINITY): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++
      if (depth > deepest) {
        deepest = depth
        if (deepest > limit) return deepest
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--
  }
  return deepest
}

const refuseProto = (key: string, value: unknown): unknown => {
  if (key === "__proto__") throw new ProtoKey()
  return value
}
class ProtoKey extends Error {}

/**
 * A request body's JSON text, bounded in depth before it is parsed, with a `__proto__` key refused wherever it is
 * (so no later copy of the body can set a prototype). Empty text is no body (`undefined`). A body it refuses comes
 * back as the message a 400 carries.
 */
export const parseBody = (
  text: string,
  maxDepth: number
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string } => {
  if (text.trim() === "") return { ok: true, value: undefined }
  if (depthOf(text, maxDepth) > maxDepth)
    return { ok: false, message: `body nests deeper than ${maxDepth} levels of arrays and objects` }
  try {
    return { ok: true, value: JSON.parse(text, refuseProto) }
  } catch (error) {
    return {
      ok: false,
      message:
        error instanceof ProtoKey
          ? "body has a key __proto__, which no request accepts"
          : `body is not valid JSON: ${(error as Error).message}`
    }
  }
}
