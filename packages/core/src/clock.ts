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
 * so `vi.useFakeTimers()` and similar still work on it.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
}
