/** Timers take at most 2^31 - 1 ms; beyond, Node and browsers fire them at once. */
export const maxTimerMs = 2 ** 31 - 1

/** An opaque timer handle: whatever the clock's `setTimeout` returns. */
export type TimerHandle = unknown

/**
 * Where every timer and timestamp in Lifeline comes from. Pass one per instance; tests pass a
 * `ManualClock` (from `@lifeline/core/testing`) and move time by hand.
 */
export interface Clock {
  /**
   * Milliseconds on a monotonic clock, from an arbitrary origin: only differences are used. A
   * change of the wall clock (NTP, a user, a machine resumed from sleep) must not move it, or
   * every timeout and deadline measured on it would stretch or shrink by the step.
   */
  now(): number
  /**
   * Milliseconds since the Unix epoch, for the timestamps that leave the process: a session
   * record's `expiresAt`, read by a store that other processes share or that outlives this one.
   * A clock without it (`ManualClock`) stamps them with `now()`.
   */
  wallNow?(): number
  setTimeout(callback: () => void, delayMs: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/**
 * The real clock. Each member calls the global at call time (not a reference taken at import),
 * so `vi.useFakeTimers()` and similar still work on it, when they fake `performance` too (Jest
 * and Vitest 4 do by default). A zero delay is how Lifeline yields the
 * event loop (a long queue flush goes on in slices): a platform that yields more cheaply than
 * `setTimeout(0)` passes a clock of its own, as `@lifeline/node` does with `setImmediate`.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
}

/** `clock.wallNow()`, or `clock.now()` for a clock without a wall clock of its own. */
export function wallNow(clock: Clock): number {
  return clock.wallNow === undefined ? clock.now() : clock.wallNow()
}
