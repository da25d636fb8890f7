/**
 * The checks `JSON.parse` and `JSON.stringify` do not make: nesting depth and forbidden keys.
 *
 * Three tools, cheapest first, chosen per text by the JSON codec (measurements in the README):
 * - `hasFewOpeners` + `mayHaveForbiddenKey`: a handful of native string searches that prove
 *   most messages safe without looking at them character by character;
 * - `findForbiddenKey`: a walk of an already parsed value, bounded by `maxDepth`;
 * - `scanJsonText`: an exact scan of the text, for texts too nested to prove safe cheaply. It
 *   stops at the first violation, so a depth bomb is refused before `JSON.parse` spends time
 *   building it.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/** Why a JSON text is refused; the codec prefixes it with "frame" or "value". */
export type JsonProblem = string

export const forbiddenKeyProblem: JsonProblem =
  'has a forbidden key (__proto__, constructor or prototype)'

export function tooDeepProblem(maxDepth: number): JsonProblem {
  return `nests deeper than maxDepth (${maxDepth})`
}

/**
 * True when the text has at most `maxDepth` opening brackets and braces in all, counting those
 * inside strings: then it cannot nest deeper than `maxDepth`. Stops counting as soon as the
 * answer is known, so a large text costs only the search up to its `maxDepth + 1`th opener.
 */
export function hasFewOpeners(text: string, maxDepth: number): boolean {
  let count = 0
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) {
    if (++count > maxDepth) return false
  }
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) {
    if (++count > maxDepth) return false
  }
  return true
}

/**
 * False when the text provably has no forbidden key: none of the three names appears, and no
 * `\u` escape could spell one. (Other JSON escapes cannot produce letters or `_`.) True means
 * "look closer", usually because a string value mentions one of the words.
 */
export function mayHaveForbiddenKey(text: string): boolean {
  return (
    text.includes('__proto__') ||
    text.includes('constructor') ||
    text.includes('prototype') ||
    text.includes('\\u')
  )
}

/**
 * Walks a parsed JSON value for a forbidden own key. Only called on values whose depth is
 * already known to be within `maxDepth`, so the recursion is bounded.
 */
export function findForbiddenKey(value: unknown): JsonProblem | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = findForbiddenKey(value[i])
      if (problem !== undefined) return problem
    }
    return undefined
  }
  const object = value as Record<string, unknown>
  // `for...in` lists own keys of parsed objects (their prototype has no enumerable keys), and
  // is the fastest way V8 offers to visit them.
  for (const key in object) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      return forbiddenKeyProblem
    }
    const problem = findForbiddenKey(object[key])
    if (problem !== undefined) return problem
  }
  return undefined
}

/**
 * Scans a JSON text for nesting deeper than `maxDepth` and for forbidden keys (also when
 * spelled with `\u` escapes), without building anything. Strings are skipped with native
 * `indexOf`. Returns the problem, or `undefined`.
 *
 * The scan does not validate JSON: on a text `JSON.parse` rejects it may return either result,
 * and the parse that follows rejects the text. On valid JSON it is exact.
 */
export function scanJsonText(text: string, maxDepth: number): JsonProblem | undefined {
  const length = text.length
  let depth = 0
  // Position of the first backslash at or after the current string, found lazily and reused,
  // so learning whether long keys contain escapes stays linear in the text.
  let nextBackslash = -1
  for (let i = 0; i < length; i++) {
    const unit = text.charCodeAt(i)
    if (unit === QUOTE) {
      const start = i + 1
      let end = text.indexOf('"', start)
      while (end !== -1 && text.charCodeAt(end - 1) === BACKSLASH && isEscaped(text, end)) {
        end = text.indexOf('"', end + 1)
      }
      // An unterminated string: invalid JSON, left to the parser to reject.
      if (end === -1) return undefined
      // Escapes only lengthen the source of a string, so a string under 9 units never decodes
      // to a forbidden key.
      if (end - start >= 9) {
        if (nextBackslash < start) {
          nextBackslash = text.indexOf('\\', start)
          if (nextBackslash === -1) nextBackslash = length
        }
        if (isForbiddenKeyAt(text, start, end, nextBackslash < end)) return forbiddenKeyProblem
      }
      i = end
    } else if (unit === OPEN_BRACE || unit === OPEN_BRACKET) {
      if (++depth > maxDepth) return tooDeepProblem(maxDepth)
    } else if (unit === CLOSE_BRACE || unit === CLOSE_BRACKET) {
      depth--
    }
  }
  return undefined
}

/** True when the quote at `index` is escaped: preceded by an odd run of backslashes. */
function isEscaped(text: string, index: number): boolean {
  let run = 0
  for (let i = index - 1; i >= 0 && text.charCodeAt(i) === BACKSLASH; i--) run++
  return run % 2 === 1
}

/**
 * Whether the string whose source spans `[start, end)` is an object key (followed by `:`) that
 * decodes to a forbidden key.
 */
function isForbiddenKeyAt(text: string, start: number, end: number, escaped: boolean): boolean {
  const length = end - start
  if (!escaped && length !== 9 && length !== 11) return false
  if (!isFollowedByColon(text, end + 1)) return false
  if (!escaped) {
    return length === 9
      ? text.startsWith('__proto__', start) || text.startsWith('prototype', start)
      : text.startsWith('constructor', start)
  }
  // Rare: a long key with escapes. Decode just that key with the real parser, so the check
  // agrees with `JSON.parse` on every escape form.
  let key: unknown
  try {
    key = JSON.parse(text.slice(start - 1, end + 1))
  } catch {
    return false
  }
  return key === '__proto__' || key === 'constructor' || key === 'prototype'
}

function isFollowedByColon(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    // JSON whitespace: space, tab, line feed, carriage return.
    if (unit === 0x20 || unit === 0x09 || unit === 0x0a || unit === 0x0d) continue
    return unit === COLON
  }
  return false
}
