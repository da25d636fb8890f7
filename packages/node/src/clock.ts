import type { Clock } from '@lifeline/core'

/** A zero-delay timer made with `setImmediate`, told apart from a `setTimeout` handle. */
type Immediate = [handle: NodeJS.Immediate]

/**
 * Core's clock, with a zero delay made a yield: `setImmediate` runs after pending I/O without
 * the 1 ms floor of `setTimeout(0)`, which a long queue flush would pay at every slice. Each
 * member calls the global at call time, so `vi.useFakeTimers()` still works on it.
 */
export const nodeClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (callback, delayMs) =>
    delayMs <= 0 ? ([setImmediate(callback)] satisfies Immediate) : setTimeout(callback, delayMs),
  clearTimeout: (handle) => {
    if (Array.isArray(handle)) clearImmediate((handle as Immediate)[0])
    else clearTimeout(handle as NodeJS.Timeout)
  },
}
