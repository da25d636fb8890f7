import type { LifelineError } from '@lifeline/codec'
import type { ConnectionState, DisconnectCause } from './state.js'
import type { WebSocketData } from './webSocketLike.js'

/** Events are plain objects: made once per event, never cloned or re-dispatched. */
interface SocketEvent<Type extends string, Target> {
  readonly type: Type
  readonly target: Target
}

export type SocketOpenEvent<Target = unknown> = SocketEvent<'open', Target>

export interface SocketMessageEvent<Target = unknown> extends SocketEvent<'message', Target> {
  /** A string, or for binary frames a `Blob` or `ArrayBuffer` per `binaryType`. */
  readonly data: unknown
}

export interface SocketCloseEvent<Target = unknown> extends SocketEvent<'close', Target> {
  readonly code: number
  readonly reason: string
  readonly wasClean: boolean
}

export interface SocketErrorEvent<Target = unknown> extends SocketEvent<'error', Target> {
  readonly error: LifelineError
  readonly message: string
}

export interface ConnectingEvent<Target = unknown> extends SocketEvent<'connecting', Target> {
  /** 1 for the first attempt since the link was last stable. */
  readonly attempt: number
}

export interface ReconnectingEvent<Target = unknown> extends SocketEvent<'reconnecting', Target> {
  /** The attempt that will be made after `delayMs`. */
  readonly attempt: number
  readonly delayMs: number
  readonly cause: DisconnectCause
}

export interface DropEvent<Target = unknown> extends SocketEvent<'drop', Target> {
  /** The message the overflow policy dropped from the send queue. */
  readonly data: WebSocketData
  readonly reason: 'overflow'
}

export interface StateChangeEvent<Target = unknown> extends SocketEvent<'statechange', Target> {
  readonly state: ConnectionState
  readonly previous: ConnectionState
}

export interface ReconnectingWebSocketEventMap<Target = unknown> {
  open: SocketOpenEvent<Target>
  message: SocketMessageEvent<Target>
  close: SocketCloseEvent<Target>
  error: SocketErrorEvent<Target>
  connecting: ConnectingEvent<Target>
  reconnecting: ReconnectingEvent<Target>
  drop: DropEvent<Target>
  statechange: StateChangeEvent<Target>
}
