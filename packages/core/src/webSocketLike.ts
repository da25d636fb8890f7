/**
 * A handler property whose parameter is checked bivariantly, as methods are. A precise
 * `(event: MessageEvent) => void` would reject `ws`'s socket (its events are its own classes)
 * and a loose `(event: unknown) => void` would reject the browser's; this accepts both.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'] | null

/** What Lifeline reads from a message event. */
export interface MessageEventLike {
  readonly data: unknown
}

/** What Lifeline reads from a close event. */
export interface CloseEventLike {
  readonly code: number
  readonly reason: string
  readonly wasClean: boolean
}

/** What Lifeline reads from an error event (implementations disagree on the rest). */
export interface ErrorEventLike {
  /** Present on every real event; declared so that the DOM's `Event` matches this weak type. */
  readonly type?: string
  readonly message?: string
  readonly error?: unknown
}

/** Everything a WebSocket may send, as the standard defines it. */
export type WebSocketData = string | ArrayBufferLike | Blob | ArrayBufferView

/**
 * The standard WebSocket surface Lifeline needs. The browser's `WebSocket`, `ws`, the global
 * `WebSocket` of Node 22+, Bun and Deno, React Native's and `FakeWebSocket` all fit. As the
 * standard says, an implementation calls its `on<type>` handlers with the socket as `this`:
 * Lifeline's handlers are shared by all sockets and find their owner through it.
 */
export interface WebSocketLike {
  readonly readyState: number
  readonly protocol: string
  readonly extensions: string
  readonly bufferedAmount: number
  binaryType: string
  send(data: WebSocketData): void
  close(code?: number, reason?: string): void
  onopen: Handler<unknown>
  onmessage: Handler<MessageEventLike>
  onclose: Handler<CloseEventLike>
  onerror: Handler<ErrorEventLike>
}

/** A WebSocket class: `new WebSocket(url, protocols)`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/** `ws` sockets can be destroyed without a closing handshake; browsers' cannot. */
export interface Terminable {
  terminate(): void
}

export const readyStates = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const
