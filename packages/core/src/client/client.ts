import type { Codec, InboundFrame } from '@lifeline/codec'
import { LifelineError, json, selectCodec } from '@lifeline/codec'
import { EventEmitter } from 'eventemitter3'
import { systemClock } from '../clock.js'
import type { Clock } from '../clock.js'
import { reportListenerError } from '../events.js'
import type { Envelope } from '../protocol/envelope.js'
import {
  controlTypes,
  isControlType,
  parseEnvelope,
  protocolCloseCodes,
  protocolError,
  protocolVersion,
} from '../protocol/envelope.js'
import { ReliableStream } from '../protocol/reliableStream.js'
import type {
  AnySchema,
  ClientMessages,
  ClientMethods,
  MessageType,
  RequestOf,
  ResponseOf,
  Schema,
  ServerMessages,
  ServerMethods,
} from '../protocol/schema.js'
import { ReconnectingWebSocket } from '../reconnectingWebSocket.js'
import type { StateChangeEvent } from '../socketEvents.js'
import type { ClientOptions, RawFraming } from './clientOptions.js'
import { clientDefaults, defaultFraming } from './clientOptions.js'
import type { ClientEvents, ClientState } from './clientState.js'
import { clientStateOf, sameState } from './clientState.js'
import { clientSocketOptions } from './socketOptions.js'
import type { ErrorPayload } from '../protocol/rpc.js'
import { PendingRequests, errorPayload, parseRequest } from '../protocol/rpc.js'

export interface SendOptions {
  /**
   * Protocol mode: keep the message until the server acknowledges it and resend it after a
   * reconnect (exactly once, in order). `false` sends it only if the link is up now; otherwise
   * it is reported as a `drop` event.
   * @default true
   */
  reliable?: boolean
}

export interface RequestOptions {
  /** @default the client's `requestTimeoutMs` (30000) */
  timeoutMs?: number
  signal?: AbortSignal
}

type Handler = (data: unknown) => void
type MethodHandler = (data: unknown) => unknown

/**
 * A typed messaging client over a `ReconnectingWebSocket` and a codec. In protocol mode (against
 * `@lifeline/server`) every reliable message is processed exactly once and in order across
 * reconnects; in raw mode it talks to any server.
 */
export class Client<S extends Schema = AnySchema> {
  /** Lifecycle events (`statechange`, `reset`, `error`, `drop`), apart from message types. */
  readonly events = new EventEmitter<ClientEvents>()
  /** The underlying socket (for its own events and `bufferedAmount`). */
  readonly socket: ReconnectingWebSocket
  private readonly protocolMode: boolean
  private readonly codecs: readonly Codec[]
  private readonly framing: RawFraming
  private readonly clock: Clock
  private readonly requestTimeoutMs: number
  private readonly stream: ReliableStream
  private readonly requests: PendingRequests
  private readonly handlers = new Map<string, Set<Handler>>()
  private readonly methods = new Map<string, MethodHandler>()
  private readonly stateListeners = new Set<() => void>()
  private codec: Codec
  private current: ClientState
  private sessionId: string | undefined
  private welcomed = false
  private closedByUser = false
  private rttMs: number | undefined
  private nextRequestId = 1

  constructor(options: ClientOptions) {
    this.protocolMode = (options.mode ?? clientDefaults.mode) === 'protocol'
    this.codecs = options.codecs ?? [json()]
    const first = this.codecs[0]
    if (first === undefined) throw new LifelineError('INVALID_ARGUMENT', 'codecs must not be empty')
    this.codec = first
    this.framing = options.framing ?? defaultFraming
    this.clock = options.socket?.clock ?? systemClock
    this.requestTimeoutMs = options.requestTimeoutMs ?? clientDefaults.requestTimeoutMs
    this.requests = new PendingRequests(this.clock)
    this.stream = new ReliableStream({
      clock: this.clock,
      transmit: (envelope) => this.transmit(envelope),
      isLinkUp: () => this.welcomed,
      // While the link is down, encode once anyway: data the codec refuses throws at send().
      check: (envelope) => void this.codec.encode(envelope),
      ...(options.maxUnacked === undefined ? {} : { maxUnacked: options.maxUnacked }),
      ...(options.ackEvery === undefined ? {} : { ackEvery: options.ackEvery }),
      ...(options.ackDelayMs === undefined ? {} : { ackDelayMs: options.ackDelayMs }),
    })
    this.current = { status: options.startClosed === true ? 'closed' : 'connecting', attempt: 1 }
    this.socket = new ReconnectingWebSocket(
      options.url,
      this.protocolMode ? this.codecs.map((codec) => codec.name) : options.protocols,
      clientSocketOptions(options, this.protocolMode, this.clock, (ping) =>
        this.codec.encode(ping),
      ),
    )
    this.socket.binaryType = 'arraybuffer'
    this.socket.addEventListener('open', () => this.onOpen())
    this.socket.addEventListener('message', (event) => this.onFrame(event.data as InboundFrame))
    this.socket.addEventListener('close', () => this.onLinkDown())
    this.socket.addEventListener('error', (event) => this.emitError(event.error))
    this.socket.addEventListener('statechange', (event) => this.onSocketState(event))
    if (options.startClosed !== true) this.socket.reconnect()
  }

  /** The lifecycle as an immutable snapshot: a new object on every change, the same otherwise. */
  get state(): ClientState {
    return this.current
  }

  /** Round-trip time of the last `$ping`/`$pong`, in ms (protocol mode). */
  get rtt(): number | undefined {
    return this.rttMs
  }

  /** Reliable messages not yet acknowledged by the server (protocol mode). */
  get unacked(): number {
    return this.stream.unackedCount
  }

  /** Calls `listener` on every state change; for `useSyncExternalStore`. Returns unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.stateListeners.add(listener)
    return () => this.stateListeners.delete(listener)
  }

  /**
   * Sends a typed message. Protocol mode: reliable unless `{ reliable: false }`; throws
   * `QUEUE_FULL` when `maxUnacked` messages await acknowledgement. Raw mode: the socket's queue
   * rules apply. Throws `CLOSED` after `close()`.
   */
  send<K extends MessageType<ClientMessages<S>>>(
    type: K,
    data: ClientMessages<S>[K],
    options: SendOptions = {},
  ): void {
    this.assertOpenForUse()
    assertUserType(type)
    if (!this.protocolMode) {
      this.socket.send(this.codec.encode(this.framing.wrap(type, data)))
      return
    }
    if (options.reliable === false) {
      if (this.welcomed) this.transmit({ t: type, d: data })
      else this.events.emit('drop', { type, data })
      return
    }
    this.stream.send(type, data)
  }

  /** Calls `handler` for every message of `type`. Returns a function that unsubscribes. */
  on<K extends MessageType<ServerMessages<S>>>(
    type: K,
    handler: (data: ServerMessages<S>[K]) => void,
  ): () => void {
    assertUserType(type)
    let set = this.handlers.get(type)
    if (set === undefined) this.handlers.set(type, (set = new Set()))
    const entry = handler as Handler
    set.add(entry)
    return () => {
      set.delete(entry)
      if (set.size === 0 && this.handlers.get(type) === set) this.handlers.delete(type)
    }
  }

  /** Like `on`, for the next message of `type` only. */
  once<K extends MessageType<ServerMessages<S>>>(
    type: K,
    handler: (data: ServerMessages<S>[K]) => void,
  ): () => void {
    const off = this.on(type, (data) => {
      off()
      handler(data)
    })
    return off
  }

  /**
   * Calls a server method. Resolves with its typed response; rejects with `REQUEST_TIMEOUT`,
   * `ABORTED`, `REMOTE_ERROR` (with the server's `remoteCode`) or `CLOSED`. The request is a
   * reliable message: it reaches the server once even across reconnects.
   */
  request<K extends MessageType<ServerMethods<S>>>(
    method: K,
    data: RequestOf<ServerMethods<S>, K>,
    options: RequestOptions = {},
  ): Promise<ResponseOf<ServerMethods<S>, K>> {
    if (!this.protocolMode) {
      return Promise.reject(
        new LifelineError('INVALID_ARGUMENT', 'request() needs protocol mode (a Lifeline server)'),
      )
    }
    try {
      this.assertOpenForUse()
    } catch (error) {
      return Promise.reject(error)
    }
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs
    if (options.signal?.aborted === true) {
      return Promise.reject(new LifelineError('ABORTED', `request ${method} was aborted`))
    }
    // A counter of its own, not the `$req`'s `s`: numbers start again after a session reset,
    // while requests from before it may still be waiting.
    const id = this.nextRequestId++
    try {
      this.stream.send(controlTypes.request, { id, m: method, d: data })
    } catch (error) {
      return Promise.reject(error as Error)
    }
    return this.requests.add(id, method, timeoutMs, options.signal) as Promise<
      ResponseOf<ServerMethods<S>, K>
    >
  }

  /** Implements a method the server may call (`peer.request`). Returns a function that removes it. */
  handle<K extends MessageType<ClientMethods<S>>>(
    method: K,
    fn: (
      data: RequestOf<ClientMethods<S>, K>,
    ) => ResponseOf<ClientMethods<S>, K> | Promise<ResponseOf<ClientMethods<S>, K>>,
  ): () => void {
    const entry = fn as MethodHandler
    this.methods.set(method, entry)
    return () => {
      if (this.methods.get(method) === entry) this.methods.delete(method)
    }
  }

  /** Connects a client created with `startClosed`, or after `close()`. */
  connect(): void {
    this.closedByUser = false
    this.socket.reconnect()
  }

  /** Closes for good: pending requests reject with `CLOSED`, no reconnect follows. */
  close(code = 1000, reason = ''): void {
    this.closedByUser = true
    this.socket.close(code, reason)
    this.welcomed = false
    this.stream.dispose()
    this.requests.rejectAll('the client was closed')
  }

  private onOpen(): void {
    if (!this.protocolMode) {
      this.setState({ status: 'open', attempt: this.attemptOf() })
      return
    }
    const codec = selectCodec(this.socket.protocol, this.codecs)
    if (codec === undefined) {
      this.emitError(
        protocolError(
          `the server chose no Lifeline subprotocol (offered ${this.codecs.map((c) => c.name).join(', ')}; ` +
            `got '${this.socket.protocol}'): is it a Lifeline server? Use mode 'raw' for others`,
        ),
      )
      this.socket.close(protocolCloseCodes.clientProtocolError, 'no lifeline subprotocol')
      return
    }
    this.codec = codec
    const hello =
      this.sessionId === undefined
        ? { v: protocolVersion }
        : { v: protocolVersion, sid: this.sessionId, a: this.stream.lastProcessed }
    this.transmit({ t: controlTypes.hello, d: hello })
  }

  private onFrame(frame: InboundFrame): void {
    let value: unknown
    try {
      value = this.codec.decode(frame)
    } catch (error) {
      this.linkFailed(error as LifelineError)
      return
    }
    if (!this.protocolMode) {
      const message = safeUnwrap(this.framing, value)
      if (message === undefined) {
        this.emitError(new LifelineError('DECODE_FAILED', 'a frame that is not a message arrived'))
        return
      }
      this.dispatch(message.type, message.data)
      return
    }
    try {
      this.onEnvelope(parseEnvelope(value))
    } catch (error) {
      if (error instanceof LifelineError) this.linkFailed(error)
      else throw error
    }
  }

  private onEnvelope(envelope: Envelope): void {
    const { t } = envelope
    if (!this.welcomed) {
      if (t === controlTypes.welcome) this.onWelcome(envelope.d)
      else if (t === controlTypes.error) this.onServerError(envelope.d)
      else if (t !== controlTypes.pong) throw protocolError(`'${t}' before '$welcome'`)
      return
    }
    if (envelope.a !== undefined) this.stream.acknowledge(envelope.a)
    if (envelope.s !== undefined && this.stream.receive(envelope.s) === 'duplicate') return
    if (!isControlType(t)) {
      this.dispatch(t, envelope.d)
      return
    }
    switch (t) {
      case controlTypes.ack:
        return
      case controlTypes.pong:
        return this.onPong(envelope.d)
      case controlTypes.ping:
        return this.transmit({ t: controlTypes.pong, d: envelope.d })
      case controlTypes.response:
        return this.requests.respond(envelope.d)
      case controlTypes.request:
        return this.onRequest(envelope.d)
      case controlTypes.error:
        return this.onServerError(envelope.d)
      default:
        throw protocolError(`unknown control frame '${t}'`)
    }
  }

  private onWelcome(data: unknown): void {
    const { sid, resumed, a } = (data ?? {}) as { sid?: unknown; resumed?: unknown; a?: unknown }
    if (typeof sid !== 'string' || typeof resumed !== 'boolean' || typeof a !== 'number') {
      throw protocolError("malformed '$welcome'")
    }
    const previous = this.sessionId
    if (previous !== undefined && (!resumed || sid !== previous)) {
      // The server lost the session: what it had not acknowledged goes again, as new.
      this.stream.restart()
      this.sessionId = sid
      this.events.emit('reset', {
        previousSessionId: previous,
        sessionId: sid,
        resent: this.stream.unackedCount,
      })
    }
    this.sessionId = sid
    this.welcomed = true
    this.stream.resume(a)
    this.setState({ status: 'open', attempt: this.attemptOf(), sessionId: sid, resumed })
  }

  private onPong(data: unknown): void {
    const ts = (data as { ts?: unknown } | undefined)?.ts
    if (typeof ts === 'number') this.rttMs = Math.max(0, this.clock.now() - ts)
  }

  private onRequest(data: unknown): void {
    const { id, method, data: payload } = parseRequest(data)
    const respond = (body: { d?: unknown; e?: ErrorPayload }) => {
      if (this.current.status !== 'closed') this.stream.send(controlTypes.response, { id, ...body })
    }
    const handler = this.methods.get(method)
    if (handler === undefined) {
      respond({ e: { code: 'NOT_FOUND', message: `no method '${method}' on this client` } })
      return
    }
    Promise.resolve()
      .then(() => handler(payload))
      .then(
        (result) => respond({ d: result }),
        (error: unknown) => {
          // A deliberate error (with a code) goes to the server; anything else stays here.
          const { payload: failure, deliberate } = errorPayload(error)
          if (!deliberate) reportListenerError(error)
          respond({ e: failure })
        },
      )
  }

  private onServerError(data: unknown): void {
    const { code, message } = (data ?? {}) as { code?: unknown; message?: unknown }
    this.emitError(
      new LifelineError('REMOTE_ERROR', `server: ${String(message ?? 'error')}`, {
        remoteCode: String(code ?? 'UNKNOWN'),
      }),
    )
  }

  private dispatch(type: string, data: unknown): void {
    const set = this.handlers.get(type)
    if (set === undefined) return
    for (const handler of set) {
      try {
        handler(data)
      } catch (error) {
        reportListenerError(error)
      }
    }
  }

  private transmit(envelope: Envelope): void {
    this.socket.send(this.codec.encode(envelope))
  }

  /** The server broke the protocol or sent garbage: report, drop the link, resume afresh. */
  private linkFailed(error: LifelineError): void {
    this.emitError(error)
    this.onLinkDown()
    this.socket.reconnect(protocolCloseCodes.clientProtocolError, error.code.toLowerCase())
  }

  private onLinkDown(): void {
    this.welcomed = false
    this.stream.linkDown()
  }

  private onSocketState({ state }: StateChangeEvent): void {
    if (state.status === 'closed') this.onLinkDown()
    const next = clientStateOf(state)
    if (next !== undefined) this.setState(next)
  }

  private attemptOf(): number {
    const state = this.socket.state
    return 'attempt' in state ? state.attempt : 1
  }

  private setState(next: ClientState): void {
    const previous = this.current
    if (sameState(previous, next)) return
    this.current = next
    this.events.emit('statechange', next, previous)
    for (const listener of this.stateListeners) {
      try {
        listener()
      } catch (error) {
        reportListenerError(error)
      }
    }
  }

  private emitError(error: LifelineError): void {
    this.events.emit('error', error)
  }

  private assertOpenForUse(): void {
    if (this.closedByUser) {
      throw new LifelineError('CLOSED', 'the client is closed: call connect() to use it again')
    }
  }
}

/** Creates a typed client. See `ClientOptions`. */
export function createClient<S extends Schema = AnySchema>(options: ClientOptions): Client<S> {
  return new Client<S>(options)
}

function assertUserType(type: string): void {
  if (typeof type !== 'string' || type === '' || isControlType(type)) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `message types are non-empty strings not starting with '$', got '${String(type)}'`,
    )
  }
}

function safeUnwrap(framing: RawFraming, value: unknown) {
  try {
    return framing.unwrap(value)
  } catch (error) {
    reportListenerError(error)
    return undefined
  }
}
