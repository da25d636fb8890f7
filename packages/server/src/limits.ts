import type { IncomingMessage } from 'node:http'
import { LifelineError } from '@lifeline/codec'
import { clientKeyOf, type ClientAddress } from './address.js'

/** "Try again later": the close code of every refusal by a limit. Clients retry it, backing off. */
export const tryAgainLater = 1013

/** The limits in force, after defaults (see `ConnectionLimitOptions`). */
export interface ResolvedConnectionLimits {
  readonly connectionsPerSecond: number
  readonly connectionBurst: number
  readonly sessionsPerAddress: number
  readonly maxSessions: number
  readonly maxTrackedAddresses: number
}

/** A token bucket: `tokens` as of `at` (ms). */
interface Bucket {
  tokens: number
  at: number
}

/**
 * The server's limits per client address and in all: a token bucket of new connections per
 * address, and counts of live sessions per address and in all.
 *
 * Its memory is bounded. A bucket that has refilled is the same as no bucket, so it is dropped
 * (checked from the least recently used on every new connection: constant time on average), and
 * at most `maxTrackedAddresses` buckets are held: past that the least recently used one is
 * forgotten, which at worst gives that address a fresh burst. Session counts exist only for
 * addresses with live sessions, which the session caps bound.
 */
export class AddressLimits<Session> {
  /** In order of last use, oldest first. */
  private readonly buckets = new Map<string, Bucket>()
  private readonly sessionsByKey = new Map<string, number>()
  private readonly keyOfSession = new Map<Session, string>()
  /** The key of each accepted request, computed once. */
  private readonly keys = new WeakMap<IncomingMessage, string>()
  private readonly refillPerMs: number

  constructor(
    private readonly limits: ResolvedConnectionLimits,
    private readonly clientAddress: ClientAddress | undefined,
  ) {
    this.refillPerMs = limits.connectionsPerSecond / 1000
  }

  /** Buckets held now (for tests of the memory bound). */
  get trackedAddresses(): number {
    return this.buckets.size
  }

  /** The address `request` is limited by. */
  keyOf(request: IncomingMessage): string {
    let key = this.keys.get(request)
    if (key === undefined) {
      key = clientKeyOf(request, this.clientAddress)
      this.keys.set(request, key)
    }
    return key
  }

  /** Takes a token from the bucket of `request`'s address; false when it is empty. */
  admitConnection(request: IncomingMessage, now: number): boolean {
    const key = this.keyOf(request)
    const { connectionBurst, connectionsPerSecond, maxTrackedAddresses } = this.limits
    if (connectionsPerSecond === Infinity || connectionBurst === Infinity) return true
    this.sweep(now)
    const bucket = this.buckets.get(key)
    let tokens = connectionBurst
    if (bucket !== undefined) {
      tokens = this.refilled(bucket, now)
      // Set again below, at the end: the map stays in order of last use.
      this.buckets.delete(key)
    }
    const admitted = tokens >= 1
    this.buckets.set(key, { tokens: admitted ? tokens - 1 : tokens, at: now })
    if (this.buckets.size > maxTrackedAddresses) {
      this.buckets.delete(this.buckets.keys().next().value as string)
    }
    return admitted
  }

  /** The refusal of a new session for `request`, or `undefined` if it may have one. */
  sessionRefusal(request: IncomingMessage): LifelineError | undefined {
    const { maxSessions, sessionsPerAddress } = this.limits
    let message: string | undefined
    if (this.keyOfSession.size >= maxSessions) message = 'the server holds all the sessions it may'
    else if ((this.sessionsByKey.get(this.keyOf(request)) ?? 0) >= sessionsPerAddress) {
      message = 'too many sessions from this address'
    }
    if (message === undefined) return undefined
    return new LifelineError('TOO_MANY_SESSIONS', `${message}: try again later`, {
      closeCode: tryAgainLater,
    })
  }

  /** A session was created (or restored) for `request`'s address. */
  sessionAdded(session: Session, request: IncomingMessage): void {
    const key = this.keyOf(request)
    this.keyOfSession.set(session, key)
    this.sessionsByKey.set(key, (this.sessionsByKey.get(key) ?? 0) + 1)
  }

  sessionEnded(session: Session): void {
    const key = this.keyOfSession.get(session)
    if (key === undefined) return
    this.keyOfSession.delete(session)
    const left = (this.sessionsByKey.get(key) ?? 1) - 1
    if (left > 0) this.sessionsByKey.set(key, left)
    else this.sessionsByKey.delete(key)
  }

  /** The server closed: it holds no session any more. */
  clearSessions(): void {
    this.keyOfSession.clear()
    this.sessionsByKey.clear()
  }

  private refilled(bucket: Bucket, now: number): number {
    const elapsedMs = Math.max(0, now - bucket.at)
    return Math.min(this.limits.connectionBurst, bucket.tokens + elapsedMs * this.refillPerMs)
  }

  /** Drops the buckets, oldest first, that have refilled: they say nothing any more. */
  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.refilled(bucket, now) < this.limits.connectionBurst) return
      this.buckets.delete(key)
    }
  }
}
