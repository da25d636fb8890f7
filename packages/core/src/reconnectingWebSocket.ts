import { LifelineError } from '@lifeline/codec'
import WebSocketDefault from 'isomorphic-ws'
import { computeBackoffDelay } from './backoff.js'
import type { TimerHandle } from './clock.js'
import { abandonSocket, detachSocket, openSocket } from './connection.js'
import type { SocketHandlers } from './connection.js'
import { reportListenerError } from './events.js'
import { SocketEventTarget } from './socketEventTarget.js'
import { HeartbeatMonitor } from './heartbeat.js'
import type { ReconnectingWebSocketOptions, ResolvedOptions } from './options.js'
import { resolveOptions } from './options.js'
import { describeError, providerError, redactText } from './failures.js'
import { fatalCloseError, validateCloseArguments } from './closeCodes.js'
import { QueueFlusher } from './queueFlusher.js'
import { SendQueue } from './sendQueue.js'
import type { ReconnectingWebSocketEventMap } from './socketEvents.js'
import type { ConnectionAction, ConnectionState, DisconnectCause } from './state.js'
import { readyStateOf, transition } from './state.js'
import type { ProtocolsProvider, UrlProvider } from './url.js'
import { isPromise, parseWebSocketUrl, redactUrl, resolveProvider } from './url.js'
import { byteSizeOf, snapshotOf } from './webSocketData.js'
import type {
  CloseEventLike,
  ErrorEventLike,
  WebSocketConstructor,
  WebSocketData,
  WebSocketLike,
} from './webSocketLike.js'
import { readyStates } from './webSocketLike.js'

type EventMap = ReconnectingWebSocketEventMap<ReconnectingWebSocket>

/**
 * A drop-in replacement for `WebSocket` that does not let go: it reconnects with jittered
 * backoff, queues what is sent while the link is down and flushes it in order, and (optionally)
 * detects half-open links with a heartbeat. It speaks to any WebSocket server.
 */
export class ReconnectingWebSocket extends SocketEventTarget<EventMap> {
  static readonly CONNECTING = readyStates.CONNECTING
  static readonly OPEN = readyStates.OPEN
  static readonly CLOSING = readyStates.CLOSING
  static readonly CLOSED = readyStates.CLOSED
  readonly CONNECTING = readyStates.CONNECTING
  readonly OPEN = readyStates.OPEN
  readonly CLOSING = readyStates.CLOSING
  readonly CLOSED = readyStates.CLOSED

  private readonly options: ResolvedOptions
  private readonly urlProvider: UrlProvider
  private readonly protocolsProvider: ProtocolsProvider
  private readonly queue: SendQueue<WebSocketData>
  private readonly flusher: QueueFlusher
  private readonly heartbeat: HeartbeatMonitor | undefined
  private readonly handlers: SocketHandlers
  private current: ConnectionState = { status: 'closed' }
  private socket: WebSocketLike | undefined
  private currentUrl = ''
  private binaryTypeValue: BinaryType = 'blob'
  /** Failed attempts since the link was last stable; drives the backoff. */
  private failures = 0
  private openedAt = 0
  /** Bumped whenever an attempt is abandoned, so its late async URL resolution is ignored. */
  private attemptId = 0
  private closedByUser = false
  private reconnectTimer: TimerHandle | undefined
  private connectTimer: TimerHandle | undefined
  private closeTimer: TimerHandle | undefined

  /**
   * @param url The server URL, or a function (sync or async) called before every attempt, e.g.
   *   to put a fresh token in the query. A plain invalid URL throws `INVALID_URL` here.
   * @param protocols Subprotocols, or a function called before every attempt.
   */
  constructor(
    url: UrlProvider,
    protocols?: ProtocolsProvider,
    options: ReconnectingWebSocketOptions = {},
  ) {
    super()
    this.options = resolveOptions(options, WebSocketDefault as unknown as WebSocketConstructor)
    if (typeof url === 'string' || url instanceof URL) this.currentUrl = parseWebSocketUrl(url)
    this.urlProvider = url
    this.protocolsProvider = protocols
    this.queue = new SendQueue(this.options.queue)
    this.flusher = new QueueFlusher(
      this.queue,
      this.options.clock,
      this.options.highWaterMarkBytes,
      () => (this.current.status === 'open' ? this.socket : undefined),
      (error) =>
        this.emitError(
          new LifelineError('CONNECTION_ERROR', `send failed: ${describeError(error)}`, {
            cause: error,
          }),
        ),
    )
    const { heartbeat } = this.options
    this.heartbeat =
      heartbeat === undefined
        ? undefined
        : new HeartbeatMonitor(
            heartbeat,
            this.options.clock,
            (ping) => this.sendPing(ping),
            () => this.onHeartbeatTimeout(),
          )
    this.handlers = {
      open: () => this.onSocketOpen(),
      message: (event) => this.onSocketMessage(event.data),
      close: (event) => this.onSocketClose(event),
      error: (event) => this.onSocketError(event),
    }
    if (options.startClosed !== true) this.connect()
  }

  /** The URL of the current or last attempt. */
  get url(): string {
    return this.currentUrl
  }

  get readyState(): number {
    return readyStateOf(this.current)
  }

  /** The lifecycle as data; `statechange` fires whenever it changes. */
  get state(): ConnectionState {
    return this.current
  }

  get protocol(): string {
    return this.socket?.protocol ?? ''
  }

  get extensions(): string {
    return this.socket?.extensions ?? ''
  }

  /** Bytes the socket has not sent yet plus bytes waiting in the send queue. */
  get bufferedAmount(): number {
    return (this.socket?.bufferedAmount ?? 0) + this.queue.bytes
  }

  /** Messages waiting in the send queue. */
  get queuedMessages(): number {
    return this.queue.length
  }

  get binaryType(): BinaryType {
    return this.binaryTypeValue
  }

  set binaryType(value: BinaryType) {
    // As the standard: any other value is ignored.
    if (value !== 'blob' && value !== 'arraybuffer') return
    this.binaryTypeValue = value
    if (this.socket !== undefined) this.socket.binaryType = value
  }

  /**
   * Sends at once when the link is open and nothing is queued; otherwise queues, and the queue
   * flushes in order on the next open, before anything sent from the `open` handler. Throws
   * `CLOSED` after `close()`, `QUEUE_FULL` when the queue is full under the `'error'` policy,
   * and `INVALID_ARGUMENT` for data that is not a string, ArrayBuffer, view or Blob.
   */
  send(data: WebSocketData): void {
    const socket = this.socket
    if (
      this.current.status === 'open' &&
      this.queue.length === 0 &&
      socket !== undefined &&
      socket.readyState === readyStates.OPEN
    ) {
      socket.send(data)
      return
    }
    this.enqueue(data)
  }

  /**
   * Closes for good: no reconnect follows. Validates like the standard: `code` is 1000 or
   * 3000–4999 and `reason` at most 123 UTF-8 bytes, else `INVALID_ARGUMENT` is thrown. Queued
   * messages are kept, and sent if `reconnect()` is called later.
   */
  close(code?: number, reason?: string): void {
    validateCloseArguments(code, reason)
    const { status } = this.current
    if (status === 'closing' || status === 'closed') {
      this.closedByUser = true
      return
    }
    this.closedByUser = true
    this.stopWork()
    const socket = this.socket
    if (socket === undefined || socket.readyState === readyStates.CONNECTING) {
      // No link to close: fail the attempt (if any) as the standard does, and end now.
      if (socket !== undefined) {
        this.releaseSocket()
        abandonSocket(socket, code ?? 1000, reason ?? '')
      }
      const cause: DisconnectCause =
        socket === undefined
          ? { code: code ?? 1005, reason: reason ?? '', wasClean: true }
          : { code: 1006, reason: '', wasClean: false }
      this.setState({ type: 'closed', cause })
      // Close events are asynchronous in the standard; a caller's code after close() runs first.
      queueMicrotask(() => this.dispatchClose(cause))
      return
    }
    this.setState({ type: 'closing' })
    try {
      socket.close(code, reason)
    } catch (error) {
      this.emitError(new LifelineError('INVALID_ARGUMENT', describeError(error), { cause: error }))
    }
    // A closing handshake over a dead link would never end: bound it.
    this.closeTimer = this.options.clock.setTimeout(() => {
      this.releaseSocket()
      abandonSocket(socket, code ?? 1000, reason ?? '')
      this.finishClose({ code: 1006, reason: '', wasClean: false })
    }, this.options.connectionTimeoutMs)
  }

  /**
   * Drops the current link (if any) and connects at once with a fresh retry count. Works in
   * any state: after `close()`, after a fatal close code, after retries ran out.
   */
  reconnect(code?: number, reason?: string): void {
    validateCloseArguments(code, reason)
    this.closedByUser = false
    this.stopWork()
    const socket = this.socket
    this.failures = 0
    if (socket !== undefined) {
      const wasOpen = socket.readyState === readyStates.OPEN
      this.releaseSocket()
      abandonSocket(socket, code ?? 1000, reason ?? '')
      if (wasOpen) this.dispatchClose({ code: code ?? 1000, reason: reason ?? '', wasClean: true })
    }
    this.connect()
  }

  /**
   * Checks an open link now: sends a heartbeat ping at once (when one is configured), e.g. when
   * a page becomes visible again after its timers were throttled.
   */
  checkNow(): void {
    if (this.current.status === 'open') this.heartbeat?.pingNow()
  }

  private connect(): void {
    const attempt = this.failures + 1
    if (!this.setState({ type: 'connect', attempt })) return
    this.listeners.dispatch('connecting', { type: 'connecting', attempt, target: this })
    if (this.current.status !== 'connecting') return
    const id = ++this.attemptId
    this.connectTimer = this.options.clock.setTimeout(
      () => this.onConnectTimeout(id),
      this.options.connectionTimeoutMs,
    )
    let url: string | URL | Promise<string | URL>
    let protocols: string | string[] | undefined | Promise<string | string[] | undefined>
    try {
      url = resolveProvider(this.urlProvider)
      protocols = resolveProvider(this.protocolsProvider)
    } catch (error) {
      this.attemptFailed(providerError(error))
      return
    }
    if (isPromise(url) || isPromise(protocols)) {
      Promise.all([url, protocols]).then(
        ([resolvedUrl, resolvedProtocols]) => {
          if (id === this.attemptId) this.createSocket(resolvedUrl, resolvedProtocols)
        },
        (error: unknown) => {
          if (id === this.attemptId) this.attemptFailed(providerError(error))
        },
      )
      return
    }
    this.createSocket(url, protocols)
  }

  private createSocket(url: string | URL, protocols: string | string[] | undefined): void {
    let href: string
    try {
      href = parseWebSocketUrl(url)
    } catch (error) {
      this.attemptFailed(error as LifelineError)
      return
    }
    this.currentUrl = href
    this.debug('connecting', { url: redactUrl(href), attempt: this.failures + 1 })
    try {
      this.socket = openSocket(
        this.options.WebSocket,
        href,
        protocols,
        this.binaryTypeValue,
        this.handlers,
      )
    } catch (error) {
      // Constructor messages may quote the URL, token and all: keep only a redacted message.
      this.attemptFailed(
        new LifelineError(
          'CONNECTION_ERROR',
          `could not create a WebSocket for ${redactUrl(href)}: ${redactText(describeError(error))}`,
        ),
      )
    }
  }

  private onSocketOpen(): void {
    this.clearTimer('connectTimer')
    this.openedAt = this.options.clock.now()
    this.setState({ type: 'opened' })
    this.heartbeat?.start()
    this.flusher.flush()
    if (this.current.status === 'open')
      this.listeners.dispatch('open', { type: 'open', target: this })
  }

  private onSocketMessage(data: unknown): void {
    const heartbeat = this.heartbeat
    if (heartbeat !== undefined) {
      heartbeat.seen = true
      if (this.isPong(data)) return
    }
    this.listeners.dispatch('message', { type: 'message', data, target: this })
  }

  private onSocketError(event: ErrorEventLike): void {
    const detail = event.message ?? describeError(event.error)
    this.emitError(
      new LifelineError(
        'CONNECTION_ERROR',
        `WebSocket error on ${redactUrl(this.currentUrl)}${detail ? `: ${redactText(detail)}` : ''}`,
        { cause: event.error ?? event },
      ),
    )
  }

  private onSocketClose(event: CloseEventLike): void {
    this.releaseSocket()
    const cause: DisconnectCause = {
      code: event.code,
      reason: event.reason,
      wasClean: event.wasClean,
    }
    if (this.current.status === 'closing') this.finishClose(cause)
    else this.linkLost(cause, true)
  }

  private onConnectTimeout(id: number): void {
    if (id !== this.attemptId) return
    this.connectTimer = undefined
    this.attemptId++
    const error = new LifelineError(
      'CONNECT_TIMEOUT',
      `no connection to ${redactUrl(this.currentUrl)} within ${this.options.connectionTimeoutMs} ms`,
    )
    const socket = this.socket
    if (socket !== undefined) {
      this.releaseSocket()
      abandonSocket(socket, 1000, '')
    }
    this.emitError(error)
    this.linkLost({ code: 1006, reason: '', wasClean: false, error }, socket !== undefined)
  }

  private onHeartbeatTimeout(): void {
    const socket = this.socket
    if (socket === undefined) return
    const { heartbeat } = this.options
    const windowMs =
      (heartbeat?.intervalMs ?? 0) + (heartbeat?.timeoutMs ?? 0) || 'the heartbeat window'
    const error = new LifelineError(
      'HEARTBEAT_TIMEOUT',
      `no frame from ${redactUrl(this.currentUrl)} within ${windowMs} ms: link is half-open`,
      { closeCode: 4000 },
    )
    this.releaseSocket()
    abandonSocket(socket, 4000, 'heartbeat timeout')
    this.emitError(error)
    this.linkLost({ code: 4000, reason: 'heartbeat timeout', wasClean: false, error }, true)
  }

  /** An attempt failed before any socket existed (URL provider failed, constructor threw). */
  private attemptFailed(error: LifelineError): void {
    this.clearTimer('connectTimer')
    this.emitError(error)
    this.linkLost({ code: 1006, reason: '', wasClean: false, error }, false)
  }

  /** The link or attempt is gone without the user asking: reconnect, or stop per policy. */
  private linkLost(cause: DisconnectCause, hadSocket: boolean): void {
    const { status } = this.current
    if (status !== 'open' && status !== 'connecting') return
    const { clock, maxRetries, minUptimeMs } = this.options
    if (status === 'open' && clock.now() - this.openedAt >= minUptimeMs) this.failures = 0
    const closeEvent = { code: cause.code, reason: cause.reason, wasClean: cause.wasClean }
    if (!this.decideReconnect(closeEvent)) {
      const error = fatalCloseError(cause)
      this.setState({ type: 'closed', cause: error === undefined ? cause : { ...cause, error } })
      if (hadSocket) this.dispatchClose(cause)
      if (error !== undefined) this.emitError(error)
      return
    }
    this.failures++
    if (this.failures > maxRetries) {
      const error = new LifelineError(
        'RETRIES_EXHAUSTED',
        `gave up after ${maxRetries} retries; call reconnect() to try again`,
        { closeCode: cause.code },
      )
      this.setState({ type: 'closed', cause: { ...cause, error } })
      if (hadSocket) this.dispatchClose(cause)
      this.emitError(error)
      return
    }
    const attempt = this.failures + 1
    const delayMs = this.nextDelay(cause)
    this.setState({ type: 'lost', attempt, delayMs, cause })
    const waiting = this.current
    this.reconnectTimer = clock.setTimeout(() => {
      this.reconnectTimer = undefined
      this.connect()
    }, delayMs)
    if (hadSocket) this.dispatchClose(cause)
    if (this.current === waiting) {
      this.listeners.dispatch('reconnecting', {
        type: 'reconnecting',
        attempt,
        delayMs,
        cause,
        target: this,
      })
    }
  }

  private decideReconnect(event: CloseEventLike): boolean {
    try {
      return this.options.shouldReconnect(event)
    } catch (error) {
      reportListenerError(error)
      return true
    }
  }

  private nextDelay(cause: DisconnectCause): number {
    // 1012 means the server is restarting on purpose: come back promptly, still jittered.
    const retry = cause.code === 1012 ? 0 : this.failures - 1
    const { delayMs, backoff, random } = this.options
    if (delayMs !== undefined) {
      try {
        const custom = delayMs({ retry, event: cause })
        if (custom >= 0 && Number.isFinite(custom)) return custom
        reportListenerError(new LifelineError('INVALID_ARGUMENT', `delayMs returned ${custom}`))
      } catch (error) {
        reportListenerError(error)
      }
    }
    return computeBackoffDelay(retry, backoff, random)
  }

  private finishClose(cause: DisconnectCause): void {
    this.clearTimer('closeTimer')
    if (this.setState({ type: 'closed', cause })) this.dispatchClose(cause)
  }

  private enqueue(data: WebSocketData): void {
    const { status } = this.current
    if (this.closedByUser && (status === 'closing' || status === 'closed')) {
      throw new LifelineError('CLOSED', 'send() after close(): call reconnect() to send again')
    }
    const size = byteSizeOf(data)
    const dropped = this.queue.push(snapshotOf(data), size)
    for (const item of dropped) {
      this.listeners.dispatch('drop', {
        type: 'drop',
        data: item,
        reason: 'overflow',
        target: this,
      })
    }
    if (status === 'open') this.flusher.schedule()
  }

  private sendPing(data: WebSocketData): void {
    const socket = this.socket
    if (socket === undefined || socket.readyState !== readyStates.OPEN) return
    try {
      socket.send(data)
    } catch (error) {
      reportListenerError(error)
    }
  }

  private isPong(data: unknown): boolean {
    const isPong = this.options.heartbeat?.isPong
    if (isPong === undefined) return false
    try {
      return isPong(data)
    } catch (error) {
      reportListenerError(error)
      return false
    }
  }

  /** Forgets the current socket and everything that ran for it. */
  private releaseSocket(): void {
    if (this.socket !== undefined) detachSocket(this.socket)
    this.socket = undefined
    this.heartbeat?.stop()
    this.clearTimer('connectTimer')
    this.flusher.cancel()
  }

  /** Stops every timer and pending attempt (not the current socket). */
  private stopWork(): void {
    this.attemptId++
    this.heartbeat?.stop()
    this.clearTimer('reconnectTimer')
    this.clearTimer('connectTimer')
    this.clearTimer('closeTimer')
    this.flusher.cancel()
  }

  private clearTimer(name: 'reconnectTimer' | 'connectTimer' | 'closeTimer'): void {
    const handle = this[name]
    if (handle !== undefined) this.options.clock.clearTimeout(handle)
    this[name] = undefined
  }

  /** Applies an action; returns whether the state changed (and `statechange` fired). */
  private setState(action: ConnectionAction): boolean {
    const previous = this.current
    const next = transition(previous, action)
    if (next === previous) return false
    this.current = next
    this.debug(`state ${previous.status} -> ${next.status}`, { ...next })
    this.listeners.dispatch('statechange', {
      type: 'statechange',
      state: next,
      previous,
      target: this,
    })
    return true
  }

  private dispatchClose(cause: DisconnectCause): void {
    this.listeners.dispatch('close', {
      type: 'close',
      code: cause.code,
      reason: cause.reason,
      wasClean: cause.wasClean,
      target: this,
    })
  }

  private emitError(error: LifelineError): void {
    this.debug(`error ${error.code}`, { message: error.message })
    this.listeners.dispatch('error', { type: 'error', error, message: error.message, target: this })
  }

  private debug(message: string, details?: Record<string, unknown>): void {
    this.options.debug?.(message, details)
  }
}
