/** Timers take at most 2^31 - 1 ms; beyond, Node and browsers fire them at once. */
export const maxTimerMs = 2 ** 31 - 1

/** An opaque timer handle: whatever the clock's `setTimeout` returns. */
export type TimerHandle = unknown

/**
 * Where every timer and timestamp in Lifeline comes from. Pass one per instance; tests pass a
 * `ManualClock` (from `@lifeline/core/testing`) and move time by hand.
 */
export interface Clock {
  /** Milliseconds on a wall clock; only differences are used. */
  now(): number
  setTimeout(callback: () => void, delayMs: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/**
 * The real clock. Each member calls the global at call time (not a reference taken at import),
 * so `vi.useFakeTimers()` and similar still work on it. A zero delay is how Lifeline yields the
 * event loop (a long queue flush goes on in slices): a platform that yields more cheaply than
 * `setTimeout(0)` passes a clock of its own, as `@lifeline/node` does with `setImmediate`.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
}
