import type { LifelineError } from '@lifeline/codec'
import type { ConnectionState } from '../state.js'

/**
 * The client's lifecycle as data. In protocol mode `open` means the handshake is done (the
 * session is live), not merely that the socket opened.
 */
export type ClientState =
  | { readonly status: 'connecting'; readonly attempt: number; readonly lastError?: LifelineError }
  | {
      readonly status: 'open'
      readonly attempt: number
      /** Protocol mode: the session id and whether this link resumed it. */
      readonly sessionId?: string
      readonly resumed?: boolean
    }
  | {
      readonly status: 'reconnecting'
      readonly attempt: number
      readonly delayMs: number
      readonly closeCode: number
      readonly lastError?: LifelineError
    }
  | { readonly status: 'closing' }
  | { readonly status: 'closed'; readonly closeCode?: number; readonly lastError?: LifelineError }

export type ClientStatus = ClientState['status']

/** Told when the server did not keep the session: unacknowledged messages were sent again as new. */
export interface ResetEvent {
  readonly previousSessionId: string
  readonly sessionId: string
  /** Messages sent again as new: they may have been processed once already (at-least-once). */
  readonly resent: number
}

/** A message the client could not send; see `ClientEvents.drop`. */
export interface ClientDropEvent {
  readonly type: string
  readonly data: unknown
  readonly reason: 'offline' | 'overflow' | 'too-large' | 'unencodable'
}

/** Lifecycle events, kept apart from message types: `client.events.on('reset', …)`. */
export interface ClientEvents {
  statechange: [state: ClientState, previous: ClientState]
  reset: [event: ResetEvent]
  error: [error: LifelineError]
  /**
   * A message that will not be sent: `'offline'`, a fire-and-forget message (protocol mode) while
   * the link was down; `'overflow'`, raw mode, dropped by the socket queue's overflow policy
   * (`type` is `''` and `data` the frame for a frame sent through `client.socket` directly);
   * `'too-large'`, protocol mode, a reliable message queued before a `$welcome` whose `max` it
   * exceeds, taken out of the outbox (an `error` event `MESSAGE_TOO_LARGE` comes with it);
   * `'unencodable'`, protocol mode, a reliable message whose value (kept as given, not a copy)
   * was changed into one the codec refuses before it could be sent again on a new link, taken
   * out of the outbox (an `error` event `ENCODE_FAILED` comes with it).
   */
  drop: [event: ClientDropEvent]
}

/**
 * The client state that follows from the socket's, or `undefined` when the socket's change does
 * not change the client's: a socket that opens is not an open client in protocol mode until
 * `$welcome` (the client sets that itself).
 */
export function clientStateOf(state: ConnectionState): ClientState | undefined {
  if (state.status === 'open') return undefined
  if (state.status === 'connecting') return { status: 'connecting', attempt: state.attempt }
  if (state.status === 'closing') return { status: 'closing' }
  const { cause } = state
  const lastError = cause?.error && { lastError: cause.error }
  return state.status === 'reconnecting'
    ? {
        status: 'reconnecting',
        attempt: state.attempt,
        delayMs: state.delayMs,
        closeCode: state.cause.code,
        ...lastError,
      }
    : { status: 'closed', ...(cause && { closeCode: cause.code }), ...lastError }
}

/** Same status and same fields: no change to tell subscribers about. */
export function sameState(a: ClientState, b: ClientState): boolean {
  const keys = Object.keys(a) as (keyof ClientState)[]
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key])
}
