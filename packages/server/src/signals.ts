/** What `closeOnSignals` needs of a server. */
export interface Closable {
  close(): Promise<void>
}

/**
 * Closes `server` gracefully on the first of `signals` (a rolling restart's SIGTERM): it stops
 * accepting, closes every client with 1012 so that it reconnects at once (to another process
 * behind the balancer), and stores every session; then `onClosed` runs (by default the process
 * exits with code 0). A signal that comes again during the close is ignored, the close being
 * bounded (`closeTimeoutMs` per step): Ctrl-C in a terminal reaches both `npm start` and the
 * node process it started, and npm forwards it. Returns a function that removes the signal
 * handlers.
 *
 * ```ts
 * closeOnSignals(server)
 * ```
 */
export function closeOnSignals(
  server: Closable,
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
  onClosed: (error?: unknown) => void = (error) => process.exit(error === undefined ? 0 : 1),
): () => void {
  let closing = false
  const handler = (): void => {
    // Kept until the close is done: with no listener left, a second signal's default action
    // would end the process before the sessions are stored.
    if (closing) return
    closing = true
    server.close().then(
      () => {
        remove()
        onClosed()
      },
      (error: unknown) => {
        remove()
        onClosed(error)
      },
    )
  }
  const remove = (): void => {
    for (const signal of signals) process.off(signal, handler)
  }
  for (const signal of signals) process.on(signal, handler)
  return remove
}
