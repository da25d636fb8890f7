import type {
  CloseEventLike,
  ErrorEventLike,
  MessageEventLike,
  Terminable,
  WebSocketConstructor,
  WebSocketLike,
} from './webSocketLike.js'

/** What the owner of sockets hears from each of them; `owner` is the one the socket was opened for. */
export interface SocketHandlers<Owner> {
  open(owner: Owner): void
  message(owner: Owner, data: unknown): void
  close(owner: Owner, event: CloseEventLike): void
  error(owner: Owner, event: ErrorEventLike): void
}

/** `ws` sockets are also EventEmitters: listening that way costs less (see `bindSockets`). */
interface Emitter {
  on(type: string, listener: (...args: never[]) => void): void
}

/** A text frame as `ws` 8 gives it: a Buffer (or a string, from older versions). */
interface Text {
  toString(): string
}

/** What `ws` (up to 8 at least) reads to tell its `CloseEvent`'s `wasClean`. */
interface ClosingHandshake {
  _closeFrameReceived?: boolean
  _closeFrameSent?: boolean
}

const ownerKey = Symbol('lifeline.owner')

type Owned<Owner> = WebSocketLike & { [ownerKey]?: Owner | undefined }

/**
 * Opens sockets wired to one set of handlers, shared by every socket: the handlers find their
 * owner through a property of the socket, so a socket costs its owner no closures. This file is
 * the only one that touches a raw socket's handlers.
 *
 * A `ws` socket is listened to with `on()`: its `on<type>` setters wrap every handler in a
 * closure with a property array (0.1 to 0.2 KB per handler per socket), and its message wrapper
 * makes a `MessageEvent` per message.
 */
export function bindSockets<Owner>(handlers: SocketHandlers<Owner>) {
  function open(this: Owned<Owner>): void {
    const owner = this[ownerKey]
    if (owner) handlers.open(owner)
  }
  function messageEvent(this: Owned<Owner>, event: MessageEventLike): void {
    const owner = this[ownerKey]
    if (owner) handlers.message(owner, event.data)
  }
  /**
   * `ws` 8 gives text as a Buffer with `isBinary` false; older versions give a string. The
   * Buffer's own `toString` (UTF-8) rather than `String()`, which looks for `Symbol.toPrimitive`
   * first: this runs for every frame.
   */
  function data(this: Owned<Owner>, data: unknown, isBinary?: boolean): void {
    const owner = this[ownerKey]
    if (owner) handlers.message(owner, isBinary === false ? (data as Text).toString() : data)
  }
  /**
   * Deno reports a link that ended without a close frame as code 0; the standard, and every
   * other runtime, says 1006, which is what `shouldReconnect`, the state and the user read.
   */
  function closeEvent(this: Owned<Owner>, event: CloseEventLike): void {
    const owner = this[ownerKey]
    if (!owner) return
    handlers.close(owner, event.code ? event : { code: 1006, reason: '', wasClean: false })
  }
  /**
   * `ws` gives the code and the reason as a Buffer. `wasClean` is what its own `CloseEvent`
   * would say: both close frames went through; without those fields, a close with a code other
   * than 1006 (no close frame at all) counts as clean.
   */
  function close(this: Owned<Owner> & ClosingHandshake, code: number, reason: unknown): void {
    const owner = this[ownerKey]
    const wasClean =
      this._closeFrameReceived === undefined
        ? code !== 1006
        : this._closeFrameReceived && this._closeFrameSent === true
    if (owner) handlers.close(owner, { code, reason: String(reason), wasClean })
  }
  function errorEvent(this: Owned<Owner>, event: ErrorEventLike): void {
    const owner = this[ownerKey]
    if (owner) handlers.error(owner, event)
  }
  function error(this: Owned<Owner>, error: Error): void {
    const owner = this[ownerKey]
    if (owner) handlers.error(owner, { error, message: error.message })
  }

  /**
   * Creates one socket for `owner`. Throws what the constructor throws (a bad URL, a bad
   * subprotocol).
   */
  return (
    WebSocketImpl: WebSocketConstructor,
    url: string,
    protocols: string | string[] | undefined,
    binaryType: string,
    owner: Owner,
  ): WebSocketLike => {
    const socket: Owned<Owner> =
      protocols === undefined ? new WebSocketImpl(url) : new WebSocketImpl(url, protocols)
    socket.binaryType = binaryType
    socket[ownerKey] = owner
    const emitter = socket as Partial<Emitter>
    if (typeof emitter.on === 'function') {
      emitter.on('open', open)
      emitter.on('message', data)
      emitter.on('error', error)
      emitter.on('close', close)
    } else {
      socket.onopen = open
      socket.onmessage = messageEvent
      socket.onerror = errorEvent
      socket.onclose = closeEvent
    }
    return socket
  }
}

/**
 * Stops hearing a socket we are done with: its late events find no owner. The listeners stay, as
 * no-ops: `ws` sockets are EventEmitters, and an `error` emitted with no listener would crash the
 * process.
 */
export function detachSocket(socket: WebSocketLike): void {
  ;(socket as Owned<unknown>)[ownerKey] = undefined
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
