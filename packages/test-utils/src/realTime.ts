/**
 * The timer functions and monotonic clock as they were when this module loaded.
 *
 * Fixtures drive real sockets, so they must keep real time even inside a test that calls
 * `vi.useFakeTimers()` to control the SDK's own clock: otherwise a fault proxy's latency or a
 * bounded wait would never fire and the test would hang instead of failing. Capturing the
 * functions at import time (before any test body runs) keeps them out of reach of fake timers.
 */
export const realTime = {
  setTimeout: globalThis.setTimeout.bind(globalThis),
  clearTimeout: globalThis.clearTimeout.bind(globalThis),
  setImmediate: globalThis.setImmediate.bind(globalThis),
  /** Monotonic milliseconds: wall-clock jumps must not stretch or shrink a wait. */
  now: performance.now.bind(performance),
}

/** Resolves after `ms` of real time. Only for bounded waits: never to guess when I/O is done. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    realTime.setTimeout(resolve, ms)
  })
}

/**
 * Resolves once the event loop has gone through its close phase.
 *
 * A `'close'` event does not always mean the handle is gone: `net.Server` emits it as soon as
 * the close is requested, and libuv releases the handle at the end of the loop iteration. Two
 * check-phase hops always straddle one close phase, so a fixture's `close()` that awaits this
 * last resolves only when its handles no longer keep the process alive.
 */
export function afterClosePhase(): Promise<void> {
  return new Promise((resolve) => {
    realTime.setImmediate(() => realTime.setImmediate(resolve))
  })
}
