import { LifelineError } from '@lifeline/codec'
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
   * Checks an envelope that is kept while the link is down (e.g. by encoding it), so a message
   * that could never be sent is refused at `send` rather than on every resend.
   */
  check?(envelope: Envelope): void
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
  private nextSeq = 1
  private readonly unacked: SendQueue<Envelope>
  private readonly maxUnacked: number
  private readonly overflow: 'error' | 'drop-oldest'
  private readonly ackEvery: number
  private readonly ackDelayMs: number
  private pendingAcks = 0
  private ackTimer: TimerHandle | undefined

  constructor(private readonly options: ReliableStreamOptions) {
    this.ackEvery = options.ackEvery ?? reliableStreamDefaults.ackEvery
    this.ackDelayMs = options.ackDelayMs ?? reliableStreamDefaults.ackDelayMs
    this.maxUnacked = options.maxUnacked ?? reliableStreamDefaults.maxUnacked
    this.overflow = options.overflow ?? reliableStreamDefaults.overflow
    this.unacked = new SendQueue({
      maxMessages: this.maxUnacked,
      maxBytes: Infinity,
      overflow: this.overflow,
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
   * Numbers an envelope, transmits it now if the link is up, and keeps it until acknowledged.
   * Throws `QUEUE_FULL` when the buffer is full under `'error'`. If transmitting throws (the
   * codec refuses the data), nothing is kept and no number is used: a message that can never
   * be encoded must not wait in the buffer to fail again on every resend.
   */
  send(type: string, data: unknown): Envelope {
    // Checked before transmitting: a message sent but not kept would be lost on a reconnect.
    if (this.overflow === 'error' && this.unacked.length >= this.maxUnacked) {
      throw new LifelineError(
        'QUEUE_FULL',
        `${this.maxUnacked} messages await acknowledgement (maxUnacked); wait for the link`,
      )
    }
    const envelope: Envelope = { t: type, d: data, s: this.nextSeq }
    if (this.options.isLinkUp()) this.transmit(envelope)
    else this.options.check?.(envelope)
    const dropped = this.unacked.push(envelope, 0)
    if (dropped.length > 0) this.lossy = true
    this.nextSeq++
    return envelope
  }

  /** The stream's state as plain data (copies: a live stream rewrites its envelopes' `a`). */
  snapshot(): ReliableStreamState {
    const unacked: KeptEnvelope[] = []
    for (const envelope of this.keptInOrder()) {
      unacked.push(
        'd' in envelope
          ? { t: envelope.t, d: envelope.d, s: envelope.s as number }
          : { t: envelope.t, s: envelope.s as number },
      )
    }
    return {
      lastProcessed: this.lastProcessed,
      lastSent: this.lastSent,
      unacked,
      lossy: this.lossy,
    }
  }

  /** Loads a saved state into this stream, replacing what it held. */
  restore(state: ReliableStreamState): void {
    this.unacked.drain()
    this.lastProcessed = state.lastProcessed
    this.nextSeq = state.lastSent + 1
    this.lossy = state.lossy
    for (const kept of state.unacked) this.unacked.push({ ...kept }, 0)
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
    for (const envelope of this.keptInOrder()) this.transmit(envelope)
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

  /** What is kept, oldest first, as a copy of the list (the buffer itself is left as it is). */
  private keptInOrder(): Envelope[] {
    const all = this.unacked.drain()
    for (const envelope of all) this.unacked.push(envelope, 0)
    return all
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
