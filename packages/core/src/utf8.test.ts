import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { utf8ByteLength } from './utf8.js'

const encoder = new TextEncoder()
const encodedLength = (text: string) => encoder.encode(text).byteLength

/** Strings rich in surrogate halves, paired and lone, next to one- to three-byte units. */
const surrogateHeavy = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0xd800, max: 0xdbff }),
      fc.integer({ min: 0xdc00, max: 0xdfff }),
      fc.constantFrom(0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xffff),
    ),
    { maxLength: 64 },
  )
  .map((units) => String.fromCharCode(...units))

/** Any code point, surrogate halves included, with every UTF-8 length well represented. */
const codePoints = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 0x7f }),
      fc.integer({ min: 0x80, max: 0x7ff }),
      fc.integer({ min: 0x800, max: 0xffff }),
      fc.integer({ min: 0x10000, max: 0x10ffff }),
    ),
    { maxLength: 100 },
  )
  .map((points) => String.fromCodePoint(...points))

// Thousands of generated cases each: CPU-bound and finite, so the limit only has to outlast a
// loaded 2-core machine, where 5 s was seen to run out.
describe('utf8ByteLength', { timeout: 30_000 }, () => {
  it('agrees with TextEncoder on any string of code points, surrogate halves included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (text) => {
        expect(utf8ByteLength(text)).toBe(encodedLength(text))
      }),
      { numRuns: 1_000 },
    )
  })

  it('agrees with TextEncoder on strings of any code points, from every plane', () => {
    fc.assert(
      fc.property(codePoints, (text) => {
        expect(utf8ByteLength(text)).toBe(encodedLength(text))
      }),
      { numRuns: 2_000 },
    )
  })

  it('agrees with TextEncoder past an ASCII prefix of any length', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.integer({ min: 0, max: 0x7f }).map((unit) => String.fromCharCode(unit)),
          maxLength: 300,
        }),
        fc.oneof(codePoints, surrogateHeavy),
        (prefix, rest) => {
          expect(utf8ByteLength(prefix)).toBe(prefix.length)
          expect(utf8ByteLength(prefix + rest)).toBe(encodedLength(prefix + rest))
        },
      ),
      { numRuns: 2_000 },
    )
  })

  it('agrees with TextEncoder on strings of lone and paired surrogates', () => {
    fc.assert(
      fc.property(surrogateHeavy, (text) => {
        expect(utf8ByteLength(text)).toBe(encodedLength(text))
      }),
      { numRuns: 2_000 },
    )
  })

  it.each([
    ['empty', 0, ''],
    ['U+007F', 1, '\u007f'],
    ['U+0080', 2, '\u0080'],
    ['U+07FF', 2, '\u07ff'],
    ['U+0800', 3, '\u0800'],
    ['U+FFFF', 3, '\uffff'],
    ['U+10000', 4, '\u{10000}'],
    ['U+10FFFF', 4, '\u{10ffff}'],
    ['mixed text', 10, 'aé€😀'],
    ['lone high surrogate', 3, '\ud800'],
    ['lone low surrogate', 3, '\udc00'],
    ['high surrogate at the end', 4, 'a\ud83d'],
    ['low before high', 6, '\udc00\ud800'],
    ['two high surrogates', 6, '\ud800\ud800'],
    ['pair then lone high', 7, '\ud83d\ude00\ud83d'],
    ['high, high, low', 7, '\ud83d\ud83d\ude00'],
  ])('%s is %i bytes', (_, bytes, text) => {
    expect(utf8ByteLength(text)).toBe(bytes)
    expect(encodedLength(text)).toBe(bytes)
  })
})
