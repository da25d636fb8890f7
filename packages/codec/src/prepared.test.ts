import { describe, expect, it } from 'vitest'
import { Prepared, type Codec } from './codec.js'
import { isLifelineError } from './errors.js'
import { json } from './json.js'
import { msgpack } from './msgpack/index.js'

type Factory = (options?: { maxBytes?: number; maxDepth?: number; maxContainers?: number }) => Codec

function codecError(run: () => unknown): string | undefined {
  try {
    run()
  } catch (error) {
    return isLifelineError(error) ? error.code : 'not a LifelineError'
  }
  return undefined
}

describe.each([
  { name: 'json', make: json as Factory },
  { name: 'msgpack', make: msgpack as Factory },
])('$name: a value prepared once, in many frames', ({ make }) => {
  const payload = { text: 'x'.repeat(1000), list: [1, 'two', null, { three: true }] }

  it('decodes as the whole envelope encoded at once', () => {
    const codec = make()
    const prepared = (codec.prepare as NonNullable<Codec['prepare']>)(payload)
    for (const head of [{ t: 'news', s: 7, a: 3 }, { t: 'news', s: 8 }, {}]) {
      const frame = (codec.encodeWith as NonNullable<Codec['encodeWith']>)(head, 'd', prepared)
      expect(codec.decode(frame)).toEqual({ ...head, d: payload })
    }
  })

  it('encodes again a Prepared it did not make (another codec, or built by hand)', () => {
    const codec = make()
    const other = make()
    const theirs = (other.prepare as NonNullable<Codec['prepare']>)(payload)
    for (const value of [theirs, new Prepared(payload)]) {
      const frame = (codec.encodeWith as NonNullable<Codec['encodeWith']>)({ t: 'x' }, 'd', value)
      expect(codec.decode(frame)).toEqual({ t: 'x', d: payload })
    }
    // What a hand-made Prepared holds is checked as any value is.
    const forged = new Prepared({ ['__proto__']: 1, deep: [[[[1]]]] })
    Object.defineProperty(forged.value, '__proto__', { value: 1, enumerable: true })
    expect(codecError(() => codec.encodeWith?.({ t: 'x' }, 'd', forged))).toBe('ENCODE_FAILED')
  })

  it('prepares a value the envelope leaves out (a broadcast without data) as encode does', () => {
    const codec = make()
    const encodeWith = codec.encodeWith as NonNullable<Codec['encodeWith']>
    for (const value of [undefined, () => 1, Symbol('s'), { toJSON: () => undefined }]) {
      const whole = codecError(() => codec.encode({ t: 'x', d: value }))
      let frame: unknown
      const spliced = codecError(
        () => (frame = encodeWith({ t: 'x' }, 'd', codec.prepare?.(value) as Prepared)),
      )
      expect(spliced).toBe(whole)
      if (whole === undefined) {
        expect(codec.decode(frame as string)).toEqual(
          codec.decode(codec.encode({ t: 'x', d: value })),
        )
      }
    }
  })

  it('checks the value as it would be checked inside the envelope: one level down', () => {
    const codec = make({ maxDepth: 3 })
    // d at level 1: [[x]] reaches level 3; [[[x]]] level 4.
    expect(codecError(() => codec.prepare?.([[1]]))).toBeUndefined()
    expect(codecError(() => codec.encode({ d: [[[1]]] }))).toBe('ENCODE_FAILED')
    expect(codecError(() => codec.prepare?.([[[1]]]))).toBe('ENCODE_FAILED')
    expect(codecError(() => codec.prepare?.(10n))).toBe('ENCODE_FAILED')
  })

  it('refuses a frame over maxBytes, and a forbidden key', () => {
    const codec = make({ maxBytes: 1100 })
    const prepared = (codec.prepare as NonNullable<Codec['prepare']>)('y'.repeat(1080))
    expect(codecError(() => codec.encodeWith?.({ t: 'a' }, 'd', prepared))).toBeUndefined()
    expect(codecError(() => codec.encodeWith?.({ t: 'a'.repeat(30) }, 'd', prepared))).toBe(
      'MESSAGE_TOO_LARGE',
    )
    expect(codecError(() => codec.encodeWith?.({ t: 'a' }, 'constructor', prepared))).toBe(
      'ENCODE_FAILED',
    )
  })

  it('counts the containers of the value and of each head toward maxContainers', () => {
    const codec = make({ maxContainers: 5 })
    // The frame's own object is one: the value may hold four, not five.
    expect(codecError(() => codec.prepare?.([[], {}, []]))).toBeUndefined()
    expect(codecError(() => codec.prepare?.([[], {}, [], []]))).toBe('ENCODE_FAILED')
    const prepared = (codec.prepare as NonNullable<Codec['prepare']>)([[], {}, []])
    const encodeWith = codec.encodeWith as NonNullable<Codec['encodeWith']>
    // 4 + the head's object: 5. One array more in the head makes 6.
    const frame = encodeWith({ t: 'a', r: 'x' }, 'd', prepared)
    expect(codec.decode(frame)).toEqual({ t: 'a', r: 'x', d: [[], {}, []] })
    expect(codecError(() => encodeWith({ t: 'a', r: ['x'] }, 'd', prepared))).toBe('ENCODE_FAILED')
  })
})
