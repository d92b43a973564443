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
