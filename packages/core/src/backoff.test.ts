import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import type { BackoffOptions } from './backoff.js'
import { backoffDefaults, computeBackoffDelay } from './backoff.js'

/** Uniform in [0, 1), as `Math.random`. */
const unitRandom = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
const retries = fc.integer({ min: 0, max: 60 })
const backoffOptions: fc.Arbitrary<BackoffOptions> = fc.record({
  initialDelayMs: fc.oneof(
    fc.integer({ min: 1, max: 120_000 }),
    fc.double({ min: Number.MIN_VALUE, max: 1e6, noNaN: true }),
  ),
  factor: fc.oneof(
    fc.constantFrom(1, 1.5, 2, 3, 10),
    fc.double({ min: 1, max: 1e9, noNaN: true, noDefaultInfinity: true }),
  ),
  maxDelayMs: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 0, max: 600_000 }),
    fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true }),
  ),
})
const hugeRetries = fc.oneof(
  fc.constantFrom(1023, 1024, 1025, 10_000, 2 ** 31, Number.MAX_SAFE_INTEGER),
  fc.integer({ min: 61, max: 2 ** 31 }),
)
/** The largest double below 1, the most a `random()` may return. */
const almostOne = 1 - 2 ** -53

const ceilingOf = (retry: number, options: BackoffOptions) =>
  Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** retry)

describe('computeBackoffDelay', () => {
  it('is an integer in [0, min(maxDelayMs, initialDelayMs * factor ** retry))', () => {
    fc.assert(
      fc.property(retries, backoffOptions, unitRandom, (retry, options, random) => {
        const delay = computeBackoffDelay(retry, options, () => random)
        const ceiling = ceilingOf(retry, options)
        expect(Number.isInteger(delay)).toBe(true)
        expect(delay).toBeGreaterThanOrEqual(0)
        if (ceiling === 0) expect(delay).toBe(0)
        else expect(delay).toBeLessThan(ceiling)
      }),
      { numRuns: 2_000 },
    )
  })

  it('grows with random() for a fixed retry', () => {
    fc.assert(
      fc.property(
        retries,
        backoffOptions,
        unitRandom,
        unitRandom,
        (retry, options, first, second) => {
          const [low, high] = first <= second ? [first, second] : [second, first]
          const lowDelay = computeBackoffDelay(retry, options, () => low)
          const highDelay = computeBackoffDelay(retry, options, () => high)
          expect(lowDelay).toBeLessThanOrEqual(highDelay)
        },
      ),
      { numRuns: 2_000 },
    )
  })

  it('is 0 when random() is 0', () => {
    fc.assert(
      fc.property(fc.oneof(retries, hugeRetries), backoffOptions, (retry, options) => {
        expect(computeBackoffDelay(retry, options, () => 0)).toBe(0)
      }),
    )
  })

  it('keeps the bound at maxDelayMs for huge retries, with no Infinity or NaN', () => {
    fc.assert(
      fc.property(hugeRetries, backoffOptions, unitRandom, (retry, options, random) => {
        const delay = computeBackoffDelay(retry, options, () => random)
        expect(Number.isInteger(delay)).toBe(true)
        expect(delay).toBeGreaterThanOrEqual(0)
        expect(delay).toBeLessThanOrEqual(options.maxDelayMs)
      }),
      { numRuns: 1_000 },
    )
  })

  it('reaches maxDelayMs, not beyond, once the growth passes it', () => {
    fc.assert(
      fc.property(
        hugeRetries,
        backoffOptions.filter((options) => options.factor >= 2 && options.maxDelayMs >= 1),
        (retry, options) => {
          fc.pre(options.initialDelayMs * options.factor ** retry >= options.maxDelayMs)
          const delay = computeBackoffDelay(retry, options, () => almostOne)
          expect(delay).toBeLessThan(options.maxDelayMs)
          expect(delay).toBeGreaterThanOrEqual(Math.floor(options.maxDelayMs) - 1)
        },
      ),
    )
  })

  it('calls random() once per delay', () => {
    const random = vi.fn(() => 0.25)
    computeBackoffDelay(3, backoffDefaults, random)
    expect(random).toHaveBeenCalledTimes(1)
  })
})

describe('computeBackoffDelay with backoffDefaults', () => {
  it('are 500 ms, factor 2, capped at 30 s', () => {
    expect(backoffDefaults).toEqual({ initialDelayMs: 500, factor: 2, maxDelayMs: 30_000 })
  })

  it.each([
    [0, 0.5, 250],
    [1, 0.5, 500],
    [2, 0.5, 1_000],
    [5, 0.5, 8_000],
    [5, 0.999, 15_984],
    [6, 0.5, 15_000],
    [6, 0.999, 29_970],
    [10, 0.5, 15_000],
    [60, 0.5, 15_000],
  ])('retry %i with random %f waits %i ms', (retry, random, expected) => {
    expect(computeBackoffDelay(retry, backoffDefaults, () => random)).toBe(expected)
  })

  it('stays below each retry’s bound as random() approaches 1', () => {
    const bounds = [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
    bounds.forEach((bound, retry) => {
      expect(computeBackoffDelay(retry, backoffDefaults, () => almostOne)).toBe(bound - 1)
    })
  })

  it('is 0 when the bound is 0', () => {
    expect(computeBackoffDelay(3, { ...backoffDefaults, maxDelayMs: 0 }, () => 0.9)).toBe(0)
    expect(computeBackoffDelay(3, { ...backoffDefaults, initialDelayMs: 0 }, () => 0.9)).toBe(0)
  })

  it('stays flat with factor 1', () => {
    const flat = { ...backoffDefaults, factor: 1 }
    expect(computeBackoffDelay(0, flat, () => 0.5)).toBe(250)
    expect(computeBackoffDelay(40, flat, () => 0.5)).toBe(250)
  })
})

describe('computeBackoffDelay with a zero initial delay', () => {
  it('is 0, not NaN, however many retries failed', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 61, max: 2 ** 31 })),
        fc.double({ min: 1, max: 1e9, noNaN: true, noDefaultInfinity: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, factor, random) => {
          const options = { ...backoffDefaults, initialDelayMs: 0, factor }
          expect(computeBackoffDelay(retry, options, () => random)).toBe(0)
        },
      ),
    )
  })
})
