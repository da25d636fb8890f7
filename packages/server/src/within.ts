const noop = (): void => undefined

/**
 * Waits for `promise`, at most `ms` of real time (I/O deadlines, not the injectable clock);
 * resolves to false when the time ran out first, true once it settled (either way: a failure is
 * reported where it happened). `keepAlive: false` for a wait that must not keep the process
 * alive on its own.
 */
export function within(promise: Promise<unknown>, ms: number, keepAlive = true): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    if (!keepAlive) timer.unref()
    void promise.then(noop, noop).then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}
