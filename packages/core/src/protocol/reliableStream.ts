import { LifelineError } from '@lifeline/codec'
import type { Clock, TimerHandle } from '../clock.js'
import type { OverflowPolicy } from '../sendQueue.js'
import type { Envelope } from './envelope.js'
import { protocolError } from './envelope.js'

export interface ReliableStreamOptions {
  clock: Clock
  /** Writes an envelope to the link. Called only while `isLinkUp()` is true. */
  transmit(envelope: Envelope): void
  /** Whether the session's link is up (handshake done) and may carry envelopes now. */
  isLinkUp(): boolean
  /**
   * Checks an envelope that is kept while the link is down (e.g. by encoding it), so a message
   * that could never be sent is refused at `send` rather than on every resend.
   */
  check?(envelope: Envelope): void
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

export const reliableStreamDefaults = {
  ackEvery: defaultAckEvery,
  ackDelayMs: defaultAckDelayMs,
  maxUnacked: defaultMaxUnacked,
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
  readonly #options: ReliableStreamOptions
  readonly #ackEvery: number
  readonly #ackDelayMs: number
  readonly #maxUnacked: number
  readonly #dropOldest: boolean
  /**
   * Sent and not yet acknowledged, oldest first, from `#head` on. Acknowledged envelopes are cut
   * off once they are most of the array: O(1) amortised, where `Array.shift` would be O(n).
   */
  #kept: Envelope[] = []
  #head = 0
  #nextSeq = 1
  /** Envelopes processed since our last acknowledgement went out. */
  #acksOwed = 0
  #ackTimer: TimerHandle | undefined

  constructor(options: ReliableStreamOptions) {
    this.#options = options
    this.#ackEvery = options.ackEvery ?? defaultAckEvery
    this.#ackDelayMs = options.ackDelayMs ?? defaultAckDelayMs
    this.#maxUnacked = options.maxUnacked ?? defaultMaxUnacked
    this.#dropOldest = options.overflow === 'drop-oldest'
  }

  /** Envelopes sent (or waiting to be) and not yet acknowledged. */
  get unackedCount(): number {
    return this.#kept.length - this.#head
  }

  /** The `s` of the last envelope numbered. */
  get lastSent(): number {
    return this.#nextSeq - 1
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
   * Throws `QUEUE_FULL` when the buffer is full under `'error'`. If transmitting throws (the
   * codec refuses the data), nothing is kept and no number is used: a message that can never
   * be encoded must not wait in the buffer to fail again on every resend. `pastLimit` keeps it
   * even when the buffer is full (for a small answer that must not be lost, not for data).
   */
  send(type: string, data: unknown, pastLimit = false): Envelope {
    const full = !pastLimit && this.unackedCount >= this.#maxUnacked
    // Checked before transmitting: a message sent but not kept would be lost on a reconnect.
    if (full && !this.#dropOldest) {
      throw new LifelineError(
        'QUEUE_FULL',
        `${this.#maxUnacked} messages await acknowledgement (maxUnacked)`,
      )
    }
    const envelope: Envelope = { t: type, d: data, s: this.#nextSeq }
    if (this.#options.isLinkUp()) this.#transmit(envelope)
    else this.#options.check?.(envelope)
    if (full) {
      this.#forget(1)
      this.lossy = true
    }
    this.#kept.push(envelope)
    this.#nextSeq++
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

  /** Loads a saved state into this stream, replacing what it held. */
  restore(state: ReliableStreamState): void {
    this.#kept = state.unacked.map((kept) => ({ ...kept }))
    this.#head = 0
    this.lastProcessed = state.lastProcessed
    this.#nextSeq = state.lastSent + 1
    this.lossy = state.lossy
  }

  /** Classifies an inbound reliable envelope by its `s`; a gap throws `PROTOCOL_ERROR`. */
  receive(seq: number): Arrival {
    const next = this.lastProcessed + 1
    if (seq > next) throw protocolError(`sequence gap: expected ${next}, got ${seq}`)
    if (seq === next) this.lastProcessed = seq
    // A duplicate is acknowledged again: the peer missed our ack (the link dropped).
    if (++this.#acksOwed >= this.#ackEvery) this.flushAck()
    else if (this.#ackTimer === undefined && this.#options.isLinkUp()) {
      // Not cleared when the ack rides on an envelope sent (a clearTimeout per message): it
      // fires, finds nothing owed, and stops; or it acknowledges a later arrival, sooner than
      // `ackDelayMs` after it, never later.
      this.#ackTimer = this.#options.clock.setTimeout(this.#onAckTimer, this.#ackDelayMs)
    }
    return seq === next ? 'process' : 'duplicate'
  }

  /** The peer processed everything up to `ack`: forget it. */
  acknowledge(ack: number): void {
    if (ack > this.lastSent) {
      throw protocolError(`acknowledgement of ${ack}, but only ${this.lastSent} were sent`)
    }
    let count = 0
    while (count < this.unackedCount && (this.#kept[this.#head + count]?.s as number) <= ack) {
      count++
    }
    this.#forget(count)
  }

  /** After a handshake: drops what the peer has processed and resends the rest in order. */
  resume(peerAck: number): void {
    this.acknowledge(peerAck)
    if (this.#options.isLinkUp())
      for (const envelope of this.#kept.slice(this.#head)) this.#transmit(envelope)
  }

  /**
   * Removes the kept envelopes `refuse` returns true for (it may also rewrite one in place) and
   * numbers the rest again without a gap, from the number the first had. Only right after a
   * handshake and before `resume` resends: the peer has processed none of what is kept then, so
   * new numbers are as good as the old. Returns the removed envelopes, oldest first.
   */
  discard(refuse: (envelope: Envelope) => boolean): Envelope[] {
    const kept = this.#kept.slice(this.#head)
    const first = kept[0]
    if (first === undefined) return []
    const removed: Envelope[] = []
    let seq = first.s as number
    this.#kept = []
    this.#head = 0
    for (const envelope of kept) {
      if (refuse(envelope)) removed.push(envelope)
      else {
        envelope.s = seq++
        this.#kept.push(envelope)
      }
    }
    this.#nextSeq = seq
    return removed
  }

  /**
   * The session is new (the old one is gone): what was unacknowledged is numbered again from 1,
   * to be sent as new, and inbound counting starts again.
   */
  restart(): void {
    this.#kept = this.#kept.slice(this.#head)
    this.#head = 0
    this.#nextSeq = 1
    for (const envelope of this.#kept) envelope.s = this.#nextSeq++
    this.lastProcessed = 0
    this.lossy = false
    this.linkDown()
  }

  /** Sends a `$ack` now if one is owed. */
  flushAck(): void {
    this.dispose()
    if (this.#acksOwed > 0 && this.#options.isLinkUp()) {
      this.#acksOwed = 0
      this.#options.transmit({ t: '$ack', a: this.lastProcessed })
    }
  }

  /** The link went down: owed acks will travel in the next handshake. */
  linkDown(): void {
    this.dispose()
    this.#acksOwed = 0
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

  #forget(count: number): void {
    this.#head += count
    if (this.#head * 2 > this.#kept.length) {
      this.#kept = this.#kept.slice(this.#head)
      this.#head = 0
    }
  }

  #transmit(envelope: Envelope): void {
    // Every envelope carries the latest ack, so a busy stream needs no `$ack` frames at all.
    envelope.a = this.lastProcessed
    this.#acksOwed = 0
    this.#options.transmit(envelope)
  }
}
