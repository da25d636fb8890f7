import { describe, expect, it } from 'vitest'
import { createFixtureScope } from './fixtures.js'
import { steppingWallClock } from './wallClock.js'

describe('steppingWallClock', () => {
  it('steps Date.now() back and forth, and puts the real one back on cleanup', async () => {
    const real = Date.now
    const fx = createFixtureScope()
    const wall = steppingWallClock(fx)
    const before = real.call(Date)
    wall.step(-3_600_000)
    expect(Date.now() - before).toBeLessThan(-3_500_000)
    wall.step(7_200_000)
    expect(Date.now() - real.call(Date)).toBe(3_600_000)
    await fx.closeAll()
    expect(Date.now).toBe(real)
  })
})
