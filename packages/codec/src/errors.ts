/**
 * Stable error codes. A code never changes meaning once released; match on it, not on messages.
 */
export type LifelineErrorCode =
  /** An attempt did not open within `connectionTimeoutMs`. */
  | 'CONNECT_TIMEOUT'
  /** The underlying socket reported an error (refused, reset, DNS, TLS, bad upgrade response). */
  | 'CONNECTION_ERROR'
  /** No inbound frame within the heartbeat's `intervalMs + timeoutMs`: the link is half-open. */
  | 'HEARTBEAT_TIMEOUT'
  /** The send queue is full and its overflow policy is `'error'`. */
  | 'QUEUE_FULL'
  /** The socket or client was closed by its user; nothing more can be sent or awaited. */
  | 'CLOSED'
  /** `maxRetries` attempts failed in a row; call `reconnect()` to start again. */
  | 'RETRIES_EXHAUSTED'
  /** The URL is not a valid ws:, wss:, http: or https: URL. */
  | 'INVALID_URL'
  /** A caller passed a value the API does not accept (bad close code, too long a reason, …). */
  | 'INVALID_ARGUMENT'
  /** A frame could not be decoded, or decoded to a value outside the codec's domain. */
  | 'DECODE_FAILED'
  /** A value could not be encoded by the codec. */
  | 'ENCODE_FAILED'
  /** A frame or message is larger than the configured limit. */
  | 'MESSAGE_TOO_LARGE'
  /** The peer broke the wire protocol (unknown control frame, sequence gap, bad handshake). */
  | 'PROTOCOL_ERROR'
  /** A request got no response within its `timeoutMs`. */
  | 'REQUEST_TIMEOUT'
  /** A request was aborted through its `AbortSignal`. */
  | 'ABORTED'
  /** The remote handler failed; `remoteCode` and the message are the remote's. */
  | 'REMOTE_ERROR'
  /** The server refused the credentials (close code 4401). */
  | 'UNAUTHENTICATED'
  /** The server refused access (close code 4403). */
  | 'FORBIDDEN'
  /** The server refused a connection: too many new connections from one address (close code 1013). */
  | 'RATE_LIMITED'
  /** The server refused a new session: too many from one address, or in all (close code 1013). */
  | 'TOO_MANY_SESSIONS'
  /** `peer.join` past the server's `maxRoomsPerSession`. */
  | 'TOO_MANY_ROOMS'
  /**
   * The server cannot check credentials now (what `authenticate` consults is down): try again
   * later (close code 1013), through the backoff.
   */
  | 'AUTH_UNAVAILABLE'
  /** The server closed the link for a policy violation (close code 1008). */
  | 'POLICY_VIOLATION'
  /** A newer connection took the session over (close code 4409); this one does not fight it. */
  | 'SESSION_TAKEN_OVER'
  /** The link closed with a code `shouldReconnect` refused and no other code names. */
  | 'CLOSED_BY_PEER'
  /** A shared store (Redis) cannot be reached now; the server goes on without it meanwhile. */
  | 'STORE_UNAVAILABLE'
  /** A shared store refused a write: another process owns the session now (a newer token). */
  | 'SESSION_FENCED'

export interface LifelineErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown
  /** The WebSocket close code that goes with this error, if any. */
  closeCode?: number | undefined
  /** For `REMOTE_ERROR`: the code the remote side gave. */
  remoteCode?: string | undefined
}

/**
 * The one error type of Lifeline. Thrown synchronously only for the caller's mistakes; failures
 * in the background arrive as `error` events carrying one of these.
 */
export class LifelineError extends Error {
  override readonly name = 'LifelineError'
  readonly code: LifelineErrorCode
  readonly closeCode: number | undefined
  readonly remoteCode: string | undefined

  constructor(code: LifelineErrorCode, message: string, options: LifelineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.closeCode = options.closeCode
    this.remoteCode = options.remoteCode
  }
}

/**
 * True for a `LifelineError` (optionally with the given code). Works across bundled copies of
 * the package, where `instanceof` would not.
 */
export function isLifelineError(value: unknown, code?: LifelineErrorCode): value is LifelineError {
  if (typeof value !== 'object' || value === null) return false
  const error = value as Partial<LifelineError>
  return (
    error.name === 'LifelineError' &&
    typeof error.code === 'string' &&
    (code === undefined || error.code === code)
  )
}
