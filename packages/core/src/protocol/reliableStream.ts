import { LifelineError } from '@lifeline/codec'
import type { Clock, TimerHandle } from '../clock.js'
import type { OverflowPolicy } from '../sendQueue.js'
import type { Envelope } from './envelope.js'
import { protocolError } from './envelope.js'

export interface ReliableStreamOptions {
  clock: Clock
  /**
   * Writes an envelope to the link. Called only while `isLinkUp()` is true; for a new message,
   * right after `check` returned, so it may write the frame `check` encoded.
   */
  transmit(envelope: Envelope): void
  /** Whether the session's link is up (handshake done) and may carry envelopes now. */
  isLinkUp(): boolean
  /**
   * Encodes (or otherwise checks) every new envelope before it is numbered and kept, so a
   * message that could never be sent is refused at `send` rather than on every resend. Returns
   * the encoded frame's size in bytes, counted against `maxUnackedBytes`; without `check`, or
   * when it returns nothing, envelopes count 0 bytes.
   */
  check?(envelope: Envelope): number | void
  /**
   * Acknowledge at once after this many processed envelopes with nothing sent back.
   * @default 64
   */
  ackEvery?: number | undefined
  /**
   * Otherwise acknowledge at most this long after the first unacknowledged one.
   * @default 20
   */
  ackDelayMs?: number | undefined
  /**
   * Most envelopes kept until acknowledged.
   * @default 10000
   */
  maxUnacked?: number | undefined
  /**
   * Most bytes (encoded frame sizes, as `check` measures them) kept until acknowledged. Past
   * it, the overflow policy applies as for `maxUnacked`.
   * @default 8388608 (8 MiB)
   */
  maxUnackedBytes?: number | undefined
  /**
   * `'error'` (client outbox): sending throws `QUEUE_FULL`. `'drop-oldest'` (server replay
   * buffer): the oldest is dropped and the stream is marked `lossy`, so the session will not be
   * resumed as if nothing was lost.
   * @default 'error'
   */
  overflow?: Extract<OverflowPolicy, 'error' | 'drop-oldest'>
}

// Top-level constants rather than properties of `reliableStreamDefaults`: a bundle that only
// uses them does not carry the object.
const defaultAckEvery = 64
const defaultAckDelayMs = 20
const defaultMaxUnacked = 10_000
const defaultMaxUnackedBytes = 8 * 1024 * 1024

export const reliableStreamDefaults = {
  ackEvery: defaultAckEvery,
  ackDelayMs: defaultAckDelayMs,
  maxUnacked: defaultMaxUnacked,
  maxUnackedBytes: defaultMaxUnackedBytes,
  overflow: 'error',
} as const

/** What to do with an inbound reliable envelope. */
export type Arrival = 'process' | 'duplicate'

/** A reliable envelope as kept for resending (without its volatile `a`). */
export interface KeptEnvelope {
  t: string
  d?: unknown
  s: number
}

/** Everything a stream holds, as plain data: what a session store saves and restores. */
export interface ReliableStreamState {
  lastProcessed: number
  lastSent: number
  /** Sent and not yet acknowledged, oldest first. */
  unacked: KeptEnvelope[]
  lossy: boolean
}

/**
 * One side of a session's reliable streams: numbers and keeps what it sends until the peer
 * acknowledges it, resends after a reconnect, de-duplicates what it receives, and batches its
 * own acknowledgements. The client and the server both use it (PROTOCOL.md, section 5).
 */
export class ReliableStream {
  /** The last inbound `s` processed. */
  lastProcessed = 0
  /** True once the unacknowledged buffer overflowed under `'drop-oldest'`. */
  lossy = false
  /**
   * The `s` of the last envelope written on any link of this stream (since `restart`): the most
   * the peer can have processed. Those numbered after it are kept and were never written (sent
   * while offline, or held by the window): an acknowledgement of them would have them forgotten
   * unsent. Read only.
   */
  writtenThrough = 0
  /**
   * The `s` of the last envelope any link wrote since `restart`, whatever a handshake said since:
   * a peer that crashed may have handled up to it without storing it, and handles it again by
   * its id (PROTOCOL.md, section 11). `withdraw` takes back only what is numbered past it, lest
   * an envelope numbered down take the id of one a handler saw.
   */
  #everWritten = 0
  /**
   * The send window: the most bytes (as `check` measures them) of envelopes written on this
   * link and not yet acknowledged. Past it, new envelopes stay kept, unwritten, and go out in
   * order as acknowledgements come in; one envelope goes out whatever its size when none is in
   * flight, so a window smaller than a frame still moves. The client takes it from the server's
   * `$welcome` (`w`, PROTOCOL.md, section 9); `Infinity`: no window.
   */
  window = Infinity
  /**
   * Acknowledge at once once the reliable frames received since the last acknowledgement reach
   * this many bytes (as `receive` is told them), whatever `ackEvery` and `ackDelayMs` say: the
   * peer's send window (or its output bound) fills with bytes, not envelopes, and a few large
   * frames would otherwise wait for the timer (PROTOCOL.md, section 5). A quarter of the window:
   * set from `w` (the client) or the window the server gives (the server); `Infinity`: none.
   */
  ackBytes = Infinity
  /**
   * The bytes (as `check` measured them) of the envelopes the peer has acknowledged since the
   * stream was made: a measure of its progress, against which the client bounds what `$resend`
   * has it write again (PROTOCOL.md, section 9).
   */
  acknowledgedBytes = 0
  readonly #options: ReliableStreamOptions
  readonly #ackEvery: number
  readonly #ackDelayMs: number
  readonly #maxUnacked: number
  readonly #maxUnackedBytes: number
  readonly #dropOldest: boolean
  /**
   * Sent and not yet acknowledged, oldest first, from `#head` on. Acknowledged envelopes are cut
   * off once they are most of the array: O(1) amortised, where `Array.shift` would be O(n).
   */
  #kept: Envelope[] = []
  /** The size in bytes of each envelope of `#kept`, at the same index. */
  #sizes: number[] = []
  /**
   * The id of each envelope of `#kept`, at the same index: 1, 2, 3… in the order `send` was
   * called, never renumbered (sequence numbers are, after `restart` or `discard`), so a delivery
   * receipt keeps naming its message across resets.
   */
  #ids: number[] = []
  #nextId = 1
  /** The sum of `#sizes` from `#head` on. */
  #bytes = 0
  #head = 0
  #nextSeq = 1
  /** The `s` of the last envelope written on this link (the rest is kept, not written yet). */
  #written = 0
  /** The bytes of the kept envelopes numbered up to `#written`: in flight on this link. */
  #inFlight = 0
  /** Envelopes processed since our last acknowledgement went out. */
  #acksOwed = 0
  /** The bytes of the reliable frames received since our last acknowledgement went out. */
  #bytesOwed = 0
  #ackTimer: TimerHandle | undefined

  constructor(options: ReliableStreamOptions) {
    this.#options = options
    this.#ackEvery = options.ackEvery ?? defaultAckEvery
    this.#ackDelayMs = options.ackDelayMs ?? defaultAckDelayMs
    this.#maxUnacked = options.maxUnacked ?? defaultMaxUnacked
    this.#maxUnackedBytes = options.maxUnackedBytes ?? defaultMaxUnackedBytes
    this.#dropOldest = options.overflow === 'drop-oldest'
  }

  /** Envelopes sent (or waiting to be) and not yet acknowledged. */
  get unackedCount(): number {
    return this.#kept.length - this.#head
  }

  /** Bytes of the envelopes not yet acknowledged, as `check` measured them. */
  get unackedBytes(): number {
    return this.#bytes
  }

  /** The most bytes kept unacknowledged: `maxUnackedBytes`. */
  get maxUnackedBytes(): number {
    return this.#maxUnackedBytes
  }

  /** Bytes of the envelopes written on this link and not yet acknowledged. */
  get inFlightBytes(): number {
    return this.#inFlight
  }

  /** Bytes of the kept envelopes numbered up to `s`, as `check` measured them. */
  bytesThrough(s: number): number {
    let bytes = 0
    for (let i = this.#head; i < this.#kept.length && (this.#kept[i]?.s as number) <= s; i++) {
      bytes += this.#sizes[i] as number
    }
    return bytes
  }

  /** The `s` of the last envelope numbered. */
  get lastSent(): number {
    return this.#nextSeq - 1
  }

  /** The id `send` gave the last envelope it kept. */
  get lastId(): number {
    return this.#nextId - 1
  }

  /**
   * The id of the oldest envelope still kept, or the next id when none is: every envelope with
   * a lower id was acknowledged (or dropped under `'drop-oldest'`, or removed by `discard`).
   */
  get firstUnackedId(): number {
    return this.#ids[this.#head] ?? this.#nextId
  }

  /**
   * The highest `s` the peer has acknowledged: what it acknowledges next must not be lower.
   * Derived from what is kept (numbers have no gaps), so it costs no field; on a stream that
   * dropped envelopes under `'drop-oldest'` it is an upper bound.
   */
  get acknowledged(): number {
    const first = this.#kept[this.#head]
    return first === undefined ? this.lastSent : (first.s as number) - 1
  }

  /**
   * Numbers an envelope, transmits it now if the link is up, and keeps it until acknowledged.
   * Throws `QUEUE_FULL` when the buffer is full (in messages or bytes) under `'error'`. If
   * `check` or transmitting throws (the codec refuses the data), nothing is kept and no number
   * is used: a message that can never be encoded must not wait in the buffer to fail again on
   * every resend. `pastLimit` keeps it even when the buffer is full (for a small answer that
   * must not be lost, not for data), up to twice the limits. Under `'drop-oldest'`, a single envelope larger than
   * `maxUnackedBytes` is kept alone.
   */
  send(type: string, data: unknown, pastLimit = false): Envelope {
    // Past the limit, as much again at most: a peer that keeps asking for answers while it
    // acknowledges none must not grow the buffer without bound.
    if (pastLimit && this.unackedCount >= 2 * this.#maxUnacked) throw pastTwice(this.#maxUnacked)
    const full = !pastLimit && this.unackedCount >= this.#maxUnacked
    // Checked before transmitting: a message sent but not kept would be lost on a reconnect.
    if (full && !this.#dropOldest) {
      throw new LifelineError(
        'QUEUE_FULL',
        `${this.#maxUnacked} messages await acknowledgement (maxUnacked)`,
      )
    }
    const envelope: Envelope = { t: type, d: data, s: this.#nextSeq, a: this.lastProcessed }
    const size = this.#options.check?.(envelope) ?? 0
    const max = this.#maxUnackedBytes
    if (pastLimit && this.#bytes + size > 2 * max) throw pastTwice(max, 'bytes')
    const overBytes = !pastLimit && this.#bytes + size > max
    if (overBytes && !this.#dropOldest) {
      throw new LifelineError('QUEUE_FULL', `over ${max} bytes would await acknowledgement`)
    }
    // Behind envelopes the window holds, or past it, an envelope waits its turn, kept.
    const write =
      this.#options.isLinkUp() &&
      (this.window === Infinity || (this.#written === this.lastSent && this.#fits(size)))
    if (write) this.#transmit(envelope)
    if (full || overBytes) {
      // Oldest first, until the new one fits (or is alone).
      let count = full ? 1 : 0
      let bytes = this.#bytes + size
      for (let i = 0; i < count; i++) bytes -= this.#sizes[this.#head + i] as number
      while (bytes > max && count < this.unackedCount) {
        bytes -= this.#sizes[this.#head + count] as number
        count++
      }
      if (count > 0) {
        this.#forget(count)
        this.lossy = true
      }
    }
    this.#kept.push(envelope)
    this.#sizes.push(size)
    this.#ids.push(this.#nextId++)
    this.#bytes += size
    this.#nextSeq++
    if (write) {
      this.#written = envelope.s as number
      this.#inFlight += size
    }
    return envelope
  }

  /** The stream's state as plain data (copies: a live stream rewrites its envelopes' `a`). */
  snapshot(): ReliableStreamState {
    return {
      lastProcessed: this.lastProcessed,
      lastSent: this.lastSent,
      unacked: this.#kept.slice(this.#head).map((envelope) => {
        const kept: KeptEnvelope = { t: envelope.t, s: envelope.s as number }
        if ('d' in envelope) kept.d = envelope.d
        return kept
      }),
      lossy: this.lossy,
    }
  }

  /**
   * Loads a saved state into this stream, replacing what it held. `sizeOf` measures each kept
   * envelope as `check` would (encoded sizes are not saved): without it they count 0 bytes, and
   * the byte limit and the send window count only what is sent after.
   */
  restore(state: ReliableStreamState, sizeOf?: (envelope: Envelope) => number): void {
    this.#kept = state.unacked.map((kept) => ({ ...kept }))
    this.#sizes = this.#kept.map((kept) => sizeOf?.(kept) ?? 0)
    // Ids are not saved either: they name messages for this process's receipts only.
    this.#ids = this.#kept.map((_, i) => i + 1)
    this.#nextId = this.#kept.length + 1
    this.#bytes = this.#sizes.reduce((sum, size) => sum + size, 0)
    this.#head = 0
    this.#written = this.#inFlight = 0
    this.lastProcessed = state.lastProcessed
    this.#nextSeq = state.lastSent + 1
    // What was written is not saved: any of what was numbered may have been.
    this.writtenThrough = this.#everWritten = state.lastSent
    this.lossy = state.lossy
  }

  /**
   * Classifies an inbound reliable envelope by its `s`, read from a frame of `bytes` bytes
   * (counted against `ackBytes`); a gap throws `PROTOCOL_ERROR`.
   */
  receive(seq: number, bytes = 0): Arrival {
    const next = this.lastProcessed + 1
    if (seq > next) throw protocolError(`sequence gap: expected ${next}, got ${seq}`)
    if (seq === next) this.lastProcessed = seq
    this.#bytesOwed += bytes
    // A duplicate is acknowledged again: the peer missed our ack (the link dropped).
    this.oweAck()
    return seq === next ? 'process' : 'duplicate'
  }

  /**
   * An acknowledgement is owed: sent after `ackEvery` owed, `ackBytes` received or `ackDelayMs`,
   * unless an envelope takes it sooner. Also after an envelope that went with an older `a` than
   * `lastProcessed` (a frame kept as it was encoded).
   */
  oweAck(): void {
    if (++this.#acksOwed >= this.#ackEvery || this.#bytesOwed >= this.ackBytes) this.flushAck()
    else if (this.#ackTimer === undefined && this.#options.isLinkUp()) {
      // Not cleared when the ack rides on an envelope sent (a clearTimeout per message): it
      // fires, finds nothing owed, and stops; or it acknowledges a later arrival, sooner than
      // `ackDelayMs` after it, never later.
      this.#ackTimer = this.#options.clock.setTimeout(this.#onAckTimer, this.#ackDelayMs)
    }
  }

  /**
   * The peer processed everything up to `ack`: forget it, and write what the window held as
   * the peer takes what was in flight.
   */
  acknowledge(ack: number): void {
    const forgot = this.#acknowledge(ack)
    // A peer that acknowledges what was never written on this link (it may not, but whatever
    // it says) must not leave the window waiting for frames in flight that are not.
    if (this.#written < this.acknowledged) this.#written = this.acknowledged
    if (forgot && this.#written < this.lastSent && this.window !== Infinity) this.#writeMore()
  }

  /**
   * Throws `PROTOCOL_ERROR` for an acknowledgement of more than was sent: numbered, or `sent`
   * (the client: `writtenThrough`).
   */
  checkAck(ack: number, sent = this.lastSent): void {
    if (ack > sent) throw protocolError(`acknowledgement of ${ack}, but only ${sent} were sent`)
  }

  /** Forgets what the peer processed; true if that was anything. */
  #acknowledge(ack: number): boolean {
    this.checkAck(ack)
    let count = 0
    while (count < this.unackedCount && (this.#kept[this.#head + count]?.s as number) <= ack) {
      count++
    }
    const bytes = this.#bytes
    this.#forget(count)
    this.acknowledgedBytes += bytes - this.#bytes
    return count > 0
  }

  /**
   * After a handshake (or the peer's `$resend`): drops what the peer has processed and resends
   * the rest in order, within the window. Nothing is in flight on a new link: the peer's `a`
   * says what it processed, and it discards what came after. Returns whether it wrote anything.
   */
  resume(peerAck: number): boolean {
    this.#acknowledge(peerAck)
    this.#written = this.acknowledged
    this.#inFlight = 0
    this.#writeMore()
    return this.#written > this.acknowledged
  }

  /**
   * Transmits the kept envelopes numbered after `after`, in order, while `more` (asked before
   * each with its size as `check` measured it) allows; returns the `s` of the last one
   * transmitted (or acknowledged meanwhile), or `after`. For a sender that paces a resume's
   * replay: it calls again from what it got once its link has room.
   */
  resend(after: number, more?: (bytes: number) => boolean): number {
    for (;;) {
      // What the peer acknowledged meanwhile needs no resending, whatever it was.
      after = Math.max(after, this.acknowledged)
      // Found by number each time: `more` or a transmit may have the kept envelopes cut.
      const first = this.#kept[this.#head]
      const at = first ? this.#head + Math.max(0, after + 1 - (first.s as number)) : 0
      const envelope = this.#kept[at]
      if (!envelope || (more && !more(this.#sizes[at] as number))) return after
      this.#transmit(envelope)
      after = envelope.s as number
      if (after > this.#written) {
        this.#written = after
        this.#inFlight += this.#sizes[at] as number
      }
    }
  }

  /**
   * Removes the kept envelopes `refuse` returns true for (it may also rewrite one in place) and
   * numbers the rest again without a gap, from the number the first had. Only right after a
   * handshake and before `resume` resends: the peer has processed none of what is kept then, so
   * new numbers are as good as the old (or through `withdraw`, which removes only what no link
   * wrote). `writtenThrough` stays: after a handshake, its caller says that what an earlier link
   * wrote counts no more. `refuse` is given each envelope's id too. Returns the removed
   * envelopes, oldest first.
   */
  discard(refuse: (envelope: Envelope, id: number) => boolean): Envelope[] {
    const kept = this.#kept.slice(this.#head)
    const sizes = this.#sizes.slice(this.#head)
    const ids = this.#ids.slice(this.#head)
    const first = kept[0]
    if (first === undefined) return []
    const removed: Envelope[] = []
    let seq = first.s as number
    this.#kept = []
    this.#sizes = []
    this.#ids = []
    this.#bytes = 0
    this.#head = 0
    kept.forEach((envelope, i) => {
      const id = ids[i] as number
      if (refuse(envelope, id)) removed.push(envelope)
      else {
        envelope.s = seq++
        this.#kept.push(envelope)
        this.#ids.push(id)
        // The bytes stay counted as they were measured: a rewritten envelope is smaller.
        const size = sizes[i] as number
        this.#sizes.push(size)
        this.#bytes += size
      }
    })
    this.#nextSeq = seq
    return removed
  }

  /**
   * Takes back the kept envelopes `match` finds among those no link has written (numbered after
   * the last any link of this session wrote): the peer never heard of them, and those numbered
   * after them move down, as `discard` numbers them, in the one pass it makes. Returns how many
   * it took.
   */
  withdraw(match: (envelope: Envelope) => boolean): number {
    const written = this.#everWritten
    // Every one written (a request that timed out on a live link, the usual case): no pass,
    // which copies the whole outbox, for each timeout of a server slow to answer.
    if (this.lastSent <= written) return 0
    // What was written keeps its number: none before it is taken.
    return this.discard((envelope) => (envelope.s as number) > written && match(envelope)).length
  }

  /**
   * The session is new (the old one is gone): what was unacknowledged is numbered again from 1,
   * to be sent as new, and inbound counting starts again.
   */
  restart(): void {
    this.#kept = this.#kept.slice(this.#head)
    this.#sizes = this.#sizes.slice(this.#head)
    this.#ids = this.#ids.slice(this.#head)
    this.#head = 0
    this.#nextSeq = 1
    for (const envelope of this.#kept) envelope.s = this.#nextSeq++
    this.writtenThrough = this.#everWritten = 0
    this.lastProcessed = 0
    this.lossy = false
    this.linkDown()
  }

  /** Sends a `$ack` now if one is owed. */
  flushAck(): void {
    this.dispose()
    if (this.#acksOwed > 0 && this.#options.isLinkUp()) {
      this.#acksOwed = this.#bytesOwed = 0
      this.#options.transmit({ t: '$ack', a: this.lastProcessed })
    }
  }

  /** The link went down: owed acks will travel in the next handshake. */
  linkDown(): void {
    this.dispose()
    this.#acksOwed = this.#bytesOwed = 0
    this.#written = this.acknowledged
    this.#inFlight = 0
  }

  /** Stops the ack timer for good. */
  dispose(): void {
    if (this.#ackTimer !== undefined) this.#options.clock.clearTimeout(this.#ackTimer)
    this.#ackTimer = undefined
  }

  #onAckTimer = (): void => {
    this.#ackTimer = undefined
    this.flushAck()
  }

  /** Writes the kept envelopes not written yet on this link, in order, while the window lets. */
  #writeMore(): void {
    if (this.#options.isLinkUp()) {
      this.resend(this.#written, this.window === Infinity ? undefined : this.#fits)
    }
  }

  /** Whether an envelope of `size` bytes may be written now: within the window, or alone. */
  #fits = (size: number): boolean => this.#inFlight === 0 || this.#inFlight + size <= this.window

  #forget(count: number): void {
    for (let i = 0; i < count; i++) {
      const size = this.#sizes[this.#head + i] as number
      this.#bytes -= size
      // Only what was written is in flight (`'drop-oldest'` may forget what was not).
      if ((this.#kept[this.#head + i]?.s as number) <= this.#written) this.#inFlight -= size
    }
    this.#head += count
    if (this.#head * 2 > this.#kept.length) {
      this.#kept = this.#kept.slice(this.#head)
      this.#sizes = this.#sizes.slice(this.#head)
      this.#ids = this.#ids.slice(this.#head)
      this.#head = 0
    }
  }

  #transmit(envelope: Envelope): void {
    // Every envelope carries the latest ack, so a busy stream needs no `$ack` frames at all.
    envelope.a = this.lastProcessed
    this.#acksOwed = this.#bytesOwed = 0
    this.#options.transmit(envelope)
    this.writtenThrough = Math.max(this.writtenThrough, envelope.s as number)
    this.#everWritten = Math.max(this.#everWritten, this.writtenThrough)
  }
}

/** `QUEUE_FULL` for an envelope that would take the buffer past twice its limit. */
function pastTwice(limit: number, unit = 'messages'): LifelineError {
  return new LifelineError('QUEUE_FULL', `over twice ${limit} ${unit} would await acknowledgement`)
}
