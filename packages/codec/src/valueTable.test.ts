/**
 * The value table: every value through both codecs, with what comes back. Where the codecs
 * differ, the row says so; the package README has the same table for users.
 */
import { describe, expect, it } from 'vitest'
import type { Codec } from './codec.js'
import type { LifelineErrorCode } from './errors.js'
import { json } from './json.js'
import { msgpack } from './msgpack/index.js'
import { expectLifelineError, nestedArrays } from './testHelpers.js'

type Outcome =
  | { readonly kind: 'same' }
  | { readonly kind: 'becomes'; readonly value: unknown }
  | { readonly kind: 'satisfies'; readonly check: (decoded: unknown) => boolean }
  | { readonly kind: 'refused'; readonly code: LifelineErrorCode }

interface Row {
  readonly name: string
  /** A thunk, so every codec gets a fresh value (some rows build cycles). */
  readonly value: () => unknown
  readonly json: Outcome
  readonly msgpack: Outcome
}

const same: Outcome = { kind: 'same' }
const becomes = (value: unknown): Outcome => ({ kind: 'becomes', value })
const satisfies = (check: (decoded: unknown) => boolean): Outcome => ({ kind: 'satisfies', check })
const refused: Outcome = { kind: 'refused', code: 'ENCODE_FAILED' }
const both = (outcome: Outcome) => ({ json: outcome, msgpack: outcome })

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

const table: readonly Row[] = [
  // Scalars
  { name: 'null', value: () => null, ...both(same) },
  { name: 'booleans', value: () => [true, false], ...both(same) },
  { name: 'integers', value: () => [0, 1, -1, 127, -33, 2 ** 31, 2 ** 32 + 1], ...both(same) },
  {
    name: 'safe integer limits',
    value: () => [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER],
    ...both(same),
  },
  { name: 'unsafe integer 2^60', value: () => 2 ** 60, ...both(same) },
  {
    name: 'floats',
    value: () => [0.1, -1.5e-300, Number.MAX_VALUE, Number.MIN_VALUE],
    ...both(same),
  },
  { name: '-0', value: () => -0, ...both(becomes(0)) },
  { name: 'NaN', value: () => NaN, json: becomes(null), msgpack: same },
  {
    name: 'Infinity, -Infinity',
    value: () => [Infinity, -Infinity],
    json: becomes([null, null]),
    msgpack: same,
  },
  { name: 'strings', value: () => ['', 'héllo', '日本語', '😀', 'a\u0000b'], ...both(same) },
  { name: 'a 100,000-character string', value: () => 'x'.repeat(100_000), ...both(same) },
  {
    name: 'a lone surrogate',
    value: () => '\ud800',
    json: same,
    // UTF-8 cannot hold one: it arrives as U+FFFD, one per invalid byte msgpackr wrote.
    msgpack: satisfies((decoded) => typeof decoded === 'string' && /^\ufffd+$/.test(decoded)),
  },
  // Containers
  { name: 'arrays', value: () => [[], [1, 'two', null, true], [[[]]]], ...both(same) },
  { name: 'objects', value: () => ({ a: 1, b: { c: [1, { d: null }] }, e: {} }), ...both(same) },
  {
    name: 'unusual keys',
    value: () => ({ '': 1, 'with space': 2, 日本: 3, 1: 4, __proto_: 5, toString: 6 }),
    ...both(same),
  },
  { name: 'nested 64 deep (the default maxDepth)', value: () => nestedArrays(64), ...both(same) },
  { name: 'nested 65 deep', value: () => nestedArrays(65), ...both(refused) },
  // undefined
  { name: 'undefined', value: () => undefined, json: refused, msgpack: same },
  {
    name: 'undefined in an array',
    value: () => [1, undefined],
    json: becomes([1, null]),
    msgpack: same,
  },
  {
    name: 'a hole in an array',
    value: () => {
      const holey: unknown[] = [1]
      holey[2] = 3
      return holey
    },
    json: becomes([1, null, 3]),
    msgpack: becomes([1, undefined, 3]),
  },
  {
    name: 'an undefined property',
    value: () => ({ a: 1, b: undefined }),
    json: becomes({ a: 1 }),
    msgpack: same,
  },
  // Dates
  {
    name: 'Date',
    value: () => new Date(1_732_500_000_123),
    json: becomes('2024-11-25T02:00:00.123Z'),
    msgpack: same,
  },
  {
    name: 'Date before 1970',
    value: () => new Date(-1),
    json: becomes('1969-12-31T23:59:59.999Z'),
    msgpack: same,
  },
  {
    name: 'invalid Date',
    value: () => new Date(NaN),
    json: becomes(null),
    msgpack: satisfies((decoded) => decoded instanceof Date && Number.isNaN(decoded.getTime())),
  },
  // Binary
  {
    name: 'Uint8Array',
    value: () => new Uint8Array([1, 2, 3]),
    json: becomes({ 0: 1, 1: 2, 2: 3 }),
    msgpack: same,
  },
  {
    name: 'Node Buffer',
    value: () => Buffer.from([1, 2]),
    json: becomes({ type: 'Buffer', data: [1, 2] }),
    msgpack: becomes(new Uint8Array([1, 2])),
  },
  { name: 'ArrayBuffer', value: () => new ArrayBuffer(2), json: becomes({}), msgpack: refused },
  {
    name: 'Float32Array',
    value: () => new Float32Array([1.5]),
    json: becomes({ 0: 1.5 }),
    msgpack: refused,
  },
  {
    name: 'DataView',
    value: () => new DataView(new ArrayBuffer(2)),
    json: becomes({}),
    msgpack: refused,
  },
  // Outside the domain: refused, or coerced the way each encoder always has
  { name: 'BigInt', value: () => ({ n: 10n }), ...both(refused) },
  { name: 'symbol', value: () => Symbol('s'), ...both(refused) },
  {
    name: 'a cycle',
    value: () => {
      const node: Record<string, unknown> = {}
      node.self = node
      return node
    },
    ...both(refused),
  },
  { name: 'a __proto__ own key', value: () => JSON.parse('{"__proto__":1}'), ...both(refused) },
  { name: 'a constructor key', value: () => ({ constructor: 'x' }), ...both(refused) },
  { name: 'a function', value: () => () => 1, ...both(refused) },
  {
    name: 'a function property',
    value: () => ({ f: () => 1 }),
    json: becomes({}),
    msgpack: refused,
  },
  { name: 'Map', value: () => new Map([['a', 1]]), json: becomes({}), msgpack: refused },
  { name: 'Set', value: () => new Set([1, 2]), json: becomes({}), msgpack: refused },
  {
    name: 'a class instance',
    value: () => new Point(1, 2),
    json: becomes({ x: 1, y: 2 }),
    msgpack: refused,
  },
  {
    name: 'a plain object with toJSON',
    value: () => ({ toJSON: () => 'x' }),
    json: becomes('x'),
    msgpack: refused,
  },
  {
    name: 'a null-prototype object',
    value: () => Object.assign(Object.create(null) as object, { a: 1 }),
    ...both(becomes({ a: 1 })),
  },
  { name: 'Error', value: () => new Error('boom'), json: becomes({}), msgpack: refused },
  { name: 'RegExp', value: () => /a+/g, json: becomes({}), msgpack: refused },
]

const codecs: Record<'json' | 'msgpack', Codec> = { json: json(), msgpack: msgpack() }

describe.each(['json', 'msgpack'] as const)('value table through %s', (codecName) => {
  const codec = codecs[codecName]
  it.each(table.map((row) => [row.name, row] as const))('%s', (_, row) => {
    const outcome = row[codecName]
    const value = row.value()
    if (outcome.kind === 'refused') {
      expectLifelineError(() => codec.encode(value), outcome.code)
      return
    }
    const decoded = codec.decode(codec.encode(value))
    if (outcome.kind === 'same') expect(decoded).toStrictEqual(value)
    else if (outcome.kind === 'becomes') expect(decoded).toStrictEqual(outcome.value)
    else expect(outcome.check(decoded)).toBe(true)
  })
})
