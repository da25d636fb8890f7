import { isLifelineError, LifelineError, type Codec, type OutboundFrame } from '@lifeline/codec'
import type { TimerHandle } from '@lifeline/core'
import {
  checkRequest,
  controlTypes,
  protocolError,
  ReliableStream,
  isRoomName,
  type Envelope,
  type ReliableStreamState,
  type Schema,
  errorPayload,
  parseRequest,
  PendingRequests,
  type InboundRequest,
  type Arrival,
} from '@lifeline/core/protocol'
import { broadcastRoom, type ClusterMember, type JournaledEnvelope } from './cluster.js'
import type { MethodImplementation, ServerContext } from './context.js'
import type { SessionEndReason } from './events.js'
import type { SessionJournal } from './journal.js'
import type {
  MessageHandler,
  MessageInfo,
  Peer,
  RequestInfo,
  RequestOptions,
  SendOptions,
} from './peer.js'
import type { SessionRecord } from './sessionStore.js'
import {
  encodeEnvelope,
  frameBytes,
  isPrepared,
  keptBefore,
  keptBytes,
  plainPayload,
  roomFrame,
  smallMessage,
  SentFrame,
  SplicedFrame,
  splicedFrame,
  storedEnvelope,
  type WrittenFrame,
} from './frames.js'
import { RoomCursors } from './roomCursors.js'
import { clientWindowBytes, waitingOverheadBytes } from './outputBound.js'

/** What a session needs of the connection it is attached to. */
export interface Link {
  readonly codec: Codec
  /** True while the socket is open and past the handshake. */
  readonly writable: boolean
  /**
   * Writes a frame; a text codec's may come as its UTF-8 bytes, and goes as a text frame.
   * `framed`: the same frame already as a WebSocket message (a room message, framed once for
   * every member), written as it is.
   */
  write(frame: WrittenFrame, framed?: Buffer): void
  /** A frame of about `size` bytes was made for this link and waits behind its replay. */
  produced(size: number): void
  /** The unsent output is under the high-water mark: a paced replay may write more now. */
  hasRoom(): boolean
  /** Calls `callback` once the output has drained (or in a later turn if it need not). */
  whenDrained(callback: () => void): void
  /** Closes the socket; an `errorCode` sends `$error` first. */
  close(code: number, reason: string, errorCode?: string): void
  /** Closes the socket as a slow consumer (4429), counted and logged as the output bound's. */
  slowConsumer(): void
  /** `requestBacklog` came down, or to none: frames waiting for it may go on. */
  requestBacklogEased(): void
  /** Drops the socket at once, without a closing handshake. */
  terminate(): void
}

export interface SessionInit<User> {
  id: string
  sessionId: string
  user: User
  codec: Codec
  state?: ReliableStreamState
  rooms?: readonly string[]
  /** Per room, the id of the last room message the session got (with a cluster). */
  roomCursors?: Readonly<Record<string, string>>
}

type AnyHandler = (data: unknown, peer: unknown, info: MessageInfo) => unknown

const closedMessage = 'the session has ended'
const shutMessage = 'the server has closed'

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/** Throws `INVALID_ARGUMENT` for a message type a user may not send. */
export function checkType(type: unknown): void {
  if (typeof type !== 'string' || type === '' || type.charCodeAt(0) === 36 /* $ */) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      'a message type is a non-empty string that does not start with $',
    )
  }
}

/**
 * Throws `INVALID_ARGUMENT` for what is not a room: no string, `'\u0000'` (the name under which
 * a cluster sends the broadcast), or a name over 1,024 UTF-8 bytes (a cluster's room messages
 * carry it, `r`, which clients bound). With a cluster, a name with a lone surrogate too.
 */
export function checkRoom(room: unknown, clustered: boolean): asserts room is string {
  if (typeof room !== 'string' || room === broadcastRoom) {
    throw new LifelineError('INVALID_ARGUMENT', 'a room is a string other than "\\u0000"')
  }
  // With a cluster or without, so that moving to one refuses no name that worked before: a
  // cluster's messages carry the name, and a session's record keeps it either way.
  if (!isRoomName(room)) {
    throw new LifelineError('INVALID_ARGUMENT', 'a room name is at most 1024 UTF-8 bytes')
  }
  // A cluster names keys and channels after the room in UTF-8, where a lone surrogate becomes
  // U+FFFD: '\uD800' and '\uDBFF' would share one history, channel and presence, and their
  // members would get no live message (the channel heard is named '\uFFFD').
  if (clustered && !room.isWellFormed()) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      'a room name is well-formed UTF-16 (no lone surrogate)',
    )
  }
}

/** One session: the peer the application holds, and the protocol state behind it. */
export class Session<S extends Schema, User> implements Peer<S, User>, ClusterMember {
  readonly id: string
  readonly sessionId: string
  user: User
  /** The connection attached now, if any. */
  link: Link | undefined
  /**
   * The last connection closed as a slow consumer, while its socket waits for the client's
   * close frame (up to `closeTimeoutMs`) with its unsent output. Dropped when the client comes
   * back: it does not read that output, and its session resends what it needs.
   */
  lingering: Link | undefined
  /** The codec of the latest connection; checks what is sent while no connection is attached. */
  codec: Codec
  /**
   * The largest frame the client accepts, from the `max` of its latest `$hello`; `Infinity`
   * when it did not say (older clients), and then nothing is checked.
   */
  peerMax = Infinity
  readonly stream: ReliableStream
  /** When the session expires while detached (clock milliseconds); Infinity while attached. */
  expiresAt = Infinity
  expiryTimer: TimerHandle | undefined
  /**
   * With a shared store: what was stored of this session. Then only what a commit stored is
   * acknowledged to the client or sent to it, and `replayed` marks what was sent.
   */
  journal: SessionJournal | undefined
  /** Per room, the last room message delivered, and what the store keeps (with a cluster). */
  readonly cursors = new RoomCursors()
  /**
   * With a cluster, and a client that said `r` in its `$hello`: room messages go to it numbered
   * by their room (`r`), outside the session's stream (PROTOCOL.md, section 11).
   */
  roomIds = false
  /** The highest `a` sent to the client (with a shared store). */
  private ackSent = 0
  /**
   * With a shared store: the bytes of the client's reliable frames received since an `a` higher
   * than the last was sent (as the stream counts them since its last acknowledgement). Past the
   * stream's `ackBytes`, `sendAck` does not wait. Not "since everything processed was
   * acknowledged": under a steady stream commits lag behind, and every commit went at once.
   */
  private ackBytesOwed = 0
  /**
   * With a shared store: a `$ack` of what a commit stored waits for the next frame written to
   * the link (it leaves in the same write), at most `ackDelayMs` (see `sendAck`), held by the
   * server's `AckSchedule` meanwhile.
   */
  private ackHeld = false
  private ended = false
  /**
   * The server closed (`shutDown`): the session went to the store as it was, and nothing sent,
   * asked or joined here since would reach the store, nor the client.
   */
  private shut = false
  /**
   * While a resume's replay is paced: the `s` of the last envelope resent. New envelopes wait
   * in the stream behind the replay, so the client still gets everything in order.
   */
  private replayed: number | undefined
  /** The paced replay waits for the client to acknowledge some of what it was resent. */
  private replayAwaitsAck = false
  /** The `a` of the last `$resend` on this link. */
  private resendAck: number | undefined
  /** With a shared store: a `$resend` waits for a commit (see `askResend`). */
  private resendDue = false
  /** A frame a replay resent carried an `a` behind the latest: a `$ack` follows the batch. */
  private resentAckBehind = false
  /**
   * The highest `a` this link told the client (its `$welcome`'s, a frame's, a `$ack`'s): a kept
   * frame's older `a` needs a `$ack` after it only when the client was not told the latest.
   */
  private ackTold = 0
  /** The link whose drain a paced replay waits for: one wait at a time, however often pumped. */
  private replayAwaitsDrain: Link | undefined
  private readonly handlers = new Map<string, AnyHandler[]>()
  private readonly requests: PendingRequests
  /** The envelope the stream's `check` encoded, and its frame, for `transmit` to reuse. */
  private preEncodedEnvelope: Envelope | undefined
  private preEncoded: WrittenFrame | undefined
  /** While `deliver` sends a room message: its room and id, for the journal. */
  private delivering: readonly [room: string, id: string] | undefined
  /** Catch-ups from rooms' histories waiting for this link's output to drain (`whenRoom`). */
  private roomWaiters: (() => void)[] = []
  /**
   * The client's requests whose handlers still run, each with the promise of its answer and
   * what it counts in `runningBytes`.
   */
  private readonly running = new Map<InboundRequest, [answered: Promise<void>, cost: number]>()
  /**
   * The frames of the requests whose handlers still run, each with what a waiting frame counts
   * on top (its promise, its entry and what its handler holds, whatever its size).
   */
  private runningBytes = 0

  constructor(
    private readonly context: ServerContext<S, User>,
    init: SessionInit<User>,
  ) {
    const { options } = context
    this.id = init.id
    this.sessionId = init.sessionId
    this.user = init.user
    this.codec = init.codec
    this.requests = new PendingRequests(options.clock)
    this.stream = new ReliableStream({
      clock: options.clock,
      transmit: this.transmit,
      isLinkUp: () => this.replayed === undefined && this.link !== undefined && this.link.writable,
      ackEvery: options.ackEvery,
      ackDelayMs: options.ackDelayMs,
      maxUnacked: options.replayLimit,
      maxUnackedBytes: options.replayLimitBytes,
      overflow: 'drop-oldest',
      check: this.preEncode,
    })
    // A quarter of the client's window (PROTOCOL.md, 5): it is never left waiting for a timer.
    this.stream.ackBytes = Math.floor(clientWindowBytes(options) / 4)
    // Measured again: a restored session's replay counts against `replayLimitBytes` and paces
    // its replay as one that never left this process.
    if (init.state !== undefined) {
      this.stream.restore(init.state, (envelope) =>
        frameBytes(encodeEnvelope(this.codec, envelope)),
      )
    }
    if (init.roomCursors !== undefined) this.cursors.restore(init.roomCursors)
    for (const room of init.rooms ?? []) context.rooms.join(this, room)
  }

  /** Joins the cluster's rooms (a restored session's) and broadcast once it is registered. */
  joinCluster(): void {
    const cluster = this.context.cluster
    if (cluster === undefined) return
    cluster.joined(this, broadcastRoom)
    for (const room of this.rooms) cluster.joined(this, room)
  }

  get connected(): boolean {
    return this.link !== undefined && this.link.writable
  }

  get closed(): boolean {
    return this.ended
  }

  /** Whether a room send or broadcast reaches it: not once it ended, or the server closed. */
  get reachable(): boolean {
    return !this.ended && !this.shut
  }

  get rooms(): readonly string[] {
    return this.context.rooms.roomsOf(this)
  }

  send(type: string, data?: unknown, options?: SendOptions): boolean {
    this.checkOpen()
    checkType(type)
    if (options?.reliable === false) {
      const link = this.link
      if (link === undefined || !link.writable) return false
      const frame = link.codec.encode({ t: type, d: data })
      const size = this.oversize(frame)
      if (size !== undefined) throw this.tooLarge(size, false)
      link.write(frame)
      return true
    }
    this.sendReliable(type, data, false)
    return true
  }

  /**
   * `send` for a room or a broadcast: a message over this client's limit skips this client and
   * is reported (`'error'` event), so the other members still get it. With `sentToOthers`, so
   * is one the codec refuses: another member has it, and the caller, told the send failed,
   * would send it to that member again. Returns whether it went.
   */
  offer(type: string, data: unknown, sentToOthers = false): boolean {
    if (!this.reachable) return false
    if (!sentToOthers) return this.sendReliable(type, data, true)
    try {
      return this.sendReliable(type, data, true)
    } catch (error) {
      this.context.failure('a message was not sent to a client', error, this)
      return false
    }
  }

  /** Throws `CLOSED` once the session ended, or the server closed. */
  private checkOpen(): void {
    if (this.ended) throw new LifelineError('CLOSED', closedMessage)
    if (this.shut) throw new LifelineError('CLOSED', shutMessage)
  }

  /** The frame's size when it is over the largest frame the client accepts; else undefined. */
  oversize(frame: WrittenFrame): number | undefined {
    const max = this.peerMax
    // Only worth measuring when the client accepts less than the codec produces.
    if (max >= (this.codec.maxBytes ?? Infinity)) return undefined
    const size = frameBytes(frame)
    return size > max ? size : undefined
  }

  /** The refusal of a frame over the client's limit; reported when the caller will not see it. */
  tooLarge(size: number, report: boolean): LifelineError {
    const error = new LifelineError(
      'MESSAGE_TOO_LARGE',
      `a frame of ${size} bytes is over the ${this.peerMax} bytes this client accepts`,
    )
    if (report) this.context.failure('a message was not sent to a client', error, this)
    return error
  }

  on(type: string, handler: MessageHandler<S, User, never>): () => void {
    checkType(type)
    if (typeof handler !== 'function') {
      throw new LifelineError('INVALID_ARGUMENT', 'a message handler must be a function')
    }
    const registered = handler as AnyHandler
    // Copy on write: dispatch iterates the array it got, whatever handlers do meanwhile.
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), registered])
    let active = true
    return () => {
      if (!active) return
      active = false
      const rest = (this.handlers.get(type) ?? []).filter((each) => each !== registered)
      if (rest.length === 0) this.handlers.delete(type)
      else this.handlers.set(type, rest)
    }
  }

  /**
   * The client's requests whose handlers still run, in bytes: the connection holds its next
   * frames back while this is over `outboundHighWaterBytes`. While the server waits for an
   * answer of the client's (`peer.request`), up to `maxOutboundBytes` of them run before it
   * does: a handler may be waiting for that answer, and it would come behind the frames held
   * back, until the request timed out. Not without bound: a client that holds its answer back
   * (or a handler that asks it something each time) had every request it sent run at once.
   */
  get requestBacklog(): number {
    if (this.requests.size === 0) return this.runningBytes
    const { maxOutboundBytes, outboundHighWaterBytes } = this.context.options
    return this.runningBytes - Math.max(0, maxOutboundBytes - outboundHighWaterBytes)
  }

  // `options?`, not a default: `null` from plain JavaScript means no options, as `undefined` does.
  request(method: string, data?: unknown, options?: RequestOptions): Promise<never> {
    const timeoutMs = options?.timeoutMs ?? this.context.options.requestTimeoutMs
    // The id is the `s` the `$req` gets: unique per session and direction, restarts included.
    const id = this.stream.lastSent + 1
    try {
      // Rejected at once: its timer would hold a closed server's process until the timeout.
      this.checkOpen()
      checkRequest(method, timeoutMs, options?.signal)
      this.sendReliable(controlTypes.request, { id, m: method, d: data }, false)
    } catch (error) {
      return Promise.reject(error as Error)
    }
    const answer = this.requests.add(id, method, timeoutMs, options?.signal) as Promise<never>
    this.link?.requestBacklogEased()
    return answer
  }

  join(room: string): void {
    this.checkOpen()
    checkRoom(room, this.context.cluster !== undefined)
    const rooms = this.context.rooms
    if (rooms.has(this, room)) return
    const max = this.context.options.maxRoomsPerSession
    if (rooms.count(this) >= max) {
      throw new LifelineError('TOO_MANY_ROOMS', `a session is in at most ${max} rooms`)
    }
    rooms.join(this, room)
    this.context.cluster?.joined(this, room)
    this.journal?.roomsTouched()
  }

  leave(room: string): void {
    // Once the server closed, as after the session ended: the store keeps the session's rooms
    // (and a cluster its presence) as they were.
    if (this.shut || !this.context.rooms.has(this, room)) return
    this.context.rooms.leave(this, room)
    this.cursors.forget(room)
    this.context.cluster?.left(this, room, false)
    this.journal?.roomsTouched()
  }

  cursor(room: string): string | undefined {
    return this.cursors.delivered.get(room)
  }

  setCursor(room: string, id: string): void {
    if (this.ended) return
    if (this.cursors.move(room, id, this.roomIds)) this.journal?.roomsTouched()
  }

  deliver(room: string, id: string, type: string, data: unknown): void {
    if (this.ended) return
    if (this.roomIds) {
      this.cursors.deliver(room, id, false)
      this.sendRoom(room, id, type, data)
      return
    }
    // The cursor first: the commit that stores the envelope stores the cursor with it.
    this.cursors.deliver(room, id, true)
    this.journal?.roomsTouched()
    // The journal gets where the room keeps it: the store may keep that, not a copy.
    this.delivering = [room, id]
    try {
      this.offer(type, data)
    } catch (error) {
      // As `sendRoom`: a message this client's codec refuses (the process that sent it checked
      // its own codecs) is skipped and reported; nothing was numbered, the cursor is past it.
      this.context.failure('a room message cannot be encoded for a client', error, this)
    } finally {
      this.delivering = undefined
    }
  }

  sendUnreliable(type: string, data: unknown): void {
    if (this.ended) return
    try {
      this.send(type, data, { reliable: false })
    } catch (error) {
      this.context.failure('a message was not sent to a client', error, this)
    }
  }

  hasRoom(): boolean {
    const link = this.link
    return link === undefined || !link.writable || link.hasRoom()
  }

  whenRoom(callback: () => void): void {
    const link = this.link
    if (link === undefined) {
      callback()
      return
    }
    // One drain listener for every room that waits; a link that goes meanwhile calls them all.
    if (this.roomWaiters.push(callback) > 1) return
    link.whenDrained(() => {
      if (this.link === link) this.wakeRoomWaiters()
    })
  }

  /** The catch-ups that waited for the output to drain go on (`whenRoom`). */
  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters
    if (waiters.length === 0) return
    this.roomWaiters = []
    for (const waiter of waiters) waiter()
  }

  reset(room: string, id: string): void {
    if (this.ended) return
    this.cursors.reset(room, id)
    this.journal?.roomsTouched()
    this.context.fire('room:reset', this, { room })
  }

  /**
   * A room message numbered by its room: the same frame for every member on a codec, written
   * at once, neither numbered nor kept nor stored per member. While no link is up it counts as
   * delivered: the next resume goes back to the stored cursor (`rewindRooms`).
   */
  private sendRoom(room: string, id: string, type: string, data: unknown): void {
    const link = this.link
    if (link === undefined || !link.writable) return
    let encoded
    try {
      encoded = roomFrame(link.codec, room, id, type, data)
    } catch (error) {
      this.context.failure('a room message cannot be encoded for a client', error, this)
      return
    }
    const size = this.oversize(encoded.frame)
    if (size !== undefined) {
      this.tooLarge(size, true)
      return
    }
    // An acknowledgement that waits goes first, in the same write.
    if (this.ackHeld) this.flushAck()
    link.write(encoded.frame, encoded.framed)
  }

  /**
   * After a resume's `$welcome` (room messages numbered by their room): what went to the old
   * link may not have arrived, so each room goes on from its stored cursor; the client drops
   * by id what it already had.
   */
  rewindRooms(): void {
    const cluster = this.context.cluster
    if (!this.roomIds || cluster?.rewound === undefined) return
    for (const room of this.cursors.rewind()) cluster.rewound(this, room)
  }

  /**
   * The client's room cursors (a `$ack`'s `d`), checked (`RoomCursors.acknowledge`) and stored
   * lazily: a stale stored cursor costs duplicates on a resume, which the client drops by id.
   */
  private roomAcks(d: unknown): void {
    if (!this.roomIds) throw protocolError('room cursors from a client that did not say r')
    if (this.cursors.acknowledge(d)) this.journal?.roomsLater()
  }

  close(code = 1000, reason = ''): void {
    if (!(code === 1000 || (Number.isInteger(code) && code >= 3000 && code <= 4999))) {
      throw new LifelineError(
        'INVALID_ARGUMENT',
        `close code must be 1000 or 3000-4999, got ${String(code)}`,
      )
    }
    // Checked before it is measured: `Buffer.byteLength` of a number from plain JavaScript threw
    // a TypeError, not the documented INVALID_ARGUMENT.
    if (typeof reason !== 'string') {
      throw new LifelineError('INVALID_ARGUMENT', 'close reason must be a string')
    }
    if (Buffer.byteLength(reason) > 123) {
      throw new LifelineError('INVALID_ARGUMENT', 'close reason must be at most 123 bytes')
    }
    // Once the server closed, as `send` and `join`: the store has the session for the next
    // server, and ending it here deleted it there, so its client was reset on its return.
    if (this.shut && !this.ended) throw new LifelineError('CLOSED', shutMessage)
    const link = this.link
    this.end('closed')
    link?.close(code, reason)
  }

  /**
   * Handles one inbound envelope of an attached connection, read from a frame of `bytes` bytes
   * (they count toward the acknowledgement by bytes). Throws a protocol violation.
   */
  receive(envelope: Envelope, bytes = 0): void {
    const { t, s, a } = envelope
    if (envelope.r !== undefined) throw protocolError('r is sent by servers only')
    if (a !== undefined) this.acknowledge(a)
    if (t.charCodeAt(0) === 36 /* $ */) {
      this.control(envelope, bytes)
      return
    }
    if (s !== undefined) {
      if (this.receiveSeq(s, bytes) === 'duplicate') return
      this.journal?.touch()
    }
    this.context.counters.messagesReceived++
    const handlers = this.handlers.get(t)
    if (handlers === undefined) return
    const info: MessageInfo =
      s === undefined ? { seq: undefined, id: undefined } : { seq: s, id: `${this.id}:${s}` }
    for (let i = 0; i < handlers.length; i++) this.call(handlers[i] as AnyHandler, envelope.d, info)
  }

  /** The client processed everything up to `a`. Throws a protocol violation past what was sent. */
  acknowledge(a: number): void {
    this.stream.acknowledge(a)
    // The store may forget what the client acknowledged (in the next commit).
    this.journal?.touch()
    if (this.replayAwaitsAck) {
      this.replayAwaitsAck = false
      this.replayMore()
    }
  }

  /**
   * A connection takes the session over; `peerMax` is the `max` of its `$hello`, `roomIds` its
   * `r`.
   */
  attach(link: Link, user: User, peerMax: number, roomIds = false): void {
    this.dropLingering()
    this.link = link
    this.roomIds = roomIds && this.context.cluster?.rewound !== undefined
    this.codec = link.codec
    this.peerMax = peerMax
    this.user = user
    this.expiresAt = Infinity
    // With a shared store, `replayed` always marks what was sent: the rest waits for commits.
    this.replayed = this.journal === undefined ? undefined : this.stream.acknowledged
    this.replayAwaitsAck = false
    this.ackSent = this.ackBytesOwed = 0
    this.resendAck = undefined
    this.resendDue = false
    this.stopAckTimer()
  }

  /**
   * Asks the client to resend what it sent after the last envelope processed, which the
   * connection discarded (PROTOCOL.md, section 9): `$resend` with that `a` (with a shared
   * store, no more than a commit stored: what the client resends of the rest is a duplicate).
   */
  askResend(): void {
    const link = this.link
    if (link === undefined || !link.writable) return
    const stream = this.stream
    let a = stream.lastProcessed
    if (this.journal !== undefined) {
      // Never below an `a` the client was told, on this link or by the `$welcome` that resumed
      // it (`ackTold`): acknowledgements only grow, and the client refuses a lower one.
      a = Math.max(Math.min(a, this.journal.ackable()), this.ackSent, this.ackTold)
      const last = this.resendAck
      if (last !== undefined && a <= last && stream.lastProcessed > last) {
        // The client resent, right behind its marker, the envelope after the last `$resend`'s
        // `a`, and it was processed: the next `$resend` must acknowledge it (PROTOCOL.md, 9),
        // so it waits for the commit that stores it (`pump`), discarding meanwhile.
        this.resendDue = true
        return
      }
      this.ackSent = a
      this.ackBytesOwed = 0
    }
    this.resendDue = false
    this.resendAck = a
    if (a > this.ackTold) this.ackTold = a
    link.write(link.codec.encode({ t: controlTypes.resend, a }))
  }

  /** A commit stored more (or the store is unreachable): acknowledge and send what may go. */
  pump(): void {
    if (this.resendDue) this.askResend()
    if (this.link === undefined || this.replayed === undefined) return
    this.replayMore()
    this.sendAck()
  }

  /**
   * With a shared store: `$ack` what a commit stored and the client was not told yet, batched as
   * the protocol's acknowledgements are (PROTOCOL.md, 5): at once once `ackEvery` are owed, else
   * with the next frame written to the link (a room message, in the same write: a client that
   * sends to a room it is in gets its own message back about when the commit is done), or
   * `ackDelayMs` after the commit at the latest. A `$ack` of its own for every commit was one
   * more write for the server, and one more frame for the client to read, per message a client
   * sends.
   */
  private sendAck(): void {
    const journal = this.journal
    const link = this.link
    if (journal === undefined || link === undefined || !link.writable) return
    const a = Math.min(journal.ackable(), this.stream.lastProcessed)
    if (a <= this.ackSent) return
    if (
      a - this.ackSent >= this.context.options.ackEvery ||
      this.ackBytesOwed >= this.stream.ackBytes
    ) {
      this.flushAck()
    } else if (!this.ackHeld) {
      this.ackHeld = true
      this.context.acks.hold(this)
    }
  }

  /** The `$ack` that `sendAck` held is due (`AckSchedule`). */
  flushAckDue(): void {
    this.ackHeld = false
    this.flushAck()
  }

  /** Writes the `$ack` that `sendAck` holds, if it is still owed. */
  private flushAck(): void {
    this.stopAckTimer()
    const journal = this.journal
    const link = this.link
    if (journal === undefined || link === undefined || !link.writable) return
    const a = Math.min(journal.ackable(), this.stream.lastProcessed)
    if (a <= this.ackSent) return
    this.ackSent = a
    this.ackBytesOwed = 0
    const frame = link.codec.encode({ t: controlTypes.ack, a })
    // Framed here, as room messages are: it mostly leaves with one, in the same write.
    link.write(frame, smallMessage(frame, link.codec.binary))
  }

  private stopAckTimer(): void {
    if (!this.ackHeld) return
    this.ackHeld = false
    this.context.acks.cancel(this)
  }

  /**
   * After a resume's `$welcome`: resends what the client has not acknowledged, paced so that
   * one client's replay of megabytes neither holds every other client up nor makes the server
   * write for a client that does not read: a connection's share of a turn at a time (see
   * `Turns`), while the unsent output is under `outboundHighWaterBytes` (the rest follows as it
   * drains), and while what was resent and not acknowledged is under `maxOutboundBytes` (the
   * rest follows as the client acknowledges).
   */
  replay(ack: number): void {
    // The `$welcome` just written carried the latest.
    this.ackTold = this.stream.lastProcessed
    this.stream.acknowledge(ack)
    this.replayed = this.stream.acknowledged
    this.replayMore()
  }

  /** The connection went away; false if it was not the one attached. */
  detach(link: Link): boolean {
    if (this.link !== link) return false
    this.link = undefined
    this.replayed = undefined
    this.replayAwaitsAck = false
    this.stream.linkDown()
    this.stopAckTimer()
    this.requests.stopIfIdle()
    this.wakeRoomWaiters()
    return true
  }

  /** Ends the session for good. The server forgets it and tells the store. */
  end(reason: SessionEndReason): void {
    if (this.ended) return
    this.ended = true
    this.dropLingering()
    this.link = undefined
    this.stream.dispose()
    this.stopAckTimer()
    this.journal?.stop()
    this.requests.rejectAll(closedMessage)
    // Their answers have nobody to go to: forgotten, or a handler that never settles (an await
    // with no timeout) was held here for as long as the application holds the peer.
    this.running.clear()
    this.runningBytes = 0
    this.wakeRoomWaiters()
    const cluster = this.context.cluster
    const moved = reason === 'moved'
    const rooms = this.context.rooms.roomsOf(this)
    for (const room of rooms) {
      this.context.rooms.leave(this, room)
      cluster?.left(this, room, moved)
    }
    cluster?.left(this, broadcastRoom, moved)
    this.context.sessionEnded(this, reason, rooms)
  }

  /** Settles once the handlers of the client's requests running now are done. */
  async handlersDone(): Promise<void> {
    await Promise.allSettled([...this.running.values()].map(([answered]) => answered))
  }

  /**
   * Answers the client's requests whose handlers still run with `CLOSED`: their results will
   * reach neither the store nor the client. Else the request, processed and stored so, was never
   * answered: the next process (or the next server on the store) drops it again as a duplicate.
   */
  answerRunning(message: string): void {
    for (const request of [...this.running.keys()]) {
      this.finished(request)
      this.respond(request.id, undefined, { code: 'CLOSED', message })
    }
  }

  /** The server is closing: requests fail, timers stop; the state is kept for the store. */
  shutDown(): void {
    this.answerRunning('the server closed before the handler finished')
    this.shut = true
    this.stream.dispose()
    this.stopAckTimer()
    this.requests.rejectAll('the server is closing')
  }

  /** What the store keeps of this session. */
  toRecord(expiresAt: number): SessionRecord {
    const state = this.stream.snapshot()
    return {
      id: this.sessionId,
      peerId: this.id,
      lastClientSeq: state.lastProcessed,
      lastServerSeq: state.lastSent,
      // A broadcast's payload is kept prepared, a large one as its frame: the store gets the
      // payload (a frame's decoded when the store reads it, `storedEnvelope`).
      replay: state.unacked.map(storedEnvelope),
      lossy: state.lossy,
      rooms: this.context.rooms.roomsOf(this),
      roomCursors: this.roomCursors(),
      expiresAt,
    }
  }

  private dropLingering(): void {
    const lingering = this.lingering
    this.lingering = undefined
    lingering?.terminate()
  }

  /**
   * Every room of the session and its cursor (`''` before the first message). Without a
   * prototype: a room may be named `__proto__`.
   */
  roomCursors(): Record<string, string> {
    const cursors = Object.create(null) as Record<string, string>
    for (const room of this.context.rooms.roomsOf(this))
      cursors[room] = this.cursors.stored.get(room) ?? ''
    const all = this.cursors.stored.get(broadcastRoom)
    if (all !== undefined) cursors[broadcastRoom] = all
    return cursors
  }

  /**
   * Encodes, numbers, keeps and (when attached) writes a reliable envelope. A frame over the
   * client's limit throws `MESSAGE_TOO_LARGE`, or with `report` is reported and skipped (false).
   */
  private sendReliable(type: string, data: unknown, report: boolean): boolean {
    const stream = this.stream
    const seq = stream.lastSent + 1
    // Encoded before the stream numbers and keeps it: a value the codec (or the client) refuses
    // throws here, to the caller, instead of sitting in the replay buffer and failing on every
    // resend.
    const a = stream.lastProcessed
    const envelope = { t: type, d: data, s: seq, a }
    // A broadcast's frame shares its payload's bytes with every session's (`SplicedFrame`).
    let frame: WrittenFrame =
      splicedFrame(this.codec, envelope) ?? encodeEnvelope(this.codec, envelope)
    const size = this.oversize(frame)
    if (size !== undefined) {
      const error = this.tooLarge(size, report)
      if (report) return false
      throw error
    }
    // Kept as its frame's bytes (see `SentFrame`), unless a journal stores the payload, it is a
    // broadcast's (whose one encoding every session shares), it is small, or other sessions
    // were sent the same payload in this turn (which they share too).
    let kept = data
    const bytes =
      this.journal === undefined && !isPrepared(data) && !(frame instanceof SplicedFrame)
        ? keptBytes(frame)
        : undefined
    if (bytes !== undefined && !keptBefore(data)) {
      frame = bytes
      kept = new SentFrame(this.codec, bytes, a)
    }
    this.preEncoded = frame
    try {
      stream.send(type, kept)
    } finally {
      this.preEncodedEnvelope = this.preEncoded = undefined
    }
    if (this.replayed !== undefined) {
      // Kept behind a paced replay: the work counts all the same, or a client flooding
      // requests meanwhile would have every frame it sends answered at once.
      this.link?.produced(typeof frame === 'string' ? frame.length : frame.byteLength)
      // It overflowed the buffer: the replay's guard closes the link, whatever the replay waits
      // for. One waiting for a drain that a client which does not read never brings was left
      // open, its session lost, until the heartbeat found it.
      if (stream.lossy) this.replayMore()
    }
    return true
  }

  /**
   * The stream's `check`: the frame `sendReliable` encoded is this envelope's, measured for
   * `replayLimitBytes`; `transmit` sends it: one encode per message.
   */
  private readonly preEncode = (envelope: Envelope): number => {
    const frame = this.preEncoded ?? encodeEnvelope(this.codec, envelope)
    this.preEncodedEnvelope = envelope
    this.preEncoded = frame
    if (this.journal !== undefined) {
      const kept: JournaledEnvelope = { t: envelope.t, s: envelope.s as number }
      if ('d' in envelope) kept.d = plainPayload(envelope.d)
      if (this.delivering !== undefined) kept.ref = this.delivering
      this.journal.sent(kept)
    }
    return frameBytes(frame)
  }

  private replayMore(): void {
    const link = this.link
    const from = this.replayed
    if (link === undefined || from === undefined || !link.writable) return
    const stream = this.stream
    const journal = this.journal
    // With a shared store, only what a commit stored goes out.
    const sendable = journal === undefined ? Infinity : journal.sendable(stream.lastSent)
    let allowed = sendable - Math.max(from, stream.acknowledged)
    if (stream.lossy) {
      // What was sent meanwhile overflowed the replay buffer before it could go out: the rest
      // has a gap, which the client must never see. It resumes to a reset.
      link.slowConsumer()
      return
    }
    // A connection's share of a turn, within the turn's budget (see `Turns`): the kernel may
    // take megabytes at once, for nothing if the client does not read, and meanwhile every
    // other client waits.
    const turns = this.context.turns
    const unacknowledged = stream.bytesThrough(from)
    let budget = Math.min(
      turns.connectionBytes,
      this.context.options.maxOutboundBytes - unacknowledged,
    )
    if (budget <= 0 && unacknowledged > 0) {
      this.replayAwaitsAck = true
      return
    }
    const last = stream.resend(from, (bytes) => {
      // An overflow meanwhile dropped envelopes not yet resent: stop short of the gap.
      if (stream.lossy || budget <= 0 || allowed <= 0 || turns.spentOut || !link.hasRoom()) {
        return false
      }
      budget -= bytes
      allowed--
      return true
    })
    if (this.resentAckBehind) {
      // The frames resent carried the `a`s they were first encoded with, and the stream counts
      // its acknowledgement as sent with them: the latest goes after them.
      this.resentAckBehind = false
      const a = stream.lastProcessed
      if (link.writable && a > this.ackTold) {
        this.ackTold = a
        link.write(link.codec.encode({ t: controlTypes.ack, a }))
      }
    }
    // Closed meanwhile (a slow consumer): the next resume starts over.
    if (this.link !== link || this.replayed === undefined) return
    if (last < stream.lastSent) {
      this.replayed = last
      // Waiting for a commit, which pumps again.
      if (last >= sendable || this.replayAwaitsDrain === link) return
      // Every commit pumps the replay: without this, each would add a drain listener.
      this.replayAwaitsDrain = link
      link.whenDrained(() => {
        if (this.replayAwaitsDrain === link) this.replayAwaitsDrain = undefined
        if (this.link === link) this.replayMore()
      })
      return
    }
    if (journal !== undefined) {
      this.replayed = last
      return
    }
    this.replayed = undefined
    // Acknowledgements owed meanwhile waited for the replay.
    stream.flushAck()
  }

  private readonly transmit = (envelope: Envelope): void => {
    const link = this.link
    if (link === undefined || !link.writable) return
    const journal = this.journal
    if (journal !== undefined) {
      // Never acknowledge what a commit has not stored.
      const a = Math.min(envelope.a ?? 0, journal.ackable())
      envelope.a = a
      if (a > this.ackSent) {
        this.ackSent = a
        this.ackBytesOwed = 0
      }
    }
    const preEncoded = this.preEncoded
    if (preEncoded !== undefined && envelope === this.preEncodedEnvelope) {
      this.preEncodedEnvelope = this.preEncoded = undefined
      if ((envelope.a ?? 0) > this.ackTold) this.ackTold = envelope.a ?? 0
      link.write(preEncoded)
      return
    }
    let frame: OutboundFrame
    try {
      frame = encodeEnvelope(link.codec, envelope)
    } catch (error) {
      // A replayed envelope the codec of this connection cannot encode (the session resumed on
      // another codec): it cannot be delivered exactly, so the session must not be resumed.
      this.stream.lossy = true
      this.context.failure(
        'a replayed message cannot be encoded with this connection codec',
        error,
        this,
      )
      link.close(1011, 'cannot replay the session')
      return
    }
    // A kept frame resent as it was encoded: its `a` may be behind (see `replayMore`).
    // (A session with a journal keeps no frames: its `a`s are the journal's, `sendAck`.)
    const { d } = envelope
    const a = envelope.a ?? 0
    if (d instanceof SentFrame && d.codec === link.codec) {
      if (d.a < a && journal === undefined) this.resentAckBehind = true
    } else if (a > this.ackTold) {
      this.ackTold = a
    }
    link.write(frame)
  }

  /**
   * The stream classifies a reliable envelope (and owes its acknowledgement); with a shared
   * store, its bytes also count toward the `$ack` that follows the commit (`sendAck`).
   */
  private receiveSeq(s: number, bytes: number): Arrival {
    if (this.journal !== undefined) this.ackBytesOwed += bytes
    return this.stream.receive(s, bytes)
  }

  private control(envelope: Envelope, bytes: number): void {
    const { t, s } = envelope
    switch (t) {
      case controlTypes.request: {
        if (s === undefined) throw protocolError('$req must be reliable (carry s)')
        if (this.receiveSeq(s, bytes) === 'duplicate') return
        this.journal?.touch()
        this.runMethod(parseRequest(envelope.d), s, bytes)
        return
      }
      case controlTypes.response: {
        if (s === undefined) throw protocolError('$res must be reliable (carry s)')
        if (this.receiveSeq(s, bytes) === 'duplicate') return
        this.journal?.touch()
        this.requests.respond(envelope.d)
        return
      }
      case controlTypes.ack:
      case controlTypes.ping:
      case controlTypes.pong:
        if (s !== undefined) throw protocolError(`${t} is not reliable (carries no s)`)
        if (t === controlTypes.ack && envelope.d !== undefined) this.roomAcks(envelope.d)
        if (t === controlTypes.ping) {
          const link = this.link
          // Only `ts` goes back: the connection checked that the `$ping` is small and has one.
          const { ts } = envelope.d as { ts: number }
          if (link?.writable === true)
            link.write(link.codec.encode({ t: controlTypes.pong, d: { ts } }))
        }
        return
      case controlTypes.hello:
        throw protocolError('$hello after the handshake')
      case controlTypes.resend:
        // The connection takes the marker it asked for; this one was not, or is not a marker.
        throw protocolError('$resend from a client that was not sent one, or with s or d')
      case controlTypes.welcome:
      case controlTypes.error:
        throw protocolError(`${t} is sent by servers only`)
      default:
        throw protocolError('unknown control frame type')
    }
  }

  private call(handler: AnyHandler, data: unknown, info: MessageInfo): void {
    try {
      const result = handler(data, this, info)
      if (isThenable(result)) {
        result.then(undefined, (error: unknown) => this.context.handlerError(error, this))
      }
    } catch (error) {
      this.context.handlerError(error, this)
    }
  }

  private runMethod(request: InboundRequest, seq: number, bytes: number): void {
    const method = this.context.methods.get(request.method) as
      MethodImplementation<S, User> | undefined
    if (method === undefined) {
      this.respond(request.id, undefined, {
        code: 'NOT_FOUND',
        message: `no method named ${JSON.stringify(request.method.slice(0, 64))}`,
      })
      return
    }
    let result: unknown
    let thenable: boolean
    try {
      // Its `info` as a message's: what an idempotent method keys its effects by, since a
      // request a killed process ran reaches the next with the same one (PROTOCOL.md, 11).
      result = (method as (data: unknown, peer: Peer<S, User>, info: RequestInfo) => unknown)(
        request.data,
        this,
        { seq, id: `${this.id}:${seq}` },
      )
      // Reading `then` runs a getter of the result's: one that throws fails the handler, which
      // is answered; thrown from here, the request was processed and never answered.
      thenable = isThenable(result)
    } catch (error) {
      this.reject(request.id, error)
      return
    }
    if (!thenable) {
      this.respond(request.id, result)
      return
    }
    // Answered once: here, or by `answerRunning` if the session goes first.
    const answered = Promise.resolve(result).then(
      (value) => {
        if (this.finished(request)) this.respond(request.id, value)
      },
      (error: unknown) => this.reject(request.id, error, this.finished(request)),
    )
    // Acknowledging a request does not wait for its answer: a client could pipeline requests
    // to a slow handler without end, each held with its data while it runs.
    const cost = bytes + waitingOverheadBytes
    this.running.set(request, [answered, cost])
    this.runningBytes += cost
    this.context.track(answered)
  }

  /** The handler of `request` is done: false if it was answered already. */
  private finished(request: InboundRequest): boolean {
    const entry = this.running.get(request)
    if (entry === undefined) return false
    this.running.delete(request)
    this.runningBytes -= entry[1]
    this.link?.requestBacklogEased()
    return true
  }

  private reject(id: string | number, error: unknown, answer = true): void {
    const { payload, deliberate } = errorPayload(error)
    if (!deliberate) this.context.handlerError(error, this)
    if (answer) this.respond(id, undefined, payload)
  }

  private respond(
    id: string | number,
    value: unknown,
    error?: { code: string; message: string },
  ): void {
    // A session that ended while the handler ran has nobody to answer; once the server closed,
    // the store has the session as it was.
    if (this.ended || this.shut) return
    try {
      this.sendReliable(
        controlTypes.response,
        error === undefined ? { id, d: value } : { id, e: error },
        false,
      )
    } catch (encodeError) {
      this.context.failure('an RPC response cannot be encoded', encodeError, this)
      // The caller is told why, as a client that cannot send its answer tells it (PROTOCOL.md,
      // 8): too large for this client is a limit it can act on, and a value the codec refuses
      // is `ENCODE_FAILED`, not a failure of the handler. The messages are fixed: the codec's
      // may quote the value.
      const tooLarge = isLifelineError(encodeError, 'MESSAGE_TOO_LARGE')
      try {
        this.sendReliable(
          controlTypes.response,
          {
            id,
            e: tooLarge
              ? { code: 'MESSAGE_TOO_LARGE', message: 'the response is too large for this client' }
              : { code: 'ENCODE_FAILED', message: 'the response could not be encoded' },
          },
          false,
        )
      } catch (fallbackError) {
        // Not even a short error answer goes out: the link cannot carry this session's replies.
        this.context.failure('an RPC error response cannot be sent', fallbackError, this)
        this.link?.close(1011, 'internal error')
      }
    }
  }
}
