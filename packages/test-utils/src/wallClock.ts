import type { FixtureScope } from './fixtures.js'

/** A wall clock that a test steps; see `steppingWallClock`. */
export interface SteppingWallClock {
  /** Moves `Date.now()` by `ms` (negative: back), as NTP or a user setting the time does. */
  step(ms: number): void
}

/**
 * Makes `Date.now()` step as a wall clock does (NTP, a user, a machine resumed from sleep) while
 * real timers run, until `fx` cleans up: only a timeout measured on the wall clock notices.
 */
export function steppingWallClock(fx: FixtureScope): SteppingWallClock {
  const real = Date.now
  let offsetMs = 0
  Date.now = () => real.call(Date) + offsetMs
  fx.add(() => {
    Date.now = real
  })
  return {
    step(ms) {
      offsetMs += ms
    },
  }
}
