import type { LifelineError } from '@lifeline/codec'
import { readyStates } from './webSocketLike.js'

/** Why a link went down or the socket closed. */
export interface DisconnectCause {
  /** The close code (1006 when the link died without a close frame). */
  readonly code: number
  readonly reason: string
  readonly wasClean: boolean
  /** The error that went with it: connect or heartbeat timeout, retries exhausted, … */
  readonly error?: LifelineError
}

/**
 * The lifecycle of a reconnecting socket, as data. `attempt` counts attempts since the link was
 * last stable (1 for the first).
 */
export type ConnectionState =
  | { readonly status: 'connecting'; readonly attempt: number }
  | { readonly status: 'open'; readonly attempt: number }
  | {
      readonly status: 'reconnecting'
      /** The attempt that will be made when the delay has passed. */
      readonly attempt: number
      readonly delayMs: number
      readonly cause: DisconnectCause
    }
  | { readonly status: 'closing' }
  /** `cause` is absent for a socket that was created closed (`startClosed`). */
  | { readonly status: 'closed'; readonly cause?: DisconnectCause }

export type ConnectionStatus = ConnectionState['status']

export type ConnectionAction =
  | { readonly type: 'connect'; readonly attempt: number }
  | { readonly type: 'opened' }
  | {
      readonly type: 'lost'
      readonly attempt: number
      readonly delayMs: number
      readonly cause: DisconnectCause
    }
  | { readonly type: 'closing' }
  | { readonly type: 'closed'; readonly cause: DisconnectCause }

/**
 * The one place where the state changes. Returns the same object for an action that does not
 * apply in the current state, so callers can tell "no change" by identity and emit nothing.
 */
export function transition(state: ConnectionState, action: ConnectionAction): ConnectionState {
  const { status } = state
  switch (action.type) {
    case 'connect':
      return status === 'closing' ? state : { status: 'connecting', attempt: action.attempt }
    case 'opened':
      return status === 'connecting' ? { status: 'open', attempt: state.attempt } : state
    case 'lost':
      return status === 'connecting' || status === 'open'
        ? {
            status: 'reconnecting',
            attempt: action.attempt,
            delayMs: action.delayMs,
            cause: action.cause,
          }
        : state
    case 'closing':
      return status === 'closed' || status === 'closing' ? state : { status: 'closing' }
    case 'closed':
      return status === 'closed' ? state : { status: 'closed', cause: action.cause }
  }
}

/** The standard `readyState` of a state: a socket waiting to reconnect is `CONNECTING`. */
export function readyStateOf(state: ConnectionState): number {
  switch (state.status) {
    case 'connecting':
    case 'reconnecting':
      return readyStates.CONNECTING
    case 'open':
      return readyStates.OPEN
    case 'closing':
      return readyStates.CLOSING
    case 'closed':
      return readyStates.CLOSED
  }
}
