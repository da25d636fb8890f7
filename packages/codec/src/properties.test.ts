/**
 * Property tests: round trips of generated values through both codecs.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { json } from './json.js'
import { msgpack } from './msgpack/index.js'
import { expectLifelineError } from './testHelpers.js'

const forbidden = new Set(['__proto__', 'constructor', 'prototype'])

/** fast-check generates `__proto__` keys on purpose; the codecs must refuse them. */
function hasForbiddenKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (Array.isArray(value)) return value.some(hasForbiddenKey)
  if (value instanceof Date || value instanceof Uint8Array) return false
  return Object.entries(value).some(([key, child]) => forbidden.has(key) || hasForbiddenKey(child))
}

const codecs = { json: json(), msgpack: msgpack() }

describe.each(['json', 'msgpack'] as const)('%s round trip', (name) => {
  const codec = codecs[name]

  it('returns any JSON-safe value unchanged, or refuses it for a forbidden key', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8, stringUnit: 'grapheme' }), (value) => {
        if (hasForbiddenKey(value)) {
          expectLifelineError(() => codec.encode(value), 'ENCODE_FAILED')
        } else {
          // What JSON itself returns: the value, except -0 comes back as 0 (from both codecs).
          const expected: unknown = JSON.parse(JSON.stringify(value))
          expect(codec.decode(codec.encode(value))).toStrictEqual(expected)
        }
      }),
      { numRuns: 1_500 },
    )
  })
})

describe('msgpack round trip of its whole value domain', () => {
  const codec = msgpack()
  const key = fc.string({ maxLength: 8 }).filter((k) => !forbidden.has(k))
  const leaf = fc.oneof(
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    // -0 is written as 0 by msgpackr (see the value table); every other double survives.
    fc.double().map((n) => (Object.is(n, -0) ? 0 : n)),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.date({ noInvalidDate: true }),
  )
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      tie('array'),
      tie('object'),
    ),
    array: fc.array(tie('node'), { maxLength: 5 }),
    // Null-prototype objects are accepted too, but come back with Object.prototype.
    object: fc.dictionary(key, tie('node'), { maxKeys: 5, noNullPrototype: true }),
  })).node

  it('returns Date, Uint8Array, undefined, NaN and Infinity unchanged', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(codec.decode(codec.encode(v))).toStrictEqual(v)
      }),
      { numRuns: 1_500 },
    )
  })

  it('decodes the same value from a Buffer, an ArrayBuffer and a Uint8Array', () => {
    fc.assert(
      fc.property(value, (v) => {
        const frame = codec.encode(v)
        const copy = Uint8Array.from(frame)
        expect(codec.decode(Buffer.from(copy))).toStrictEqual(v)
        expect(codec.decode(copy.buffer)).toStrictEqual(v)
      }),
      { numRuns: 300 },
    )
  })
})
