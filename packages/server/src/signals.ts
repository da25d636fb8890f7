/**
 * How long after the first signal a repeat is the same one, forwarded (`npm start` forwards a
 * terminal's Ctrl-C, which the process also got), rather than someone asking again.
 */
export const repeatGraceMs = 1_000

/**
 * Closes under way whose `onClosed` is the default, which ends the process: it ends once the
 * last of them is done, with 1 if any failed. Two servers of one process (two paths), each given
 * to `closeOnSignals`, both close on the signal; exiting as the first is done would cut the
 * other's short, before its sessions are stored.
 */
const exiting = new Set<object>()
let exitCode = 0

function exitOnceAllClosed(close: object, error?: unknown): void {
  exiting.delete(close)
  if (error !== undefined) {
    exitCode = 1
    // Said on stderr, or the process ends with 1 and not a word of why (its message only: the
    // close's error may carry more than belongs in a log).
    console.error(`closeOnSignals: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (exiting.size === 0) process.exit(exitCode)
}

/** What `closeOnSignals` needs of a server. */
export interface Closable {
  close(): Promise<void>
}

/**
 * Closes `server` gracefully on the first of `signals` (a rolling restart's SIGTERM): it stops
 * accepting, closes every client with 1012 so that it reconnects at once (to another process
 * behind the balancer), and stores every session; then `onClosed` runs (by default the process
 * exits with code 0). A signal that comes again within `repeatGraceMs` of the first is ignored:
 * Ctrl-C in a terminal reaches both `npm start` and the node process it started, and npm
 * forwards it. One that comes later ends the wait: `onClosed` runs at once with an error (by
 * default the process says why on stderr and exits with code 1), for a close that does not finish (a `Closable` that
 * also closes an application's server, which keep-alive connections hold open). With the
 * default, several servers of one process each given to `closeOnSignals` all close, and the
 * process exits once the last is done. Returns a function that removes the signal handlers.
 *
 * ```ts
 * closeOnSignals(server)
 * ```
 */
export function closeOnSignals(
  server: Closable,
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
  onClosed?: (error?: unknown) => void,
): () => void {
  const close = {}
  const closed = onClosed ?? ((error?: unknown) => exitOnceAllClosed(close, error))
  let firstAt: number | undefined
  let done = false
  const finish = (error?: unknown): void => {
    if (done) return
    done = true
    remove()
    if (error === undefined) closed()
    else closed(error)
  }
  const handler = (signal: NodeJS.Signals): void => {
    // Kept until the close is done: with no listener left, a second signal's default action
    // would end the process before the sessions are stored.
    if (firstAt !== undefined) {
      if (performance.now() - firstAt >= repeatGraceMs) {
        finish(new Error(`${signal} again: the close did not finish`))
      }
      return
    }
    // Monotonic: a step of the wall clock must not make the grace longer or shorter.
    firstAt = performance.now()
    if (onClosed === undefined) exiting.add(close)
    server.close().then(
      () => finish(),
      (error: unknown) => finish(error ?? new Error('the close failed')),
    )
  }
  const remove = (): void => {
    for (const signal of signals) process.off(signal, handler)
  }
  for (const signal of signals) process.on(signal, handler)
  return remove
}
