/**
 * The checks `JSON.parse` and `JSON.stringify` do not make: nesting depth and forbidden keys.
 *
 * Measured against the cost of `JSON.parse` itself (package README, FAQ): a walk of
 * the parsed value costs 6–16%, counting brackets with `indexOf` about 3%, an exact scan of the
 * text about 50%, and a `JSON.parse` reviver over 200%. So the codec parses first and walks the
 * result, and keeps the text scan for what a walk cannot handle: a text whose nesting could be
 * so deep that parsing it is the attack (V8 spends superlinear time on deep nesting: 1 MiB of
 * `[` takes about 200 ms to parse), and the output of a custom `toJSON` on encode.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/** Why a JSON text or value is refused; the codec prefixes it with "frame" or "value". */
export type JsonProblem = string

export const forbiddenKeyProblem: JsonProblem =
  'has a forbidden key (__proto__, constructor or prototype)'

export function tooDeepProblem(maxDepth: number): JsonProblem {
  return `nests deeper than maxDepth (${maxDepth})`
}

/**
 * Texts with at most this many brackets and braces are parsed before they are checked: even if
 * every one of them nested, `JSON.parse` would finish in about a millisecond. Texts with more
 * are scanned first.
 */
export const parseFirstOpenerLimit = 16_384

/**
 * Whether a text has more than `limit` opening brackets and braces, counted anywhere (strings
 * included, so the count bounds the nesting depth from above). A text no longer than `limit`
 * cannot, and is not searched; a longer one is searched only until the answer is known.
 */
export function hasMoreOpeners(text: string, limit: number): boolean {
  if (text.length <= limit) return false
  let count = 0
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) {
    if (++count > limit) return true
  }
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) {
    if (++count > limit) return true
  }
  return false
}

/**
 * Walks a value `JSON.parse` returned, for nesting deeper than `maxDepth` and forbidden keys.
 * Stops descending at `maxDepth + 1`, so its recursion is bounded whatever the value.
 */
export function findParsedProblem(value: unknown, maxDepth: number): JsonProblem | undefined {
  return walkParsed(value, 0, maxDepth)
}

function walkParsed(value: unknown, depth: number, maxDepth: number): JsonProblem | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  if (depth >= maxDepth) return tooDeepProblem(maxDepth)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = walkParsed(value[i], depth + 1, maxDepth)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  const object = value as Record<string, unknown>
  // Parsed objects have only own keys to list (their prototype has no enumerable ones), and
  // `for...in` is the fastest way V8 offers to visit them.
  for (const key in object) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      return forbiddenKeyProblem
    }
    const problem = walkParsed(object[key], depth + 1, maxDepth)
    if (problem !== undefined) return problem
  }
  return undefined
}

/** The answer of `findStringifiedProblem` when the value has parts it cannot judge. */
export const undecided = Symbol('undecided')

/**
 * Walks a value `JSON.stringify` just serialized, for what its text would hold: nesting deeper
 * than `maxDepth` and forbidden keys. Exact for plain data (primitives, arrays, plain objects,
 * `Date`s); for anything that `JSON.stringify` reshapes through `toJSON`, or a class instance,
 * it answers `undecided`, and the codec scans the text instead.
 */
export function findStringifiedProblem(
  value: unknown,
  maxDepth: number,
): JsonProblem | undefined | typeof undecided {
  return walkStringified(value, 0, maxDepth)
}

function walkStringified(
  value: unknown,
  depth: number,
  maxDepth: number,
): JsonProblem | undefined | typeof undecided {
  if (typeof value !== 'object' || value === null) return undefined
  const toJSON: unknown = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') {
    // A Date's own toJSON yields a string (or null): a leaf. Any other may return anything.
    return toJSON === Date.prototype.toJSON ? undefined : undecided
  }
  if (Array.isArray(value)) {
    if (depth >= maxDepth) return tooDeepProblem(maxDepth)
    for (let i = 0; i < value.length; i++) {
      const problem = walkStringified(value[i], depth + 1, maxDepth)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  const prototype: unknown = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) return undecided
  if (depth >= maxDepth) return tooDeepProblem(maxDepth)
  const object = value as Record<string, unknown>
  for (const key in object) {
    const child = object[key]
    // `JSON.stringify` leaves out properties whose value has no JSON form.
    if (child === undefined || typeof child === 'function' || typeof child === 'symbol') continue
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      // Unless a toJSON makes the property vanish: then only the text can tell.
      return hasCustomToJSON(child) ? undecided : forbiddenKeyProblem
    }
    const problem = walkStringified(child, depth + 1, maxDepth)
    if (problem !== undefined) return problem
  }
  return undefined
}

function hasCustomToJSON(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const toJSON: unknown = (value as { toJSON?: unknown }).toJSON
  return typeof toJSON === 'function' && toJSON !== Date.prototype.toJSON
}

/**
 * Scans a JSON text for nesting deeper than `maxDepth` and for forbidden keys (also when
 * spelled with `\u` escapes), without building anything. Strings are skipped with native
 * `indexOf`, and the scan stops at the first violation, so a depth bomb costs almost nothing.
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
