import { Packr, Unpackr } from 'msgpackr/pack'
import { describe, expect, it } from 'vitest'
import {
  expectLifelineError,
  nestedArrays,
  nestedObjects,
  fastestOfThreeMs,
  objectPrototypeSnapshot,
} from '../testHelpers.js'
import { msgpack } from './msgpack.js'

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'))
const ascii = (text: string) => Buffer.from(text, 'latin1').toString('hex')

describe('msgpack() decode', () => {
  const codec = msgpack()
  const encoded = codec.encode({ a: 1, b: 'x' })

  it('decodes a Uint8Array, a Buffer, an ArrayBuffer and a view at an offset', () => {
    const inLargerBuffer = new Uint8Array(encoded.byteLength + 8)
    inLargerBuffer.set(encoded, 4)
    const frames = [
      new Uint8Array(encoded),
      Buffer.from(encoded),
      new Uint8Array(encoded).buffer,
      inLargerBuffer.subarray(4, 4 + encoded.byteLength),
    ]
    for (const frame of frames) expect(codec.decode(frame)).toEqual({ a: 1, b: 'x' })
  })

  it('refuses a text frame with DECODE_FAILED and close code 1003, not a parse error', () => {
    const error = expectLifelineError(() => codec.decode('{"a":1}'), 'DECODE_FAILED', 1003)
    expect(error.message).toBe('lifeline.v1.msgpack accepts only binary frames')
    for (const frame of [undefined, null, 42, {}, [1, 2]]) {
      expectLifelineError(() => codec.decode(frame as never), 'DECODE_FAILED', 1003)
    }
  })

  it('returns binary as a plain Uint8Array copy that does not alias the frame', () => {
    const frame = Buffer.from(codec.encode({ bin: new Uint8Array([1, 2, 3]) }))
    const decoded = codec.decode(frame) as { bin: Uint8Array }
    expect(decoded.bin.constructor).toBe(Uint8Array)
    expect(decoded.bin).toEqual(new Uint8Array([1, 2, 3]))
    frame.fill(0)
    expect(decoded.bin).toEqual(new Uint8Array([1, 2, 3]))
  })

  it('leaves the caller’s frame object untouched', () => {
    const frame = Buffer.from(encoded)
    codec.decode(frame)
    expect(Object.keys(frame)).toEqual(Object.keys(Buffer.from(encoded)))
    expect('dataView' in frame).toBe(false)
  })

  it('reads MessagePack as other implementations write it', () => {
    // {1: "a", "k": 2^53 - 1 as uint64, "f": 1.5 as float32, "s": "é" as str8, "m": {} as map32}
    const frame = hex(`
      85
      01 a1 61
      a1 6b cf 00 1f ff ff ff ff ff ff
      a1 66 ca 3f c0 00 00
      a1 73 d9 02 c3 a9
      a1 6d df 00 00 00 00`)
    expect(codec.decode(frame)).toEqual({ 1: 'a', k: 2 ** 53 - 1, f: 1.5, s: 'é', m: {} })
  })

  it('decodes the timestamp extension as a Date', () => {
    expect(codec.decode(hex('d6 ff 00 00 00 01'))).toEqual(new Date(1000))
    expect(codec.decode(codec.encode(new Date(1_732_500_000_123)))).toEqual(
      new Date(1_732_500_000_123),
    )
  })

  it('refuses a timestamp msgpackr would read as another instant', () => {
    // Timestamp 96 of 2^48 s (msgpackr takes 48 of the 64 bits: the epoch), of -2^62 s, of
    // 2^32 - 1 ns (read as negative), and timestamp 64 of 2^30 - 1 ns (1.07 s).
    for (const frame of [
      hex('c7 0c ff 00 00 00 00 00 01 00 00 00 00 00 00'),
      hex('c7 0c ff 00 00 00 00 c0 00 00 00 00 00 00 00'),
      hex('c7 0c ff ff ff ff ff 00 00 00 00 00 00 00 00'),
      hex('d7 ff ff ff ff fc 00 00 00 00'),
    ]) {
      expectLifelineError(() => codec.decode(frame), 'DECODE_FAILED', 1007)
    }
    // The first and last instants of a Date, before and after the epoch, pass unchanged.
    for (const ms of [8.64e15, -8.64e15, -1, 1_732_500_000_123]) {
      expect(codec.decode(codec.encode(new Date(ms)))).toEqual(new Date(ms))
    }
    // 999,999,999 ns after the last second a Date holds, as another implementation may write it:
    // in range for the frame, past the last instant for the Date.
    const last = codec.decode(hex('c7 0c ff 3b 9a c9 ff 00 00 07 db a8 21 80 00')) as Date
    expect(last.getTime()).toBeNaN()
  })

  it('counts maxBytes exactly', () => {
    const frame = codec.encode('x'.repeat(20)) // fixstr header + 20 bytes
    expect(msgpack({ maxBytes: 21 }).decode(frame)).toBe('x'.repeat(20))
    expectLifelineError(() => msgpack({ maxBytes: 20 }).decode(frame), 'MESSAGE_TOO_LARGE', 1009)
  })

  it('refuses a frame over the 1 MiB default', () => {
    const frame = new Uint8Array(1_048_577)
    expectLifelineError(() => codec.decode(frame), 'MESSAGE_TOO_LARGE', 1009)
  })

  it.each([
    ['arrays', nestedArrays],
    ['objects', nestedObjects],
  ])('accepts %s nested 64 deep and refuses 65 (default maxDepth)', (_, nest) => {
    const deep = msgpack({ maxDepth: 100 })
    expect(codec.decode(deep.encode(nest(64)))).toEqual(nest(64))
    const error = expectLifelineError(
      () => codec.decode(deep.encode(nest(65))),
      'DECODE_FAILED',
      1007,
    )
    expect(error.message).toBe('msgpack frame nests deeper than maxDepth (64)')
  })

  it('refuses a 1 MiB depth bomb fast, without a stack overflow', () => {
    const bombs = [
      new Uint8Array(1_048_576).fill(0x91),
      Uint8Array.from({ length: 1_048_576 }, (_, i) => [0x81, 0xa1, 0x61][i % 3] ?? 0),
    ]
    for (const bomb of bombs) {
      expect(
        fastestOfThreeMs(() =>
          expectLifelineError(() => codec.decode(bomb), 'DECODE_FAILED', 1007),
        ),
      ).toBeLessThan(100)
    }
  })

  it('refuses a 1 MiB frame of empty maps or arrays before msgpackr builds them (maxContainers)', () => {
    // An array 32 of 1,048,571 empty maps: decoded, a million objects and 64 MiB of heap.
    for (const empty of [0x80, 0x90]) {
      const bomb = new Uint8Array(1_048_576).fill(empty)
      bomb.set([0xdd, 0x00, 0x0f, 0xff, 0xfb])
      const error = expectLifelineError(() => codec.decode(bomb), 'DECODE_FAILED', 1007)
      expect(error.message).toBe(
        'msgpack frame holds more than maxContainers (262144) arrays, maps, binaries and timestamps',
      )
      expect(
        fastestOfThreeMs(() => expectLifelineError(() => codec.decode(bomb), 'DECODE_FAILED')),
      ).toBeLessThan(100)
    }
  })

  it('refuses a 1 MiB frame of empty binaries or timestamps before msgpackr builds them', () => {
    // An array 32 of 524,285 empty bin 8 (c4 00), or 349,523 invalid timestamps (d4 ff 00): a
    // Uint8Array with an ArrayBuffer of its own, or a Date, each. Decoded, 100 MiB of heap and
    // 450 ms, or 42 MiB and 190 ms.
    for (const item of [
      [0xc4, 0x00],
      [0xd4, 0xff, 0x00],
    ]) {
      const count = Math.floor((1_048_576 - 5) / item.length)
      const bomb = new Uint8Array(5 + count * item.length)
      bomb.set([0xdd, count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff])
      for (let i = 0; i < count; i++) bomb.set(item, 5 + i * item.length)
      const error = expectLifelineError(() => codec.decode(bomb), 'DECODE_FAILED', 1007)
      expect(error.message).toBe(
        'msgpack frame holds more than maxContainers (262144) arrays, maps, binaries and timestamps',
      )
    }
  })

  it('counts every array, map, binary and timestamp toward maxContainers, and the frame', () => {
    // [bin "a", timestamp 0, undefined]: 3; `undefined` builds nothing and is not counted.
    const frame = hex(`93 c4 01 61 d6 ff 00 00 00 00 d4 00 00`)
    expect(msgpack({ maxContainers: 3 }).decode(frame)).toEqual([
      new Uint8Array([0x61]),
      new Date(0),
      undefined,
    ])
    expectLifelineError(() => msgpack({ maxContainers: 2 }).decode(frame), 'DECODE_FAILED', 1007)
  })

  it('counts every array and map toward maxContainers, empty ones and the frame included', () => {
    // [{a: []}, [{}], {b: 1}]: 6 containers.
    const frame = hex(`93 81 a1 61 90 91 80 81 a1 62 01`)
    expect(msgpack({ maxContainers: 6 }).decode(frame)).toEqual([{ a: [] }, [{}], { b: 1 }])
    expectLifelineError(() => msgpack({ maxContainers: 5 }).decode(frame), 'DECODE_FAILED', 1007)
  })

  it('refuses a length-prefix lie (a str 32 header claiming 4 GiB) before allocating', () => {
    const error = expectLifelineError(
      () => codec.decode(hex('db ff ff ff ff 61 62 63')),
      'DECODE_FAILED',
      1007,
    )
    expect(error.message).toBe('msgpack frame is truncated or declares more data than it holds')
    const lies = [hex('db ff ff ff ff 61 62 63'), hex('dd ff ff ff ff c0')]
    const refuseAll = () => {
      for (const lie of lies) expectLifelineError(() => codec.decode(lie), 'DECODE_FAILED', 1007)
    }
    expect(fastestOfThreeMs(refuseAll)).toBeLessThan(100)
  })

  it('refuses __proto__ where msgpackr alone would silently rename it', () => {
    const frame = hex(`81 a9 ${ascii('__proto__')} 81 a8 ${ascii('polluted')} c3`)
    expect(new Unpackr({ useRecords: false }).unpack(frame)).toEqual({
      __proto_: { polluted: true },
    })
    const error = expectLifelineError(() => codec.decode(frame), 'DECODE_FAILED', 1007)
    expect(error.message).toBe(
      'msgpack frame has a forbidden key (__proto__, constructor or prototype)',
    )
  })

  it('refuses a forbidden key spelled in overlong UTF-8, which older msgpackr reads as ASCII', () => {
    // `c1 a3` is `c` in two bytes; msgpackr 1.11.5 (inside the dependency's range until 1.12.1)
    // decoded this frame to { constructor: true }.
    const frame = hex(`81 ac c1 a3 ${ascii('onstructor')} c3`)
    const error = expectLifelineError(() => codec.decode(frame), 'DECODE_FAILED', 1007)
    expect(error.message).toBe(
      'msgpack frame has a forbidden key (__proto__, constructor or prototype)',
    )
  })

  it('refuses extensions msgpackr would otherwise turn into Set, RegExp, cycles or records', () => {
    const frames = [
      hex('d4 73 00 90'), // Set
      hex(`d4 78 00 92 a1 ${ascii('a')} a0`), // RegExp
      hex('d6 69 00 00 00 01 80'), // structured-clone id
      hex(`d4 72 40 91 a1 ${ascii('a')} 01`), // msgpackr record
    ]
    for (const frame of frames) {
      expect(new Unpackr({ useRecords: false }).unpack(frame)).toBeDefined()
      expectLifelineError(() => codec.decode(frame), 'DECODE_FAILED', 1007)
    }
  })

  it('refuses a string cut off inside a character, which msgpackr alone reads past', () => {
    // Read as tokens: ['\xf0', bin 8 of 7 bytes]. msgpackr's reader takes 0xf0 for the start of
    // a 4-byte character, reads on into the bin header and decodes what follows as a value of
    // its own: a Set, a BigInt, a forbidden key; then 3-byte leads, in a str 8 key the last.
    const frames = [
      hex('92 a1 f0 c4 07 80 d4 73 00 92 01 02'),
      hex(`92 a1 f0 c4 13 80 d8 42 ${'00'.repeat(7)}40 ${'00'.repeat(8)}`),
      hex(`92 a2 41 e0 c4 0c 81 a9 ${ascii('__proto__')} c3`),
      hex('81 d9 01 e0 c4 04 d4 73 00 90'),
    ]
    for (const frame of frames) {
      expect(() => new Unpackr({ useRecords: false }).unpack(frame)).not.toThrow()
      const error = expectLifelineError(() => codec.decode(frame), 'DECODE_FAILED', 1007)
      expect(error.message).toBe('msgpack frame has a string whose last character is cut off')
    }
    // Other invalid UTF-8 still decodes to U+FFFD, and valid UTF-8 of every length is untouched.
    expect(codec.decode(hex('92 a1 80 a4 f0 41 41 41'))).toEqual(['\ufffd', '\ufffd'])
    const characters = [...'é€😀'.repeat(30)]
    for (let end = 0; end <= characters.length; end++) {
      const text = characters.slice(0, end).join('')
      expect(codec.decode(codec.encode([text, 1]))).toEqual([text, 1])
    }
  })

  it('never lets a frame touch a prototype', () => {
    const before = objectPrototypeSnapshot()
    const frames = [
      hex(`81 a9 ${ascii('__proto__')} 81 a8 ${ascii('polluted')} c3`),
      hex(`81 ab ${ascii('constructor')} 81 a9 ${ascii('prototype')} 81 a1 ${ascii('x')} c3`),
      codec.encode({ toString: 'x', valueOf: 1, hasOwnProperty: 2, __proto_: 3 }),
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
  })
})

describe('msgpack() encode', () => {
  const codec = msgpack()

  it('writes standard MessagePack: smallest headers, no records', () => {
    expect(Buffer.from(codec.encode({ a: 1 })).toString('hex')).toBe('81a16101')
    expect(Buffer.from(codec.encode([{ a: 1 }, { a: 2 }])).toString('hex')).toBe(
      '9281a1610181a16102',
    )
  })

  it('refuses BigInt of any size with ENCODE_FAILED', () => {
    expectLifelineError(() => codec.encode({ n: 1n }), 'ENCODE_FAILED')
    expectLifelineError(() => codec.encode(2n ** 80n), 'ENCODE_FAILED')
  })

  it('refuses symbols, cycles and values deeper than the stack with ENCODE_FAILED', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const value of [Symbol('s'), { s: Symbol('s') }, cyclic, nestedArrays(200_000)]) {
      const error = expectLifelineError(() => codec.encode(value), 'ENCODE_FAILED')
      expect(error.closeCode).toBeUndefined()
    }
  })

  it('refuses typed arrays msgpackr alone would write as wrong bytes', () => {
    const raw = new Packr({ useRecords: false }).pack(new Float64Array([1.5, 2.5]))
    expect(Array.from(new Unpackr().unpack(raw) as Uint8Array).slice(0, 2)).toEqual([1, 2])
    const error = expectLifelineError(() => codec.encode(new Float64Array([1.5])), 'ENCODE_FAILED')
    expect(error.message).toBe('value holds a Float64Array, which is outside the value domain')
  })

  it('refuses a getter that throws with ENCODE_FAILED', () => {
    const value = {
      get a(): never {
        throw new Error('nope')
      },
    }
    expectLifelineError(() => codec.encode(value), 'ENCODE_FAILED')
  })

  it('refuses what a peer would refuse: too deep, forbidden keys', () => {
    expect(codec.encode(nestedArrays(64))).toBeInstanceOf(Uint8Array)
    expectLifelineError(() => codec.encode(nestedArrays(65)), 'ENCODE_FAILED')
    expectLifelineError(() => codec.encode(JSON.parse('{"__proto__":1}')), 'ENCODE_FAILED')
    expectLifelineError(() => codec.encode({ a: [{ constructor: 'Ford' }] }), 'ENCODE_FAILED')
  })

  it('refuses more containers than maxContainers, as the peer counts them', () => {
    // 6 arrays and objects, a Uint8Array and a Date: 8, as the peer's scan counts them.
    const value = [{ a: [] }, [{}], { b: new Uint8Array(2), c: new Date(0) }]
    expect(
      msgpack({ maxContainers: 8 }).decode(msgpack({ maxContainers: 8 }).encode(value)),
    ).toEqual(value)
    const error = expectLifelineError(
      () => msgpack({ maxContainers: 7 }).encode(value),
      'ENCODE_FAILED',
    )
    expect(error.message).toBe(
      'value holds more than maxContainers (7) arrays, objects, binaries and dates',
    )
    const binaries = Array.from({ length: 262_144 }, () => new Uint8Array(0))
    expectLifelineError(() => codec.encode(binaries), 'ENCODE_FAILED')
    expect(codec.decode(codec.encode(binaries.slice(1)))).toHaveLength(262_143)
    const many = Array.from({ length: 262_144 }, () => ({}))
    expectLifelineError(() => codec.encode(many), 'ENCODE_FAILED')
    // One fewer, with the frame's own array, is exactly the limit: the peer decodes it.
    expect(codec.decode(codec.encode(many.slice(1)))).toHaveLength(262_143)
  })

  it('refuses a frame over maxBytes with MESSAGE_TOO_LARGE and no close code', () => {
    const limited = msgpack({ maxBytes: 10 })
    expect(limited.encode('x'.repeat(9))).toHaveLength(10)
    const error = expectLifelineError(() => limited.encode('x'.repeat(10)), 'MESSAGE_TOO_LARGE')
    expect(error.closeCode).toBeUndefined()
  })

  it('keeps working after every kind of failure', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const bad of [cyclic, 1n, Symbol('s'), nestedArrays(100)]) {
      expectLifelineError(() => codec.encode(bad), 'ENCODE_FAILED')
      expect(codec.decode(codec.encode({ ok: [1, 'two'] }))).toEqual({ ok: [1, 'two'] })
    }
  })

  it('returns frames that later encodes never overwrite', () => {
    const first = codec.encode({ n: 1 })
    const copy = Uint8Array.from(first)
    for (let i = 0; i < 2_000; i++) codec.encode({ n: i, pad: 'x'.repeat(i % 100) })
    expect(Uint8Array.from(first)).toEqual(copy)
  })
})
