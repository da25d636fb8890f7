import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { thrownBy } from '@lifeline/test-utils'
import { LifelineError } from '@lifeline/codec'
import {
  checkControlFrame,
  controlTypes,
  isControlType,
  isKnownControlType,
  isRoomId,
  parseEnvelope,
  protocolCloseCodes,
} from './envelope.js'

/** The rejection every protocol violation gets: `PROTOCOL_ERROR`, to be closed with 1002. */
function expectProtocolError(value: unknown): void {
  const error = thrownBy(() => parseEnvelope(value))
  expect(error).toBeInstanceOf(LifelineError)
  expect(error).toMatchObject({ code: 'PROTOCOL_ERROR', closeCode: 1002 })
}

/** PROTOCOL.md, section 2, written down independently of the implementation. */
function isEnvelopeBySpec(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const record = value as Record<string, unknown>
  const allowed = new Set(['t', 'd', 's', 'a'])
  if (Object.keys(record).some((key) => !allowed.has(key))) return false
  if (typeof record.t !== 'string' || record.t.length === 0) return false
  const nonNegativeSafeInteger = (field: unknown) =>
    typeof field === 'number' && Number.isSafeInteger(field) && field >= 0
  if ('s' in record && !(nonNegativeSafeInteger(record.s) && (record.s as number) >= 1)) {
    return false
  }
  if ('a' in record && !nonNegativeSafeInteger(record.a)) return false
  return true
}

describe('parseEnvelope accepts', () => {
  it.each([
    ['a type alone', { t: 'say' }],
    ['a type and a payload', { t: 'say', d: { text: 'hi' } }],
    ['a null payload', { t: 'say', d: null }],
    ['a reliable envelope with its ack', { t: 'say', d: [1, 2], s: 1, a: 0 }],
    ['a control frame with only an ack', { t: '$ack', a: 7 }],
    ['the largest safe sequence number', { t: 'x', s: Number.MAX_SAFE_INTEGER }],
    ['the largest safe ack', { t: 'x', a: Number.MAX_SAFE_INTEGER }],
    ['an unknown $-type (the receiver refuses it, not the parser)', { t: '$nope' }],
  ])('%s', (_name, value) => {
    expect(parseEnvelope(value)).toBe(value)
  })

  it('keeps every field as it was', () => {
    const value = { t: 'said', d: { text: 'hi', from: 'ann' }, s: 12, a: 3 }
    expect(parseEnvelope(value)).toEqual({ t: 'said', d: { text: 'hi', from: 'ann' }, s: 12, a: 3 })
  })
})

describe('parseEnvelope rejects with PROTOCOL_ERROR and close code 1002', () => {
  it.each([
    ['a string', 'say'],
    ['a number', 42],
    ['a boolean', true],
    ['undefined', undefined],
    ['null', null],
    ['an array', ['say', {}]],
    ['an array of an envelope', [{ t: 'say' }]],
    ['an empty array that carries a `t`', Object.assign([], { t: 'say' })],
  ])('a frame that is not an object: %s', (_name, value) => {
    expectProtocolError(value)
  })

  it.each([
    ['missing', { d: 1 }],
    ['empty', { t: '' }],
    ['a number', { t: 1 }],
    ['null', { t: null }],
    ['an object', { t: { name: 'say' } }],
  ])('a type `t` that is %s', (_name, value) => {
    expectProtocolError(value)
  })

  it.each([
    ['0', 0],
    ['negative', -1],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a string', '1'],
    ['null', null],
    ['above MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER + 1],
  ])('a sequence number `s` that is %s', (_name, s) => {
    expectProtocolError({ t: 'say', s })
  })

  it.each([
    ['negative', -1],
    ['a fraction', 0.5],
    ['NaN', Number.NaN],
    ['a string', '0'],
    ['null', null],
    ['above MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER + 1],
  ])('an ack `a` that is %s', (_name, a) => {
    expectProtocolError({ t: '$ack', a })
  })

  it.each([
    ['an unknown field', { t: 'say', x: 1 }],
    ['an extra field on a full envelope', { t: 'say', d: 1, s: 1, a: 0, id: 5 }],
    ['a capitalised field', { t: 'say', D: 1 }],
    ['an own __proto__ field', JSON.parse('{"t":"say","__proto__":{"d":1}}') as unknown],
  ])('%s', (_name, value) => {
    expectProtocolError(value)
  })
})

describe('parseEnvelope counts own keys only', () => {
  it('accepts an envelope that inherits enumerable keys, as Object.keys would see it', () => {
    const envelope = Object.assign(Object.create({ x: 1, y: 2 }) as object, { t: 'say', d: 1 })
    expect(parseEnvelope(envelope)).toBe(envelope)
  })

  it('refuses an own extra key beside inherited ones', () => {
    expectProtocolError(Object.assign(Object.create({ x: 1 }) as object, { t: 'say', z: 1 }))
  })
})

describe('parseEnvelope on arbitrary input', () => {
  const fieldValue = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.integer({ min: -3, max: 3 }),
    fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 0.5, -0),
  )
  /** Mostly envelope-shaped objects, so that both accepting and rejecting are explored. */
  const nearEnvelope = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.record(
      {
        t: fc.oneof(fc.string({ maxLength: 4 }), fieldValue),
        d: fc.jsonValue({ maxDepth: 2 }),
        s: fieldValue,
        a: fieldValue,
        x: fieldValue,
      },
      { requiredKeys: [] },
    ),
  )

  it('throws nothing but a LifelineError PROTOCOL_ERROR for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        try {
          parseEnvelope(value)
        } catch (error) {
          expect(error).toBeInstanceOf(LifelineError)
          expect(error).toMatchObject({ code: 'PROTOCOL_ERROR', closeCode: 1002 })
        }
      }),
      { numRuns: 500 },
    )
  })

  it('accepts exactly what PROTOCOL.md calls an envelope, and returns it unchanged', () => {
    fc.assert(
      fc.property(nearEnvelope, (value) => {
        if (isEnvelopeBySpec(value)) {
          expect(parseEnvelope(value)).toBe(value)
        } else {
          expectProtocolError(value)
        }
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('control types', () => {
  it('isControlType is true exactly for types starting with $', () => {
    expect(isControlType('$hello')).toBe(true)
    expect(isControlType('$')).toBe(true)
    expect(isControlType('$anything')).toBe(true)
    expect(isControlType('hello')).toBe(false)
    expect(isControlType('say$')).toBe(false)
    expect(isControlType(' $ack')).toBe(false)
    expect(isControlType('')).toBe(false)
    fc.assert(
      fc.property(fc.string(), (type) => {
        expect(isControlType(type)).toBe(type.startsWith('$'))
      }),
    )
  })

  it('isKnownControlType knows the nine control frames of PROTOCOL.md, section 3', () => {
    const known = [
      '$hello',
      '$welcome',
      '$ack',
      '$ping',
      '$pong',
      '$req',
      '$res',
      '$error',
      '$resend',
    ]
    expect(Object.values(controlTypes).sort()).toEqual([...known].sort())
    for (const type of known) expect(isKnownControlType(type)).toBe(true)
  })

  it('isKnownControlType refuses unknown $-types and user types', () => {
    for (const type of ['$', '$nope', '$Hello', '$hello ', 'hello', 'ack', '', 'toString']) {
      expect(isKnownControlType(type)).toBe(false)
    }
  })

  it('close codes match PROTOCOL.md, section 10', () => {
    expect(protocolCloseCodes).toEqual({
      protocolError: 1002,
      serviceRestart: 1012,
      heartbeatTimeout: 4000,
      clientProtocolError: 4002,
      unauthenticated: 4401,
      forbidden: 4403,
      helloTimeout: 4408,
      sessionTakenOver: 4409,
      slowConsumer: 4429,
    })
  })
})

describe('checkControlFrame', () => {
  const frameOf = (value: unknown) => JSON.stringify(value)

  it('passes small control frames and every frame of other types', () => {
    for (const envelope of [
      { t: '$hello', d: { v: 1 } },
      { t: '$welcome', d: { sid: 'x'.repeat(32), resumed: false, a: 0 } },
      { t: '$ack', a: 5 },
      { t: '$ping', d: { ts: 12 } },
      { t: '$pong', d: { ts: 12 } },
      { t: '$resend', a: 12 },
      { t: '$req', s: 1, d: { id: 1, m: 'm', d: 'x'.repeat(5000) } },
      { t: 'say', d: 'x'.repeat(5000) },
    ]) {
      expect(() => checkControlFrame(envelope, frameOf(envelope))).not.toThrow()
    }
  })

  it('refuses a $hello, $welcome, $ack, $ping, $pong or $resend over 1 KiB (UTF-8 bytes) with 1002', () => {
    for (const t of ['$hello', '$welcome', '$ack', '$ping', '$pong', '$resend']) {
      const envelope = { t, d: { ts: 1, pad: 'x'.repeat(1024) } }
      if (t === '$ack') {
        // An `$ack` with room cursors (`d`) may take 64 KiB; without, 1 KiB.
        expect(() => checkControlFrame(envelope, frameOf(envelope))).not.toThrow()
        envelope.d.pad = 'x'.repeat(65_536)
        const bare = { t, a: 1, pad: 'x'.repeat(1024) }
        expect(() => checkControlFrame(bare, frameOf(bare))).toThrow(LifelineError)
      }
      const error = thrownBy(() => checkControlFrame(envelope, frameOf(envelope)))
      expect(error).toMatchObject({ code: 'PROTOCOL_ERROR', closeCode: 1002 })
      const binary = new TextEncoder().encode(frameOf(envelope))
      expect(() => checkControlFrame(envelope, binary)).toThrow(LifelineError)
      expect(() => checkControlFrame(envelope, binary.buffer)).toThrow(LifelineError)
    }
    // 400 three-byte characters: 1,200 bytes in 400-odd string units.
    const wide = { t: '$ping', d: { ts: 1, pad: '€'.repeat(400) } }
    expect(() => checkControlFrame(wide, frameOf(wide))).toThrow(LifelineError)
  })

  it('refuses a $ping without a numeric ts', () => {
    for (const d of [undefined, null, 5, 'ts', {}, { ts: '1' }, [1]]) {
      const envelope = { t: '$ping', d }
      const error = thrownBy(() => checkControlFrame(envelope, frameOf(envelope)))
      expect(error).toMatchObject({ code: 'PROTOCOL_ERROR', closeCode: 1002 })
    }
  })
})

describe('isRoomId', () => {
  /** The rule as a regular expression: two integers of at most 20 digits, no leading zero. */
  const rule = /^(?:0|[1-9]\d{0,19})-(?:0|[1-9]\d{0,19})$/
  const digits = (count: number) => '9'.repeat(count)

  it('takes ms-seq ids of at most 20 digits each, without leading zeros', () => {
    for (const id of [
      '0-0',
      '1-0',
      '0-1',
      '1733-42',
      `${digits(20)}-${'1'.repeat(20)}`,
      `${digits(20)}-0`,
      `0-${digits(20)}`,
    ]) {
      expect(isRoomId(id)).toBe(true)
    }
    for (const id of [
      '',
      '-',
      '1',
      '0-',
      '-0',
      '00',
      '1-',
      `${digits(21)}-${digits(20)}`,
      `${digits(20)}-${digits(21)}`,
      `${digits(21)}-0`,
      `0-${digits(21)}`,
      `${digits(41)}`,
      '-1',
      '01-0',
      '1-00',
      '1-0-0',
      '1--0',
      `${'1'.repeat(21)}-0`,
      `0-${'1'.repeat(21)}`,
      ' 1-0',
      '1-0\n',
      '１-0',
      '1e3-0',
      '/-0',
      ':-0',
    ]) {
      expect(isRoomId(id)).toBe(false)
    }
    for (const value of [undefined, null, 1, ['1-0'], { toString: () => '1-0' }]) {
      expect(isRoomId(value)).toBe(false)
    }
  })

  it('refuses a string longer than any id without searching it', () => {
    const indexOf = vi.spyOn(String.prototype, 'indexOf')
    try {
      expect(isRoomId(`1-${'0'.repeat(1_000_000)}`)).toBe(false)
      expect(isRoomId(`${digits(20)}-${digits(20)}`.padEnd(42, '0'))).toBe(false)
      expect(indexOf).not.toHaveBeenCalled()
    } finally {
      indexOf.mockRestore()
    }
  })

  it('agrees with the rule on any text of digits, dashes and neighbours of digits', () => {
    const text = fc
      .array(fc.constantFrom('0', '1', '9', '-', '/', ':', 'a'), { maxLength: 45 })
      .map((units) => units.join(''))
    fc.assert(fc.property(text, (id) => isRoomId(id) === rule.test(id)))
  })
})
