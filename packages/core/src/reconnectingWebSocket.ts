import { LifelineError } from '@lifeline/codec'
import WebSocketDefault from 'isomorphic-ws'
import { backoffDefaults, computeBackoffDelay } from './backoff.js'
import type { Clock, TimerHandle } from './clock.js'
import { maxTimerMs, setDeadline, systemClock } from './clock.js'
import { abandonSocket, bindSockets, detachSocket } from './connection.js'
import { reportListenerError } from './events.js'
import { SocketEventTarget } from './socketEventTarget.js'
import { HeartbeatMonitor, heartbeatDefaults } from './heartbeat.js'
import type { HeartbeatHooks } from './heartbeat.js'
import type { ReconnectingWebSocketOptions } from './options.js'
import { checkOptions, reconnectingWebSocketDefaults as defaults } from './options.js'
import { describeError, failure, providerFailure } from './failures.js'
import { defaultShouldReconnect, fatalCloseError, validateCloseArguments } from './closeCodes.js'
import { flushQueue } from './queueFlusher.js'
import { SendQueue } from './sendQueue.js'
import type { ReconnectingWebSocketEventMap } from './socketEvents.js'
import type { ConnectionAction, ConnectionState, DisconnectCause } from './state.js'
import { readyStateOf, transition } from './state.js'
import type { ProtocolsProvider, UrlProvider } from './url.js'
import { checkProtocols, isPromise, parseWebSocketUrl, redactUrl, resolveProvider } from './url.js'
import { byteSizeOf, snapshotOf } from './webSocketData.js'
import type {
  ErrorEventLike,
  WebSocketConstructor,
  WebSocketData,
  WebSocketLike,
} from './webSocketLike.js'
import { readyStates } from './webSocketLike.js'

type EventMap = ReconnectingWebSocketEventMap<ReconnectingWebSocket>

/**
 * The DOM's `BinaryType`, named here so that the declarations do not need the DOM's lib: a Node
 * service compiled with `lib: ['es2022']` and `skipLibCheck: false` failed on the global name,
 * and with `skipLibCheck` on, `binaryType` took any string.
 */
type BinaryType = 'blob' | 'arraybuffer'

/**
 * How `failLink` treats the link it drops. `'lost'`: the link died as any link may (a heartbeat
 * run outside the socket, such as `@lifeline/node`'s protocol-level ping, found it half-open):
 * as a close from the peer. `'retry'`: a failed attempt (it never became
 * usable, e.g. a handshake of the application's own that did not complete in time), through
 * the backoff. `'violation'`: the peer broke the protocol; a failed attempt too, and
 * `maxViolations` of them in a row end the socket. `'fatal'`: reconnecting cannot help; the
 * socket closes for good.
 */
export type LinkFailure = 'lost' | 'retry' | 'violation' | 'fatal'

const consoleDebug = (message: string, details?: Record<string, unknown>) =>
  console.debug(`lifeline: ${message}`, details ?? '')

/**
 * Where the `Client` that owns a socket takes its frames: called with each frame before the
 * `message` listeners, and no event is made for it when there are none. Not exported from the
 * package: a client's own way in, which spares every frame an event object and a dispatch. Set
 * as a non-enumerable property, which `Object.keys` and a spread of the socket do not show.
 */
export const frameSink = Symbol('lifeline.frameSink')

/**
 * The state of the socket whose `close` event is being dispatched, and the cause that event
 * tells: it reads `CLOSED` then, as the standard's does, until a listener moves it on (the state stays `open` through the close event
 * of `reconnect()`, and is `reconnecting` through a lost link's). One for all sockets: dispatches
 * are synchronous, and a nested one puts back the outer one's.
 */
let closeDispatched: readonly [state: ConnectionState, cause: DisconnectCause] | undefined

/**
 * A drop-in replacement for `WebSocket` that does not let go: it reconnects with jittered
 * backoff, queues what is sent while the link is down and flushes it in order, and (optionally)
 * detects half-open links with a heartbeat. It speaks to any WebSocket server.
 *
 * Private state is in `#fields`: minifiers shorten those names, and this class is most of what
 * a browser bundle of it weighs.
 */
export class ReconnectingWebSocket extends SocketEventTarget<EventMap> {
  /** See `frameSink`. Declared only: a socket without a client holds no slot for it. */
  declare [frameSink]?: (data: unknown) => void
  static readonly CONNECTING = readyStates.CONNECTING
  static readonly OPEN = readyStates.OPEN
  static readonly CLOSING = readyStates.CLOSING
  static readonly CLOSED = readyStates.CLOSED
  // On the prototype, as the standard's: instance fields would cost every socket four slots.
  get CONNECTING(): 0 {
    return readyStates.CONNECTING
  }
  get OPEN(): 1 {
    return readyStates.OPEN
  }
  get CLOSING(): 2 {
    return readyStates.CLOSING
  }
  get CLOSED(): 3 {
    return readyStates.CLOSED
  }

  /**
   * Every socket's handlers, shared: a socket holds no closures of its own (thousands of idle
   * sockets each paid for five). Static members of the class may reach its instances' `#fields`.
   */
  static readonly #openSocket = bindSockets<ReconnectingWebSocket>({
    open: (owner) => owner.#onOpen(),
    message: (owner, data) => owner.#onMessage(data),
    close: (owner, event) => {
      owner.#release()
      const cause = { code: event.code, reason: event.reason, wasClean: event.wasClean }
      if (owner.#state.status === 'closing') owner.#finishClose(cause)
      else owner.#linkLost(cause, true)
    },
    error: (owner, event) => owner.#onSocketError(event),
  })

  static readonly #heartbeatHooks: HeartbeatHooks<ReconnectingWebSocket> = {
    ping: (owner, data) => owner.#sendPing(data),
    dead: (owner) => owner.#onHeartbeatTimeout(),
  }

  readonly #options: ReconnectingWebSocketOptions
  readonly #urlProvider: UrlProvider
  readonly #protocolsProvider: ProtocolsProvider
  readonly #heartbeat: HeartbeatMonitor<ReconnectingWebSocket> | undefined
  /** Made on the first message queued: most sockets never queue. */
  #queue: SendQueue<WebSocketData> | undefined
  #state: ConnectionState = { status: 'closed' }
  #socket: WebSocketLike | undefined
  #url = ''
  #binaryType: BinaryType = 'blob'
  /**
   * The last link's, read until the next attempt makes its socket: a closed WebSocket keeps them
   * (the standard never clears them), and its close listeners read them.
   */
  #protocol = ''
  #extensions = ''
  /** Failed attempts since the link was last stable; drives the backoff. */
  #failures = 0
  /** Links dropped by `failLink(…, 'violation')` since the link was last stable. */
  #violations = 0
  /**
   * Closes with 1012 (service restart) since the link was last stable: the first is retried
   * promptly, those after it through the backoff, so that a server that closes every link so
   * is not reconnected to twice a second for ever.
   */
  #restarts = 0
  #openedAt = 0
  /** Bumped whenever an attempt is abandoned, so its late async URL resolution is ignored. */
  #attemptId = 0
  #closedByUser = false
  /** The connect, reconnect or closing-handshake timer: one at a time, by state. */
  #timer: TimerHandle | undefined
  #flushTimer: TimerHandle | undefined
  /** What the last flush said to wait: the poll of a stalled socket grows from it. */
  #flushMs: number | undefined

  /**
   * @param url The server URL, or a function (sync or async) called before every attempt, e.g.
   *   to put a fresh token in the query. A plain invalid URL throws `INVALID_URL` here.
   * @param protocols Subprotocols (`null` for none), or a function called before every attempt.
   *   A list that is not distinct non-empty tokens throws `INVALID_ARGUMENT` here; a provider's
   *   is a failed attempt.
   * @param options Kept, not copied; see `ReconnectingWebSocketOptions`.
   */
  constructor(
    url: UrlProvider,
    protocols?: ProtocolsProvider,
    options: ReconnectingWebSocketOptions = {},
  ) {
    super()
    checkOptions(options)
    if (typeof (options.WebSocket ?? WebSocketDefault) !== 'function') {
      throw new LifelineError('INVALID_ARGUMENT', 'no WebSocket implementation: pass `WebSocket`')
    }
    this.#options = options
    // Created closed, a URL relative to the page (`/live`) is resolved at the first attempt, not
    // here: a server rendering the page, or importing a module that creates the client for the
    // browser, has no page to resolve it against, and reads no browser global.
    if (
      (typeof url === 'string' || url instanceof URL) &&
      !(options.startClosed && !/^[a-z][\w+.-]*:/i.test(String(url)))
    ) {
      this.#url = parseWebSocketUrl(url)
    }
    this.#urlProvider = url
    this.#protocolsProvider =
      typeof protocols === 'function' ? protocols : checkProtocols(protocols)
    const { heartbeat } = options
    if (heartbeat) {
      this.#heartbeat = new HeartbeatMonitor(
        heartbeat,
        this.#clock(),
        this,
        ReconnectingWebSocket.#heartbeatHooks,
      )
    }
    if (!options.startClosed) this.#connect()
  }

  /** The URL of the current or last attempt. */
  get url(): string {
    return this.#url
  }

  get readyState(): number {
    return this.#state === closeDispatched?.[0] ? readyStates.CLOSED : readyStateOf(this.#state)
  }

  /** The lifecycle as data; `statechange` fires whenever it changes. */
  get state(): ConnectionState {
    return this.#state
  }

  // '' for what an implementation leaves out (React Native: `protocol` null until it opens, no
  // `extensions`), never what the link before had.
  get protocol(): string {
    const socket = this.#socket
    return socket ? socket.protocol || '' : this.#protocol
  }

  get extensions(): string {
    const socket = this.#socket
    return socket ? socket.extensions || '' : this.#extensions
  }

  /** Bytes the socket has not sent yet plus bytes waiting in the send queue. */
  get bufferedAmount(): number {
    return (this.#socket?.bufferedAmount ?? 0) + (this.#queue?.bytes ?? 0)
  }

  /** Messages waiting in the send queue. */
  get queuedMessages(): number {
    return this.#queue?.length ?? 0
  }

  get binaryType(): BinaryType {
    return this.#binaryType
  }

  set binaryType(value: BinaryType) {
    // As the standard: any other value is ignored.
    if (value !== 'blob' && value !== 'arraybuffer') return
    this.#binaryType = value
    if (this.#socket) this.#socket.binaryType = value
  }

  /**
   * Sends at once when the link is open and nothing is queued; otherwise queues, and the queue
   * flushes in order on the next open, before anything sent from the `open` handler. Throws
   * `CLOSED` after `close()`, `QUEUE_FULL` when the queue is full under the `'error'` policy,
   * and `INVALID_ARGUMENT` for data that is not a string, ArrayBuffer, view or Blob, sent at once
   * or queued.
   */
  send(data: WebSocketData): void {
    const socket = this.#socket
    if (
      this.#state.status === 'open' &&
      !this.#queue?.length &&
      socket?.readyState === readyStates.OPEN
    ) {
      // Refused as it would be queued, whatever the link's state: implementations differ on the
      // rest (the standard sends `42` as "42", `ws` throws on an object, sends an array as bytes).
      if (typeof data !== 'string') byteSizeOf(data)
      socket.send(data)
      return
    }
    const { status } = this.#state
    if (this.#closedByUser && (status === 'closing' || status === 'closed')) {
      throw new LifelineError('CLOSED', 'send() after close(): call reconnect() to send again')
    }
    const size = byteSizeOf(data)
    this.#queue ??= new SendQueue(this.#options.queue)
    for (const dropped of this.#queue.push(snapshotOf(data), size)) {
      this.listeners.dispatch('drop', {
        type: 'drop',
        data: dropped,
        reason: 'overflow',
        target: this,
      })
    }
    if (status === 'open') this.#flushTimer ??= this.#clock().setTimeout(() => this.#flush(), 0)
  }

  /**
   * Closes for good: no reconnect follows. Validates like the standard: `code` is 1000 or
   * 3000–4999 and `reason` at most 123 UTF-8 bytes, else `INVALID_ARGUMENT` is thrown. Queued
   * messages are kept, and sent if `reconnect()` is called later.
   */
  close(code?: number, reason = ''): void {
    reason = validateCloseArguments(code, reason)
    const { status } = this.#state
    this.#closedByUser = true
    if (status === 'closing' || status === 'closed') return
    this.#stop()
    const socket = this.#socket
    // Called from a listener of this socket's close event, which read CLOSED (the link is
    // already let go): the standard's close() does nothing then, and a second close event, a
    // clean 1005 told after the listener returned, would hide the cause the first one told.
    if (!socket && closeDispatched && this.#state === closeDispatched[0]) {
      const state = this.#state
      const cause = state.status === 'reconnecting' ? state.cause : closeDispatched[1]
      this.#setState({ type: 'closed', cause })
      return
    }
    // A socket that reads CLOSED has failed: the standard fires `error` with it CLOSED, and
    // undici fires no `close` after that, so a close() from that error listener would wait
    // connectionTimeoutMs for a closing handshake that cannot happen.
    if (
      !socket ||
      socket.readyState === readyStates.CONNECTING ||
      socket.readyState === readyStates.CLOSED
    ) {
      // No link to close: fail the attempt (if any) as the standard does, and end now.
      const cause = socket
        ? { code: 1006, reason: '', wasClean: false }
        : { code: code ?? 1005, reason, wasClean: true }
      if (socket) this.#abandon(socket, code, reason)
      this.#setState({ type: 'closed', cause })
      // Close events are asynchronous in the standard; a caller's code after close() runs first.
      queueMicrotask(() => this.#dispatchClose(cause))
      return
    }
    this.#setState({ type: 'closing' })
    // A statechange listener that called reconnect() has the last word: its attempt is under way,
    // and a handshake bound armed here would replace that attempt's connect timeout, which would
    // then fire on its own and drop the new link (or run after a later close()).
    if (this.state.status !== 'closing' || this.#socket !== socket) return
    try {
      socket.close(code, reason)
    } catch (error) {
      this.#emitError(new LifelineError('INVALID_ARGUMENT', describeError(error), { cause: error }))
    }
    // A closing handshake over a dead link would never end: bound it.
    this.#timer = this.#clock().setTimeout(() => {
      this.#abandon(socket, code, reason)
      this.#finishClose({ code: 1006, reason: '', wasClean: false })
    }, this.#connectionTimeoutMs())
  }

  /**
   * Drops the current link (if any) and connects at once with a fresh retry count. Works in
   * any state: after `close()`, after a fatal close code, after retries ran out.
   */
  reconnect(code?: number, reason = ''): void {
    reason = validateCloseArguments(code, reason)
    this.#closedByUser = false
    this.#stop()
    this.#failures = this.#violations = this.#restarts = 0
    const id = this.#attemptId
    const socket = this.#socket
    const wasOpen = socket?.readyState === readyStates.OPEN
    const cause = { code: code ?? 1000, reason, wasClean: true }
    if (socket) {
      this.#abandon(socket, code, reason)
      if (wasOpen) this.#dispatchClose(cause)
    }
    // A closing handshake cut short ends as its timeout would end it: no state but `closed`
    // may become `connecting`, and the close it waited for is told. Unless it was told just
    // above: a statechange listener of close() that reconnects finds the link still open, and a
    // second close event for it, a 1006, contradicted the first.
    if (this.#state.status === 'closing') {
      if (wasOpen) this.#setState({ type: 'closed', cause })
      else this.#finishClose({ code: 1006, reason: '', wasClean: false })
    }
    // A close listener that called close() or reconnect() itself has the last word.
    if (id === this.#attemptId && !this.#closedByUser) this.#connect()
  }

  /**
   * Drops the current link (open, or still connecting) as a failure, for a reason only the
   * application sees: the peer broke the protocol, or its handshake did not complete. The link
   * is closed with `code` and `reason` (1000 or 3000–4999, as `close()`), `error` is reported
   * as an `error` event and kept as the cause in the state, and then, as for any lost link,
   * the backoff decides when the next attempt is made (`reconnecting` with its delay; the retry
   * count is not reset), or `shouldReconnect` and `maxRetries` end it. See `LinkFailure` for
   * `kind`; `maxViolations` violations in a row end the socket with `PROTOCOL_ERROR`. Does
   * nothing when there is no link (closed, closing, or waiting to reconnect).
   */
  failLink(error: LifelineError, code: number, reason = '', kind: LinkFailure = 'violation'): void {
    reason = validateCloseArguments(code, reason)
    const socket = this.#socket
    if (!socket || this.#state.status === 'closing') return
    this.#abandon(socket, code, reason)
    this.#failed(error, { code, reason, wasClean: false, error }, true, kind)
  }

  /**
   * Checks an open link now, e.g. when a page becomes visible again after its timers were
   * throttled: sends a heartbeat ping at once (when one is configured), and a link with no frame
   * within `heartbeat.timeoutMs` of it is closed as half-open (4000), however recent its last
   * frame before the check.
   */
  checkNow(): void {
    if (this.#state.status === 'open') this.#heartbeat?.pingNow()
  }

  #connect(): void {
    const attempt = this.#failures + 1
    if (!this.#mayConnect()) {
      // Parked: no socket, no timer, no count; `reconnect()` makes the attempt.
      const { status } = this.#state
      if (status !== 'reconnecting' && status !== 'connecting') {
        this.#setState({ type: 'connect', attempt })
      }
      return
    }
    const before = this.#attemptId
    if (!this.#setState({ type: 'connect', attempt })) return
    this.listeners.dispatch('connecting', { type: 'connecting', attempt, target: this })
    // A listener that called close() has the last word; one that called reconnect() made its
    // own attempt, and a second socket here would be left open, unseen.
    if (this.#state.status !== 'connecting' || this.#attemptId !== before) return
    const id = ++this.#attemptId
    const timeoutMs = this.#connectionTimeoutMs()
    const clock = this.#clock()
    const expire = (): void => {
      const error = new LifelineError(
        'CONNECT_TIMEOUT',
        `no connection to ${redactUrl(this.#url)} within ${timeoutMs} ms`,
      )
      this.#attemptId++
      const socket = this.#socket
      if (socket) this.#abandon(socket, 1000, '')
      this.#failed(error, { code: 1006, reason: '', wasClean: false, error }, !!socket)
    }
    // Late, the handshake's answer may be waiting unread: it opens the link before the check.
    this.#timer = setDeadline(clock, timeoutMs, expire, (timer) => (this.#timer = timer))
    let url: string | URL | Promise<string | URL>
    let protocols:
      string | string[] | null | undefined | Promise<string | string[] | null | undefined>
    try {
      url = resolveProvider(this.#urlProvider)
      protocols = resolveProvider(this.#protocolsProvider)
    } catch (error) {
      // The URL's promise is let go of: its rejection, unhandled, would end a Node process.
      if (isPromise(url!)) url.then(undefined, () => {})
      return this.#attemptFailed(providerFailure(error))
    }
    if (!isPromise(url) && !isPromise(protocols)) return this.#open(url, protocols)
    Promise.all([url, protocols]).then(
      ([resolvedUrl, resolvedProtocols]) => {
        if (id === this.#attemptId) this.#open(resolvedUrl, resolvedProtocols)
      },
      (error: unknown) => {
        if (id === this.#attemptId) {
          this.#attemptFailed(providerFailure(error))
        }
      },
    )
  }

  #mayConnect(): boolean {
    try {
      return this.#options.canConnect?.() !== false
    } catch (error) {
      reportListenerError(error)
      return true
    }
  }

  #open(url: string | URL, provided: string | string[] | null | undefined): void {
    let href = ''
    let protocols: string | string[] | undefined
    try {
      href = this.#url = parseWebSocketUrl(url)
      protocols = checkProtocols(provided)
    } catch (error) {
      // A URL given as a string that an attempt cannot resolve (relative, with no page to
      // resolve it against) fails for good: no retry can change it.
      const fixed = !href && typeof this.#urlProvider !== 'function'
      return this.#attemptFailed(error as LifelineError, fixed ? 'fatal' : undefined)
    }
    this.#debug('connecting', () => ({ url: redactUrl(href), attempt: this.#failures + 1 }))
    try {
      this.#socket = ReconnectingWebSocket.#openSocket(
        (this.#options.WebSocket ?? WebSocketDefault) as WebSocketConstructor,
        href,
        protocols,
        this.#binaryType,
        this,
      )
    } catch (error) {
      // Constructor messages may quote the URL, token and all: no `cause`, a redacted message.
      this.#attemptFailed(failure(`could not create a WebSocket for ${redactUrl(href)}`, error))
    }
  }

  #onOpen(): void {
    this.#clearTimer()
    this.#openedAt = this.#clock().now()
    this.#setState({ type: 'opened' })
    // A statechange listener that called close() or reconnect() has the last word: a heartbeat
    // started now would run over its closing handshake or its next attempt, and when it gave up
    // it stopped the closing handshake's bound, which left the socket `closing` for good.
    if (this.#state.status !== 'open') return
    this.#heartbeat?.start()
    this.#flush()
    if (this.#state.status === 'open')
      this.listeners.dispatch('open', { type: 'open', target: this })
  }

  #onSocketError(event: ErrorEventLike): void {
    const socket = this.#socket
    this.#emitError(
      failure(`WebSocket error on ${redactUrl(this.#url)}`, event.error ?? event.message),
    )
    // An error before `open` ends the attempt now, as a 1006 close: Node 22's global WebSocket
    // (undici) fires `error` and never `close` when a connection is refused, which left every
    // attempt waiting `connectionTimeoutMs`. The socket is let go first, so a `close` it fires
    // later is not counted again.
    if (socket && socket === this.#socket && this.#state.status === 'connecting') {
      this.#abandon(socket)
      this.#linkLost({ code: 1006, reason: '', wasClean: false }, true)
    }
  }

  #onMessage(data: unknown): void {
    const heartbeat = this.#heartbeat
    if (heartbeat) {
      heartbeat.seen = true
      const { isPong } = this.#options.heartbeat || {}
      try {
        if (isPong?.(data)) return
      } catch (error) {
        reportListenerError(error)
      }
    }
    // The listeners are taken before the sink runs, as a dispatch takes them when it begins: a
    // listener that the client's handlers add gets the next frame, not this one, as it would if
    // the client were the first listener. No listeners, no event.
    const listeners = this.listeners.entries('message')
    const sink = this[frameSink]
    if (sink) {
      try {
        sink(data)
      } catch (error) {
        reportListenerError(error)
      }
    }
    if (listeners) {
      this.listeners.dispatchTo('message', listeners, { type: 'message', data, target: this })
    }
  }

  #onHeartbeatTimeout(): void {
    const socket = this.#socket
    if (!socket) return
    const { intervalMs = heartbeatDefaults.intervalMs, timeoutMs = heartbeatDefaults.timeoutMs } =
      this.#options.heartbeat || {}
    const error = new LifelineError(
      'HEARTBEAT_TIMEOUT',
      `no frame from ${redactUrl(this.#url)} within ${intervalMs + timeoutMs} ms: link is half-open`,
      { closeCode: 4000 },
    )
    const reason = 'heartbeat timeout'
    this.#abandon(socket, 4000, reason)
    this.#failed(error, { code: 4000, reason, wasClean: false, error }, true)
  }

  /** An attempt failed before any socket existed (URL provider failed, constructor threw). */
  #attemptFailed(error: LifelineError, failure?: LinkFailure): void {
    this.#clearTimer()
    this.#failed(error, { code: 1006, reason: '', wasClean: false, error }, false, failure)
  }

  /**
   * Reports the error a link or attempt failed with, then treats it as lost, unless an `error`
   * listener called close() or reconnect(): that has the last word, and a retry of ours on top
   * would leave the socket waiting with no timer while the listener's attempt runs unseen.
   */
  #failed(
    error: LifelineError,
    cause: DisconnectCause,
    hadSocket: boolean,
    failure?: LinkFailure,
  ): void {
    const id = this.#attemptId
    this.#emitError(error)
    if (id === this.#attemptId) this.#linkLost(cause, hadSocket, failure)
  }

  /**
   * The link or attempt is gone without the user asking: reconnect, or stop per policy.
   * `failure` is set when `failLink` dropped it (a `'retry'` link never counts as stable).
   */
  #linkLost(cause: DisconnectCause, hadSocket: boolean, failure?: LinkFailure): void {
    const { status } = this.#state
    if (status !== 'open' && status !== 'connecting') return
    const options = this.#options
    const clock = this.#clock()
    if (
      status === 'open' &&
      failure !== 'retry' &&
      clock.now() - this.#openedAt >= (options.minUptimeMs ?? defaults.minUptimeMs)
    ) {
      this.#failures = this.#violations = this.#restarts = 0
    }
    const { code, reason, wasClean } = cause
    let reconnect = failure !== 'fatal'
    try {
      if (reconnect) {
        reconnect = (options.shouldReconnect ?? defaultShouldReconnect)({ code, reason, wasClean })
      }
    } catch (error) {
      reportListenerError(error)
    }
    const maxRetries = options.maxRetries ?? defaults.maxRetries
    const maxViolations = options.maxViolations ?? defaults.maxViolations
    const error = !reconnect
      ? fatalCloseError(cause)
      : failure === 'violation' && ++this.#violations >= maxViolations
        ? new LifelineError(
            'PROTOCOL_ERROR',
            `gave up: ${this.#violations} links in a row broke the protocol (maxViolations)`,
            { closeCode: code, cause: cause.error },
          )
        : ++this.#failures > maxRetries
          ? new LifelineError(
              'RETRIES_EXHAUSTED',
              `gave up after ${maxRetries} retries; call reconnect() to try again`,
              { closeCode: code },
            )
          : undefined
    if (!reconnect || error) {
      this.#setState({ type: 'closed', cause: error ? { ...cause, error } : cause })
      if (hadSocket) this.#dispatchClose(cause)
      // The cause's own error (a timeout, a failed attempt) was reported when it happened.
      if (error && error !== cause.error) this.#emitError(error)
      return
    }
    const attempt = this.#failures + 1
    const delayMs = this.#nextDelay(cause)
    const id = this.#attemptId
    this.#setState({ type: 'lost', attempt, delayMs, cause })
    // A statechange listener that called close() or reconnect() has taken over: a retry armed
    // now would connect a socket its user closed.
    const waiting = id === this.#attemptId && this.#state
    if (waiting) {
      this.#timer = clock.setTimeout(() => {
        this.#timer = undefined
        this.#connect()
      }, delayMs)
    }
    if (hadSocket) this.#dispatchClose(cause)
    if (waiting && this.#state === waiting) {
      this.listeners.dispatch('reconnecting', {
        type: 'reconnecting',
        attempt,
        delayMs,
        cause,
        target: this,
      })
    }
  }

  #nextDelay(cause: DisconnectCause): number {
    // 1012 means the server is restarting on purpose: come back promptly, still jittered, the
    // first time since the link was stable; again and again, it backs off as from the first.
    const retry = cause.code === 1012 ? this.#restarts++ : this.#failures - 1
    const options = this.#options
    if (options.delayMs) {
      try {
        const custom = options.delayMs({ retry, event: cause })
        // Past the longest timer, Node and browsers fire it at once: a retry without a pause.
        if (custom >= 0 && Number.isFinite(custom)) return Math.min(custom, maxTimerMs)
        reportListenerError(new LifelineError('INVALID_ARGUMENT', `delayMs returned ${custom}`))
      } catch (error) {
        reportListenerError(error)
      }
    }
    return computeBackoffDelay(
      retry,
      {
        initialDelayMs: options.initialDelayMs ?? backoffDefaults.initialDelayMs,
        factor: options.factor ?? backoffDefaults.factor,
        maxDelayMs: options.maxDelayMs ?? backoffDefaults.maxDelayMs,
      },
      options.random ?? Math.random,
    )
  }

  #finishClose(cause: DisconnectCause): void {
    this.#clearTimer()
    if (this.#setState({ type: 'closed', cause })) this.#dispatchClose(cause)
  }

  /** Writes the queue into the open socket; goes on later when it yields or waits. */
  #flush(): void {
    this.#clearFlush()
    const socket = this.#socket
    const queue = this.#queue
    if (this.#state.status !== 'open' || !socket || !queue) return
    let nextMs: number | undefined
    try {
      nextMs = flushQueue(
        queue,
        socket,
        this.#clock(),
        this.#options.highWaterMarkBytes ?? defaults.highWaterMarkBytes,
        this.#flushMs,
      )
    } catch (error) {
      return this.#emitError(failure('send failed', error))
    }
    this.#flushMs = nextMs
    if (nextMs !== undefined)
      this.#flushTimer = this.#clock().setTimeout(() => this.#flush(), nextMs)
  }

  #sendPing(data: WebSocketData): void {
    try {
      if (this.#socket?.readyState === readyStates.OPEN) this.#socket.send(data)
    } catch (error) {
      reportListenerError(error)
    }
  }

  /** Lets go of a socket: forgets it and everything that ran for it, then closes it. */
  #abandon(socket: WebSocketLike, code = 1000, reason = ''): void {
    this.#release()
    abandonSocket(socket, code, reason)
  }

  /** Forgets the current socket and everything that ran for it. */
  #release(): void {
    const socket = this.#socket
    if (socket) {
      detachSocket(socket)
      this.#protocol = socket.protocol || ''
      this.#extensions = socket.extensions || ''
    }
    this.#socket = undefined
    this.#stopTimers()
  }

  /** Stops every timer and pending attempt (not the current socket). */
  #stop(): void {
    this.#attemptId++
    this.#stopTimers()
  }

  #stopTimers(): void {
    this.#heartbeat?.stop()
    this.#clearTimer()
    this.#clearFlush()
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock().clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #clearFlush(): void {
    if (this.#flushTimer !== undefined) this.#clock().clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
  }

  /** Read from the options when needed, rather than a field in every socket. */
  #clock(): Clock {
    return this.#options.clock ?? systemClock
  }

  #connectionTimeoutMs(): number {
    return this.#options.connectionTimeoutMs ?? defaults.connectionTimeoutMs
  }

  /** Applies an action; returns whether the state changed (and `statechange` fired). */
  #setState(action: ConnectionAction): boolean {
    const previous = this.#state
    const state = transition(previous, action)
    if (state === previous) return false
    this.#state = state
    this.#debug(`state ${previous.status} -> ${state.status}`, () => ({ ...state }))
    this.listeners.dispatch('statechange', { type: 'statechange', state, previous, target: this })
    return true
  }

  #dispatchClose({ code, reason, wasClean }: DisconnectCause): void {
    const outer = closeDispatched
    closeDispatched = [this.#state, { code, reason, wasClean }]
    this.listeners.dispatch('close', { type: 'close', code, reason, wasClean, target: this })
    closeDispatched = outer
  }

  #emitError(error: LifelineError): void {
    const { message } = error
    this.#debug(`error ${error.code}`, () => ({ message }))
    this.listeners.dispatch('error', { type: 'error', error, message, target: this })
  }

  /** Details are made only when someone listens: redacting a URL parses it. */
  #debug(message: string, details: () => Record<string, unknown>): void {
    const { debug } = this.#options
    if (debug) (debug === true ? consoleDebug : debug)(message, details())
  }
}
