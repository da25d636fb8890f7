import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  findParsedProblem,
  findStringifiedProblem,
  hasMoreOpeners,
  scanJsonText,
  undecided,
} from './jsonGuard.js'

/** Reference depth: a scalar is 0, `[]` and `{}` are 1. */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0
  const children = Array.isArray(value) ? value : Object.values(value)
  return 1 + Math.max(0, ...children.map(depthOf))
}

function hasForbiddenKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (Array.isArray(value)) return value.some(hasForbiddenKey)
  return Object.keys(value).some(
    (key) =>
      key === '__proto__' ||
      key === 'constructor' ||
      key === 'prototype' ||
      hasForbiddenKey((value as Record<string, unknown>)[key]),
  )
}

describe('scanJsonText', () => {
  it('agrees with a walk of the parsed value on any JSON text', () => {
    const keyOrWord = fc.constantFrom('__proto__', 'constructor', 'prototype', 'a', '"', '[{')
    const value = fc.jsonValue({ maxDepth: 6 }).chain((base) =>
      fc.oneof(
        fc.constant(base),
        // Forbidden words as keys and as values, so both verdicts get exercised.
        fc.dictionary(keyOrWord, fc.oneof(fc.constant(base), keyOrWord), { maxKeys: 3 }),
      ),
    )
    fc.assert(
      fc.property(
        value,
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom(0, 2),
        (v, max, indent) => {
          const text = JSON.stringify(v, null, indent)
          const tooDeep = depthOf(v) > max
          const forbidden = hasForbiddenKey(v)
          const problem = scanJsonText(text, max)
          expect(problem === undefined).toBe(!tooDeep && !forbidden)
          if (problem?.startsWith('nests')) expect(tooDeep).toBe(true)
          if (problem?.startsWith('has a forbidden')) expect(forbidden).toBe(true)
        },
      ),
      { numRuns: 3_000 },
    )
  })

  it.each([
    '{"\\u005f_proto__":1}',
    '{"__proto\\u005f_":1}',
    '{"\\u005F\\u005Fproto\\u005F\\u005F":1}',
    '{"\\u0063onstructor":{}}',
    '{"prototyp\\u0065" \n\t: 1}',
    '{"a":[{"b":{"__proto__":null}}]}',
    '{"x":"\\\\","__proto__":1}',
    '{"x":"\\"","constructor":1}',
    '{ "prototype" : 1 }',
  ])('finds the forbidden key in %s', (text) => {
    expect(scanJsonText(text, 64)).toMatch(/forbidden key/)
    expect(findParsedProblem(JSON.parse(text), 64)).toMatch(/forbidden key/)
  })

  it.each([
    '["__proto__","constructor","prototype"]',
    '{"a":"__proto__","b":"constructor"}',
    '{"a\\"__proto__":1}',
    '{"__proto_":1,"constructors":2,"prototypes":3}',
    '{"__PROTO__":1,"Constructor":2}',
    '{"toString":1,"valueOf":2,"hasOwnProperty":3,"__defineGetter__":4}',
  ])('lets %s through', (text) => {
    expect(scanJsonText(text, 64)).toBeUndefined()
    expect(findParsedProblem(JSON.parse(text), 64)).toBeUndefined()
  })

  it('ignores brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ a: '[[[[{{{{'.repeat(20), b: ['"]]]]\\'] })
    expect(scanJsonText(text, 2)).toBeUndefined()
    expect(scanJsonText(text, 1)).toMatch(/maxDepth \(1\)/)
  })

  it('stops at the first level over the limit, so a 1 MiB depth bomb costs almost nothing', () => {
    const bomb = '['.repeat(1 << 19) + ']'.repeat(1 << 19)
    const start = performance.now()
    expect(scanJsonText(bomb, 64)).toMatch(/deeper than maxDepth \(64\)/)
    expect(performance.now() - start).toBeLessThan(50)
  })

  it('leaves unterminated strings to the parser', () => {
    expect(scanJsonText('{"a', 64)).toBeUndefined()
  })
})

describe('hasMoreOpeners', () => {
  it('counts brackets and braces anywhere, strings included', () => {
    const text = JSON.stringify({ a: [{}, [], '[{'], b: 'x'.repeat(30) })
    expect(hasMoreOpeners(text, 5)).toBe(true)
    expect(hasMoreOpeners(text, 6)).toBe(false)
  })

  it('does not search a text no longer than the limit', () => {
    expect(hasMoreOpeners('[[[[]]]]', 8)).toBe(false)
    expect(hasMoreOpeners('[[[[]]]]', 3)).toBe(true)
  })
})

describe('findParsedProblem', () => {
  it('agrees with a reference walk on any parsed JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 7 }), (v, max) => {
        const expected = depthOf(v) <= max && !hasForbiddenKey(v)
        expect(findParsedProblem(v, max) === undefined).toBe(expected)
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('findStringifiedProblem', () => {
  class Point {
    constructor(readonly x: unknown) {}
  }
  const forbiddenWord = fc.constantFrom('__proto__', 'constructor', 'prototype', 'a')
  const leaf = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(undefined, () => 1, Symbol('s'), new Date(0), new Date(NaN)),
    fc.constant({ toJSON: () => undefined }),
    fc.constant({ toJSON: () => ({ deep: [[[[]]]] }) }),
    fc.constant(new Point([[1]])),
    fc.constant(Object.assign(Object.create(null) as object, { b: [1] })),
  )
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
    array: fc.array(tie('node'), { maxLength: 3 }),
    object: fc.dictionary(forbiddenWord, tie('node'), { maxKeys: 3 }),
  })).node

  it('agrees with a scan of the JSON text whenever it decides', () => {
    let decided = 0
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 5 }), (v, max) => {
        const text = JSON.stringify(v)
        if (text === undefined) return
        const problem = findStringifiedProblem(v, max)
        if (problem === undecided) return
        decided++
        expect(problem === undefined).toBe(scanJsonText(text, max) === undefined)
      }),
      { numRuns: 3_000 },
    )
    // Most generated values are plain data, which the walk must decide on its own.
    expect(decided).toBeGreaterThan(1_500)
  })

  it('leaves toJSON results and class instances to the text scan', () => {
    expect(findStringifiedProblem({ a: { toJSON: () => 1 } }, 64)).toBe(undecided)
    expect(findStringifiedProblem([new Point(1)], 64)).toBe(undecided)
    expect(findStringifiedProblem({ d: new Date(0) }, 64)).toBeUndefined()
  })

  it('ignores properties JSON leaves out', () => {
    expect(findStringifiedProblem({ constructor: undefined, prototype: () => 1 }, 64)).toBe(
      undefined,
    )
  })
})
