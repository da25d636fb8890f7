export { nextEvent } from '../nextEvent.js'

/** Resolves when `predicate` holds; rejects naming `what` after `timeoutMs`. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Fast retries: the backoff rules are unit-tested elsewhere; here they would only slow tests. */
export const quickRetry = { initialDelayMs: 20, maxDelayMs: 100 } as const
