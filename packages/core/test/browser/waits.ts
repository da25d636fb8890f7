export { nextEvent } from '../../src/testing/index.js'
export { until } from '@lifeline/test-utils/page'

/** Fast retries: the backoff rules are unit-tested elsewhere; here they would only slow tests. */
export const quickRetry = { initialDelayMs: 20, maxDelayMs: 100 } as const
