import { describe, expect, it } from 'vitest'
import { json } from './json.js'
import {
  expectLifelineError,
  fastestOfThreeMs,
  nestedArrays,
  nestedObjects,
  objectPrototypeSnapshot,
} from './testHelpers.js'

describe('json() decode', () => {
  const codec = json()

  it('decodes a text frame', () => {
    expect(codec.decode('{"t":"chat","d":[1,"x",null,true]}')).toEqual({
      t: 'chat',
      d: [1, 'x', null, true],
    })
  })

  it.each([
    ['a Uint8Array', new Uint8Array([0x7b, 0x7d])],
    ['a Buffer', Buffer.from('{}')],
    ['an ArrayBuffer', new ArrayBuffer(2)],
  ])('refuses %s with DECODE_FAILED and close code 1003, not a parse error', (_, frame) => {
    const error = expectLifelineError(() => codec.decode(frame), 'DECODE_FAILED', 1003)
    expect(error.message).toBe('lifeline.v1.json accepts only text frames')
  })

  it('refuses what is not a frame at all (from untyped callers)', () => {
    for (const frame of [undefined, null, 42, {}, [], () => '{}']) {
      expectLifelineError(() => codec.decode(frame as never), 'DECODE_FAILED', 1003)
    }
  })

  it.each(['', '{', '{"a":}', 'undefined', "{'a':1}", '[1,]', '{"a":1}x', 'NaN'])(
    'refuses invalid JSON %j with DECODE_FAILED and close code 1007',
    (text) => {
      const error = expectLifelineError(() => codec.decode(text), 'DECODE_FAILED', 1007)
      expect(error.cause).toBeInstanceOf(SyntaxError)
    },
  )

  it('counts maxBytes in UTF-8 bytes, exactly', () => {
    const limited = json({ maxBytes: 12 })
    const atLimit = JSON.stringify('日本語é') // 2 quotes + 9 + 2 = 13 bytes
    expect(limited.decode(JSON.stringify('日本語'))).toBe('日本語') // 11 bytes
    expectLifelineError(() => limited.decode(atLimit), 'MESSAGE_TOO_LARGE', 1009)
    expect(json({ maxBytes: 13 }).decode(atLimit)).toBe('日本語é')
  })

  it('refuses a frame over the 1 MiB default before parsing it', () => {
    const big = `"${'a'.repeat(1_048_576 - 2)}"`
    expect(codec.decode(big)).toHaveLength(1_048_574)
    expectLifelineError(() => codec.decode(`${big} `), 'MESSAGE_TOO_LARGE', 1009)
  })

  it.each([
    ['arrays', nestedArrays],
    ['objects', nestedObjects],
  ])('accepts %s nested 64 deep and refuses 65 (default maxDepth)', (_, nest) => {
    expect(codec.decode(JSON.stringify(nest(64)))).toEqual(nest(64))
    const error = expectLifelineError(
      () => codec.decode(JSON.stringify(nest(65))),
      'DECODE_FAILED',
      1007,
    )
    expect(error.message).toBe('JSON frame nests deeper than maxDepth (64)')
  })

  it('checks depth exactly in texts with many brackets too', () => {
    const wide = JSON.stringify(Array.from({ length: 100 }, () => [[]]))
    expect(json({ maxDepth: 3 }).decode(wide)).toHaveLength(100)
    expectLifelineError(() => json({ maxDepth: 2 }).decode(wide), 'DECODE_FAILED', 1007)
  })

  it('refuses 1 MiB depth bombs fast, without a stack overflow', () => {
    const half = 1 << 19
    const bombs = [
      '['.repeat(half) + ']'.repeat(half),
      '{"a":'.repeat(170_000) + '1' + '}'.repeat(170_000),
      '[1,'.repeat(262_000),
    ]
    const fastestMs = (bomb: string) =>
      Math.min(
        ...[0, 1, 2].map(() => {
          const start = performance.now()
          expectLifelineError(() => codec.decode(bomb), 'DECODE_FAILED', 1007)
          return performance.now() - start
        }),
      )
    // The fastest of three: a pause of a loaded machine is not the decoder's slowness.
    for (const bomb of bombs) expect(fastestMs(bomb)).toBeLessThan(100)
  })

  it.each([
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"a":{"prototype":1}}',
    '[{"b":[{"__proto__":[]}]}]',
    '{"\\u005f_proto__":{"polluted":true}}',
    '{"\\u0063onstructor":1}',
  ])('refuses the forbidden key in %s', (text) => {
    const error = expectLifelineError(() => codec.decode(text), 'DECODE_FAILED', 1007)
    expect(error.message).toBe(
      'JSON frame has a forbidden key (__proto__, constructor or prototype)',
    )
  })

  it('checks texts with more brackets than it parses first (16,384) by scanning them', () => {
    const wide = Array.from({ length: 20_000 }, () => ({}))
    expect(codec.decode(JSON.stringify(wide))).toHaveLength(20_000)
    const withKey = JSON.stringify([...wide, { a: [{ prototype: 1 }] }])
    expectLifelineError(() => codec.decode(withKey), 'DECODE_FAILED', 1007)
    const deep = JSON.stringify([...wide, nestedArrays(64)])
    expectLifelineError(() => codec.decode(deep), 'DECODE_FAILED', 1007)
  })

  it('refuses a 1 MiB frame of empty containers before parsing it (default maxContainers)', () => {
    // 349,525 of them: parsed, some 20 MiB of heap for 1 MiB of text.
    for (const empty of ['{}', '[]']) {
      const bomb = `[${Array.from({ length: 349_525 }, () => empty).join(',')}]`
      const error = expectLifelineError(() => codec.decode(bomb), 'DECODE_FAILED', 1007)
      expect(error.message).toBe(
        'JSON frame holds more than maxContainers (262144) arrays and objects',
      )
      expect(
        fastestOfThreeMs(() => expectLifelineError(() => codec.decode(bomb), 'DECODE_FAILED')),
      ).toBeLessThan(100)
    }
  })

  it('counts every array and object toward maxContainers, empty ones and the frame included', () => {
    const atLimit = JSON.stringify([{ a: [] }, [{}], { b: '[{[{' }]) // 6, not the brackets in a string
    expect(json({ maxContainers: 6 }).decode(atLimit)).toEqual(JSON.parse(atLimit))
    expectLifelineError(() => json({ maxContainers: 5 }).decode(atLimit), 'DECODE_FAILED', 1007)
    // Above the brackets it parses first (16,384), counted by the scan, past strings.
    const wide = JSON.stringify([...Array.from({ length: 19_999 }, () => ({ s: '{}' }))])
    expect(json({ maxContainers: 20_000 }).decode(wide)).toHaveLength(19_999)
    expectLifelineError(() => json({ maxContainers: 19_999 }).decode(wide), 'DECODE_FAILED', 1007)
  })

  it('refuses nesting deeper than the stack allows under a larger maxDepth, not a RangeError', () => {
    const deep = json({ maxDepth: 1_000_000 })
    for (const text of [
      '['.repeat(200_000) + ']'.repeat(200_000),
      '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000),
    ]) {
      expectLifelineError(() => deep.decode(text), 'DECODE_FAILED', 1007)
    }
    expect(deep.decode(JSON.stringify(nestedArrays(100)))).toEqual(nestedArrays(100))
  })

  it('refuses forbidden keys in texts with many brackets too', () => {
    const many = Array.from({ length: 70 }, () => ({}))
    const text = JSON.stringify([...many, { __proto__: null, constructor: 1 }])
    expectLifelineError(() => codec.decode(text), 'DECODE_FAILED', 1007)
  })

  it('accepts the forbidden words as values and in other keys', () => {
    const text = '{"text":"__proto__ constructor prototype","__proto_":1,"toString":2}'
    expect(codec.decode(text)).toEqual({
      text: '__proto__ constructor prototype',
      __proto_: 1,
      toString: 2,
    })
  })

  it('never lets a frame touch a prototype', () => {
    const before = objectPrototypeSnapshot()
    const frames = [
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"toString":"x","valueOf":1,"hasOwnProperty":2,"__defineGetter__":3,"__proto_":4}',
    ]
    for (const frame of frames) {
      let decoded: unknown = {}
      try {
        decoded = codec.decode(frame)
      } catch {
        // refused: that is the point
      }
      const merged: Record<string, unknown> = Object.assign({}, decoded)
      expect(Object.getPrototypeOf(merged)).toBe(Object.prototype)
      expect(merged.polluted).toBeUndefined()
    }
    expect(objectPrototypeSnapshot()).toBe(before)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('returns Infinity for out-of-range numbers, as JSON.parse does', () => {
    expect(codec.decode('[1e400,-1e400]')).toEqual([Infinity, -Infinity])
  })
})

describe('json() encode', () => {
  const codec = json()

  it('encodes with JSON.stringify semantics', () => {
    expect(codec.encode({ a: [1, 'x', null], d: new Date(0), u: undefined })).toBe(
      '{"a":[1,"x",null],"d":"1970-01-01T00:00:00.000Z"}',
    )
  })

  it('refuses a BigInt with ENCODE_FAILED, keeping the TypeError as cause', () => {
    const error = expectLifelineError(() => codec.encode({ n: 1n }), 'ENCODE_FAILED')
    expect(error.cause).toBeInstanceOf(TypeError)
    expect(error.closeCode).toBeUndefined()
  })

  it('refuses a cycle with ENCODE_FAILED', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expectLifelineError(() => codec.encode(cyclic), 'ENCODE_FAILED')
  })

  it('refuses a value nested deeper than the stack with ENCODE_FAILED, not a RangeError', () => {
    expectLifelineError(() => codec.encode(nestedArrays(200_000)), 'ENCODE_FAILED')
  })

  it('refuses values JSON has no text for', () => {
    for (const value of [undefined, () => 1, Symbol('s')]) {
      expectLifelineError(() => codec.encode(value), 'ENCODE_FAILED')
    }
  })

  it('refuses a toJSON that throws with ENCODE_FAILED', () => {
    const value = {
      toJSON() {
        throw new Error('nope')
      },
    }
    expectLifelineError(() => codec.encode(value), 'ENCODE_FAILED')
  })

  it('refuses what a peer would refuse: too deep, forbidden keys', () => {
    expect(codec.encode(nestedArrays(64))).toBe('['.repeat(64) + ']'.repeat(64))
    expectLifelineError(() => codec.encode(nestedArrays(65)), 'ENCODE_FAILED')
    expectLifelineError(() => codec.encode(JSON.parse('{"__proto__":1}')), 'ENCODE_FAILED')
    expectLifelineError(() => codec.encode({ a: { constructor: 'Ford' } }), 'ENCODE_FAILED')
    expectLifelineError(() => codec.encode({ prototype: 1 }), 'ENCODE_FAILED')
  })

  it("checks what a BigInt's or a function's toJSON writes, as the peer would", () => {
    const codec = json({ maxDepth: 2, maxContainers: 3 })
    const deep = Object.assign(() => 1, { toJSON: () => ({ b: { c: [1] } }) })
    expectLifelineError(() => codec.encode(deep), 'ENCODE_FAILED')
    expectLifelineError(() => codec.encode({ a: deep }), 'ENCODE_FAILED')
    // How MDN sends BigInts as JSON: each one an object, a level deeper.
    Object.defineProperty(BigInt.prototype, 'toJSON', {
      configurable: true,
      writable: true,
      value(this: bigint) {
        return { $bigint: this.toString() }
      },
    })
    try {
      expect(codec.decode(codec.encode({ a: 1n }))).toEqual({ a: { $bigint: '1' } })
      expectLifelineError(() => codec.encode({ a: { b: 1n } }), 'ENCODE_FAILED')
      expectLifelineError(() => codec.encode([1n, 2n, 3n]), 'ENCODE_FAILED')
    } finally {
      Reflect.deleteProperty(BigInt.prototype, 'toJSON')
    }
  })

  it('refuses more containers than maxContainers, as the peer counts them', () => {
    const value = [{ a: [] }, [{}], { b: 1 }]
    expect(json({ maxContainers: 6 }).encode(value)).toBe(JSON.stringify(value))
    const error = expectLifelineError(
      () => json({ maxContainers: 5 }).encode(value),
      'ENCODE_FAILED',
    )
    expect(error.message).toBe('value holds more than maxContainers (5) arrays and objects')
    // As JSON.stringify writes it: a Date is a string, a Map is {}, a toJSON's result counts.
    const reshaped = [new Date(0), new Map([[1, [2]]]), { toJSON: () => [[]] }]
    expect(json({ maxContainers: 4 }).encode(reshaped)).toBe('["1970-01-01T00:00:00.000Z",{},[[]]]')
    expectLifelineError(() => json({ maxContainers: 3 }).encode(reshaped), 'ENCODE_FAILED')
    // What a 1 MiB frame of them would be, refused under the default.
    const many = Array.from({ length: 262_144 }, () => ({}))
    expectLifelineError(() => codec.encode(many), 'ENCODE_FAILED')
    // One fewer, with the frame's own array, is exactly the limit: the peer decodes it.
    expect(codec.decode(codec.encode(many.slice(1)))).toHaveLength(262_143)
  })

  it('checks large values exactly, toJSON results and class instances included', () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ id: i, at: new Date(i) }))
    expect(codec.encode(many)).toHaveLength(JSON.stringify(many).length)
    expectLifelineError(() => codec.encode([...many, { x: { prototype: 1 } }]), 'ENCODE_FAILED')
    const sneaky = { toJSON: () => ({ constructor: 'hidden from a walk' }) }
    expectLifelineError(() => codec.encode([...many, sneaky]), 'ENCODE_FAILED')
    class Holder {
      inner = nestedArrays(64)
    }
    expectLifelineError(() => codec.encode([...many, new Holder()]), 'ENCODE_FAILED')
    const vanishing = { constructor: { toJSON: () => undefined } }
    expect(codec.encode([...many, vanishing])).toMatch(/,\{\}\]$/)
  })

  it('refuses a frame over maxBytes with MESSAGE_TOO_LARGE and no close code', () => {
    const limited = json({ maxBytes: 10 })
    expect(limited.encode('12345678')).toBe('"12345678"')
    const error = expectLifelineError(() => limited.encode('123456789'), 'MESSAGE_TOO_LARGE')
    expect(error.closeCode).toBeUndefined()
  })
})
