// The events of `@lifeline/node`'s socket are core's, with core's socket as their target, so
// core's `nextEvent` serves.
export { nextEvent } from '@lifeline/core/testing'

/** Fast retries for tests against real servers: the backoff rules are core's, tested there. */
export const quickRetry = { initialDelayMs: 20, maxDelayMs: 100 } as const
