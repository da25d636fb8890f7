import { pageWaitMs } from '@lifeline/test-utils/page'
import { nextEvent as nextEventWithin } from '../../src/testing/index.js'

export { pageWaitMs, until } from '@lifeline/test-utils/page'

/** `nextEvent`, bounded by default as a page's waits are (`pageWaitMs`: Chromium's throttle). */
export const nextEvent: typeof nextEventWithin = (socket, type, timeoutMs = pageWaitMs) =>
  nextEventWithin(socket, type, timeoutMs)

/** Fast retries: the backoff rules are unit-tested elsewhere; here they would only slow tests. */
export const quickRetry = { initialDelayMs: 20, maxDelayMs: 100 } as const
