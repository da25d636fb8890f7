import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { isLifelineError, type Codec } from '@lifeline/codec'
import type { TimerHandle } from '@lifeline/core'
import {
  checkControlFrame,
  controlTypes,
  type Envelope,
  HeartbeatMonitor,
  type HeartbeatHooks,
  maxControlFrameBytes,
  parseEnvelope,
  protocolCloseCodes,
  protocolError,
  setDeadline,
  type Schema,
} from '@lifeline/core/protocol'
import { holdWrites } from '@lifeline/node'
import type { RawData, WebSocket } from 'ws'
import { runAuthenticate, type AuthOutcome } from './auth.js'
import type { ServerContext } from './context.js'
import { parseHello, type Hello } from './handshake.js'
import { keptFrameMinBytes, SplicedFrame, type WrittenFrame } from './frames.js'
import { OutputBound, outputLimits, type OutputLimits } from './outputBound.js'
import { readInSlices } from './readSlices.js'
import type { Link, Session } from './session.js'
import type { StatsCounter } from './stats.js'
import type { Turns } from './turns.js'

/** What a connection needs of the server beyond the shared context. */
export interface ConnectionHost<S extends Schema, User> {
  readonly context: ServerContext<S, User>
  /**
   * Resumes or creates the session for `hello`, binds it (`connection.bind`), writes
   * `$welcome` and the replay, and tells the application. May finish asynchronously (a store
   * lookup); throws or rejects with a protocol violation.
   */
  openSession(connection: Connection<S, User>, hello: Hello, user: User): void | Promise<void>
  /** The session lost this connection (it was not taken over). */
  detached(session: Session<S, User>, code: number, reason: string, later: boolean): void
  /** The socket is closed. */
  closed(connection: Connection<S, User>): void
}

/** `ws` send options of a text frame given as bytes. */
const textFrame = { binary: false } as const

type State = 'authenticating' | 'hello' | 'resolving' | 'open' | 'closed'

const OPEN = 1
const CLOSED = 3
/**
 * Frames a client may send behind its `$hello` before the handshake is answered; the protocol
 * expects none.
 */
const maxEarlyFrames = 16
/**
 * Bytes of them, sent by a client that does not wait (the `$hello` held with them while
 * `authenticate` runs, a control frame of 1 KiB at most, comes on top). Reading goes on
 * meanwhile (a close, a lost link must be seen while `authenticate` runs), so this is what bounds
 * what the server holds for a client that has not authenticated: not 16 frames of up to
 * `maxMessageSize` each.
 */
const maxEarlyBytes = 64 * 1024
/**
 * Bytes a client may have sent before `$welcome`, read or not: the `$hello`, the early frames
 * behind it, and the header of each (14 bytes at most). Counted as read, before `ws` parses: it
 * keeps what came of a frame until the frame is whole, so bounded in whole frames only, a client
 * that never finished one had the server hold up to `maxMessageSize` until `helloTimeoutMs`. A
 * read that finds them past it is refused, with one socket read (64 KiB) more at most held.
 */
const maxBytesBeforeWelcome = maxEarlyBytes + maxControlFrameBytes + (maxEarlyFrames + 1) * 14
const maxReasonBytes = 123
/** What a pong waiting to be written holds, its write and buffer (`onPing`). */
const pongHeldBytes = 256

/** A close reason that fits a close frame (123 bytes). */
export function closeReason(text: string): string {
  // Every UTF-16 unit is at least a byte: what fits is within the first 123. Cut from the whole
  // text a unit at a time, measured again each time, a long reason (an `authenticate` message
  // quoting what the client sent) took time quadratic in its length, the event loop held.
  let reason = text.length > maxReasonBytes ? text.slice(0, maxReasonBytes) : text
  while (Buffer.byteLength(reason) > maxReasonBytes) reason = reason.slice(0, -1)
  // Nor half a character: a lone surrogate left at the cut encodes as U+FFFD.
  return reason.replace(/[\uD800-\uDBFF]$/, '')
}

/**
 * The callback of a pending `authenticate`, made outside the connection's constructor: a
 * closure made there shares its context, which holds the connection. Through a box the close
 * empties, an `authenticate` that never settles (a backend that hangs, holding its callbacks)
 * holds neither the connection nor its early frames, which it would for every connection
 * closed meanwhile.
 */
function answerTo<User>(waiting: {
  connection?: { onAuthenticated(outcome: AuthOutcome<User>): void }
}): (outcome: AuthOutcome<User>) => void {
  return (outcome) => waiting.connection?.onAuthenticated(outcome)
}

/**
 * What letting go of a socket counts for in a turn's work (`Turns`): its close, the output and
 * the socket buffers it frees, and its close events, about a millisecond for a slow consumer.
 * A hundred slow consumers closed together came due together: one iteration of 25 ms, which a
 * client calling now and then waited behind (bench/README.md, "Server under abuse").
 */
export const dropWorkBytes = 128 * 1024

/**
 * Terminates `socket` if its peer has not answered the server's close frame within `timeoutMs`:
 * in a turn of `turns`, so that many coming due together are let go over several turns. `ws`
 * waits 30 s: a peer that never answers would hold every socket the server refuses or closes
 * for that long, whatever the limits on new connections.
 */
export function dropUnanswered(socket: WebSocket, timeoutMs: number, turns: Turns): void {
  if (socket.readyState === CLOSED) return
  const drop = (): void => {
    if (socket.readyState === CLOSED) return
    turns.charge(dropWorkBytes)
    socket.terminate()
  }
  // Real time, as every I/O deadline: the injectable clock may be a test's, standing still.
  const timer = setTimeout(() => turns.defer(drop), timeoutMs)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
}

/**
 * The monitor needs a ping value to know that it pings; a protocol-level ping carries none, and
 * every client answers it without its application's help.
 */
const protocolPing = ''

/** What the heartbeat needs of a connection. */
interface Pingable {
  readonly socket: WebSocket
  heartbeatTimeout(): void
}

// One pair of hooks for every connection, rather than two closures each.
const heartbeatHooks: HeartbeatHooks<Pingable> = {
  ping(connection) {
    try {
      connection.socket.ping()
    } catch {
      // The socket is closing: its close event follows.
    }
  },
  dead(connection) {
    connection.heartbeatTimeout()
  },
}

function counterFor(closeCode: number): StatsCounter | undefined {
  if (closeCode === 1002 || closeCode === 1008) return 'protocolErrors'
  if (closeCode === 1003 || closeCode === 1007) return 'decodeErrors'
  if (closeCode === 1009) return 'oversize'
  return undefined
}

/**
 * The close code `ws` sent for a frame it refused, which it keeps on the error under a symbol of
 * its own (`status-code`); read by the symbol's name, as `ws` exports none.
 */
function wsCloseCode(error: Error): number | undefined {
  const key = Object.getOwnPropertySymbols(error).find(
    (symbol) => symbol.description === 'status-code',
  )
  const code: unknown = key === undefined ? undefined : (error as never)[key]
  return typeof code === 'number' ? code : undefined
}

/**
 * `ws` reports frames it refuses itself (size, UTF-8, framing) as socket errors with a code,
 * counted by the close code it sent: a ping's payload over 125 bytes (a `_LENGTH` code too) is a
 * framing error, closed with 1002, not a frame over `maxMessageSize`.
 */
function wsErrorCounter(code: unknown, closeCode: number | undefined): StatsCounter | undefined {
  if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) return undefined
  const counter = closeCode === undefined ? undefined : counterFor(closeCode)
  if (counter !== undefined) return counter
  if (code.endsWith('_LENGTH')) return 'oversize'
  if (code === 'WS_ERR_INVALID_UTF8') return 'decodeErrors'
  return 'protocolErrors'
}

/**
 * One socket's protocol handling: authentication, the `$hello` deadline, decoding and checking
 * every frame, the heartbeat, and closing with the right code. Everything that outlives the
 * socket belongs to the session it is bound to.
 */
export class Connection<S extends Schema, User> implements Link {
  session: Session<S, User> | undefined
  private state: State
  private user: User | undefined
  private early: Array<[RawData, boolean]> = []
  private earlyBytes = 0
  /** Bytes read from the socket before the session opened (`maxBytesBeforeWelcome`). */
  private readBeforeOpen = 0
  /** What the pending `authenticate` answers through, emptied once the socket is closed. */
  private authenticating: { connection?: Connection<S, User> } | undefined
  private readonly limits: OutputLimits
  /** The client said `rs` in its `$hello`: it resends what was discarded on `$resend`. */
  private resends = false
  private helloTimer: TimerHandle | undefined
  /** Pings after `intervalMs` of quiet; finds the link dead after `intervalMs + timeoutMs`. */
  private readonly heartbeat: HeartbeatMonitor<Pingable> | undefined
  private readonly output: OutputBound
  /**
   * Frames made for this connection while it is behind, once the turn's work was spent (see
   * `write`), oldest first, with their bytes: written in its place in line.
   */
  private queued: Array<[WrittenFrame, Buffer | undefined]> = []
  private queuedBytes = 0
  /** `writeInLine` is deferred to a later turn. */
  private inLineDue = false
  /** Pongs handed to the socket and not written yet (`onPing`). */
  private pongsUnwritten = 0
  /** While it handles a frame of its own: what that makes is its share of the turn, and goes now. */
  private handling = false
  private readonly context: ServerContext<S, User>
  readonly closedPromise: Promise<void>
  private resolveClosed!: () => void

  /**
   * @param transport the upgraded TCP (or TLS) socket under `socket`, whose writes are batched
   *   per event-loop turn
   */
  constructor(
    readonly socket: WebSocket,
    private readonly transport: Duplex,
    readonly request: IncomingMessage,
    readonly codec: Codec,
    private readonly host: ConnectionHost<S, User>,
  ) {
    this.context = host.context
    const { options } = this.context
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve))
    this.limits = outputLimits(options, transport)
    this.output = new OutputBound(
      {
        socket,
        transport,
        // A flood is parsed no further than the connection's share of a turn (`Turns`) at a time.
        // A read waits in line unparsed once the turn's work is spent, but for a light one.
        readsInSlices: readInSlices(transport, this.mayParse),
        stream: () => this.session?.stream,
        requestBacklog: () => this.session?.requestBacklog ?? 0,
        isOpen: () => this.state === 'open',
        dispatch: (data, isBinary) => this.dispatch(data, isBinary),
        deliver: (envelope) => this.deliver(envelope),
        redeliver: (data, isBinary) => this.redeliver(data, isBinary),
        acknowledge: (a) => (this.session as Session<S, User>).acknowledge(a),
        paused: () => this.context.counters.readsPaused++,
        slowConsumer: (unsent, unacked) => this.closeSlowConsumer(unsent, unacked),
        resend: () => this.askResend(),
      },
      this.limits,
      this.context.turns,
    )
    socket.on('message', this.onMessage)
    socket.on('close', this.onClose)
    socket.on('error', this.onError)
    socket.on('pong', this.onPong)
    socket.on('ping', this.onPing)
    // Run late (the event loop stalled), the `$hello` may have come in time and wait unread:
    // Node runs the timers that fell due before it reads the network (`setDeadline`).
    this.helloTimer = setDeadline(
      options.clock,
      options.helloTimeoutMs,
      this.onHelloTimeout,
      (timer) => (this.helloTimer = timer),
    )
    if (options.heartbeat !== undefined) {
      this.heartbeat = new HeartbeatMonitor(
        { ...options.heartbeat, ping: protocolPing },
        options.clock,
        this,
        heartbeatHooks,
      )
      this.heartbeat.start()
    }
    if (options.authenticate === undefined) {
      this.state = 'hello'
      this.user = undefined
    } else {
      this.state = 'authenticating'
      this.authenticating = { connection: this }
      void runAuthenticate(options.authenticate, request).then(answerTo(this.authenticating))
    }
  }

  get writable(): boolean {
    return this.state !== 'closed' && this.session !== undefined && this.socket.readyState === OPEN
  }

  /** Not closed (yet). */
  get alive(): boolean {
    return this.state !== 'closed'
  }

  get remoteAddress(): string | undefined {
    return this.request.socket.remoteAddress
  }

  /**
   * Writes a frame, or queues it: once the turn's work is spent (see `Turns`), a frame made for
   * a connection whose client is behind (`OutputBound.behind`), other than while it handles a
   * frame of its own, waits for its place in line, and so do those after it. A broadcast to
   * many sessions is so written over several turns, each within the budget, rather than all
   * in the turn that made it (with 100 clients that do not read, a 16 KiB broadcast was 110
   * writes in one turn, several milliseconds that every other client waited behind), while a
   * client that keeps up gets it at once.
   */
  write(frame: WrittenFrame, framed?: Buffer): void {
    this.context.counters.framesSent++
    if (this.queued.length > 0) {
      if (!this.handling) {
        this.queue(frame, framed)
        return
      }
      // Its own answer: what waited goes first. Writing it may have closed the link (a slow
      // consumer): nothing goes after the close frame, a raw room frame least of all.
      this.writeQueued(false)
      if (this.socket.readyState !== OPEN) return
    } else if (!this.handling && this.context.turns.spentOut && this.output.behind) {
      this.queue(frame, framed)
      return
    }
    this.send(frame, framed)
  }

  private queue(frame: WrittenFrame, framed: Buffer | undefined): void {
    // A large text frame waits as its UTF-8 bytes (what the socket would make of it), off the
    // JavaScript heap: a broadcast's 16 KiB frame waiting for a hundred clients that do not read
    // was 1.6 MiB that minor collections copied, then promoted, every 100 ms. A frame written at
    // once stays a string: as bytes it would be one more allocation, for nothing.
    if (typeof frame === 'string' && frame.length >= keptFrameMinBytes) frame = Buffer.from(frame)
    // One place in line at a time: an answer of its own may have emptied the queue while its
    // place was still to come.
    if (!this.inLineDue) {
      this.inLineDue = true
      this.context.turns.defer(this.writeInLine)
    }
    this.queued.push([frame, framed])
    this.queuedBytes += typeof frame === 'string' ? frame.length : frame.byteLength
    this.output.queued(this.unsentBytes)
  }

  /** Its place in line: what waited goes, within the turn's budget (one frame at least). */
  private readonly writeInLine = (): void => {
    this.inLineDue = false
    if (this.queued.length === 0) return
    this.writeQueued(true)
    if (this.queued.length > 0) {
      this.inLineDue = true
      this.context.turns.defer(this.writeInLine)
    }
  }

  /** Writes what waited (`inTurn`: while the turn's budget lasts); nothing once closed. */
  private writeQueued(inTurn: boolean): void {
    const queued = this.queued
    let next = 0
    while (
      next < queued.length &&
      this.socket.readyState === OPEN &&
      (!inTurn || next === 0 || !this.context.turns.spentOut)
    ) {
      const [frame, framed] = queued[next++] as [WrittenFrame, Buffer | undefined]
      this.queuedBytes -= typeof frame === 'string' ? frame.length : frame.byteLength
      this.send(frame, framed)
    }
    if (this.socket.readyState !== OPEN) next = queued.length
    if (next === queued.length) {
      this.queued = []
      this.queuedBytes = 0
    } else {
      this.queued = queued.slice(next)
    }
  }

  private send(frame: WrittenFrame, framed: Buffer | undefined): void {
    holdWrites(this.transport)
    // Framed once for every member (a room message): to the socket as it is, which is what
    // `ws` would write (it neither compresses, `perMessageDeflate` being off, nor queues then).
    // Should an extension ever be negotiated, `ws` frames it: a raw frame could pass its queue.
    if (framed !== undefined && this.socket.extensions === '') this.transport.write(framed)
    else if (frame instanceof SplicedFrame) {
      // A broadcast's: its shared part goes as it is, in the same corked write.
      if (this.socket.extensions === '') {
        const [head, rest] = frame.framed()
        this.transport.write(head)
        this.transport.write(rest)
      } else {
        // An extension (none today: the server turns permessage-deflate off) has `ws` frame it.
        this.socket.send(frame.joined(), textFrame)
      }
    }
    // A text codec's frame may come as its UTF-8 bytes: still a text frame.
    else if (typeof frame === 'string' || this.codec.binary) this.socket.send(frame)
    else this.socket.send(frame, textFrame)
    this.output.written(typeof frame === 'string' ? frame.length : frame.byteLength)
  }

  produced(size: number): void {
    this.output.produced(size)
  }

  hasRoom(): boolean {
    return this.unsentBytes <= this.limits.outboundHighWaterBytes
  }

  whenDrained(callback: () => void): void {
    this.output.whenDrained(callback)
  }

  requestBacklogEased(): void {
    this.output.requestBacklogEased()
  }

  /** Bytes written to the socket and not sent yet, or waiting to be written. */
  get unsentBytes(): number {
    return this.output.unsentBytes + this.queuedBytes
  }

  /** The handshake chose `session`: from now on the connection carries its envelopes. */
  bind(session: Session<S, User>): void {
    this.session = session
    this.clearHelloTimer()
  }

  /** `$welcome` and the replay are out: process the client's frames from now on. */
  opened(): void {
    if (this.state === 'closed') return
    this.state = 'open'
    this.output.opened()
    this.drainEarly()
  }

  close(code: number, reason: string, errorCode?: string): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.stopTimers()
    // What waited goes before the close frame; a slow consumer would not read it.
    if (code === protocolCloseCodes.slowConsumer) this.dropQueued()
    else if (this.queued.length > 0) this.writeQueued(false)
    if (errorCode !== undefined && this.socket.readyState === OPEN) {
      try {
        this.context.counters.framesSent++
        this.send(
          this.codec.encode({ t: controlTypes.error, d: { code: errorCode, message: reason } }),
          undefined,
        )
      } catch {
        // The close below says it all; an `$error` is a courtesy.
      }
    }
    this.socket.close(code, closeReason(reason))
    // `ws` must read the client's close frame to finish the closing handshake; a slow consumer
    // is terminated instead (it would have `ws` parse all it sent meanwhile, for nothing). Paused
    // for its place in line too: a frame that waited there may be what closes it.
    if ((this.output.paused || this.socket.isPaused) && code !== protocolCloseCodes.slowConsumer) {
      this.socket.resume()
    }
    dropUnanswered(this.socket, this.context.options.closeTimeoutMs, this.context.turns)
    if (code === protocolCloseCodes.slowConsumer && this.session?.link === this) {
      // Its output waits for a client that does not read; dropped sooner if it comes back.
      this.session.lingering = this
    }
    // A slow consumer is closed from inside a send (its output went past the bound): its
    // 'disconnect' is told once that send is through, so that what a listener sends (to its room,
    // the session included) goes after it, numbered after it, where the others get it after it.
    this.detachSession(code, reason, code === protocolCloseCodes.slowConsumer)
  }

  /** Drops the connection without a closing handshake. */
  terminate(): void {
    this.state = 'closed'
    this.stopTimers()
    this.dropQueued()
    this.socket.terminate()
  }

  private dropQueued(): void {
    this.queued = []
    this.queuedBytes = 0
  }

  /** Refuses the connection for `error` (a protocol violation, a bad frame) with its close code. */
  fail(error: unknown): void {
    if (this.state === 'closed') return
    if (!isLifelineError(error) || error.closeCode === undefined) {
      // Not bad input: a defect on the server's side. Report it, and close with 1011.
      this.context.failure('unexpected error while handling a frame', error, this.session)
      this.close(1011, 'internal error')
      return
    }
    const counter = counterFor(error.closeCode)
    if (counter !== undefined) this.context.counters[counter]++
    this.warn(`connection refused: ${error.message}`, error.code, error.closeCode)
    this.close(error.closeCode, error.message, error.code)
  }

  /**
   * Asks the client to resend what was discarded (PROTOCOL.md, section 9): on the link if it
   * said it can (true), else by closing with 1012, so that it resumes at once.
   */
  private askResend(): boolean {
    this.context.counters.resendsAsked++
    if (this.resends) {
      ;(this.session as Session<S, User>).askResend()
      return true
    }
    this.close(protocolCloseCodes.serviceRestart, 'resume and resend')
    return false
  }

  /**
   * The session's replay found its buffer overflowed before it was through: a slow consumer,
   * counted in `stats.slowConsumers` as one the output bound closes.
   */
  slowConsumer(): void {
    const stream = this.session?.stream
    this.closeSlowConsumer(this.unsentBytes, stream === undefined ? 0 : stream.unackedBytes)
  }

  /** Closes a client that does not read what it is sent; its session waits for a resume. */
  private closeSlowConsumer(unsent: number, unacked: number): void {
    this.context.counters.slowConsumers++
    this.warn(
      `slow consumer: ${unsent} bytes unsent, ${unacked} unacknowledged`,
      'SLOW_CONSUMER',
      protocolCloseCodes.slowConsumer,
    )
    this.close(protocolCloseCodes.slowConsumer, 'slow consumer', 'SLOW_CONSUMER')
    // Nothing it sends now is read (`ws` would parse a flood for nothing); `close` lets go of
    // the socket, and of the output it holds, after `closeTimeoutMs`.
    this.socket.pause()
    // Nor what the socket read before: `ws` parses what is left in it when it closes, a full
    // read of some 1,600 frames (about a millisecond), a hundred in a row when a hundred slow
    // consumers are dropped together. Before `ws`'s own listener, which then finds nothing.
    this.transport.prependOnceListener('close', this.discardUnread)
  }

  /** Drops what the closed socket read and `ws` did not parse (no `'data'` once closed). */
  private readonly discardUnread = (): void => {
    while (this.transport.read() !== null);
  }

  /** Before `ws` parses a socket read of `bytes`: whether it may now (see `readInSlices`). */
  private readonly mayParse = (bytes: number): boolean => {
    const state = this.state
    if (state === 'open' || state === 'closed') return this.output.mayParse(bytes)
    // Judged by the reads before this one: this one may bring the `$hello` that opens the
    // session, and frames for it behind, which are no longer early once it is open.
    const before = this.readBeforeOpen
    this.readBeforeOpen += bytes
    if (before <= maxBytesBeforeWelcome) return true
    this.fail(protocolError('too much sent before $welcome'))
    // Nothing more is read: the rest of the frame would be kept as it came. The socket is let
    // go `closeTimeoutMs` later, with what it read and `ws` did not parse.
    this.socket.pause()
    this.transport.prependOnceListener('close', this.discardUnread)
    return false
  }

  private readonly onMessage = (data: RawData, isBinary: boolean): void => {
    if (this.heartbeat !== undefined) this.heartbeat.seen = true
    const state = this.state
    if (state === 'open') {
      if (!this.output.hold(data, isBinary)) this.dispatch(data, isBinary)
    } else if (state === 'hello' && this.early.length === 0) {
      this.first(data, isBinary)
    } else if (state !== 'closed') {
      const size = (data as Buffer).length
      // The bounds are on what comes behind the `$hello`, which waits here too while
      // `authenticate` runs: a client may send as much with it as without it.
      const hello = state === 'authenticating' ? this.early[0] : undefined
      const frames = this.early.length - (hello ? 1 : 0)
      const bytes = this.earlyBytes - (hello ? (hello[0] as Buffer).length : 0)
      if (frames >= maxEarlyFrames || bytes + size > maxEarlyBytes) {
        this.fail(protocolError('too many frames before $welcome'))
        return
      }
      // The first frame is the `$hello`, a control frame: one over their size is refused now,
      // not held while `authenticate` runs.
      if (this.early.length === 0 && state === 'authenticating' && size > maxControlFrameBytes) {
        this.fail(protocolError(`$hello over ${maxControlFrameBytes} bytes`))
        return
      }
      this.early.push([data, isBinary])
      this.earlyBytes += size
    }
  }

  /** The hot path: decode, check, and hand to the session. */
  private dispatch(data: RawData, isBinary: boolean): void {
    const size = (data as Buffer).length
    const handling = this.handling
    this.handling = true
    try {
      const frame = isBinary ? (data as Buffer) : (data as Buffer).toString()
      const envelope = parseEnvelope(this.codec.decode(frame))
      if (envelope.t.charCodeAt(0) === 36 /* $ */) checkControlFrame(envelope, data as Buffer)
      if (!this.output.wait(envelope, data as Buffer, isBinary)) {
        ;(this.session as Session<S, User>).receive(envelope, size)
      }
    } catch (error) {
      this.fail(error)
      return
    } finally {
      this.handling = handling
    }
    this.output.read(size)
  }

  /**
   * Hands the session an envelope: one read past what may wait (a control one), or one that
   * waited, from a frame of `bytes` bytes.
   */
  private deliver(envelope: Envelope, bytes = 0): void {
    const handling = this.handling
    this.handling = true
    try {
      ;(this.session as Session<S, User>).receive(envelope, bytes)
    } catch (error) {
      this.fail(error)
    } finally {
      this.handling = handling
    }
  }

  /**
   * Hands the session an envelope that waited for the output to come under the mark, from its
   * frame (decoded and checked once already; decoding is deterministic).
   */
  private redeliver(data: Buffer, isBinary: boolean): void {
    let envelope: Envelope
    try {
      envelope = parseEnvelope(this.codec.decode(isBinary ? data : data.toString()))
    } catch (error) {
      this.fail(error)
      return
    }
    this.deliver(envelope, data.length)
  }

  private first(data: RawData, isBinary: boolean): void {
    let hello: Hello
    try {
      const frame = isBinary ? (data as Buffer) : (data as Buffer).toString()
      const envelope = parseEnvelope(this.codec.decode(frame))
      checkControlFrame(envelope, data as Buffer)
      hello = parseHello(envelope)
    } catch (error) {
      this.fail(error)
      return
    }
    this.resends = hello.resends
    this.state = 'resolving'
    let pending: void | Promise<void>
    try {
      pending = this.host.openSession(this, hello, this.user as User)
    } catch (error) {
      this.fail(error)
      return
    }
    if (pending === undefined) return
    pending.then(undefined, (error: unknown) => this.fail(error))
  }

  private drainEarly(): void {
    while (this.early.length > 0 && (this.state === 'hello' || this.state === 'open')) {
      const [data, isBinary] = this.early.shift() as [RawData, boolean]
      this.earlyBytes -= (data as Buffer).length
      if (this.state === 'open') this.dispatch(data, isBinary)
      else this.first(data, isBinary)
    }
  }

  /** `authenticate` answered (see `answerTo`). */
  onAuthenticated(outcome: AuthOutcome<User>): void {
    if (this.state === 'closed') return
    if (!outcome.ok) {
      this.context.counters[
        outcome.closeCode === protocolCloseCodes.forbidden
          ? 'forbidden'
          : outcome.closeCode === protocolCloseCodes.unauthenticated
            ? 'authFailures'
            : 'authUnavailable'
      ]++
      this.warn('connection refused by authenticate', outcome.code, outcome.closeCode)
      this.close(outcome.closeCode, outcome.message, outcome.code)
      return
    }
    this.user = outcome.user
    this.state = 'hello'
    this.drainEarly()
  }

  private readonly onHelloTimeout = (): void => {
    this.helloTimer = undefined
    if (this.state === 'closed' || this.session !== undefined) return
    this.context.counters.helloTimeouts++
    this.warn('no $hello in time', 'HELLO_TIMEOUT', protocolCloseCodes.helloTimeout)
    this.close(protocolCloseCodes.helloTimeout, 'no $hello in time', 'HELLO_TIMEOUT')
  }

  private readonly onClose = (code: number, reason: Buffer): void => {
    if (this.state === 'open') this.output.clientClosed()
    this.state = 'closed'
    this.stopTimers()
    if (this.authenticating !== undefined) delete this.authenticating.connection
    if (this.session?.lingering === this) this.session.lingering = undefined
    this.detachSession(code, reason.toString())
    this.host.closed(this)
    this.resolveClosed()
  }

  private readonly onError = (error: Error): void => {
    // `ws` closes the socket itself (with 1009, 1007, 1002…); count and log the cause once.
    const closeCode = wsCloseCode(error)
    const counter = wsErrorCounter((error as { code?: unknown }).code, closeCode)
    if (counter === undefined || this.state === 'closed') return
    this.context.counters[counter]++
    this.warn(
      `connection refused: ${error.message}`,
      String((error as { code?: unknown }).code),
      closeCode,
    )
    this.state = 'closed'
    this.stopTimers()
    dropUnanswered(this.socket, this.context.options.closeTimeoutMs, this.context.turns)
  }

  /**
   * Answers a WebSocket ping (`autoPong` is off): its pong is output like any other, so a client
   * that floods pings and reads none of the pongs is a slow consumer (4429), counted and logged.
   * `ws` before 8.23 kept its pongs without end (a gigabyte in five seconds from one client);
   * from 8.23 it drops the socket after 60 unwritten ones, with no close code, counted nowhere.
   */
  private readonly onPing = (data: Buffer): void => {
    if (this.state === 'closed' || this.socket.readyState !== OPEN) return
    // A pong not yet written is a write of its own, held with its buffer at some 170 B of heap,
    // not the 2 B `bufferedAmount` counts for an empty one: a flood of empty pings under the
    // 4 MiB bound held two million of them, 350 MB, from one client.
    const unsent = this.unsentBytes + this.pongsUnwritten * pongHeldBytes
    if (unsent > this.limits.maxOutboundBytes) {
      const stream = this.session?.stream
      this.closeSlowConsumer(unsent, stream === undefined ? 0 : stream.unackedBytes)
      return
    }
    this.pongsUnwritten++
    this.socket.pong(data, false, this.onPongWritten)
  }

  private readonly onPongWritten = (): void => {
    this.pongsUnwritten--
  }

  private readonly onPong = (): void => {
    if (this.heartbeat !== undefined) this.heartbeat.seen = true
  }

  /** The heartbeat found the link dead (half-open): drop it, and let its session wait. */
  heartbeatTimeout(): void {
    if (this.state === 'closed') return
    this.context.counters.heartbeatTimeouts++
    this.warn('heartbeat timeout: connection terminated', 'HEARTBEAT_TIMEOUT', undefined)
    this.detachSession(1006, 'heartbeat timeout')
    this.terminate()
  }

  private detachSession(code: number, reason: string, later = false): void {
    const session = this.session
    if (session !== undefined && session.detach(this)) {
      this.host.detached(session, code, reason, later)
    }
  }

  private clearHelloTimer(): void {
    if (this.helloTimer !== undefined) this.context.options.clock.clearTimeout(this.helloTimer)
    this.helloTimer = undefined
  }

  private stopTimers(): void {
    this.clearHelloTimer()
    this.heartbeat?.stop()
  }

  private warn(message: string, code: string, closeCode: number | undefined): void {
    this.context.warn(message, {
      code,
      ...(closeCode === undefined ? {} : { closeCode }),
      ...(this.remoteAddress === undefined ? {} : { remoteAddress: this.remoteAddress }),
      ...(this.session === undefined ? {} : { peerId: this.session.id }),
    })
  }
}
