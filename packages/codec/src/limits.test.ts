import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { isLifelineError } from './errors.js'
import { codecLimitsDefaults, resolveLimits, textExceeds, utf8Length } from './limits.js'

describe('resolveLimits', () => {
  it('applies the documented defaults', () => {
    expect(resolveLimits(undefined)).toEqual({ maxBytes: 1_048_576, maxDepth: 64 })
    expect(resolveLimits({})).toEqual(codecLimitsDefaults)
  })

  it('accepts Infinity as "no size limit"', () => {
    expect(resolveLimits({ maxBytes: Infinity }).maxBytes).toBe(Infinity)
  })

  it.each([0, -1, 1.5, NaN, -Infinity])('refuses maxBytes %s as INVALID_ARGUMENT', (maxBytes) => {
    expect(() => resolveLimits({ maxBytes })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it.each([0, -1, 2.5, NaN, Infinity])('refuses maxDepth %s as INVALID_ARGUMENT', (maxDepth) => {
    let thrown: unknown
    try {
      resolveLimits({ maxDepth })
    } catch (error) {
      thrown = error
    }
    expect(isLifelineError(thrown, 'INVALID_ARGUMENT')).toBe(true)
  })
})

describe('utf8Length', () => {
  it('agrees with a real UTF-8 encoder on any string, lone surrogates included', () => {
    const encoder = new TextEncoder()
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(utf8Length(text)).toBe(encoder.encode(text).byteLength)
      }),
      { numRuns: 2_000 },
    )
  })

  it('counts the four bytes of a surrogate pair once', () => {
    expect(utf8Length('😀')).toBe(4)
    expect(utf8Length('\ud800')).toBe(3)
    expect(utf8Length('\ud800x')).toBe(4)
  })
})

describe('textExceeds', () => {
  const exactAtTheLimit = () => {
    for (const char of ['a', 'é', '日', '😀', '\ud800']) {
      const bytes = utf8Length(char)
      const text = char.repeat(10)
      expect(textExceeds(text, bytes * 10)).toBe(false)
      expect(textExceeds(text, bytes * 10 - 1)).toBe(true)
    }
  }

  it('is exact at the limit for 1-, 2-, 3- and 4-byte characters', exactAtTheLimit)

  it('is exact without a native counter too, as in browsers', () => {
    vi.stubGlobal('Buffer', undefined)
    try {
      exactAtTheLimit()
    } finally {
      vi.unstubAllGlobals()
    }
  })
})
