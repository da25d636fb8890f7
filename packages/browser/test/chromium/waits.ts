import { nextEvent as nextEventWithin } from '@lifeline/core/testing'
import { pageWaitMs } from '@lifeline/test-utils/page'

export { pageWaitMs, until } from '@lifeline/test-utils/page'

/** `nextEvent`, bounded by default as a page's waits are (`pageWaitMs`: Chromium's throttle). */
export const nextEvent: typeof nextEventWithin = (socket, type, timeoutMs = pageWaitMs) =>
  nextEventWithin(socket, type, timeoutMs)
