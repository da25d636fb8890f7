import { describe, expect, it } from 'vitest'
import { percentile } from '../../bench/lib/measure.js'

// Nearest rank: the p-th percentile is the smallest value that at least p % of the values are
// at or under. One rank too high reads a p99 of 100 round trips as their slowest.
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => n - i)

describe('percentile', () => {
  it('takes the nearest rank', () => {
    expect(percentile(oneTo(100), 0.99)).toBe(99)
    expect(percentile(oneTo(100), 0.5)).toBe(50)
    expect(percentile(oneTo(10_000), 0.99)).toBe(9_900)
    expect(percentile(oneTo(10), 0.95)).toBe(10)
  })

  it('gives the smallest and the largest at the ends', () => {
    expect(percentile(oneTo(7), 0)).toBe(1)
    expect(percentile(oneTo(7), 1)).toBe(7)
  })

  it('is NaN for no values', () => {
    expect(percentile([], 0.5)).toBeNaN()
  })
})
