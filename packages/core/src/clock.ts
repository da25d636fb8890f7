/** Timers take at most 2^31 - 1 ms; beyond, Node and browsers fire them at once. */
export const maxTimerMs = 2 ** 31 - 1

/**
 * How late a deadline's timer may run and still be taken at its word. Later, it ran after a
 * stall (a long synchronous job or GC, a frozen page): what arrived meanwhile is still unread,
 * since Node runs the timers that fell due before it reads the network, so the answer that came
 * in time lost to the deadline it met. Such a deadline is confirmed a turn later (`ranLate`).
 */
export const lateTimerMs = 50

/**
 * Whether a timer due at `dueAt` ran late (see `lateTimerMs`): its deadline is then confirmed
 * by a timer of 1 ms, which runs after what waited with it has been read. Once only: a throttled
 * timer (a hidden page's) always runs late, and a deadline must not wait for good.
 */
export function ranLate(clock: Clock, dueAt: number): boolean {
  return clock.now() - dueAt > lateTimerMs
}

/**
 * A deadline's timer: `expire` runs in `ms`, or a turn later when the timer ran late
 * (`ranLate`), so what came in time is read first. The timer of that turn goes to `rearmed`,
 * which keeps it where the first was kept, to be cleared.
 */
export function setDeadline(
  clock: Clock,
  ms: number,
  expire: () => void,
  rearmed: (timer: TimerHandle) => void,
): TimerHandle {
  const dueAt = clock.now() + ms
  return clock.setTimeout(() => {
    if (ranLate(clock, dueAt)) rearmed(clock.setTimeout(expire, 1))
    else expire()
  }, ms)
}

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
