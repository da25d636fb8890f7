import fc from 'fast-check'
import { Packr } from 'msgpackr/pack'
import { describe, expect, it } from 'vitest'
import { scanMsgpack } from './scan.js'

/** Builds a frame from byte values, byte arrays and ASCII strings (raw bytes, no header). */
function frame(...parts: (number | readonly number[] | string)[]): Uint8Array {
  const bytes: number[] = []
  for (const part of parts) {
    if (typeof part === 'number') bytes.push(part)
    else if (typeof part === 'string') bytes.push(...Buffer.from(part, 'latin1'))
    else bytes.push(...part)
  }
  return Uint8Array.from(bytes)
}

const scan = (bytes: Uint8Array, maxDepth = 64, maxContainers = Infinity) =>
  scanMsgpack(bytes, maxDepth, maxContainers)

describe('scanMsgpack accepts the value domain', () => {
  it.each([
    ['nil, false, true', frame(0x93, 0xc0, 0xc2, 0xc3)],
    ['fixints', frame(0x93, 0x00, 0x7f, 0xe0)],
    ['uint 8/16/32', frame(0x93, 0xcc, 0xff, 0xcd, 0xff, 0xff, 0xce, 1, 2, 3, 4)],
    ['int 8/16/32', frame(0x93, 0xd0, 0x80, 0xd1, 0x80, 0, 0xd2, 0x80, 0, 0, 0)],
    ['float 32/64', frame(0x92, 0xca, 0, 0, 0, 0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0)],
    ['str 8/16/32', frame(0x93, 0xd9, 1, 'a', 0xda, 0, 1, 'b', 0xdb, 0, 0, 0, 1, 'c')],
    ['bin 8/16/32', frame(0x93, 0xc4, 1, 9, 0xc5, 0, 1, 9, 0xc6, 0, 0, 0, 1, 9)],
    ['array 16/32', frame(0x92, 0xdc, 0, 1, 0xc0, 0xdd, 0, 0, 0, 0)],
    ['map 16/32', frame(0x92, 0xde, 0, 1, 0xa1, 'k', 1, 0xdf, 0, 0, 0, 0)],
    [
      'timestamp 32/64/96',
      frame(
        0x93,
        0xd6,
        0xff,
        0,
        0,
        0,
        0,
        0xd7,
        0xff,
        [0, 0, 0, 0, 0, 0, 0, 0],
        0xc7,
        12,
        0xff,
        new Array<number>(12).fill(0),
      ),
    ],
    ['invalid Date as msgpackr writes it', frame(0xd4, 0xff, 0xff)],
    ['undefined as msgpackr writes it', frame(0x91, 0xd4, 0x00, 0x00)],
    ['number keys', frame(0x83, 0x01, 0xc0, 0xd0, 0xff, 0xc0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0)],
    [
      '64-bit integers in the safe range',
      frame(
        0x93,
        0xcf,
        [0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        0xd3,
        [0xff, 0xe0, 0, 0, 0, 0, 0, 1],
        0xd3,
        new Array<number>(8).fill(0xff),
      ),
    ],
  ])('%s', (_, bytes) => {
    expect(scan(bytes)).toBeUndefined()
  })

  it('agrees with a walk of the value on anything msgpackr writes from JSON values', () => {
    const packr = new Packr({ useRecords: false, variableMapSize: true })
    const key = fc.constantFrom('__proto__', 'constructor', 'prototype', 'a', 'constructors')
    const value = fc
      .jsonValue({ maxDepth: 5 })
      .chain((base) =>
        fc.oneof(fc.constant(base), fc.dictionary(key, fc.constant(base), { maxKeys: 2 })),
      )
    const depthOf = (v: unknown): number =>
      typeof v !== 'object' || v === null
        ? 0
        : 1 + Math.max(0, ...(Array.isArray(v) ? v : Object.values(v)).map(depthOf))
    const forbidden = (v: unknown): boolean =>
      typeof v === 'object' &&
      v !== null &&
      Object.entries(v).some(
        ([k, child]) =>
          (!Array.isArray(v) && ['__proto__', 'constructor', 'prototype'].includes(k)) ||
          forbidden(child),
      )
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 6 }), (v, max) => {
        const ok = depthOf(v) <= max && !forbidden(v)
        expect(scan(packr.pack(v), max) === undefined).toBe(ok)
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('scanMsgpack refuses', () => {
  it.each([
    ['an empty frame', frame()],
    ['a missing uint 16 byte', frame(0xcd, 0x01)],
    ['a short float 64', frame(0xcb, 0, 0, 0, 0, 0, 0, 0)],
    ['a short string', frame(0xd9, 5, 'ab')],
    ['a short binary', frame(0xc4, 3, 1)],
    ['missing array items', frame(0x92, 0x01)],
    ['a missing map value', frame(0x81, 0xa1, 'k')],
    ['a short array 16 header', frame(0xdc, 0)],
  ])('truncation: %s', (_, bytes) => {
    expect(scan(bytes)).toMatch(/truncated/)
  })

  it.each([
    ['str 32 claiming 4 GiB', frame(0xdb, 0xff, 0xff, 0xff, 0xff, 'abc')],
    ['bin 32 claiming 4 GiB', frame(0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3)],
    ['array 32 claiming 4 billion items', frame(0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0)],
    ['map 32 claiming 4 billion entries', frame(0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0)],
    ['ext 32 claiming 4 GiB', frame(0xc9, 0xff, 0xff, 0xff, 0xff, 0xff, 0)],
    ['a map whose entries need twice the bytes left', frame(0xdf, 0, 0, 0, 3, 1, 2, 3, 4)],
  ])('length-prefix lies: %s', (_, bytes) => {
    const start = performance.now()
    expect(scan(bytes)).toMatch(/truncated or declares more data than it holds/)
    // A scan that believed the length (allocated or walked 4 billion items) would take seconds;
    // the bound is loose so that a loaded 2-core machine cannot trip it.
    expect(performance.now() - start).toBeLessThan(1_000)
  })

  it.each([
    ['msgpackr record definition (fixext 1)', frame(0xd4, 0x72, 0x40, 0x91, 0xa1, 'a', 1)],
    ['msgpackr record definition (fixext 2)', frame(0xd5, 0x72, 0x40, 0x00)],
    ['structured-clone id', frame(0xd6, 0x69, 0, 0, 0, 1, 0x80)],
    ['structured-clone pointer', frame(0xd6, 0x70, 0, 0, 0, 1)],
    ['Set', frame(0xd4, 0x73, 0x00, 0x90)],
    ['Error', frame(0xd4, 0x65, 0x00, 0x90)],
    ['RegExp', frame(0xd4, 0x78, 0x00, 0x92, 0xa1, 'a', 0xa0)],
    ['typed array', frame(0xc7, 2, 0x74, 1, 0)],
    ['BigInt', frame(0xc7, 9, 0x42, 1, 0, 0, 0, 0, 0, 0, 0, 0)],
    ['bundled strings', frame(0xd6, 0x62, 0, 0, 0, 6)],
    ['an application extension', frame(0xd4, 0x01, 0x00)],
    ['a negative extension type', frame(0xd4, 0xfe, 0x00)],
    ['undefined in a long form', frame(0xd5, 0x00, 0, 0)],
  ])('extensions outside the domain: %s', (_, bytes) => {
    expect(scan(bytes)).toMatch(/unsupported extension type/)
  })

  it.each([
    ['fixext 2', frame(0xd5, 0xff, 0, 0)],
    ['fixext 16', frame(0xd8, 0xff, new Array<number>(16).fill(0))],
    ['ext 8 of 5 bytes', frame(0xc7, 5, 0xff, 0, 0, 0, 0, 0)],
  ])('timestamps of invalid sizes: %s', (_, bytes) => {
    expect(scan(bytes)).toMatch(/timestamp of an invalid size/)
  })

  it('the reserved byte 0xc1', () => {
    expect(scan(frame(0x91, 0xc1))).toMatch(/reserved byte 0xc1/)
  })

  it('bytes after the value', () => {
    expect(scan(frame(0xc0, 0xc0))).toMatch(/bytes after the end/)
  })

  it.each([
    ['fixstr', frame(0x81, 0xa9, '__proto__', 0x80)],
    ['str 8', frame(0x81, 0xd9, 9, '__proto__', 0x80)],
    ['str 16', frame(0x81, 0xda, 0, 11, 'constructor', 0x80)],
    ['str 32', frame(0x81, 0xdb, 0, 0, 0, 9, 'prototype', 0x80)],
    ['nested in an array in a map', frame(0x81, 0xa1, 'a', 0x91, 0x81, 0xa9, 'prototype', 1)],
    ['in a second entry', frame(0x82, 0xa1, 'a', 1, 0xab, 'constructor', 1)],
  ])('a forbidden key as %s', (_, bytes) => {
    expect(scan(bytes)).toMatch(/forbidden key/)
  })

  // Overlong UTF-8: invalid, but msgpackr before 1.11.9 reads `c1 9f` as `_`, `e0 81 a3` as `c`,
  // and takes a lead's bits without checking that continuation bytes follow (`c1 1f`).
  it.each([
    ['__proto__, its first letter in 2 bytes', frame(0x81, 0xaa, 0xc1, 0x9f, '_proto__', 0x80)],
    ['__proto__, without continuation bits', frame(0x81, 0xaa, 0xc1, 0x1f, '_proto__', 0x80)],
    [
      'constructor, its first letter in 3 bytes',
      frame(0x81, 0xad, 0xe0, 0x81, 0xa3, 'onstructor', 1),
    ],
    [
      'prototype, its last letter in 4 bytes, as str 8',
      frame(0x81, 0xd9, 12, 'prototyp', 0xf0, 0x80, 0x81, 0xa5, 1),
    ],
    [
      'constructor, every letter in 4 bytes',
      frame(
        0x81,
        0xd9,
        44,
        ...[...'constructor'].map((c) => [0xf0, 0x80, 0x81, 0x80 | (c.charCodeAt(0) & 0x3f)]),
        1,
      ),
    ],
  ])('a forbidden key spelled in overlong UTF-8: %s', (_, bytes) => {
    expect(scan(bytes)).toMatch(/forbidden key/)
  })

  it('lets other keys with overlong sequences and longer names through', () => {
    expect(scan(frame(0x81, 0xaa, 0xc1, 0xa1, 'bcdefghi', 1))).toBeUndefined()
    expect(scan(frame(0x81, 0xac, 'constructors', 1))).toBeUndefined()
    expect(scan(frame(0x81, 0xad, 0xc1, 0xa3, 'onstructors', 1))).toBeUndefined()
  })

  it('lets the forbidden words through as values', () => {
    expect(scan(frame(0x81, 0xa1, 'a', 0xa9, '__proto__'))).toBeUndefined()
    expect(scan(frame(0x92, 0xab, 'constructor', 0xa9, 'prototype'))).toBeUndefined()
  })

  it.each([
    ['nil', frame(0x81, 0xc0, 1)],
    ['boolean', frame(0x81, 0xc3, 1)],
    ['binary', frame(0x81, 0xc4, 1, 0x61, 1)],
    ['array', frame(0x81, 0x90, 1)],
    ['map', frame(0x81, 0x80, 1)],
    ['timestamp', frame(0x81, 0xd6, 0xff, 0, 0, 0, 0, 1)],
  ])('a %s map key', (_, bytes) => {
    expect(scan(bytes)).toMatch(/map key that is not a string or a number/)
  })

  it('64-bit integers outside the safe range', () => {
    const maxSafe = frame(0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
    const twoTo53 = frame(0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0)
    const minSafe = frame(0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 1)
    const minusTwoTo53 = frame(0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 0)
    const uint64Max = frame(0xcf, new Array<number>(8).fill(0xff))
    expect(scan(maxSafe)).toBeUndefined()
    expect(scan(minSafe)).toBeUndefined()
    for (const bytes of [twoTo53, minusTwoTo53, uint64Max]) {
      expect(scan(bytes)).toMatch(/outside the safe integer range/)
    }
  })

  it('nesting over maxDepth, empty containers included', () => {
    const nested = (depth: number, open: number[], leaf: number[]) =>
      frame(...new Array<number[]>(depth - 1).fill(open).flat(), ...leaf)
    expect(scan(nested(64, [0x91], [0x90]))).toBeUndefined()
    expect(scan(nested(65, [0x91], [0x90]))).toMatch(/deeper than maxDepth \(64\)/)
    expect(scan(nested(64, [0x81, 0xa1, 0x61], [0x80]))).toBeUndefined()
    expect(scan(nested(65, [0x81, 0xa1, 0x61], [0x80]))).toMatch(/maxDepth/)
    expect(scan(frame(0x90), 1)).toBeUndefined()
    expect(scan(frame(0x91, 0x90), 1)).toMatch(/maxDepth \(1\)/)
  })

  it('more arrays and maps than maxContainers, as many as the value has', () => {
    const packr = new Packr({ useRecords: false, variableMapSize: true })
    const containersOf = (v: unknown): number =>
      typeof v !== 'object' || v === null
        ? 0
        : (Array.isArray(v) ? v : Object.values(v)).reduce(
            (sum: number, child) => sum + containersOf(child),
            1,
          )
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.integer({ min: 1, max: 12 }), (v, max) => {
        const problem = scan(packr.pack(v), 64, max)
        // A generated key may be a forbidden one, refused as such.
        if (problem?.includes('forbidden')) return
        if (containersOf(v) > max) expect(problem).toMatch(/more than maxContainers/)
        else expect(problem).toBeUndefined()
      }),
      { numRuns: 2_000 },
    )
  })

  it('a 1 MiB depth bomb at the 65th level, quickly', () => {
    const bomb = new Uint8Array(1 << 20).fill(0x91)
    const start = performance.now()
    expect(scan(bomb)).toMatch(/maxDepth/)
    // Stopping at level 65 is what `maxDepth` means; a recursive walk of the whole megabyte would
    // overflow the stack instead. The bound is loose for a loaded machine, as above.
    expect(performance.now() - start).toBeLessThan(1_000)
  })
})
