import type { Duplex } from 'node:stream'
import type { ReliableStream } from '@lifeline/core/protocol'
import type { RawData, WebSocket } from 'ws'
import type { Turns } from './turns.js'

/** What the output bound needs of its connection. */
export interface OutputBoundHost {
  readonly socket: WebSocket
  /** The upgraded TCP (or TLS) socket under `socket`. */
  readonly transport: Duplex
  /** The stream of the session attached, if any: what the client has not acknowledged. */
  stream(): ReliableStream | undefined
  /** True once the handshake is answered and until the connection closes. */
  isOpen(): boolean
  /** Handles a frame held while reading was paused. */
  dispatch(data: RawData, isBinary: boolean): void
  /** Reading was paused (for `stats.readsPaused`). */
  paused(): void
  /** Closes the connection as a slow consumer. */
  slowConsumer(unsent: number, unacked: number): void
}

export interface OutputLimits {
  readonly outboundHighWaterBytes: number
  readonly maxOutboundBytes: number
}

/**
 * Bounds what one connection makes the server produce (PROTOCOL.md, section 9): past
 * `outboundHighWaterBytes` unsent, its frames are not read until the output drains; past
 * `maxOutboundBytes` unsent or unacknowledged, or once its replay buffer overflowed while it
 * was connected, it is a slow consumer. Unacknowledged bytes count because the kernel's socket
 * buffers take megabytes that the client may never read: only its acknowledgements tell.
 */
export class OutputBound {
  /** Frames are not read until the output drains. */
  readsPaused = false
  /**
   * Frames `ws` had already read when reading paused (the rest of one TCP read), handled once
   * the output drains: handling them now would add output without bound.
   */
  private held: Array<[RawData, boolean]> = []
  /**
   * Output of the handshake (`$welcome` and the replay, bounded by the replay limit), allowed
   * on top of `maxOutboundBytes` for this connection.
   */
  private handshakeBytes = 0
  /** Output written in turn `turn` (of `turns`) for this connection. */
  private turnBytes = 0
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

  constructor(
    private readonly host: OutputBoundHost,
    private readonly limits: OutputLimits,
    private readonly turns: Turns,
  ) {}

  /** Bytes written to the socket and not sent yet: the transport's and `ws`'s own. */
  get unsentBytes(): number {
    return this.host.socket.bufferedAmount
  }

  /** After each frame written, of about `size` bytes. */
  written(size: number): void {
    this.produced(size)
    const unsent = this.host.socket.bufferedAmount
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
    if (this.turn !== turns.turn) {
      this.turn = turns.turn
      this.turnBytes = 0
    }
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
    this.handshakeBytes = Math.max(unsent, this.host.stream()?.unackedBytes ?? 0)
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
    this.held.push([data, isBinary])
    return true
  }

  private backlogged(unsent: number, unacked: number): void {
    const host = this.host
    // The handshake's own output is bounded by the replay limit: `opened` looks at it.
    if (!host.isOpen()) return
    const { maxOutboundBytes, outboundHighWaterBytes } = this.limits
    if (
      Math.max(unsent, unacked) > maxOutboundBytes + this.handshakeBytes ||
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

  private yieldTurn(): void {
    if (this.readsPaused || !this.host.isOpen()) return
    this.waited = this.turns.turn
    this.inLine = true
    this.readsPaused = true
    this.host.socket.pause()
    this.turns.defer(this.onDrain)
  }

  private readonly onDrain = (): void => {
    this.readsPaused = false
    const host = this.host
    const held = this.held
    this.served = this.turns.turn
    let next = 0
    while (next < held.length && !this.readsPaused && host.isOpen()) {
      const [data, isBinary] = held[next++] as [RawData, boolean]
      host.dispatch(data, isBinary)
    }
    this.held = held.slice(next)
    if (!this.readsPaused && host.isOpen()) host.socket.resume()
  }
}
