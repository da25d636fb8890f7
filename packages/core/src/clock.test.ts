import { afterEach, describe, expect, it, vi } from 'vitest'
import { systemClock } from './clock.js'

describe('systemClock', () => {
  afterEach(() => {
    vi.useRealTimers()
    vi.restoreAllMocks()
  })

  it('waits with the global setTimeout, read at call time, for a zero delay too', () => {
    const immediate = vi.spyOn(globalThis, 'setImmediate')
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const fired: string[] = []
    systemClock.setTimeout(() => fired.push('zero'), 0)
    const later = systemClock.setTimeout(() => fired.push('later'), 5)
    systemClock.clearTimeout(later)
    vi.advanceTimersByTime(10)
    expect(fired).toEqual(['zero'])
    // Yielding with `setImmediate` is `@lifeline/node`'s clock: core runs in browsers too.
    expect(immediate).not.toHaveBeenCalled()
  })
})
