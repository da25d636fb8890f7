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

/** A zero-delay timer made with `setImmediate`, told apart from a `setTimeout` handle. */
type Immediate = [handle: unknown]

/**
 * The real clock. Each member calls the global at call time (not a reference taken at import),
 * so `vi.useFakeTimers()` and similar still work on it. A zero delay is a yield, not a wait:
 * where `setImmediate` exists (Node, Bun) it runs after pending I/O without the 1 ms
 * floor of `setTimeout(0)`, which a long queue flush would pay at every slice.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) =>
    delayMs <= 0 && typeof setImmediate === 'function'
      ? ([setImmediate(callback)] satisfies Immediate)
      : setTimeout(callback, delayMs),
  clearTimeout: (handle) => {
    if (Array.isArray(handle)) clearImmediate((handle as Immediate)[0] as NodeJS.Immediate)
    else clearTimeout(handle as Parameters<typeof clearTimeout>[0])
  },
}
