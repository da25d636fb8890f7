/** What a log line carries besides its message. Never a token, a URL query or a header. */
export interface LogDetails {
  /** The close code the connection got, if it was closed. */
  closeCode?: number
  /** The stable error code (`PROTOCOL_ERROR`, `DECODE_FAILED`, `UNAUTHENTICATED`, …). */
  code?: string
  /** The client's address as the socket saw it. */
  remoteAddress?: string
  /** `peer.id` of the session concerned (never the session id, which is a resume secret). */
  peerId?: string
  /** The error, for failures on the server's side. */
  error?: unknown
}

/**
 * Where the server writes. `warn`: a connection or frame was refused (bad input, failed
 * authentication, disallowed origin, dead link), once per event. `error`: a failure on the
 * server's side (a handler threw, the store failed) that no `'error'` listener took.
 */
export interface Logger {
  warn(message: string, details: LogDetails): void
  error(message: string, details: LogDetails): void
}

/**
 * Refusals are counted in `server.stats` but not printed: they are the internet's noise, and a
 * flood of bad frames must not become a flood of log lines. Failures of the application's own
 * code are printed, since nobody else would see them.
 */
export const defaultLogger: Logger = {
  warn: () => undefined,
  error: (message, details) => {
    try {
      console.error(`[lifeline] ${message}`, details)
    } catch {
      // Node prints an error by its `stack` and an object by its custom inspect, either of which
      // may throw: the line went with it, and the failure was said nowhere. Said without them.
      console.error(`[lifeline] ${message}`)
    }
  },
}

/**
 * A store's or cluster's error as it may be reported: Redis clients (ioredis) attach the failed
 * command to their errors, and its arguments hold session ids (resume secrets) and payloads. The
 * copy keeps the name, message and code, nothing else.
 */
export function withoutCommand(error: unknown): unknown {
  if (!(error instanceof Error) || !('command' in error)) return error
  const copy = new Error(error.message)
  copy.name = error.name
  if ('code' in error) Object.assign(copy, { code: error.code })
  return copy
}
