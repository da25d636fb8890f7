import type { ContainerBudget } from './limits.js'

/**
 * The checks `JSON.parse` and `JSON.stringify` do not make: nesting depth, the number of arrays
 * and objects, and forbidden keys.
 *
 * Measured against the cost of `JSON.parse` itself (package README, FAQ): a walk of the parsed
 * value costs 6–8%, counting brackets with `indexOf` under 1%, a scan of the text 35–50%, and a
 * `JSON.parse` reviver over 200%. So the codec parses first and walks the result. A text whose
 * nesting could be so deep that parsing it is the attack (V8 spends superlinear time on deep
 * nesting: 1 MiB of `[` takes about 100 ms to parse) is scanned for its depth first, and so
 * is one that could hold more arrays and objects than `maxContainers` (each costs a heap object
 * once parsed: 1 MiB of `{}` builds some 350,000).
 */

/**
 * Why a JSON text or value is refused: nesting deeper than `maxDepth`, more arrays and objects
 * than `maxContainers`, or a forbidden key.
 */
export type JsonProblem = 'depth' | 'containers' | 'key'

/** No limit on containers: a parsed frame's walk, whose text was counted before if need be. */
export const unbounded: ContainerBudget = { left: Infinity }

/**
 * Texts with at most this many brackets and braces are parsed before they are checked: even if
 * every one of them nested, `JSON.parse` would finish in about a millisecond. Texts with more
 * are scanned first (as are texts with more than `maxContainers`, when that is lower).
 */
export const parseFirstOpenerLimit = 16_384

const dateToJSON = Date.prototype.toJSON

/**
 * The problem of a value and of the text `JSON.stringify` made of it (or `JSON.parse` read it
 * from): `parsed` says which. The walk of the value decides; where `JSON.stringify` reshaped the
 * value, the text it wrote is parsed back and walked instead (counting its containers afresh).
 * That text is no depth bomb: `JSON.stringify`'s own recursion bounded its nesting.
 */
export function findJsonProblem(
  value: unknown,
  text: string,
  maxDepth: number,
  parsed: boolean,
  budget: ContainerBudget,
): JsonProblem | undefined {
  const room = budget.left
  const verdict =
    typeof value === 'object' && value !== null
      ? walkValue(value, maxDepth, parsed, budget)
      : !parsed && writtenByToJSON(value)
        ? 'text'
        : undefined
  if (verdict !== 'text') return verdict
  budget.left = room
  return findJsonProblem(JSON.parse(text), text, maxDepth, true, budget)
}

/**
 * Walks a value for nesting deeper than `room` levels, for more arrays and objects than `budget`
 * has left, and for forbidden keys. A `parsed` value is plain data and always decided. Of a value
 * to stringify, it leaves to the text (`'text'`) what `JSON.stringify` reshapes: a custom
 * `toJSON` (a BigInt's or a function's too), a boxed primitive, and a forbidden key (which
 * vanishes when its value has no JSON form). Stops descending when `room` runs out, so its
 * recursion is bounded whatever the value.
 */
export function walkValue(
  value: object,
  room: number,
  parsed: boolean,
  budget: ContainerBudget,
): JsonProblem | 'text' | undefined {
  // Objects with a prototype may inherit enumerable keys, which `for...in` visits and
  // `JSON.stringify` does not write.
  let inherits = false
  const isArray = Array.isArray(value)
  if (!parsed) {
    const toJSON: unknown = (value as { toJSON?: unknown }).toJSON
    // A Date's own toJSON yields a string (or null): a leaf. Any other may return anything.
    if (typeof toJSON === 'function') return toJSON === dateToJSON ? undefined : 'text'
    if (!isArray) {
      const prototype: unknown = Object.getPrototypeOf(value)
      inherits = prototype !== Object.prototype && prototype !== null
    }
    // A boxed primitive is written as the primitive.
    if (
      inherits &&
      (value instanceof Number || value instanceof String || value instanceof Boolean)
    ) {
      return 'text'
    }
  }
  if (room < 1) return 'depth'
  if (--budget.left < 0) return 'containers'
  let verdict: JsonProblem | 'text' | undefined
  // Primitives are tested here rather than in a call: most values are, and the walk is 35% faster.
  if (isArray) {
    for (const child of value as unknown[]) {
      if (typeof child === 'object' && child !== null) {
        verdict = walkValue(child, room - 1, parsed, budget)
      } else if (!parsed && writtenByToJSON(child)) return 'text'
      if (verdict) return verdict
    }
  } else {
    // `for...in` is the fastest way V8 offers to visit keys (twice as fast as `Object.keys`).
    for (const key in value) {
      if (inherits && !Object.hasOwn(value, key)) continue
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
        return parsed ? 'key' : 'text'
      }
      const child: unknown = (value as Record<string, unknown>)[key]
      if (typeof child === 'object' && child !== null) {
        verdict = walkValue(child, room - 1, parsed, budget)
      } else if (!parsed && writtenByToJSON(child)) return 'text'
      if (verdict) return verdict
    }
  }
  return undefined
}

/**
 * True for a BigInt or a function that `JSON.stringify` writes as what its `toJSON` returns,
 * which may be any value: a `BigInt.prototype.toJSON` (MDN's `{ $bigint: '…' }` is an object a
 * level deeper), or a function's own. Without one a BigInt throws and a function is left out.
 */
function writtenByToJSON(value: unknown): boolean {
  return (
    (typeof value === 'bigint' || typeof value === 'function') &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  )
}

/**
 * Whether a text has more than `limit` opening brackets and braces, counted anywhere (strings
 * included, so the count bounds the nesting depth from above). Searched only until the answer
 * is known.
 */
export function hasMoreOpeners(text: string, limit: number): boolean {
  let count = 0
  for (const opener of '{[') {
    for (let i = text.indexOf(opener); i >= 0; i = text.indexOf(opener, i + 1)) {
      if (++count > limit) return true
    }
  }
  return false
}

/**
 * Whether a JSON text nests deeper than `maxDepth` or holds more than `maxContainers` arrays and
 * objects, found without building anything. Strings are skipped with native `indexOf`, and the
 * scan stops at the first bracket over a limit, so a bomb costs almost nothing. Exact on valid
 * JSON; on a text `JSON.parse` rejects it may answer anything, and the parse that follows (or
 * the refusal) rejects the text.
 */
export function findTextProblem(
  text: string,
  maxDepth: number,
  maxContainers: number,
): JsonProblem | undefined {
  let depth = 0
  let containers = 0
  for (let i = 0; i < text.length; i++) {
    // `[` and `{` differ in one bit, as do `]` and `}`.
    const unit = text.charCodeAt(i) | 0x20
    if (unit === 0x7b) {
      if (++depth > maxDepth) return 'depth'
      if (++containers > maxContainers) return 'containers'
    }
    if (unit === 0x7d) depth--
    if (unit === 0x22) {
      // A string ends at the next quote not escaped by an odd run of backslashes.
      do i = text.indexOf('"', i + 1)
      while (i > 0 && isEscaped(text, i))
      // An unterminated string: invalid JSON, left to the parser to reject.
      if (i < 0) return undefined
    }
  }
  return undefined
}

/** True when the quote at `index` is escaped: preceded by an odd run of backslashes. */
function isEscaped(text: string, index: number): boolean {
  let run = 0
  while (text.charCodeAt(index - run - 1) === 0x5c) run++
  return run % 2 === 1
}
