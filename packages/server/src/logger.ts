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
  error: (message, details) => console.error(`[lifeline] ${message}`, details),
}
