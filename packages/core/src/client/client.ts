import type { Codec, InboundFrame, OutboundFrame } from '@lifeline/codec'
import { LifelineError, isLifelineError, json, selectCodec } from '@lifeline/codec'
import { setDeadline, systemClock } from '../clock.js'
import type { Clock, TimerHandle } from '../clock.js'
import { reportListenerError } from '../events.js'
import { describeError } from '../failures.js'
import type { Envelope } from '../protocol/envelope.js'
import {
  checkControlFrame,
  clientProtocolErrorCode,
  handshakeTimeoutCode,
  isControlType,
  maxControlFrameBytes,
  parseEnvelope,
  protocolError,
  protocolVersion,
} from '../protocol/envelope.js'
import { ReliableStream } from '../protocol/reliableStream.js'
import { RoomCursors, cursorAckDelayMs, cursorAckEvery } from '../protocol/roomCursors.js'
import { PendingRequests, checkRequest, errorPayload, parseRequest } from '../protocol/rpc.js'
import type { ErrorPayload } from '../protocol/rpc.js'
import type {
  AnySchema,
  ClientMessages,
  ClientMethods,
  PayloadArgs,
  RequestOf,
  ResponseOf,
  Schema,
  ServerMessages,
  ServerMethods,
  UserKeys,
} from '../protocol/schema.js'
import { ReconnectingWebSocket, frameSink } from '../reconnectingWebSocket.js'
import { validateCloseArguments } from '../closeCodes.js'
import { reconnectingWebSocketDefaults } from '../options.js'
import { utf8ByteLength } from '../utf8.js'
import { readyStates } from '../webSocketLike.js'
import type { ClientOptions } from './clientOptions.js'
import { checkClientOptions, defaultFraming, defaultRequestTimeoutMs } from './clientOptions.js'
import type { ClientEvents, ClientState } from './clientState.js'
import { clientStateOf, sameState } from './clientState.js'
import { Emitter } from './emitter.js'
import { Receipts } from './receipts.js'
import { clientSocketOptions } from './socketOptions.js'

export interface SendOptions {
  /**
   * Protocol mode: keep the message until the server acknowledges it and resend it after a
   * reconnect (exactly once, in order). `false` sends it only if the link is up now; otherwise
   * it is reported as a `drop` event.
   * @default true
   */
  reliable?: boolean | undefined
}

export interface RequestOptions {
  /**
   * Milliseconds to wait for the response before `REQUEST_TIMEOUT`: a positive number
   * (`Infinity` waits as long as the client lives); anything else rejects `INVALID_ARGUMENT`.
   * @default the client's `requestTimeoutMs` (30000)
   */
  timeoutMs?: number | undefined
  signal?: AbortSignal | undefined
}

type Handler = (data: unknown) => void

/**
 * The bytes `$resend`s may have written again on a link, beyond twice `maxUnackedBytes`, per
 * byte of progress on it (acknowledged or received): a hostile server gets at most this factor
 * of what it spends, where an honest one without a window spends a round's output (its mark,
 * some 1 MiB) and acknowledges about as much for each outbox (8 MiB) it has resent.
 */
const resendPerProgress = 8
type MethodHandler = (data: unknown) => unknown

/**
 * The JSON codec of every client not given codecs, made on first use and shared: a codec keeps
 * nothing of a link, and a process of many clients then decodes through one codec's closures,
 * which stay in the cache, rather than one each.
 */
let defaultCodecs: readonly Codec[] | undefined

/**
 * A typed messaging client over a `ReconnectingWebSocket` and a codec. In protocol mode (against
 * `@lifeline/server`) every reliable message is processed exactly once and in order across
 * reconnects; in raw mode it talks to any server.
 *
 * Private state is in `#fields`: minifiers shorten those names, and this class is most of what
 * a browser bundle of the client weighs.
 */
export class Client<S extends Schema = AnySchema> {
  /** Lifecycle events (`statechange`, `reset`, `error`, `drop`), apart from message types. */
  readonly events = new Emitter<ClientEvents>()
  /** The underlying socket (for its own events and `bufferedAmount`). */
  readonly socket: ReconnectingWebSocket
  readonly #options: ClientOptions
  readonly #protocolMode: boolean
  readonly #codecs: readonly Codec[]
  readonly #clock: Clock
  readonly #stream: ReliableStream
  /** Per room, the last room message delivered (messages numbered by their room). */
  readonly #rooms: RoomCursors
  readonly #requests: PendingRequests
  /** Handlers of server messages, by type. */
  readonly #messages = new Emitter<Record<string, [data: unknown]>>()
  readonly #methods = new Map<string, MethodHandler>()
  #codec: Codec
  #state: ClientState
  #sessionId: string | undefined
  /** The handshake is done: envelopes may go out. */
  #welcomed = false
  /**
   * The least `a` a `$resend` may carry on this link: after the last one, the first envelope
   * resent right behind the marker, which the server processes before it can ask again; 0 when
   * nothing was resent.
   */
  #resendFloor = 0
  /**
   * The bytes the `$resend`s of this link had written again at once; the stream's
   * `acknowledgedBytes` when the link came up; the bytes of the frames received on it. A
   * `$resend` once the first is over twice `maxUnackedBytes` plus `resendPerProgress` times the
   * link's progress (bytes acknowledged and received) is a violation (PROTOCOL.md, section 9).
   */
  #resentBytes = 0
  #acknowledgedBefore = 0
  #receivedBytes = 0
  /** The largest frame the server accepts, from its latest `$welcome`; unknown: not checked. */
  #serverMax: number | undefined
  /** When the current attempt started: `$welcome` is due `connectionTimeoutMs` after it. */
  #attemptStartedAt = 0
  #welcomeTimer: TimerHandle | undefined
  #closedByUser = false
  /** Delivery receipts, made on the first `delivered()` or refusal of a kept message. */
  #receipts: Receipts | undefined
  #rtt: number | undefined
  #nextRequestId = 1
  /**
   * Session resets so far. The server numbers its requests by their `s`, which a new session
   * starts again from 1: an answer made for a request of an earlier session would answer the new
   * session's request of the same number, so it is not sent.
   */
  #resets = 0
  /** The envelope the stream's `check` encoded while the link was up, and its frame. */
  #encoded: Envelope | undefined
  #encodedFrame: OutboundFrame | undefined
  /** The bytes of the frame `#encode` returned last, if it measured them; else -1. */
  #encodedBytes = -1
  /**
   * The frames `check` encoded for the envelopes the send window holds, with the `a` they carry
   * (bounded as the outbox is, by `maxUnackedBytes`): a withdrawn request's entry goes with it,
   * and the others' frames are let go as it renumbers them; all let go when the link goes down.
   */
  readonly #heldFrames = new Map<Envelope, [frame: OutboundFrame | undefined, a: number]>()

  constructor(options: ClientOptions) {
    checkClientOptions(options)
    const protocolMode = (options.mode ?? 'protocol') === 'protocol'
    const codecs = options.codecs ?? (defaultCodecs ??= [json()])
    const clock = options.socket?.clock ?? systemClock
    if (!codecs[0]) throw new LifelineError('INVALID_ARGUMENT', 'codecs must not be empty')
    // Its `maxBytes` is the `$hello`'s `max`, which no server takes under a control frame's cap
    // (a smaller limit could not carry the error answer to a request): every handshake would fail
    // with 1002, and the client end for good at its first connection. The server refuses the
    // same at `createServer`.
    for (const codec of protocolMode ? codecs : []) {
      if ((codec.maxBytes ?? Infinity) < maxControlFrameBytes) {
        throw new LifelineError(
          'INVALID_ARGUMENT',
          `a codec's maxBytes must be at least ${maxControlFrameBytes}, got ${codec.maxBytes} (${codec.name})`,
        )
      }
    }
    this.#options = options
    this.#protocolMode = protocolMode
    this.#codecs = codecs
    this.#codec = codecs[0]
    this.#clock = clock
    // A request whose caller gave up before any link carried it is not sent at all: made while
    // offline, each would wait in the outbox (filling it, in time) and run on the server once
    // the link is back, its answer ignored.
    this.#requests = new PendingRequests(clock, (ids) => {
      const given = ({ t, d }: Envelope) => t === '$req' && ids.has((d as { id: number }).id)
      if (this.#stream.withdraw(given)) {
        this.#heldFrames.forEach((held, envelope) => {
          // Frames encoded with the numbers that moved are encoded again when they go, with the
          // `a` they were encoded with: a later one could take a frame at the server's `max`
          // past it (see `#transmit`), where a lower number makes no frame larger.
          held[0] = undefined
          // Held, it was never written, so it was taken back: kept here, each request given up
          // while the window held it kept its data for as long as the link lived.
          if (given(envelope)) this.#heldFrames.delete(envelope)
        })
      }
    })
    // Named one by one: the stream has options (`overflow`) that would change the protocol's
    // guarantees, and none of them is the client's to pass on.
    this.#stream = new ReliableStream({
      maxUnacked: options.maxUnacked,
      maxUnackedBytes: options.maxUnackedBytes,
      ackEvery: options.ackEvery,
      ackDelayMs: options.ackDelayMs,
      clock,
      transmit: (envelope) => this.#transmit(envelope),
      isLinkUp: () => this.#welcomed,
      // Encoded once, before the stream keeps it: data the codec (or the server, as far as it is
      // known) refuses throws at send(), the size counts against `maxUnackedBytes`, and
      // `#transmit` sends this very frame.
      check: (envelope) => {
        const frame = this.#encode(envelope)
        if (this.#welcomed) {
          this.#encoded = envelope
          this.#encodedFrame = frame
        }
        // Measured once: `#encode` did, when it compared the frame with the server's limit.
        if (this.#encodedBytes >= 0) return this.#encodedBytes
        return typeof frame === 'string' ? utf8ByteLength(frame) : frame.byteLength
      },
    })
    this.#rooms = new RoomCursors({
      clock,
      transmit: (envelope) => {
        try {
          this.#transmit(envelope)
        } catch (error) {
          // A room name too long for the server's own limit: said, and that room comes again
          // on a resume, dropped by id.
          this.events.emit('error', error as LifelineError)
        }
      },
      serverMax: () => this.#serverMax,
      ackEvery: cursorAckEvery,
      ackDelayMs: cursorAckDelayMs,
    })
    this.#state = { status: options.startClosed ? 'closed' : 'connecting', attempt: 1 }
    const socket = (this.socket = new ReconnectingWebSocket(
      options.url,
      protocolMode ? codecs.map((codec) => codec.name) : options.protocols,
      clientSocketOptions(options, protocolMode, () =>
        this.#codec.encode({ t: '$ping', d: { ts: clock.now() } }),
      ),
    ))
    socket.binaryType = 'arraybuffer'
    socket.addEventListener('connecting', () => (this.#attemptStartedAt = clock.now()))
    socket.addEventListener('open', () => this.#onOpen())
    // Not enumerable: the socket's own keys, and a spread of it, stay those of a WebSocket.
    Object.defineProperty(socket, frameSink, {
      value: (data: unknown) => this.#onFrame(data as InboundFrame),
      writable: true,
      configurable: true,
    })
    socket.addEventListener('close', () => this.#linkDown())
    socket.addEventListener('error', (event) => this.events.emit('error', event.error))
    // Raw mode sends through the socket's queue: what its overflow policy drops is lost too.
    if (!protocolMode) socket.addEventListener('drop', (event) => this.#onRawDrop(event.data))
    socket.addEventListener('statechange', ({ state }) => {
      // Down before our listeners hear of it: the socket's `close` comes after, and what they
      // send meanwhile must be kept or told as dropped, not written to a link that is gone.
      // A link still in its handshake too: an `error` listener that calls `reconnect()` as it
      // fails has the socket connecting again before its `close`, which then never comes, and the
      // `$welcome` bound left armed would drop the next link when it fires.
      if (
        state.status === 'closed' ||
        ((this.#welcomed || this.#welcomeTimer !== undefined) && state.status !== 'open')
      ) {
        this.#linkDown()
      }
      // Closed, or connected again, through `client.socket` rather than the client: the same as
      // `close()` and `connect()`, so that nothing waits on a server no link will reach.
      if (state.status === 'closed' && state.cause && !state.cause.error && !this.#closedByUser) {
        this.#closedByUser = true
        this.#rejectWaiting()
      } else if (state.status === 'connecting' && this.#closedByUser) {
        this.#closedByUser = false
      }
      const next = clientStateOf(state)
      if (next) this.#setState(next)
    })
    if (!options.startClosed) socket.reconnect()
  }

  /** The lifecycle as an immutable snapshot: a new object on every change, the same otherwise. */
  get state(): ClientState {
    return this.#state
  }

  /** Round-trip time of the last `$ping`/`$pong`, in ms (protocol mode). */
  get rtt(): number | undefined {
    return this.#rtt
  }

  /** Reliable messages not yet acknowledged by the server (protocol mode). */
  get unacked(): number {
    return this.#stream.unackedCount
  }

  /**
   * Calls `listener` on every state change; for `useSyncExternalStore`. Returns unsubscribe.
   * Bound to its client, as `useSyncExternalStore(client.subscribe, …)` calls it on its own.
   */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.events.on('statechange', listener)
    return () => this.events.off('statechange', listener)
  }

  /**
   * Sends a typed message. Protocol mode: reliable unless `{ reliable: false }`; throws
   * `QUEUE_FULL` when `maxUnacked` messages await acknowledgement. Raw mode: the socket's queue
   * rules apply. Throws `CLOSED` after `close()`; a client that ended on its own keeps a
   * reliable message for `connect()`, and its receipt rejects with the error that ended it.
   *
   * Returns the message's receipt, for `delivered(receipt)`: a reliable message's id (1, 2, 3…
   * in sending order, shared with requests, so not every number is a message), or 0 for a
   * message the server does not acknowledge (raw mode, `reliable: false`). A plain number, so a
   * caller who never asks for delivery pays nothing for it.
   */
  send<K extends keyof UserKeys<ClientMessages<S>> & keyof ClientMessages<S> & string>(
    type: K,
    ...args: PayloadArgs<ClientMessages<S>[K], [options?: SendOptions | undefined]>
  ): number
  // `options?`, not a default: `null` from plain JavaScript means no options, as `undefined` does.
  send(type: string, data?: unknown, options?: SendOptions): number {
    this.#assertUsable()
    assertUserType(type)
    if (!this.#protocolMode) {
      this.socket.send(
        this.#codec.encode((this.#options.framing ?? defaultFraming).wrap(type, data)),
      )
    } else if (options?.reliable !== false) {
      this.#sendReliable(type, data)
      return this.#stream.lastId
    } else if (this.#welcomed) {
      this.#transmit({ t: type, d: data })
    } else {
      this.events.emit('drop', { type, data, reason: 'offline' })
    }
    return 0
  }

  /**
   * Resolves once the server has acknowledged the reliable message `send` returned `receipt`
   * for, that is, processed it (at once if it already has). Rejects with `MESSAGE_TOO_LARGE` if
   * the outbox refused it (a `$welcome` announced a `max` below its size), with `CLOSED` if the
   * client is closed (`close()`) before the acknowledgement, with the cause (e.g.
   * `UNAUTHENTICATED`, `RETRIES_EXHAUSTED`) if it ends on its own, and with `INVALID_ARGUMENT`
   * for a receipt that names no reliable message. Across a session reset the message is sent
   * again as new and the receipt waits for the new session's acknowledgement (the old server may
   * have processed it as well: see the `reset` event).
   *
   * The promise is made when asked for, and one per receipt: asking twice returns the same.
   */
  delivered(receipt: number): Promise<void> {
    const stream = this.#stream
    // Raw mode keeps nothing: its `lastId` is 0, so every receipt is refused here.
    if (!Number.isSafeInteger(receipt) || receipt < 1 || receipt > stream.lastId) {
      return Promise.reject(new LifelineError('INVALID_ARGUMENT', `no receipt ${String(receipt)}`))
    }
    const refusal = this.#receipts?.refusal(receipt)
    if (refusal) return Promise.reject(refusal)
    if (receipt < stream.firstUnackedId) return Promise.resolve()
    const ended = this.#ended()
    if (ended) return Promise.reject(ended)
    return (this.#receipts ??= new Receipts()).wait(receipt)
  }

  /**
   * Calls `handler` for every message of `type`. Returns a function that unsubscribes. Throws
   * `INVALID_ARGUMENT` for a `$` type or a handler that is no function.
   */
  on<K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string>(
    type: K,
    handler: (data: ServerMessages<S>[K]) => void,
  ): () => void {
    return this.#listen(type, handler as Handler, false)
  }

  /** Like `on`, for the next message of `type` only. */
  once<K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string>(
    type: K,
    handler: (data: ServerMessages<S>[K]) => void,
  ): () => void {
    return this.#listen(type, handler as Handler, true)
  }

  /**
   * Calls a server method. Resolves with its typed response; rejects with `REQUEST_TIMEOUT`,
   * `ABORTED`, `REMOTE_ERROR` (with the server's `remoteCode`), `CLOSED` (also when the server
   * lost the session after it took the request, unanswered) or, when the client ends on its
   * own, the error that ended it (e.g. `UNAUTHENTICATED`, `RETRIES_EXHAUSTED`; at once, sent
   * nowhere, for a request made while it is so ended, until `connect()`). The request is a
   * reliable message: it reaches the server once even across reconnects; one whose caller gave
   * up (its timeout, its signal), or that `close()` or the client's own end rejected, before
   * any link carried it (made while offline, or held by the send window) is taken back, never
   * sent. Every failure is a rejection, never a synchronous throw.
   *
   * Not an `async` function: its extra promise and the adoption of the returned one cost every
   * round trip three more microtask turns.
   */
  request<K extends keyof UserKeys<ServerMethods<S>> & keyof ServerMethods<S> & string>(
    method: K,
    ...args: PayloadArgs<RequestOf<ServerMethods<S>, K>, [options?: RequestOptions | undefined]>
  ): Promise<ResponseOf<ServerMethods<S>, K>>
  request(method: string, data?: unknown, options?: RequestOptions): Promise<unknown> {
    try {
      if (!this.#protocolMode) {
        throw new LifelineError('INVALID_ARGUMENT', 'request() needs protocol mode')
      }
      this.#assertUsable()
      // Ended on its own: nothing answers until `connect()`. Rejected as its pending requests
      // were and as `delivered()` is, not kept: its caller was told it failed.
      const ended = this.#ended()
      if (ended) throw ended
      const timeoutMs =
        options?.timeoutMs ?? this.#options.requestTimeoutMs ?? defaultRequestTimeoutMs
      checkRequest(method, timeoutMs, options?.signal)
      // A counter of its own, not the `$req`'s `s`: numbers start again after a session reset,
      // while requests from before it may still be waiting.
      const id = this.#nextRequestId++
      this.#sendReliable('$req', { id, m: method, d: data })
      return this.#requests.add(id, method, timeoutMs, options?.signal)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Implements a method the server may call (`peer.request`). Returns a function that removes it.
   * Throws `INVALID_ARGUMENT` for a method that is no string, a handler that is no function, or a
   * method that has a handler: as the server's `handle`, a second one does not silently take the
   * place of the first (whose remover would then do nothing); remove the first to replace it.
   */
  handle<K extends keyof UserKeys<ClientMethods<S>> & keyof ClientMethods<S> & string>(
    method: K,
    fn: (
      data: RequestOf<ClientMethods<S>, K>,
    ) => ResponseOf<ClientMethods<S>, K> | Promise<ResponseOf<ClientMethods<S>, K>>,
  ): () => void {
    // Refused here, as the server's `handle` refuses it: a handler that is no function failed
    // only when the server called it, far from the mistake.
    assertHandler(typeof method === 'string' && fn)
    const methods = this.#methods
    if (methods.has(method)) {
      throw new LifelineError('INVALID_ARGUMENT', `method ${method} already has a handler`)
    }
    methods.set(method, fn as MethodHandler)
    return () => {
      if (methods.get(method) === fn) methods.delete(method)
    }
  }

  /**
   * Connects a client created with `startClosed`, or after `close()`; an attempt in backoff, or
   * one that `canConnect` held back, is made now (and one under way made again: a client parked
   * by `canConnect` reads `connecting` too). An open client stays as it is: the socket's
   * `reconnect()` would drop a healthy link, which an `online` listener calling `connect()` did
   * every time.
   */
  connect(): void {
    this.#closedByUser = false
    if (this.state.status !== 'open') this.socket.reconnect()
  }

  /**
   * Closes for good: pending requests and the receipts of unacknowledged messages reject with
   * `CLOSED`, no reconnect follows. Unacknowledged messages stay in the outbox: a later
   * `connect()` sends them. `client.socket.close()` is the same close.
   */
  close(code = 1000, reason = ''): void {
    // Checked before anything changes: a bad argument throws and leaves the client as it was.
    validateCloseArguments(code, reason)
    this.#closedByUser = true
    // Before the socket's state changes: a statechange listener that connects again and then
    // sends or requests is owed what it asked for, and it was rejected as closed, although sent.
    this.#rejectWaiting()
    this.socket.close(code, reason)
    this.#linkDown()
  }

  /** Closed by its user: pending requests and the receipts of unacknowledged messages reject. */
  #rejectWaiting(): void {
    this.#requests.rejectAll('the client was closed')
    // Not `#ended()`: a statechange listener may have connected the client again already, and
    // then nothing has ended (a receipt rejected with `undefined`, no error at all).
    this.#receipts?.rejectAll(
      new LifelineError('CLOSED', 'closed before the server acknowledged it'),
    )
  }

  /**
   * Why a message unacknowledged now will not be, until `connect()`: the user's `close()`, or
   * the error that ended the client on its own (a fatal close code, retries exhausted);
   * undefined while it may be (a client created closed has no error yet).
   */
  #ended(): LifelineError | undefined {
    const state = this.#state
    return this.#closedByUser
      ? new LifelineError('CLOSED', 'closed before the server acknowledged it')
      : state.status === 'closed'
        ? state.lastError
        : undefined
  }

  #onOpen(): void {
    if (!this.#protocolMode) return this.#setState({ status: 'open', attempt: this.#attempt() })
    const { protocol } = this.socket
    const codec = selectCodec(protocol, this.#codecs)
    if (!codec) {
      // Not a Lifeline server, which no retry changes: ended as by a fatal close, so that its
      // error is the state's `lastError` and the receipts waiting for the server reject with it.
      return this.socket.failLink(
        protocolError(
          `the server chose no Lifeline subprotocol (got '${protocol}'): use mode 'raw' for other servers`,
        ),
        clientProtocolErrorCode,
        'no lifeline subprotocol',
        'fatal',
      )
    }
    this.#codec = codec
    const sid = this.#sessionId
    // `r`: room messages may come numbered by their room (`r`) rather than by the session.
    // `rs`: the server may ask for what it discarded again with `$resend`, on this link.
    const hello: Record<string, unknown> = { v: protocolVersion, r: 1, rs: 1 }
    if (sid !== undefined) {
      hello.sid = sid
      hello.a = this.#stream.lastProcessed
      // `sa`: the server's highest `a` we got. A process that takes the session from a store
      // holding less (the one that acknowledged it could not store it) resets it, rather than
      // answer with the lower `a` that we would refuse as a violation.
      hello.sa = this.#stream.acknowledged
    }
    // Our largest frame, so the server refuses bigger ones where they are produced.
    if (codec.maxBytes !== undefined && codec.maxBytes !== Infinity) hello.max = codec.maxBytes
    this.#transmit({ t: '$hello', d: hello })
    this.#awaitWelcome()
  }

  /**
   * A server that opens the socket but never says `$welcome` must not hold the client in
   * `connecting`: the attempt has `connectionTimeoutMs` from its start to complete the handshake,
   * else it fails as any attempt does (backoff, no violation counted).
   */
  #awaitWelcome(): void {
    const timeoutMs =
      this.#options.socket?.connectionTimeoutMs ?? reconnectingWebSocketDefaults.connectionTimeoutMs
    const clock = this.#clock
    const expire = (): void => {
      this.#welcomeTimer = undefined
      this.#linkDown()
      this.socket.failLink(
        new LifelineError('CONNECT_TIMEOUT', `no '$welcome' within ${timeoutMs} ms`, {
          closeCode: handshakeTimeoutCode,
        }),
        handshakeTimeoutCode,
        'no $welcome in time',
        'retry',
      )
    }
    // Late, the `$welcome` may be waiting unread: it is read, and clears this, before the check.
    this.#welcomeTimer = setDeadline(
      clock,
      Math.max(0, this.#attemptStartedAt + timeoutMs - clock.now()),
      expire,
      (timer) => (this.#welcomeTimer = timer),
    )
  }

  #onFrame(frame: InboundFrame): void {
    let decoded = false
    try {
      const value = this.#codec.decode(frame)
      decoded = true
      if (this.#protocolMode) {
        const envelope = parseEnvelope(value)
        if (isControlType(envelope.t)) checkControlFrame(envelope, frame)
        // Its size counts toward the acknowledgement by bytes: a string's length (UTF-16 units,
        // at most 3 UTF-8 bytes each) is free and close enough (see `ackBytes`).
        const bytes = typeof frame === 'string' ? frame.length : frame.byteLength
        this.#receivedBytes += bytes
        return this.#onEnvelope(envelope, bytes)
      }
      let message
      try {
        message = (this.#options.framing ?? defaultFraming).unwrap(value)
      } catch (error) {
        reportListenerError(error)
      }
      if (message) this.#messages.emit(message.type, message.data)
      else {
        this.events.emit(
          'error',
          new LifelineError('DECODE_FAILED', 'a frame that is not a message arrived'),
        )
      }
    } catch (error) {
      // The codec or the server broke the protocol: drop the link as a failed attempt (the
      // socket reports it and backs off; `maxViolations` in a row end it). Anything else is a
      // bug of ours, not the server's, and goes on to be reported. Told by `isLifelineError`:
      // a codec built on another copy of the package throws errors of that copy's class.
      if (!isLifelineError(error)) throw error
      // Raw mode talks to any server, which breaks no protocol of ours by sending a frame the
      // codec cannot read (a text greeting, say): told as a frame that is not a message is, and
      // the link kept. Dropped, it lost what followed, and five in a row ended the client.
      if (!this.#protocolMode && error.code === 'DECODE_FAILED') {
        return void this.events.emit('error', error)
      }
      this.#linkDown()
      this.socket.failLink(
        error,
        clientProtocolErrorCode,
        error.code.toLowerCase(),
        // An inbound frame over our own limit would come again with every resume: stop at once.
        !decoded && error.code === 'MESSAGE_TOO_LARGE' ? 'fatal' : 'violation',
      )
    }
  }

  #onEnvelope({ t, d, s, a, r }: Envelope, bytes: number): void {
    const stream = this.#stream
    // `$req` and `$res` are reliable and no other control frame is (PROTOCOL.md, section 3). A
    // `$pong` or `$ack` with an `s` took the number of the message behind it, which was then
    // dropped as a duplicate; a `$req` without one ran outside the session's order.
    if (
      isControlType(t) &&
      t !== '$resend' &&
      (s !== undefined) !== (t === '$req' || t === '$res')
    ) {
      throw protocolError(s === undefined ? `'${t}' without s` : `'${t}' with s`)
    }
    if (!this.#welcomed) {
      if (t === '$welcome') this.#onWelcome(d)
      else if (t === '$error') this.#onServerError(d)
      else if (t !== '$pong') throw protocolError(`'${t}' before '$welcome'`)
      return
    }
    if (t === '$resend') return this.#onResend(s, a, d)
    // Processed before its `a` is applied: the frames the window lets go then carry this `s`'s
    // acknowledgement too. So an `a` that cannot be is refused first, before `s` counts.
    if (a !== undefined) stream.checkAck(a, stream.writtenThrough)
    const duplicate = s !== undefined && stream.receive(s, bytes) === 'duplicate'
    if (a !== undefined) {
      stream.acknowledge(a)
      this.#receipts?.settle(stream.firstUnackedId)
    }
    if (duplicate) return
    // A room message sent again from a cursor the server stored late is a duplicate by its id.
    if (r !== undefined && !this.#rooms.arrive(r)) return
    if (!isControlType(t)) return void this.#messages.emit(t, d)
    const { ts } = (d ?? {}) as { ts?: unknown }
    if (t === '$pong') {
      if (typeof ts === 'number') this.#rtt = Math.max(0, this.#clock.now() - ts)
    } else if (t === '$ping') {
      // Not answered while more than a control frame of our output waits to be written: what
      // waits reaches the server first, and any frame tells it the link lives (a frame is not
      // interleaved: the answer could not pass it). Answered, a server that floods pings and
      // reads nothing had every answer held, each a write of its own, without end.
      if (this.socket.bufferedAmount <= maxControlFrameBytes) {
        this.#transmit({ t: '$pong', d: { ts } })
      }
    } else if (t === '$res') this.#requests.respond(d)
    else if (t === '$req') this.#onRequest(d)
    else if (t === '$error') this.#onServerError(d)
    else if (t !== '$ack') throw protocolError(`unknown control frame '${t}'`)
  }

  /**
   * The server discarded what we sent after `a`, unprocessed, and discards all we send until
   * our marker (PROTOCOL.md, section 9): the marker, then everything still unacknowledged, in
   * order, as after a `$welcome`. The link stays up. What was written before the marker, or is
   * still in the socket's buffer, reaches the server before it and is discarded there: each
   * envelope is so processed once. Its `a` is applied after the marker is written: what it lets
   * the window write goes after the marker, once.
   */
  #onResend(s: number | undefined, a: number | undefined, d: unknown): void {
    if (s !== undefined || a === undefined || d !== undefined) {
      throw protocolError("'$resend' carries an a and nothing else")
    }
    const stream = this.#stream
    // Checked before the marker goes. Each one resends all that is unacknowledged: one that
    // acknowledges less than before, or that the server sent before it could have processed
    // what the last one had resent (right behind the marker), would have it all again for
    // nothing, as often as a hostile server likes (PROTOCOL.md, section 9).
    stream.checkAck(a, stream.writtenThrough)
    const floor = Math.max(stream.acknowledged, this.#resendFloor)
    if (a < floor) throw protocolError(`'$resend' of ${a}, below ${floor}`)
    // Each such `$resend` may still acknowledge a single envelope and have the rest written
    // again: what resends cost on the link is bounded by its progress, what the server
    // acknowledged and sent, so they stay linear in it. An honest server without a window
    // resends the outbox each round for its mark's worth of answers and the requests they
    // answer; with one, a round writes at most `w` at once, for more than `w` of answers.
    const progress =
      stream.acknowledgedBytes +
      stream.bytesThrough(a) -
      this.#acknowledgedBefore +
      this.#receivedBytes
    if (this.#resentBytes > 2 * stream.maxUnackedBytes + resendPerProgress * progress) {
      throw protocolError(
        `'$resend' after ${this.#resentBytes} bytes resent, for ${progress} of progress`,
      )
    }
    this.#transmit({ t: '$resend' })
    this.#resendFloor = stream.resume(a) ? a + 1 : 0
    this.#resentBytes += stream.inFlightBytes
    this.#receipts?.settle(stream.firstUnackedId)
  }

  #onWelcome(data: unknown): void {
    const { sid, resumed, a, max, w } = (data ?? {}) as {
      sid?: unknown
      resumed?: unknown
      a?: unknown
      max?: unknown
      w?: unknown
    }
    if (
      typeof sid !== 'string' ||
      typeof resumed !== 'boolean' ||
      // A sequence number, as an envelope's `a`: 1.5 would acknowledge the envelope numbered 1.
      typeof a !== 'number' ||
      !Number.isSafeInteger(a) ||
      a < 0 ||
      !atLeastControlFrame(max) ||
      !atLeastControlFrame(w)
    ) {
      throw protocolError("malformed '$welcome'")
    }
    const stream = this.#stream
    const previous = this.#sessionId
    const sameSession = resumed && sid === previous
    // Acknowledgements only grow: a server that forgot what it had acknowledged is broken.
    if (sameSession && a < stream.acknowledged) {
      throw protocolError(
        `'$welcome' acknowledges ${a}, but the server had acknowledged ${stream.acknowledged}`,
      )
    }
    // Checked before the session is taken: a new one numbers what is kept from 1, and a refused
    // `$welcome` must leave the client in its old session, which the next link asks to resume
    // (and whose loss is then told as a `reset`).
    const reset = previous !== undefined && !sameSession
    // What the server can have processed: what this session wrote on its links. A new session
    // has processed nothing (the client sends nothing before `$welcome`): its `a` is 0, and one
    // above would have what is kept forgotten, never sent (PROTOCOL.md, sections 2 and 4).
    stream.checkAck(a, sameSession ? stream.writtenThrough : 0)
    this.#clearWelcomeTimer()
    this.#sessionId = sid
    this.#serverMax = max as number | undefined
    if (reset) {
      this.#resets++
      // The requests still kept go again, as new; those the old session took will never be
      // answered: the new one never heard of them.
      const resent = new Set<unknown>()
      stream.discard(({ t, d }) => {
        if (t === '$req') resent.add((d as { id: number }).id)
        return t === '$res'
      })
      this.#requests.rejectAll('the session was reset before the server answered', (id) =>
        resent.has(id),
      )
      // The server lost the session: what it had not acknowledged goes again, as new.
      stream.restart()
      this.#rooms.linkDown(true)
    }
    stream.acknowledge(a)
    this.#receipts?.settle(stream.firstUnackedId)
    // What is kept (never transmitted, or not processed: the server's `a` says so) is the value
    // it was given, encoded again for this link: what the server can never accept (its `max` is
    // learnt only now), or what the application changed since into a value the codec refuses,
    // leaves the outbox now, reported. Thrown from the resend, it failed every link as the
    // server's violation until the client gave up, every request with it. Encoded here once: a
    // frame whose number stays is written as it is.
    const refusedIds: number[] = []
    const refusals: LifelineError[] = []
    /** Answers to the server's requests sent as an error instead (told by an `error` event). */
    const unanswered: LifelineError[] = []
    const refused = stream.discard((envelope, id) => {
      const refusal = this.#refusal(envelope, stream.lastProcessed, refusedIds.length === 0)
      if (refusal === undefined) return false
      if (envelope.t === '$res') {
        unanswered.push(refusal)
        return false
      }
      refusedIds.push(id)
      refusals.push(refusal)
      return true
    })
    // The server processed none of what is kept, and gets it on this link, numbered anew: what
    // an earlier link wrote of it counts no more here (a process that crashed may have handled
    // it all the same, which is why a request given up now is not taken back: `withdraw`).
    stream.writtenThrough = stream.acknowledged
    if (reset) {
      this.events.emit('reset', {
        previousSessionId: previous,
        sessionId: sid,
        resent: stream.unackedCount,
      })
    }
    // A `reset` listener may have closed the client (or dropped the link): the session is taken,
    // and what it keeps waits for the next link, which resumes it; this one is not up.
    if (!this.#closedByUser && this.socket.readyState === readyStates.OPEN) {
      this.#welcomed = true
      // The bytes we may have in flight, unacknowledged: what the server's output bound allows
      // an echo of them (PROTOCOL.md, section 9). Without one, everything goes out at once.
      stream.window = (w as number | undefined) ?? Infinity
      // The server's output bound is twice `w` (section 9): acknowledging every quarter of `w`
      // keeps what it holds for us unacknowledged far under it, without waiting for a timer.
      stream.ackBytes = w === undefined ? Infinity : Math.floor((w as number) / 4)
      stream.resume(a)
      // Resumed only if it is the session asked for: a `resumed: true` of another (or when none
      // was asked) is a new one, told by a `reset` when one was asked, not a resumption.
      this.#setState({
        status: 'open',
        attempt: this.#attempt(),
        sessionId: sid,
        resumed: sameSession,
      })
    }
    for (const error of unanswered) this.events.emit('error', error)
    refused.forEach(({ t, d }, i) => {
      // A request is told by its rejection; a message by its receipt and a `drop`.
      const error = refusals[i] as LifelineError
      const request = t === '$req' && (d as { id: number; m: string; d: unknown })
      if (request) this.#requests.fail(request.id, error)
      else (this.#receipts ??= new Receipts()).refuse(refusedIds[i] as number, error)
      this.events.emit('error', error)
      this.events.emit('drop', {
        type: request ? request.m : t,
        data: request ? request.d : d,
        reason: error.code === 'MESSAGE_TOO_LARGE' ? 'too-large' : 'unencodable',
      })
    })
  }

  /** Whether the server accepts less than our codec produces: only then are sizes compared. */
  #limitsServer(): boolean {
    const max = this.#serverMax
    return max !== undefined && max < (this.#codec.maxBytes ?? Infinity)
  }

  /**
   * For `discard` after `$welcome`: why a kept envelope can no longer be sent (its frame over the
   * server's `max`, or its value one the codec refuses), or undefined. A `$res` is rewritten to
   * answer with that error instead, so the server's request does not wait for nothing. The
   * frame of one that can be sent is kept to be written as it is (with `a`, the acknowledgement
   * it goes with) if `keep`; else (an envelope before it was refused, and it is numbered down)
   * only `a`, which it is encoded with again when it goes: checked with it, and a lower number
   * makes no frame larger, where a later `a` could take a frame at the server's `max` past it.
   */
  #refusal(envelope: Envelope, a: number, keep: boolean): LifelineError | undefined {
    let frame
    try {
      frame = this.#encode({ ...envelope, a })
    } catch (thrown) {
      const error = isLifelineError(thrown)
        ? thrown
        : new LifelineError('ENCODE_FAILED', describeError(thrown), { cause: thrown })
      if (envelope.t === '$res') {
        const { id } = envelope.d as { id: unknown }
        envelope.d = { id, e: { code: error.code, message: describeError(error) } }
      }
      return error
    }
    this.#heldFrames.set(envelope, [keep ? frame : undefined, a])
    return undefined
  }

  #onRequest(data: unknown): void {
    const { id, method, data: payload } = parseRequest(data)
    const handler = this.#methods.get(method)
    if (!handler) {
      return this.#answer(id, method, {
        e: { code: 'NOT_FOUND', message: `no method '${method}' on this client` },
      })
    }
    const resets = this.#resets
    Promise.resolve()
      .then(() => handler(payload))
      .then(
        (result) => {
          if (resets === this.#resets) this.#answer(id, method, { d: result })
        },
        (error: unknown) => {
          // A deliberate error (with a code) goes to the server; anything else stays here,
          // reported once the server has its answer, which nothing the report does can hold up.
          const { payload: failure, deliberate } = errorPayload(error)
          if (resets === this.#resets) this.#answer(id, method, { e: failure })
          if (!deliberate) reportListenerError(error)
        },
      )
      // Whatever a hostile error object throws while it is read: reported, never unhandled.
      .catch(reportListenerError)
  }

  /**
   * Answers a server's request; the server always gets an answer. When this one cannot be sent
   * (the outbox is full, the codec refuses the result or it is too large) the client emits
   * `error` with that code and answers with it instead. Error answers are kept past
   * `maxUnacked` rather than lost: they are small, one per request the server makes while the
   * outbox is full.
   */
  #answer(id: string | number, method: string, body: { d: unknown } | { e: ErrorPayload }): void {
    // Kept even while the client is closed, as any unacknowledged message is: the server's
    // session outlives a close() and its request still waits for this answer after connect().
    try {
      // An error answer goes past `maxUnacked` too: small, and the server waits for it.
      this.#sendReliable('$res', { id, ...body }, 'e' in body)
    } catch (thrown) {
      const { code } = isLifelineError(thrown) ? thrown : { code: 'ENCODE_FAILED' as const }
      this.events.emit(
        'error',
        new LifelineError(
          code,
          `could not answer the server's request '${method}': ${describeError(thrown)}`,
          { cause: thrown },
        ),
      )
      try {
        const message = `the client could not send its answer (${code})`
        this.#sendReliable('$res', { id, e: { code, message } }, true)
      } catch (error) {
        if (isLifelineError(error, 'QUEUE_FULL')) {
          // Twice the outbox unacknowledged, and the server still asks: no honest server does
          // (it acknowledges within its own cadence, PROTOCOL.md, 5). Dropped as a violation,
          // through the backoff; the answers kept go on the next link.
          this.#linkDown()
          this.socket.failLink(
            protocolError('the server makes requests while it acknowledges none of their answers'),
            clientProtocolErrorCode,
            'answers unacknowledged',
            'violation',
          )
          return
        }
        // Only a codec that refuses even this small answer gets here: the error above said why.
        reportListenerError(error)
      }
    }
  }

  /** Raw mode: a frame the socket's queue dropped, told as the message it carried. */
  #onRawDrop(frame: unknown): void {
    let message
    try {
      message = (this.#options.framing ?? defaultFraming).unwrap(
        this.#codec.decode(frame as InboundFrame),
      )
    } catch {
      // Not a message of ours (sent through `client.socket` directly): told as the frame.
    }
    this.events.emit('drop', { ...(message ?? { type: '', data: frame }), reason: 'overflow' })
  }

  #onServerError(data: unknown): void {
    const { code, message } = (data ?? {}) as { code?: unknown; message?: unknown }
    // Strings only, as the protocol has them: `String()` of a decoded object may throw (its
    // `toString` a number, say), and a server's reason is no reason to throw.
    this.events.emit(
      'error',
      new LifelineError(
        'REMOTE_ERROR',
        `server: ${typeof message === 'string' ? message : 'error'}`,
        { remoteCode: typeof code === 'string' ? code : 'UNKNOWN' },
      ),
    )
  }

  #listen(type: string, handler: Handler, once: boolean): () => void {
    assertUserType(type)
    // A handler that is no function would fail at every message of its type, each one lost.
    assertHandler(handler)
    const messages = this.#messages
    if (once) messages.once(type, handler)
    else messages.on(type, handler)
    return () => messages.off(type, handler)
  }

  /**
   * Numbers, keeps and (within the send window) writes a reliable envelope. One the window holds
   * keeps the frame `check` encoded, so that it is written as it is, encoded once, unless an
   * envelope was processed meanwhile (its `a` would be stale).
   */
  #sendReliable(type: string, data: unknown, pastLimit?: boolean): void {
    const envelope = this.#stream.send(type, data, pastLimit)
    if (this.#encoded === envelope) {
      this.#heldFrames.set(envelope, [this.#encodedFrame as OutboundFrame, envelope.a as number])
      this.#encoded = this.#encodedFrame = undefined
    }
  }

  #transmit(envelope: Envelope): void {
    const frame = this.#encoded === envelope ? this.#encodedFrame : undefined
    this.#encoded = this.#encodedFrame = undefined
    const held = this.#heldFrames.size > 0 ? this.#heldFrames.get(envelope) : undefined
    if (held) {
      this.#heldFrames.delete(envelope)
      // Written as it was encoded even if its `a` is older now: a lower `a` acknowledges nothing
      // new and is no violation (PROTOCOL.md, 5), while encoding it again could take a frame at
      // the limit past it, after the envelope that moved `a` was counted as processed (one
      // renumbered by a withdrawn request is encoded again with the same `a`). The newer
      // acknowledgement is still owed.
      this.socket.send(held[0] ?? this.#encode({ ...envelope, a: held[1] }))
      if (held[1] !== envelope.a) this.#stream.oweAck()
      return
    }
    this.socket.send(frame ?? this.#encode(envelope))
  }

  /** Encodes an envelope; throws `MESSAGE_TOO_LARGE` for a frame over the server's limit. */
  #encode(envelope: Envelope): string | Uint8Array {
    const frame = this.#codec.encode(envelope)
    this.#encodedBytes = -1
    if (this.#limitsServer()) {
      const max = this.#serverMax as number
      const size = typeof frame === 'string' ? utf8ByteLength(frame) : frame.byteLength
      this.#encodedBytes = size
      if (size > max) throw this.#overServerMax(`a frame of ${size} bytes`)
    }
    return frame
  }

  #overServerMax(what: string): LifelineError {
    return new LifelineError(
      'MESSAGE_TOO_LARGE',
      `${what} is over the ${this.#serverMax} bytes the server accepts`,
    )
  }

  #clearWelcomeTimer(): void {
    if (this.#welcomeTimer !== undefined) this.#clock.clearTimeout(this.#welcomeTimer)
    this.#welcomeTimer = undefined
  }

  #linkDown(): void {
    this.#clearWelcomeTimer()
    this.#welcomed = false
    this.#resendFloor = 0
    this.#resentBytes = this.#receivedBytes = 0
    this.#acknowledgedBefore = this.#stream.acknowledgedBytes
    this.#heldFrames.clear()
    this.#stream.linkDown()
    this.#rooms.linkDown()
    this.#requests.stopIfIdle()
  }

  #attempt(): number {
    const state = this.socket.state
    return 'attempt' in state ? state.attempt : 1
  }

  #setState(next: ClientState): void {
    const previous = this.#state
    if (sameState(previous, next)) return
    this.#state = next
    // Ended on its own: what the server has not acknowledged will not be, unless `connect()`,
    // and what it has not answered will not be either (a request a link carried is still sent
    // then; one none did is taken back, as a request given up is).
    const ended = !this.#closedByUser && this.#ended()
    if (ended) {
      this.#receipts?.rejectAll(ended)
      this.#requests.rejectAll(ended)
    }
    this.events.emit('statechange', next, previous)
  }

  #assertUsable(): void {
    if (this.#closedByUser)
      throw new LifelineError('CLOSED', 'the client is closed: connect() it again')
  }
}

/** Creates a typed client. See `ClientOptions`. */
export function createClient<S extends Schema = AnySchema>(options: ClientOptions): Client<S> {
  return new Client<S>(options)
}

/** Absent, or an integer of at least a control frame's size (`max` and `w` of `$welcome`). */
function atLeastControlFrame(value: unknown): boolean {
  return (
    value === undefined ||
    (Number.isSafeInteger(value) && (value as number) >= maxControlFrameBytes)
  )
}

/** Throws `INVALID_ARGUMENT` for a handler that is no function (`false` for a bad name). */
function assertHandler(handler: unknown): void {
  if (typeof handler !== 'function') {
    throw new LifelineError('INVALID_ARGUMENT', 'a handler is a function, under a string name')
  }
}

function assertUserType(type: string): void {
  if (typeof type !== 'string' || !type || isControlType(type)) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `a message type is a non-empty string not starting with '$', got '${String(type)}'`,
    )
  }
}
