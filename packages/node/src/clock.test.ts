import { afterEach, describe, expect, it, vi } from 'vitest'
import { nodeClock } from './clock.js'

const tick = (ms: number) => new Promise<void>((resolve) => nodeClock.setTimeout(resolve, ms))

describe('nodeClock', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('yields with setImmediate for a zero delay, and waits with setTimeout otherwise', async () => {
    const immediate = vi.spyOn(globalThis, 'setImmediate')
    const timeout = vi.spyOn(globalThis, 'setTimeout')
    const fired: string[] = []
    nodeClock.setTimeout(() => fired.push('zero'), 0)
    expect(immediate).toHaveBeenCalledTimes(1)
    expect(timeout).not.toHaveBeenCalled()
    nodeClock.setTimeout(() => fired.push('later'), 2)
    expect(timeout).toHaveBeenCalledTimes(1)
    await tick(10)
    expect(fired).toEqual(['zero', 'later'])
  })

  it('cancels a zero-delay timer and a delayed one', async () => {
    const fired: string[] = []
    const zero = nodeClock.setTimeout(() => fired.push('zero'), 0)
    const later = nodeClock.setTimeout(() => fired.push('later'), 1)
    nodeClock.clearTimeout(zero)
    nodeClock.clearTimeout(later)
    await tick(10)
    expect(fired).toEqual([])
  })
})
