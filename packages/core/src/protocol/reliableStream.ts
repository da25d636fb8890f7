import type { Clock, TimerHandle } from '../clock.js'
import type { OverflowPolicy } from '../sendQueue.js'
import { SendQueue } from '../sendQueue.js'
import type { Envelope } from './envelope.js'
import { controlTypes, protocolError } from './envelope.js'

export interface ReliableStreamOptions {
  clock: Clock
  /** Writes an envelope to the link. Called only while `isLinkUp()` is true. */
  transmit(envelope: Envelope): void
  /** Whether the session's link is up (handshake done) and may carry envelopes now. */
  isLinkUp(): boolean
  /**
   * Acknowledge at once after this many processed envelopes with nothing sent back.
   * @default 64
   */
  ackEvery?: number
  /**
   * Otherwise acknowledge this long after the first unacknowledged one.
   * @default 20
   */
  ackDelayMs?: number
  /**
   * Most envelopes kept until acknowledged.
   * @default 10000
   */
  maxUnacked?: number
  /**
   * `'error'` (client outbox): sending throws `QUEUE_FULL`. `'drop-oldest'` (server replay
   * buffer): the oldest is dropped and the stream is marked `lossy`, so the session will not be
   * resumed as if nothing was lost.
   * @default 'error'
   */
  overflow?: Extract<OverflowPolicy, 'error' | 'drop-oldest'>
}

export const reliableStreamDefaults = {
  ackEvery: 64,
  ackDelayMs: 20,
  maxUnacked: 10_000,
  overflow: 'error',
} as const

/** What to do with an inbound reliable envelope. */
export type Arrival = 'process' | 'duplicate'

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
  private nextSeq = 1
  private readonly unacked: SendQueue<Envelope>
  private readonly ackEvery: number
  private readonly ackDelayMs: number
  private pendingAcks = 0
  private ackTimer: TimerHandle | undefined

  constructor(private readonly options: ReliableStreamOptions) {
    this.ackEvery = options.ackEvery ?? reliableStreamDefaults.ackEvery
    this.ackDelayMs = options.ackDelayMs ?? reliableStreamDefaults.ackDelayMs
    this.unacked = new SendQueue({
      maxMessages: options.maxUnacked ?? reliableStreamDefaults.maxUnacked,
      maxBytes: Infinity,
      overflow: options.overflow ?? reliableStreamDefaults.overflow,
    })
  }

  /** Envelopes sent (or waiting to be) and not yet acknowledged. */
  get unackedCount(): number {
    return this.unacked.length
  }

  /** The `s` of the last envelope numbered. */
  get lastSent(): number {
    return this.nextSeq - 1
  }

  /**
   * Numbers an envelope, keeps it until acknowledged, and transmits it now if the link is up.
   * Throws `QUEUE_FULL` when the buffer is full under `'error'`.
   */
  send(type: string, data: unknown): Envelope {
    const envelope: Envelope = { t: type, d: data, s: this.nextSeq }
    const dropped = this.unacked.push(envelope, 0)
    if (dropped.length > 0) this.lossy = true
    this.nextSeq++
    if (this.options.isLinkUp()) this.transmit(envelope)
    return envelope
  }

  /** Classifies an inbound reliable envelope by its `s`; a gap throws `PROTOCOL_ERROR`. */
  receive(seq: number): Arrival {
    if (seq <= this.lastProcessed) {
      // Already processed: the peer missed our ack (the link dropped); tell it again.
      this.noteAckOwed()
      return 'duplicate'
    }
    if (seq !== this.lastProcessed + 1) {
      throw protocolError(`sequence gap: expected ${this.lastProcessed + 1}, got ${seq}`)
    }
    this.lastProcessed = seq
    this.noteAckOwed()
    return 'process'
  }

  /** The peer processed everything up to `ack`: forget it. */
  acknowledge(ack: number): void {
    if (ack > this.lastSent) {
      throw protocolError(`acknowledgement of ${ack}, but only ${this.lastSent} were sent`)
    }
    for (;;) {
      const head = this.unacked.peek()
      if (head === undefined || (head.s as number) > ack) return
      this.unacked.shift()
    }
  }

  /** After a handshake: drops what the peer has processed and resends the rest in order. */
  resume(peerAck: number): void {
    this.acknowledge(peerAck)
    if (!this.options.isLinkUp()) return
    for (const envelope of this.pending()) this.transmit(envelope)
  }

  /**
   * The session is new (the old one is gone): what was unacknowledged is numbered again from 1,
   * to be sent as new, and inbound counting starts again.
   */
  restart(): void {
    const kept = this.unacked.drain()
    this.nextSeq = 1
    this.lastProcessed = 0
    this.lossy = false
    this.clearAckTimer()
    this.pendingAcks = 0
    for (const envelope of kept) {
      envelope.s = this.nextSeq++
      this.unacked.push(envelope, 0)
    }
  }

  /** Sends a `$ack` now if one is owed. */
  flushAck = (): void => {
    this.clearAckTimer()
    if (this.pendingAcks === 0 || !this.options.isLinkUp()) return
    this.pendingAcks = 0
    this.options.transmit({ t: controlTypes.ack, a: this.lastProcessed })
  }

  /** The link went down: owed acks will travel in the next handshake. */
  linkDown(): void {
    this.clearAckTimer()
    this.pendingAcks = 0
  }

  /** Stops the ack timer for good. */
  dispose(): void {
    this.clearAckTimer()
  }

  private *pending(): Generator<Envelope> {
    // Copy first: transmit may not touch the buffer, but a listener woken by it might.
    const all = this.unacked.drain()
    for (const envelope of all) this.unacked.push(envelope, 0)
    yield* all
  }

  private transmit(envelope: Envelope): void {
    // Every envelope carries the latest ack, so a busy stream needs no `$ack` frames at all.
    envelope.a = this.lastProcessed
    this.pendingAcks = 0
    this.clearAckTimer()
    this.options.transmit(envelope)
  }

  private noteAckOwed(): void {
    this.pendingAcks++
    if (this.pendingAcks >= this.ackEvery) this.flushAck()
    else if (this.ackTimer === undefined && this.options.isLinkUp()) {
      this.ackTimer = this.options.clock.setTimeout(this.flushAck, this.ackDelayMs)
    }
  }

  private clearAckTimer(): void {
    if (this.ackTimer !== undefined) this.options.clock.clearTimeout(this.ackTimer)
    this.ackTimer = undefined
  }
}
