/** What `closeOnSignals` needs of a server. */
export interface Closable {
  close(): Promise<void>
}

/**
 * Closes `server` gracefully on the first of `signals` (a rolling restart's SIGTERM): it stops
 * accepting, closes every client with 1012 so that it reconnects at once (to another process
 * behind the balancer), and stores every session; then `onClosed` runs (by default the process
 * exits with code 0). Returns a function that removes the signal handlers.
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
  const handler = (): void => {
    remove()
    server.close().then(
      () => onClosed(),
      (error: unknown) => onClosed(error),
    )
  }
  const remove = (): void => {
    for (const signal of signals) process.off(signal, handler)
  }
  for (const signal of signals) process.once(signal, handler)
  return remove
}
