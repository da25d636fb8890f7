import type { ClaimedSession, SessionChange, SharedSessionStore } from './cluster.js'
import type { SessionRecord, StoredEnvelope } from './sessionStore.js'

/** What a journal needs of its session. */
export interface JournalHost {
  readonly sessionId: string
  /** The state now, for a commit. */
  lastProcessed(): number
  acknowledged(): number
  lossy(): boolean
  rooms(): Record<string, string>
  /** The full record, to create the session again in a store that lost it. */
  record(): SessionRecord
  /** A commit stored more: acknowledge the client and send what may go now. */
  committed(): void
  /** Another process owns the session: let go of it. */
  fenced(): void
  failure(message: string, error: unknown): void
}

/** How long a commit may take before the session is served without waiting for it. */
const commitTimeoutMs = 1_000
/** How soon a failed commit is tried again. */
const retryMs = 500

/**
 * Writes one session to a shared store as it changes, one commit at a time, batching what
 * changed meanwhile; and tells the session how far it may acknowledge and send: only what a
 * commit stored (`clientSeq`, `serverSeq`), so that a process killed at any moment loses
 * nothing that either side was told was done. While the store is unreachable (a commit failed
 * or takes over a second) the session is served at once and its changes wait in its own replay
 * buffer, bounded as ever; the next commit that succeeds stores them.
 */
export class SessionJournal {
  /** The last client `s` stored: the highest the client may be told was processed. */
  clientSeq: number
  /** The last server `s` stored: the highest that may be sent. */
  serverSeq: number
  /** True while the store is unreachable: acknowledge and send without waiting for it. */
  degraded = false
  private epoch: number | Promise<number | undefined>
  private pending: StoredEnvelope[] = []
  private roomsChanged = false
  private scheduled = false
  private inflight: Promise<void> | undefined
  private retry: ReturnType<typeof setTimeout> | undefined
  private stopped = false
  /** Resolves when the journal stops: a commit waiting for a token that never comes gives up. */
  private readonly halted: Promise<undefined>
  private halt: () => void = () => undefined
  private readonly idle: (() => void)[] = []

  constructor(
    private readonly store: SharedSessionStore,
    private readonly host: JournalHost,
    private readonly ttlMs: number,
    start: { epoch: number; clientSeq: number; serverSeq: number } | undefined,
    /** The session's replay limit: more waiting envelopes than that were dropped anyway. */
    private readonly maxPending: number,
  ) {
    this.halted = new Promise((resolve) => (this.halt = () => resolve(undefined)))
    if (start === undefined) {
      this.clientSeq = 0
      this.serverSeq = 0
      this.epoch = this.create()
    } else {
      this.epoch = start.epoch
      this.clientSeq = start.clientSeq
      this.serverSeq = start.serverSeq
    }
  }

  /** The token this process holds the session by (after its creation was stored). */
  get token(): number | undefined {
    return typeof this.epoch === 'number' ? this.epoch : undefined
  }

  /** The highest client `s` that may be acknowledged now. */
  ackable(): number {
    return this.degraded ? this.host.lastProcessed() : this.clientSeq
  }

  /** The highest server `s` that may be sent now. */
  sendable(upTo: number): number {
    return this.degraded ? upTo : Math.min(upTo, this.serverSeq)
  }

  /** A server envelope was numbered. */
  sent(envelope: StoredEnvelope): void {
    const pending = this.pending
    pending.push(envelope)
    // Only while the store is unreachable does this grow: bounded like the replay buffer, whose
    // overflow makes the session lossy anyway.
    if (pending.length > this.maxPending) {
      const acknowledged = this.host.acknowledged()
      this.pending = pending.filter((each) => each.s > acknowledged).slice(-this.maxPending)
    }
    this.touch()
  }

  /**
   * A resume of the session here claims it again: commits wait for the claim, and go on with
   * its token if nobody took the session meanwhile (`held` was current); the store lost the
   * session: it is stored again; another process took it: nothing more is written, and the
   * session lets go of it (whether or not the resume that claimed it is still there).
   */
  rebind(claim: Promise<ClaimedSession | undefined>, held: number | undefined): void {
    this.epoch = claim.then(
      (claimed) => {
        if (this.stopped) return undefined
        if (claimed === undefined) return this.create()
        if (claimed.previousEpoch !== held) {
          // Left waiting, the changes made meanwhile would have a commit tried every turn.
          this.stop()
          this.host.fenced()
          return undefined
        }
        this.epoch = claimed.epoch
        return claimed.epoch
      },
      () => {
        this.epoch = held ?? this.create()
        return this.epoch
      },
    )
  }

  /** The rooms or a cursor changed. */
  roomsTouched(): void {
    this.roomsChanged = true
    this.touch()
  }

  /** Something changed: a commit follows within the turn (batching the rest of the turn). */
  touch(): void {
    if (this.scheduled || this.stopped) return
    this.scheduled = true
    setImmediate(this.run)
  }

  /** Resolves once everything changed so far is stored (or the store is unreachable). */
  drain(): Promise<void> {
    if (!this.scheduled && this.inflight === undefined) return Promise.resolve()
    return new Promise((resolve) => this.idle.push(resolve))
  }

  /** Stops writing: the session ended or moved to another process. */
  stop(): void {
    this.stopped = true
    if (this.retry !== undefined) clearTimeout(this.retry)
    this.retry = undefined
    this.halt()
    this.settle()
  }

  private readonly run = (): void => {
    this.scheduled = false
    if (this.stopped) return
    // Served at once while the store is away: what came since is acknowledged and sent now,
    // even while a commit that will fail or time out is still in flight.
    if (this.degraded) this.host.committed()
    if (this.inflight !== undefined) return
    if (!this.store.available()) {
      this.degrade()
      return
    }
    this.inflight = this.commit().finally(() => {
      this.inflight = undefined
      if (this.scheduled || this.stopped) return
      if (this.pending.length > 0 || this.roomsChanged) this.touch()
      else this.settle()
    })
  }

  private async commit(): Promise<void> {
    // Waiting for the token (a create or a claim) counts as the commit's time too: a store that
    // never answers has the session served at once after a second, and a stop ends the wait.
    let slow: ReturnType<typeof setTimeout> | undefined
    if (typeof this.epoch !== 'number') {
      slow = setTimeout(() => this.degrade(), commitTimeoutMs)
      slow.unref()
    }
    let epoch
    try {
      epoch = await Promise.race([this.epoch, this.halted])
    } finally {
      clearTimeout(slow)
    }
    if (epoch === undefined || this.stopped) return
    const sent = this.pending
    this.pending = []
    const roomsChanged = this.roomsChanged
    this.roomsChanged = false
    const host = this.host
    const change: SessionChange = {
      lastClientSeq: host.lastProcessed(),
      sent,
      acknowledged: host.acknowledged(),
      lossy: host.lossy(),
      ...(roomsChanged ? { rooms: host.rooms() } : {}),
    }
    slow = setTimeout(() => this.degrade(), commitTimeoutMs)
    slow.unref()
    let result
    try {
      result = await this.store.commit(host.sessionId, epoch, change, this.ttlMs)
    } catch (error) {
      // Unreachable: keep what was not stored for the next commit, which retries it.
      this.pending = sent.concat(this.pending)
      this.roomsChanged ||= roomsChanged
      this.degrade()
      host.failure('the shared session store failed to store a session', error)
      return
    } finally {
      clearTimeout(slow)
    }
    if (this.stopped) return
    if (result === 'fenced') {
      this.stop()
      host.fenced()
      return
    }
    if (result === 'missing') {
      // The store lost the session (it restarted empty): this process still owns it.
      this.epoch = this.create()
      return
    }
    this.degraded = false
    this.clientSeq = Math.max(this.clientSeq, change.lastClientSeq)
    const last = sent[sent.length - 1]
    if (last !== undefined) this.serverSeq = Math.max(this.serverSeq, last.s)
    host.committed()
  }

  private async create(): Promise<number | undefined> {
    const host = this.host
    const record = host.record()
    try {
      const epoch = await this.store.create(record, this.ttlMs)
      // The whole state is stored: the envelopes waiting for a commit are in it.
      this.pending = this.pending.filter((envelope) => envelope.s > record.lastServerSeq)
      this.clientSeq = Math.max(this.clientSeq, record.lastClientSeq)
      this.serverSeq = Math.max(this.serverSeq, record.lastServerSeq)
      this.epoch = epoch
      host.committed()
      return epoch
    } catch (error) {
      if (isFenced(error)) {
        this.stop()
        host.fenced()
        return undefined
      }
      this.degrade()
      host.failure('the shared session store failed to create a session', error)
      // The session ended (or its server closed) meanwhile: nothing to create any more.
      if (this.stopped) return undefined
      // Tried again by the next commit; the timer does not hold the process (`stop` clears it).
      this.epoch = new Promise((resolve) => {
        this.retry = setTimeout(() => {
          this.retry = undefined
          resolve(this.stopped ? undefined : this.create())
        }, retryMs)
        this.retry.unref()
      })
      return this.epoch
    }
  }

  /** The store is unreachable: serve the session at once, and try again later. */
  private degrade(): void {
    if (this.stopped) return
    if (!this.degraded) {
      this.degraded = true
      this.host.committed()
    }
    if (this.retry === undefined && typeof this.epoch === 'number') {
      this.retry = setTimeout(() => {
        this.retry = undefined
        this.touch()
      }, retryMs)
      this.retry.unref()
    }
    this.settle()
  }

  private settle(): void {
    for (const resolve of this.idle.splice(0)) resolve()
  }
}

/** A `create` refused because the session exists: another process holds it. */
export function isFenced(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'SESSION_FENCED'
}
