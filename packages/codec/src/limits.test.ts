import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isLifelineError } from './errors.js'
import { codecLimitsDefaults, resolveLimits, textExceeds } from './limits.js'

describe('resolveLimits', () => {
  it('applies the documented defaults', () => {
    expect(resolveLimits(undefined)).toEqual({
      maxBytes: 1_048_576,
      maxDepth: 64,
      maxContainers: 262_144,
    })
    expect(resolveLimits({})).toEqual(codecLimitsDefaults)
  })

  // As a project without `exactOptionalPropertyTypes` passes its own unset settings on.
  it('takes a limit given as undefined as not given', () => {
    for (const key of Object.keys(codecLimitsDefaults)) {
      expect([key, resolveLimits({ [key]: undefined })]).toEqual([key, codecLimitsDefaults])
    }
  })

  it('accepts Infinity as "no size limit" and "no container limit"', () => {
    expect(resolveLimits({ maxBytes: Infinity }).maxBytes).toBe(Infinity)
    expect(resolveLimits({ maxContainers: Infinity }).maxContainers).toBe(Infinity)
  })

  it.each([0, -1, 2.5, NaN, -Infinity])('refuses maxContainers %s as INVALID_ARGUMENT', (value) => {
    expect(() => resolveLimits({ maxContainers: value })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
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

// Thousands of generated cases each: CPU-bound and finite, so the limit only has to outlast a
// loaded 2-core machine, where 5 s was seen to run out.
describe('textExceeds', { timeout: 30_000 }, () => {
  const encoder = new TextEncoder()
  const exactAtTheLimit = () => {
    for (const char of ['a', 'é', '日', '😀', '\ud800', '\ud800x']) {
      const bytes = encoder.encode(char).byteLength
      const text = char.repeat(10)
      expect(textExceeds(text, bytes * 10)).toBe(false)
      expect(textExceeds(text, bytes * 10 - 1)).toBe(true)
    }
  }

  it('is exact at the limit for 1-, 2-, 3- and 4-byte characters and lone surrogates', () => {
    exactAtTheLimit()
  })

  it('agrees with a real UTF-8 encoder on any string, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        const bytes = encoder.encode(text).byteLength
        expect(textExceeds(text, bytes)).toBe(false)
        if (bytes > 0) expect(textExceeds(text, bytes - 1)).toBe(true)
      }),
      { numRuns: 2_000 },
    )
  })
})
