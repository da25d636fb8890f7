import type {
  CloseEventLike,
  ErrorEventLike,
  MessageEventLike,
  WebSocketData,
  WebSocketLike,
} from '../webSocketLike.js'
import { readyStates } from '../webSocketLike.js'

type Handler<E> = ((event: E) => void) | null

/**
 * An in-memory WebSocket for tests, with the server's side as methods. Pass the class as the
 * `WebSocket` option; every socket it creates is in `FakeWebSocket.instances`.
 *
 * Client calls behave as a real socket's: `send` while connecting throws, `close()` completes
 * asynchronously (a microtask) unless the link is black-holed. Server controls (`accept`,
 * `receive`, `serverClose`, `fail`) act synchronously, so a test decides exactly when each
 * event happens.
 *
 * ```ts
 * FakeWebSocket.reset()
 * const socket = new ReconnectingWebSocket('ws://test', undefined, { WebSocket: FakeWebSocket })
 * FakeWebSocket.last.accept()
 * FakeWebSocket.last.receive('hello')
 * ```
 */
export class FakeWebSocket implements WebSocketLike {
  static readonly CONNECTING = readyStates.CONNECTING
  static readonly OPEN = readyStates.OPEN
  static readonly CLOSING = readyStates.CLOSING
  static readonly CLOSED = readyStates.CLOSED

  /** Every socket created so far, oldest first. */
  static instances: FakeWebSocket[] = []

  /** The newest socket; throws when none was created. */
  static get last(): FakeWebSocket {
    const socket = FakeWebSocket.instances.at(-1)
    if (socket === undefined) throw new Error('no FakeWebSocket was created')
    return socket
  }

  /** Forgets every socket created so far. */
  static reset(): void {
    FakeWebSocket.instances = []
  }

  readonly url: string
  /** The subprotocols the client asked for. */
  readonly protocols: readonly string[]
  readyState: number = readyStates.CONNECTING
  protocol = ''
  extensions = ''
  /** Settable, to simulate a socket whose buffer is filling up. */
  bufferedAmount = 0
  binaryType = 'blob'
  onopen: Handler<unknown> = null
  onmessage: Handler<MessageEventLike> = null
  onclose: Handler<CloseEventLike> = null
  onerror: Handler<ErrorEventLike> = null
  /** What the client sent and the server received, in order. */
  readonly sent: WebSocketData[] = []
  /** How the client closed the socket, once it has. */
  closedWith: { code: number | undefined; reason: string | undefined } | undefined
  /** Whether the client called `terminate()` (as `ws` allows). */
  terminated = false
  private blackholed = false

  constructor(url: string, protocols?: string | string[]) {
    this.url = url
    this.protocols =
      protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : protocols
    FakeWebSocket.instances.push(this)
  }

  send(data: WebSocketData): void {
    if (this.readyState === readyStates.CONNECTING) {
      throw new Error('InvalidStateError: send() while the socket is still connecting')
    }
    // As the standard: data sent on a closing or closed socket is discarded.
    if (this.readyState !== readyStates.OPEN || this.blackholed) return
    this.sent.push(data)
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === readyStates.CLOSING || this.readyState === readyStates.CLOSED) return
    this.closedWith = { code, reason }
    const wasConnecting = this.readyState === readyStates.CONNECTING
    this.readyState = readyStates.CLOSING
    if (this.blackholed) return
    queueMicrotask(() =>
      wasConnecting ? this.finish(1006, '', false) : this.finish(code ?? 1005, reason ?? '', true),
    )
  }

  /** Destroys the link without a closing handshake, as `ws` does. */
  terminate(): void {
    this.terminated = true
    if (this.readyState === readyStates.CLOSED) return
    this.readyState = readyStates.CLOSING
    queueMicrotask(() => this.finish(1006, '', false))
  }

  /** Server side: completes the handshake (with a chosen subprotocol) and fires `open`. */
  accept(protocol = ''): void {
    if (this.readyState !== readyStates.CONNECTING)
      throw new Error('accept(): socket is not connecting')
    this.readyState = readyStates.OPEN
    this.protocol = protocol
    this.onopen?.({ type: 'open' })
  }

  /** Server side: sends a frame to the client. Nothing arrives on a black-holed link. */
  receive(data: unknown): void {
    if (this.readyState !== readyStates.OPEN) throw new Error('receive(): socket is not open')
    if (this.blackholed) return
    this.onmessage?.({ data })
  }

  /** Server side: closes the link with a close frame (or, with `wasClean: false`, drops it). */
  serverClose(code = 1000, reason = '', wasClean = true): void {
    if (this.readyState === readyStates.CLOSED) return
    this.finish(code, reason, wasClean)
  }

  /**
   * Server side: the link fails (refused, reset): `error`, then `close` 1006. With
   * `{ close: false }`, `error` alone, as Node 22's global WebSocket (undici) reports a refused
   * connection; `serverClose` may send a late `close` after it.
   */
  fail(message = 'connection failed', { close = true }: { close?: boolean } = {}): void {
    if (this.readyState === readyStates.CLOSED) return
    this.onerror?.({ message, error: new Error(message) })
    if (close) this.finish(1006, '', false)
  }

  /** The link goes silent both ways while both ends still believe it open (half-open). */
  blackhole(): void {
    this.blackholed = true
  }

  private finish(code: number, reason: string, wasClean: boolean): void {
    if (this.readyState === readyStates.CLOSED) return
    this.readyState = readyStates.CLOSED
    this.onclose?.({ code, reason, wasClean })
  }
}
