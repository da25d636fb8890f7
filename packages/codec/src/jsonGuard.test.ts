import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  findJsonProblem,
  findTextProblem,
  hasMoreOpeners,
  walkValue as walkValueWithin,
  unbounded,
} from './jsonGuard.js'
import { fastestOfThreeMs } from './testHelpers.js'

/** The walk with no limit on containers. */
const walkValue = (value: object, room: number, parsed: boolean) =>
  walkValueWithin(value, room, parsed, { left: Infinity })

/** The scan with no limit on containers: whether the text nests deeper than `maxDepth`. */
const nestsDeeper = (text: string, maxDepth: number) =>
  findTextProblem(text, maxDepth, Infinity) === 'depth'

/** Reference count of arrays and objects, at every depth. */
function containersOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0
  const children = Array.isArray(value) ? value : Object.values(value)
  return 1 + children.reduce((sum: number, child) => sum + containersOf(child), 0)
}

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

/** The problem of a JSON text by the reference functions above, from what it parses to. */
function referenceProblem(text: string, maxDepth: number): string | undefined {
  const parsed: unknown = JSON.parse(text)
  if (depthOf(parsed) > maxDepth) return 'depth'
  return hasForbiddenKey(parsed) ? 'key' : undefined
}

/** `findJsonProblem` of a value `JSON.parse` read from `text`. */
const problemOfText = (text: string, maxDepth = 64) =>
  findJsonProblem(JSON.parse(text), text, maxDepth, true, unbounded)

describe('nestsDeeper', () => {
  it('agrees with the depth of the parsed value on any JSON text', () => {
    const word = fc.constantFrom('a', '"', '\\', '[{', ']}', '\\"]')
    const value = fc.jsonValue({ maxDepth: 6 }).chain((base) =>
      fc.oneof(
        fc.constant(base),
        // Quotes, backslashes and brackets in keys and in values, so strings must be skipped.
        fc.dictionary(word, fc.oneof(fc.constant(base), word), { maxKeys: 3 }),
      ),
    )
    fc.assert(
      fc.property(
        value,
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom(0, 2),
        (v, max, indent) => {
          const text = JSON.stringify(v, null, indent)
          expect(nestsDeeper(text, max)).toBe(depthOf(v) > max)
        },
      ),
      { numRuns: 3_000 },
    )
  })

  it('ignores brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ a: '[[[[{{{{'.repeat(20), b: ['"]]]]\\'] })
    expect(nestsDeeper(text, 2)).toBe(false)
    expect(nestsDeeper(text, 1)).toBe(true)
  })

  it('stops at the first level over the limit, so a 1 MiB depth bomb costs almost nothing', () => {
    const bomb = '['.repeat(1 << 19) + ']'.repeat(1 << 19)
    expect(nestsDeeper(bomb, 64)).toBe(true)
    expect(fastestOfThreeMs(() => nestsDeeper(bomb, 64))).toBeLessThan(50)
  })

  it('leaves unterminated strings to the parser', () => {
    expect(nestsDeeper('["[[[', 1)).toBe(false)
  })
})

describe('findTextProblem counting containers', () => {
  it('agrees with the arrays and objects of the parsed value on any JSON text', () => {
    const word = fc.constantFrom('a', '"', '\\', '[{', ']}', '\\"]')
    const value = fc
      .jsonValue({ maxDepth: 4 })
      .chain((base) =>
        fc.oneof(fc.constant(base), fc.array(fc.oneof(fc.constant(base), word), { maxLength: 4 })),
      )
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 12 }), (v, max) => {
        const text = JSON.stringify(v)
        expect(findTextProblem(text, 64, max)).toBe(
          containersOf(v) > max ? 'containers' : undefined,
        )
      }),
      { numRuns: 3_000 },
    )
  })

  it('stops at the first container over the limit', () => {
    const bomb = `[${'{},'.repeat(349_000)}{}]`
    expect(findTextProblem(bomb, 64, 262_144)).toBe('containers')
    expect(fastestOfThreeMs(() => findTextProblem(bomb, 64, 1_000))).toBeLessThan(5)
  })
})

describe('hasMoreOpeners', () => {
  it('counts brackets and braces anywhere, strings included', () => {
    const text = JSON.stringify({ a: [{}, [], '[{'], b: 'x'.repeat(30) })
    expect(hasMoreOpeners(text, 5)).toBe(true)
    expect(hasMoreOpeners(text, 6)).toBe(false)
  })

  it('stops at the limit', () => {
    expect(hasMoreOpeners('[[[[]]]]', 4)).toBe(false)
    expect(hasMoreOpeners('[[[[]]]]', 3)).toBe(true)
  })
})

describe('findJsonProblem of a parsed value', () => {
  it('agrees with a reference walk on any JSON text', () => {
    const keyOrWord = fc.constantFrom('__proto__', 'constructor', 'prototype', 'a', '"', '[{')
    const value = fc.jsonValue({ maxDepth: 6 }).chain((base) =>
      fc.oneof(
        fc.constant(base),
        // Forbidden words as keys and as values, so both verdicts get exercised.
        fc.dictionary(keyOrWord, fc.oneof(fc.constant(base), keyOrWord), { maxKeys: 3 }),
      ),
    )
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 8 }), (v, max) => {
        const text = JSON.stringify(v)
        const problem = problemOfText(text, max)
        expect(problem === undefined).toBe(referenceProblem(text, max) === undefined)
        if (problem === 'depth') expect(depthOf(v)).toBeGreaterThan(max)
        if (problem === 'key') expect(hasForbiddenKey(v)).toBe(true)
      }),
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
    expect(problemOfText(text)).toBe('key')
  })

  it.each([
    '["__proto__","constructor","prototype"]',
    '{"a":"__proto__","b":"constructor"}',
    '{"a\\"__proto__":1}',
    '{"__proto_":1,"constructors":2,"prototypes":3}',
    '{"__PROTO__":1,"Constructor":2}',
    '{"toString":1,"valueOf":2,"hasOwnProperty":3,"__defineGetter__":4}',
  ])('lets %s through', (text) => {
    expect(problemOfText(text)).toBeUndefined()
  })

  it('decides plain data by the walk alone', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 7 }), (v, max) => {
        if (typeof v !== 'object' || v === null) return
        const verdict = walkValue(v, max, true)
        expect(verdict).not.toBe('text')
        if (!hasForbiddenKey(v)) {
          expect(verdict).toBe(depthOf(v) > max ? 'depth' : undefined)
          expect(walkValue(v, max, false)).toBe(depthOf(v) > max ? 'depth' : undefined)
        }
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('findJsonProblem of a value to stringify', () => {
  class Point {
    constructor(readonly x: unknown) {}
  }
  /** An old-style prototype: its `constructor` is enumerable, and instances inherit it. */
  function Legacy(this: { y: unknown }, y: unknown) {
    this.y = y
  }
  Legacy.prototype = { constructor: Legacy, prototype: [[[[]]]] }
  const legacy = (y: unknown) => new (Legacy as unknown as new (y: unknown) => object)(y)

  const forbiddenWord = fc.constantFrom('__proto__', 'constructor', 'prototype', 'a')
  const leaf = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(undefined, () => 1, Symbol('s'), new Date(0), new Date(NaN)),
    fc.constantFrom(Object(1), Object('s'), Object(false)),
    fc.constant({ toJSON: () => undefined }),
    fc.constant({ toJSON: () => ({ deep: [[[[]]]] }) }),
    fc.constant({ toJSON: () => ({ constructor: 1 }) }),
    fc.constant(new Point([[1]])),
    fc.constant(legacy([1])),
    fc.constant(Object.assign(Object.create(null) as object, { b: [1] })),
    fc.constant(Object.assign(Object.create({ inherited: [[[[]]]] }) as object, { c: 1 })),
  )
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
    array: fc.array(tie('node'), { maxLength: 3 }),
    object: fc.dictionary(forbiddenWord, tie('node'), { maxKeys: 3 }),
  })).node

  it('agrees with a reference walk of the text JSON.stringify wrote', () => {
    let decided = 0
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 5 }), (v, max) => {
        const text = JSON.stringify(v)
        if (text === undefined) return
        const problem = findJsonProblem(v, text, max, false, { left: Infinity })
        expect(problem === undefined).toBe(referenceProblem(text, max) === undefined)
        const parsed: unknown = JSON.parse(text)
        if (problem === 'depth') expect(depthOf(parsed)).toBeGreaterThan(max)
        if (problem === 'key') expect(hasForbiddenKey(parsed)).toBe(true)
        if (typeof v === 'object' && v !== null && walkValue(v, max, false) !== 'text') decided++
      }),
      { numRuns: 3_000 },
    )
    // Objects here mostly have forbidden keys, which the walk leaves to the text; everything
    // else it must decide alone.
    expect(decided).toBeGreaterThan(750)
  })

  it('counts the containers of the text JSON.stringify wrote', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 10 }), (v, max) => {
        const text = JSON.stringify(v)
        if (text === undefined) return
        const problem = findJsonProblem(v, text, 64, false, { left: max })
        const parsed: unknown = JSON.parse(text)
        if (hasForbiddenKey(parsed)) return
        expect(problem).toBe(containersOf(parsed) > max ? 'containers' : undefined)
      }),
      { numRuns: 3_000 },
    )
  })

  it('decides class instances alone, writing only their own keys as JSON.stringify does', () => {
    expect(walkValue([new Point(1)], 64, false)).toBeUndefined()
    expect(walkValue([new Point([[1]])], 2, false)).toBe('depth')
    expect(walkValue(legacy(1), 64, false)).toBeUndefined()
    expect(walkValue({ d: new Date(0) }, 64, false)).toBeUndefined()
  })

  it('leaves toJSON results, boxed primitives and forbidden keys to the text', () => {
    expect(walkValue({ a: { toJSON: () => 1 } }, 64, false)).toBe('text')
    expect(walkValue([Object(1)], 64, false)).toBe('text')
    expect(walkValue({ constructor: 1 }, 64, false)).toBe('text')
    expect(walkValue({ a: Object.assign(() => 1, { toJSON: () => [] }) }, 64, false)).toBe('text')
    expect(walkValue({ a: () => 1 }, 64, false)).toBeUndefined()
    const boxed = [[Object('s')]]
    expect(
      findJsonProblem(boxed, JSON.stringify(boxed), 2, false, { left: Infinity }),
    ).toBeUndefined()
  })

  it('ignores properties JSON leaves out', () => {
    const value = { constructor: undefined, prototype: () => 1 }
    expect(
      findJsonProblem(value, JSON.stringify(value), 64, false, { left: Infinity }),
    ).toBeUndefined()
  })

  it('finds a forbidden key that a toJSON adds, and ignores one it removes', () => {
    const adds = { toJSON: () => ({ constructor: 1 }) }
    expect(findJsonProblem(adds, JSON.stringify(adds), 64, false, { left: Infinity })).toBe('key')
    const removes = { prototype: { toJSON: () => undefined } }
    expect(
      findJsonProblem(removes, JSON.stringify(removes), 64, false, { left: Infinity }),
    ).toBeUndefined()
  })
})
