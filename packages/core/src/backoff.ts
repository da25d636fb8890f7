/** Exponential backoff with full jitter. */
export interface BackoffOptions {
  /**
   * Upper bound of the first retry's delay.
   * @default 500
   */
  initialDelayMs: number
  /**
   * Growth of the upper bound per failed attempt.
   * @default 2
   */
  factor: number
  /**
   * Cap of the upper bound.
   * @default 30000
   */
  maxDelayMs: number
}

export const backoffDefaults: BackoffOptions = {
  initialDelayMs: 500,
  factor: 2,
  maxDelayMs: 30_000,
}

/**
 * Delay before retry number `retry` (0 for the first retry after a failure):
 * `random() * min(maxDelayMs, initialDelayMs * factor ** retry)`.
 *
 * Full jitter spreads a crowd of clients evenly over the whole window, so a server that comes
 * back is not hit by all of them at once.
 */
export function computeBackoffDelay(
  retry: number,
  options: BackoffOptions,
  random: () => number,
): number {
  // 0 * Infinity is NaN once factor ** retry overflows: a zero initial delay stays zero.
  const growth = options.initialDelayMs === 0 ? 0 : options.initialDelayMs * options.factor ** retry
  const ceiling = Math.min(options.maxDelayMs, growth)
  return Math.floor(random() * ceiling)
}
