import type { Duplex } from 'node:stream'
import { maxControlFrameBytes, type Envelope, type ReliableStream } from '@lifeline/core/protocol'
import type { RawData, WebSocket } from 'ws'
import { HeldFrames } from './heldFrames.js'
import { readSliceBytes } from './readSlices.js'
import type { Turns } from './turns.js'

/**
 * What a waiting frame is counted for on top of its size; a request whose handler runs is counted
 * so too (`Session.requestBacklog`).
 */
export const waitingOverheadBytes = 256
/**
 * What handling a frame read counts for in a connection's share of a turn, on top of its size.
 * Receiving, decoding and checking a small frame costs about what encoding and writing 1 to
 * 2 KiB does (a CPU profile of the abuse benchmark: some 4.5 µs per `$req` frame, 2 to 3 µs per
 * KiB written).
 */
export const frameWorkBytes = 1024
/**
 * What a byte that a socket read counts for in a turn when its reading resumes (`ws` then parses
 * it at once, and a connection in line keeps the frames): parsing and keeping a frame costs about
 * a third of handling it, some 300 bytes' worth, eight times the size of a 40-byte frame.
 */
export const parseWorkFactor = 8

/**
 * What a connection may make the server do in a turn whose work is spent, and still be read as
 * its frames come rather than wait in line: a few small frames (each counts its size plus
 * `frameWorkBytes`), what a client that calls now and then sends. A read past it, from a
 * connection that did not wait in line just before, waits in line unparsed.
 */
export const lightReadBytes = 4 * 1024

/** What the output bound needs of its connection. */
export interface OutputBoundHost {
  readonly socket: WebSocket
  /** The upgraded TCP (or TLS) socket under `socket`. */
  readonly transport: Duplex
  /** `ws` is given the socket's reads a slice at a time (`readInSlices`). */
  readonly readsInSlices: boolean
  /** The stream of the session attached, if any: what the client has not acknowledged. */
  stream(): ReliableStream | undefined
  /** The frames of the client's requests whose handlers still run (`Session.requestBacklog`). */
  requestBacklog(): number
  /** True once the handshake is answered and until the connection closes. */
  isOpen(): boolean
  /** Handles a frame held while reading was paused. */
  dispatch(data: RawData, isBinary: boolean): void
  /** Handles a control envelope read past what may wait (`$ack`, `$ping`, `$pong`). */
  deliver(envelope: Envelope): void
  /**
   * Decodes again, and handles, the frame of an envelope that waited for the output to come
   * back under the high-water mark (checked and acknowledged already).
   */
  redeliver(data: Buffer, isBinary: boolean): void
  /** Applies the client's acknowledgement `a` (of an envelope that waits). */
  acknowledge(a: number): void
  /** Reading was paused (for `stats.readsPaused`). */
  paused(): void
  /** Closes the connection as a slow consumer. */
  slowConsumer(unsent: number, unacked: number): void
  /**
   * Everything that waited has been handled: asks the client to resend what was discarded.
   * True if asked on the link (`$resend`, to a client that said `rs`), which stays up; false if
   * the connection was closed for it (1012), and the client resumes at once and resends.
   */
  resend(): boolean
}

export interface OutputLimits {
  readonly outboundHighWaterBytes: number
  readonly maxOutboundBytes: number
}

/**
 * A connection's limits: the options', the mark raised to the socket's own write buffer mark
 * (`writableHighWaterMark`: 16 KiB on Node 20, 64 KiB from Node 22) when it is under it. Node
 * reports a drain only after a write found its buffer at that mark: output over a lower mark
 * and under it never drains by an event, and a replay waiting for it was tried again every turn,
 * a hundred thousand times a second, while its client did not read.
 */
export function outputLimits(options: OutputLimits, transport: Duplex): OutputLimits {
  const mark = Math.max(options.outboundHighWaterBytes, transport.writableHighWaterMark)
  if (mark === options.outboundHighWaterBytes) return options
  return {
    outboundHighWaterBytes: mark,
    maxOutboundBytes: Math.max(options.maxOutboundBytes, mark),
  }
}

/**
 * The send window the server gives a client in `$welcome` (`w`, PROTOCOL.md, section 9): the
 * bytes of reliable frames it may have written and not yet had acknowledged. The server's
 * unacknowledged output is about the answers to what the client has in flight (the `a` that
 * brings it down is written behind the client's own frames): with half of
 * `outboundHighWaterBytes` in flight, an echo never crosses the mark, nor a load whose answers
 * are up to twice its requests or that shares the mark with as much pushed by the server, so
 * an honest client's frames neither wait nor are discarded and resent. More would let a
 * pipelining echo cross it; much less would throttle a client over a link with a long round
 * trip (512 KiB by default: some 5 ms at 100 MB/s). At least a control frame, as `max`.
 */
export function clientWindowBytes(limits: OutputLimits): number {
  return Math.max(maxControlFrameBytes, Math.floor(limits.outboundHighWaterBytes / 2))
}

/**
 * Bounds what one connection makes the server produce (PROTOCOL.md, section 9): past
 * `outboundHighWaterBytes` unsent, its frames are not read until the output drains; past
 * `outboundHighWaterBytes` unsent or unacknowledged (beyond the handshake's), the envelopes it
 * sends wait, in order, until the client has taken enough (their acknowledgements count at once);
 * past `outboundHighWaterBytes` of them waiting, the next are read for their acknowledgements
 * only and discarded, and once those that waited are handled the client is asked to resend them:
 * on the link (`$resend`, then discarding until the client's own `$resend` comes back), or, if
 * it did not say it can, by a close (1012) and a resume; past `2 * maxOutboundBytes` discarded
 * in a round, or `maxOutboundBytes` unsent or unacknowledged, or once its replay buffer
 * overflowed while it was connected, it is a slow consumer. Unacknowledged bytes count because
 * the kernel's socket buffers take megabytes that the client may never read: only its
 * acknowledgements tell.
 */
export class OutputBound {
  /** Frames are not read until the output drains. */
  readsPaused = false
  /**
   * Frames `ws` had already read when reading paused (the rest of one TCP read), handled once
   * the output drains: handling them now would add output without bound.
   */
  private readonly held = new HeldFrames()
  /**
   * Output of the handshake (`$welcome` and the replay, bounded by the replay limit), allowed
   * on top of `maxOutboundBytes` for this connection, until the client acknowledges it
   * (`handshakeAllowance`).
   */
  private handshakeBytes = 0
  /** The stream's `acknowledgedBytes` when the handshake was answered. */
  private acknowledgedAtOpen = 0
  /** Output written in turn `turn` (of `turns`) for this connection, and frames read. */
  private turnBytes = 0
  /** Of `turnBytes`, the frames read and the socket reads let through to be parsed. */
  private turnReadBytes = 0
  private turn = -1
  /** The last turn in which this connection waited in line. */
  private waited = -2
  /**
   * It waited in line for its output, and has sent frames ever since: what it sends waits in
   * line too, rather than being handled as it is read. It leaves the line once it has sent
   * nothing for a turn after its last was handled.
   */
  private inLine = false
  /** The turn in which it was last served in line. */
  private served = -2
  /**
   * The frames of the envelopes that arrived while the output was over the high-water mark,
   * oldest first: handled once it is back under. Handling them at once would have a client
   * that never reads make the server produce up to `maxOutboundBytes`, be closed, come back and
   * start over; this way it costs about `outboundHighWaterBytes`. Their bytes are kept, not the
   * decoded envelopes, and decoded again when they go: a client that floods small requests has
   * hundreds waiting for seconds (a client that never reads, until it is closed), and as
   * objects (three each) they were most of what every minor collection had to copy.
   */
  private readonly waiting = new HeldFrames()
  private waitingBytes = 0
  /**
   * Past `outboundHighWaterBytes` waiting, frames are read for their acknowledgements only, and
   * discarded: the client still holds them and resends them when asked. Reading on (rather than
   * pausing) is what finds the acknowledgements a pipelining client queued behind its requests.
   */
  private discarding = false
  /** Frames discarded since the connection opened, the server's last `$resend` or its marker. */
  private discardedBytes = 0
  /**
   * The client was sent `$resend`: discarding goes on until its own `$resend` (the marker) says
   * that what follows is what it resends, and what it sends after.
   */
  private rewinding = false
  /**
   * The client was asked to resend: its acknowledgements brought the output under the mark, so
   * it reads. From then on the frames discarded count at their size, which its own
   * `maxUnackedBytes` bounds (an honest one resends at most its outbox, a burst of small frames
   * then); before, each with the overhead of a waiting frame too, so that a client that never
   * reads and floods small frames is closed the sooner.
   */
  private reads = false
  /** A release of `waiting` is due in a later turn, or waits for a drain. */
  private releaseDue = false
  private awaitsDrain = false

  constructor(
    private readonly host: OutputBoundHost,
    private readonly limits: OutputLimits,
    private readonly turns: Turns,
  ) {}

  /** Reading is paused (until the output drains, or the connection's turn). */
  get paused(): boolean {
    return this.readsPaused
  }

  /**
   * Its client is behind: it waits in line, or what it was sent and has not taken is over
   * `outboundHighWaterBytes`. Output made for it from elsewhere (a broadcast) waits for its
   * place in line once the turn's work is spent (`Connection.write`).
   */
  get behind(): boolean {
    // In line until a turn passes after it was last served (as `hold` lets it leave): a client
    // that only receives is never asked to leave by a frame of its own.
    const inLine = this.inLine && this.turns.turn <= this.served + 1
    return this.host.isOpen() && (this.readsPaused || inLine || this.overHighWater)
  }

  /** Bytes written to the socket and not sent yet: the transport's and `ws`'s own. */
  get unsentBytes(): number {
    return this.host.socket.bufferedAmount
  }

  /**
   * True while what this connection made the server write and the client has not taken, unsent
   * or unacknowledged (beyond the handshake's output), is over `outboundHighWaterBytes`.
   */
  get overHighWater(): boolean {
    const mark = this.limits.outboundHighWaterBytes
    if (this.host.socket.bufferedAmount > mark) return true
    const stream = this.host.stream()
    return stream !== undefined && stream.unackedBytes - this.handshakeAllowance(stream) > mark
  }

  /**
   * Frames wait: the output is over the mark, or the requests whose handlers still run are (a
   * handler that takes its time must not have the client's every request run and held at once).
   */
  private get mustWait(): boolean {
    return this.overHighWater || this.host.requestBacklog() > this.limits.outboundHighWaterBytes
  }

  /** The requests under way came down (or to none counted): the frames waiting may go. */
  requestBacklogEased(): void {
    this.releaseWhenUnder()
  }

  /**
   * What of the handshake's output is still allowed on top of the limits: its bytes, less what
   * the client has acknowledged since (the replay is the oldest of what it holds, so it is
   * acknowledged first). Kept whole, a resume's replay of megabytes, read and acknowledged,
   * raised the limits for the rest of the connection: a client that stopped reading later was
   * let run past `replayLimitBytes` before it was closed, and its session, overflowed, was
   * reset rather than resumed exactly.
   */
  private handshakeAllowance(stream: ReliableStream | undefined): number {
    if (this.handshakeBytes === 0 || stream === undefined) return this.handshakeBytes
    const acknowledged = stream.acknowledgedBytes - this.acknowledgedAtOpen
    return Math.max(0, this.handshakeBytes - acknowledged)
  }

  /**
   * An envelope decoded and checked from frame `data`: true if it waits (the output is over the
   * high-water mark, or others wait before it; its frame is kept, and decoded again when it
   * goes), false if it may be handled now. Its acknowledgement is applied at once: it is what
   * brings the output back under the mark.
   */
  wait(envelope: Envelope, data: Buffer, isBinary: boolean): boolean {
    if (this.waiting.size === 0 && !this.discarding && !this.mustWait) return false
    const { a } = envelope
    if (a !== undefined) {
      this.host.acknowledge(a)
      if (this.waiting.size === 0 && !this.discarding && !this.mustWait) return false
    }
    // `$ack`, `$ping`, `$pong`: no order to keep, and a `$pong` is a control frame's worth of
    // output (as when discarding). A `$ping` that waited for a handler that takes its time had
    // the client's heartbeat find the link dead, and the resumed link wait the same.
    const { t } = envelope
    if (
      !this.discarding &&
      envelope.s === undefined &&
      (t === '$ping' || t === '$pong' || t === '$ack')
    ) {
      this.host.deliver(envelope)
      // Its acknowledgement may have brought the output under the mark.
      this.releaseWhenUnder()
      return true
    }
    // A waiting frame costs its decoding again, and handling: a small one is mostly overhead.
    const cost = data.length + waitingOverheadBytes
    if (
      this.discarding ||
      (this.waiting.size > 0 && this.waitingBytes + cost > this.limits.outboundHighWaterBytes)
    ) {
      this.discard(envelope, this.reads ? data.length : cost)
      return true
    }
    if (this.waiting.size === 0) this.host.paused()
    this.waiting.push(data, isBinary)
    this.waitingBytes += cost
    this.releaseWhenUnder()
    return true
  }

  /**
   * An envelope past what may wait: its acknowledgement is applied (by `wait`), it is dropped.
   * A client that never acknowledges is closed as a slow consumer after `2 * maxOutboundBytes`
   * of them in a round (a client's own unacknowledged frames are bounded, by `maxUnackedBytes`,
   * 8 MiB by default): reading a flood to drop it must not go on for ever. A client that never
   * reads is never asked to resend, so its round never ends.
   */
  private discard(envelope: Envelope, cost: number): void {
    const host = this.host
    if (envelope.t === '$resend') {
      if (this.rewinding && envelope.s === undefined && envelope.d === undefined) {
        // The client's marker: a new round, from a clean count. Each round handles the waiting
        // envelopes at least (one at least), so a pipelining client always gets on.
        this.rewinding = this.discarding = false
        this.discardedBytes = 0
      } else {
        // Not asked for, or not a marker: the session finds it a violation.
        host.deliver(envelope)
      }
      return
    }
    if (envelope.s === undefined && envelope.t.charCodeAt(0) === 36 /* $ */) {
      // `$ack`, `$ping`, `$pong`: no order to keep, nothing to resend; a `$ping` is answered.
      host.deliver(envelope)
    }
    this.discarding = true
    this.discardedBytes += cost
    if (this.discardedBytes > 2 * this.limits.maxOutboundBytes && host.isOpen()) {
      const stream = host.stream()
      host.slowConsumer(host.socket.bufferedAmount, stream === undefined ? 0 : stream.unackedBytes)
      return
    }
    // Its acknowledgement may have brought the output under the mark.
    this.releaseWhenUnder()
  }

  /**
   * After each frame read and handled (or discarded), of `size` bytes: the work counts in the
   * connection's share of the turn as output does. A flood of frames that make no output (each
   * discarded, or answered later) would otherwise be decoded a whole TCP read at a time, every
   * connection in every turn, and hold everyone else up.
   */
  read(size: number): void {
    this.startTurn()
    this.produced(size + frameWorkBytes)
  }

  /**
   * Before `ws` parses a socket read of `bytes` (`readInSlices`): false if the connection waits
   * in line first, its reading paused and the read kept in the socket. A fresh read is work the
   * turn's budget did not see coming: a hundred connections that flood, readable together, were
   * each read up to their share in one poll of the event loop, 6 MiB of work, tens of
   * milliseconds that a client calling now and then waited behind. Once the turn's work is
   * spent, a connection is read only if it is light: it did not wait in line in the last turn,
   * and this read with what it was read in this turn is within `lightReadBytes`. A connection
   * resumed in this turn's line was given its place already.
   */
  mayParse(bytes: number): boolean {
    if (!this.host.isOpen()) return true
    if (this.readsPaused) return false
    const turns = this.turns
    if (!turns.spentOut || this.served === turns.turn) return true
    this.startTurn()
    if (this.waited < turns.turn - 1 && this.turnReadBytes + bytes <= lightReadBytes) {
      this.turnReadBytes += bytes
      return true
    }
    // Its frames are not kept in line once read (as a flood's are): this read is one to take
    // in turn, and a client that sent it and closed must have it handled before the close.
    this.deferRead()
    return false
  }

  private startTurn(): void {
    if (this.turn === this.turns.turn) return
    this.turn = this.turns.turn
    this.turnBytes = this.turnReadBytes = 0
  }

  /** After each frame written, of about `size` bytes. */
  written(size: number): void {
    this.produced(size)
    this.queued(this.host.socket.bufferedAmount)
  }

  /**
   * After a frame written, or queued for this connection's place in line (`Connection.write`),
   * with `unsent` bytes written (and queued): the limits apply to them alike.
   */
  queued(unsent: number): void {
    const stream = this.host.stream()
    const unacked = stream === undefined ? 0 : stream.unackedBytes
    if (
      unsent > this.limits.outboundHighWaterBytes ||
      unacked > this.limits.maxOutboundBytes ||
      stream?.lossy === true
    ) {
      this.backlogged(unsent, unacked)
    }
  }

  /**
   * After each frame of about `size` bytes made for this connection, written or not (kept
   * behind a replay): its share of the turn.
   */
  produced(size: number): void {
    const turns = this.turns
    turns.charge(size)
    this.startTurn()
    // Past its share of a turn (the kernel takes megabytes at once on a fast link), reading
    // waits in line: one connection's burst of requests must not hold everyone up. So does a
    // connection that waited in line just before, once the turn's budget is spent.
    if (
      (this.turnBytes += size) > turns.connectionBytes ||
      (turns.spentOut && this.waited >= turns.turn - 1)
    ) {
      this.yieldTurn()
    }
  }

  /** The handshake is answered: what it wrote is allowed on top of the limit. */
  opened(): void {
    const unsent = this.host.socket.bufferedAmount
    const stream = this.host.stream()
    this.handshakeBytes = Math.max(unsent, stream?.unackedBytes ?? 0)
    this.acknowledgedAtOpen = stream?.acknowledgedBytes ?? 0
    if (unsent > this.limits.outboundHighWaterBytes) this.backlogged(unsent, 0)
  }

  /**
   * Calls `callback` once the transport has drained, or when this connection's turn comes if
   * it need not drain.
   */
  whenDrained(callback: () => void): void {
    const transport = this.host.transport
    if (transport.writableNeedDrain) transport.once('drain', callback)
    else this.turns.defer(callback)
  }

  /**
   * Keeps a frame that arrived while reading is paused, or while the connection is in line;
   * false if it may be handled now.
   */
  hold(data: RawData, isBinary: boolean): boolean {
    if (!this.readsPaused) {
      if (this.inLine && this.turns.turn > this.served + 1) this.inLine = false
      if (!this.inLine) return false
      // A connection that floods gets its frames handled in its turn only, however it reads.
      this.readsPaused = true
      this.host.socket.pause()
      this.turns.defer(this.onDrain)
    }
    this.held.push(data as Buffer, isBinary)
    return true
  }

  private backlogged(unsent: number, unacked: number): void {
    const host = this.host
    // The handshake's own output is bounded by the replay limit: `opened` looks at it.
    if (!host.isOpen()) return
    const { maxOutboundBytes, outboundHighWaterBytes } = this.limits
    if (
      Math.max(unsent, unacked) > maxOutboundBytes + this.handshakeAllowance(host.stream()) ||
      host.stream()?.lossy === true
    ) {
      host.slowConsumer(unsent, unacked)
      return
    }
    // Without a pending 'drain' the transport holds less than its own high-water mark.
    if (unsent <= outboundHighWaterBytes || this.readsPaused || !host.transport.writableNeedDrain) {
      return
    }
    this.readsPaused = true
    host.paused()
    host.socket.pause()
    host.transport.once('drain', this.onDrain)
  }

  /** Lets the waiting envelopes go, in this connection's turn, once the output is under the mark. */
  private releaseWhenUnder(): void {
    if (this.releaseDue || this.waiting.size === 0 || !this.host.isOpen()) return
    if (!this.mustWait) {
      this.releaseDue = true
      this.turns.defer(this.release)
      return
    }
    // Requests under way come under as their handlers finish (`requestBacklogEased`).
    if (!this.overHighWater) return
    // Unacknowledged output comes under with the client's acknowledgements, which `wait`
    // applies; unsent output with a drain.
    const { transport } = this.host
    if (this.awaitsDrain || !transport.writableNeedDrain) return
    this.awaitsDrain = true
    transport.once('drain', this.drained)
  }

  private readonly drained = (): void => {
    this.awaitsDrain = false
    this.releaseWhenUnder()
  }

  private readonly release = (): void => {
    this.releaseDue = false
    const host = this.host
    this.waiting.take(this.releaseOne, this.mayRelease)
    if (!host.isOpen()) return
    if (this.discarding && this.waiting.size === 0) {
      // Everything before the first frame discarded is handled: the client resends the rest.
      // Asked on the link, it starts a new round at once: until its marker comes, it still
      // sends what it resent after its last `$welcome` (its outbox, up to its
      // `maxUnackedBytes`) and new frames as answers come in; counted with the round before,
      // an honest client with a full outbox passed the slow consumer's bound.
      this.rewinding = host.resend()
      if (this.rewinding) {
        this.reads = true
        this.discardedBytes = 0
      }
      return
    }
    this.releaseWhenUnder()
  }

  private readonly releaseOne = (data: Buffer, isBinary: boolean): void => {
    this.waitingBytes -= data.length + waitingOverheadBytes
    this.host.redeliver(data, isBinary)
  }

  /** Its share of a turn at most, as a connection in line (see `Turns`). */
  private readonly mayRelease = (): boolean =>
    this.host.isOpen() &&
    !this.mustWait &&
    (this.turn !== this.turns.turn || this.turnBytes <= this.turns.connectionBytes)

  private yieldTurn(): void {
    if (this.readsPaused || !this.host.isOpen()) return
    this.inLine = true
    this.deferRead()
  }

  /** Reading waits for this connection's place in line. */
  private deferRead(): void {
    this.waited = this.turns.turn
    this.readsPaused = true
    this.host.socket.pause()
    this.turns.defer(this.onDrain)
  }

  /**
   * Its client closed the connection: the frames it sent before and that wait here (their
   * connection in line, or its output over the mark) are handled now, in order, as they would
   * have been had it stayed; else they were dropped without a word. A connection the server
   * closes (a slow consumer, a violation, a move) is no longer open, and handles none.
   */
  clientClosed(): void {
    this.held.take(this.host.dispatch, () => this.host.isOpen())
  }

  private readonly onDrain = (): void => {
    this.readsPaused = false
    const host = this.host
    this.served = this.turns.turn
    // A share of a turn at a time: `read` pauses again once the frames handled reach it.
    this.held.take(host.dispatch, this.mayDispatch)
    if (this.held.size > 0 || !this.mayDispatch()) return
    if (!this.turns.spentOut) {
      // `ws` parses what the socket holds as soon as it resumes, work no budget would see
      // before it is done: it counts now. Read in slices, that is one slice past the frames
      // `read` counts as it handles them (it pauses again at its share); otherwise a whole TCP
      // read, over a thousand small frames.
      const parsedAtOnce = host.readsInSlices
        ? Math.min(host.transport.readableLength, readSliceBytes)
        : host.transport.readableLength
      this.turns.charge(parseWorkFactor * parsedAtOnce)
      host.socket.resume()
      return
    }
    // The turn's work is spent: reading resumes in a later turn.
    this.readsPaused = true
    this.turns.defer(this.onDrain)
  }

  private readonly mayDispatch = (): boolean => !this.readsPaused && this.host.isOpen()
}
