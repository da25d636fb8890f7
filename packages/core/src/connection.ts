import type {
  CloseEventLike,
  ErrorEventLike,
  MessageEventLike,
  Terminable,
  WebSocketConstructor,
  WebSocketLike,
} from './webSocketLike.js'

/**
 * What the reconnecting socket hears from one underlying socket. Made once per reconnecting
 * socket and assigned as they are to every underlying socket, so a reconnect allocates no
 * closures.
 */
export interface SocketHandlers {
  open(): void
  message(event: MessageEventLike): void
  close(event: CloseEventLike): void
  error(event: ErrorEventLike): void
}

const ignore = (): void => {}

/**
 * Creates one underlying socket and wires it to `handlers`. This file is the only one that
 * touches a raw socket's handlers. Throws what the constructor throws (a bad URL, a bad
 * subprotocol).
 */
export function openSocket(
  WebSocketImpl: WebSocketConstructor,
  url: string,
  protocols: string | string[] | undefined,
  binaryType: string,
  handlers: SocketHandlers,
): WebSocketLike {
  const socket =
    protocols === undefined ? new WebSocketImpl(url) : new WebSocketImpl(url, protocols)
  socket.binaryType = binaryType
  socket.onopen = handlers.open
  socket.onmessage = handlers.message
  socket.onclose = handlers.close
  socket.onerror = handlers.error
  return socket
}

/**
 * Stops listening to a socket we are done with. Its error handler stays as a no-op: `ws`
 * sockets are EventEmitters, and an `error` emitted with no listener would crash the process.
 */
export function detachSocket(socket: WebSocketLike): void {
  socket.onopen = null
  socket.onmessage = null
  socket.onclose = null
  socket.onerror = ignore
}

/**
 * Lets go of a socket that is dead or no longer wanted: detached first so its late events are
 * not taken for the current link's, then closed, and destroyed at once where the implementation
 * can (`ws`), since a closing handshake over a dead link would hold a timer for 30 s.
 */
export function abandonSocket(socket: WebSocketLike, code: number, reason: string): void {
  detachSocket(socket)
  try {
    socket.close(code, reason)
  } catch {
    // Closing a socket that is already closing or closed may throw in some implementations.
  }
  const terminable = socket as Partial<Terminable>
  if (typeof terminable.terminate === 'function') terminable.terminate()
}
