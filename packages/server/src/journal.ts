import type {
  ClaimedSession,
  CommitResult,
  JournaledEnvelope,
  SessionChange,
  SessionCommit,
  SharedSessionStore,
} from './cluster.js'
import type { SessionRecord } from './sessionStore.js'

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
 * How soon a commit the store refused (or failed) is tried again, after `refusals` in a row:
 * 50 ms, doubling to at most a second, so a store that refuses every write while it stays
 * reachable (out of memory, say) is not written to as fast as it answers.
 */
function refusedRetryMs(refusals: number): number {
  return Math.min(1_000, 50 * 2 ** Math.min(refusals, 5))
}
/** Sessions per store write: a bound on what one write carries and holds the store up for. */
const maxCommitsPerWrite = 256
/**
 * How long a client's room cursor acknowledgement may wait for a commit that happens anyway
 * before one is made for it: a stale stored cursor only has a resume send again what the client
 * drops by id, so a thousand members acknowledging cost a few writes a second, not one each.
 */
export const lazyCommitMs = 1_000

/** What a server asks of a shared store, each kind's failures reported once per outage. */
type StoreOperation = 'commit' | 'create' | 'claim'

/**
 * The journals of one server: every session that changed in an event-loop turn is committed in
 * one store write (per `maxCommitsPerWrite`), not one write per session, so a room message to a
 * thousand local members costs one round trip, not a thousand. Each session keeps its own
 * fencing: the store answers per session, and a refused one does not fail the others.
 */
export class JournalBatch {
  private readonly waiting = new Set<SessionJournal>()
  private scheduled = false
  /**
   * Writes (commits), creations and claims that failed with none of their kind succeeding
   * since: each kind's failure is reported once per outage. Kept apart: creations that succeed
   * while commits fail (or the reverse) must neither re-report the other kind at every new
   * session nor hide it.
   */
  private readonly failing = { commit: false, create: false, claim: false }
  /** Journals whose room cursors changed, stored within `lazyCommitMs` if nothing does sooner. */
  private readonly lazy = new Set<SessionJournal>()
  private lazyTimer: ReturnType<typeof setTimeout> | undefined

  constructor(private readonly store: SharedSessionStore) {}

  /** `journal`'s room cursors changed: stored with its next commit, at the latest in a while. */
  later(journal: SessionJournal): void {
    this.lazy.add(journal)
    if (this.lazyTimer !== undefined) return
    this.lazyTimer = setTimeout(this.runLazy, lazyCommitMs)
    this.lazyTimer.unref()
  }

  private readonly runLazy = (): void => {
    this.lazyTimer = undefined
    for (const journal of this.lazy) journal.flushRooms()
    this.lazy.clear()
  }

  /** `journal` has changes: it is asked for them at the end of the turn. */
  add(journal: SessionJournal): void {
    this.waiting.add(journal)
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.run)
  }

  private readonly run = (): void => {
    this.scheduled = false
    let journals: SessionJournal[] = []
    let commits: SessionCommit[] = []
    for (const journal of this.waiting) {
      const commit = journal.prepare()
      if (commit === undefined) continue
      journals.push(journal)
      commits.push(commit)
      if (commits.length === maxCommitsPerWrite) {
        this.write(journals, commits)
        journals = []
        commits = []
      }
    }
    this.waiting.clear()
    if (commits.length > 0) this.write(journals, commits)
  }

  /**
   * A write or a creation failed: true if it is the first of its kind since one succeeded, the
   * one to report. A store that is down fails every session's writes, each retried: one report,
   * not one per attempt of each session.
   */
  outage(kind: StoreOperation): boolean {
    const first = !this.failing[kind]
    this.failing[kind] = true
    return first
  }

  /** A write or a creation succeeded: the next failure of its kind is a new outage. */
  recovered(kind: StoreOperation): void {
    this.failing[kind] = false
  }

  private write(journals: readonly SessionJournal[], commits: readonly SessionCommit[]): void {
    // A write that never settles must not hold the process (nor a closing server) up.
    const slow = setTimeout(() => {
      for (const journal of journals) journal.slow()
    }, commitTimeoutMs)
    slow.unref()
    this.store.commit(commits).then(
      (results) => {
        clearTimeout(slow)
        this.recovered('commit')
        for (let i = 0; i < journals.length; i++) {
          ;(journals[i] as SessionJournal).settled(commits[i] as SessionCommit, results[i])
        }
      },
      (error: unknown) => {
        clearTimeout(slow)
        // Reported once per outage, by the first session: not each write's, nor each session's.
        const report = this.outage('commit')
        for (let i = 0; i < journals.length; i++) {
          ;(journals[i] as SessionJournal).failed(
            commits[i] as SessionCommit,
            error,
            report && i === 0,
          )
        }
      },
    )
  }
}

/**
 * Writes one session to a shared store as it changes, one commit at a time, batching what
 * changed meanwhile (and, through its `JournalBatch`, with the other sessions that changed in
 * the same turn); and tells the session how far it may acknowledge and send: only what a
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
  private pending: JournaledEnvelope[] = []
  private roomsChanged = false
  private scheduled = false
  /** A commit of this session is in flight (a creation too: `epoch` is its promise then). */
  private committing = false
  /** Changes wait for `epoch` to settle (a creation or a claim in flight). */
  private awaitingEpoch = false
  /** Something changed while a commit was in flight (an acknowledgement, say): commit again. */
  private again = false
  private retry: ReturnType<typeof setTimeout> | undefined
  /** Settles the creation `retry` would try again (to nothing): `stop` calls it. */
  private abandonCreation: (() => void) | undefined
  /** Commits that failed in a row: how long the next waits (`refusedRetryMs`). */
  private refusals = 0
  /** A commit failed: the next waits for `retry` (or a `drain`/`quiet`), not for a change. */
  private holding = false
  private stopped = false
  /** The server closes (`close`): `drain` waits for a store that is away. */
  private closing = false
  /** Resolves when the journal stops: a commit waiting for a token that never comes gives up. */
  private readonly halted: Promise<undefined>
  private halt: () => void = () => undefined
  /** `quiet` waiters: resolved once no commit is in flight or due. */
  private readonly idle: (() => void)[] = []
  /** `drain` waiters: resolved once everything is stored (or the store is unreachable). */
  private readonly stored: (() => void)[] = []

  constructor(
    private readonly store: SharedSessionStore,
    private readonly batch: JournalBatch,
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

  /**
   * The token this process holds the session by once the creation or claim in flight lands (at
   * once when none is); undefined when it holds none. A session that ended meanwhile is released
   * with it: left in the store, it could be resumed on another process.
   */
  async landed(): Promise<number | undefined> {
    return this.epoch
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
  sent(envelope: JournaledEnvelope): void {
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
        // Ended meanwhile: the token the claim took, if nobody took the session in between, is
        // the one to release it by (`landed`).
        if (this.stopped) return claimed?.previousEpoch === held ? claimed?.epoch : undefined
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

  /**
   * The store no longer has the session (it restarted empty): a commit now finds it missing,
   * and stores it again whole. A creation or claim in flight is waited for as ever.
   */
  lost(): void {
    if (this.stopped) return
    this.roomsChanged = true
    this.touch()
  }

  /** The rooms or a cursor changed. */
  roomsTouched(): void {
    this.roomsChanged = true
    this.touch()
  }

  /** The client acknowledged room cursors: stored with the next commit, or in `lazyCommitMs`. */
  roomsLater(): void {
    if (this.stopped) return
    this.roomsChanged = true
    this.batch.later(this)
  }

  /** `lazyCommitMs` passed: the room cursors not stored yet are committed now. */
  flushRooms(): void {
    if (this.roomsChanged) this.touch()
  }

  /** Something changed: a commit follows within the turn (batching the rest of the turn). */
  touch(): void {
    if (this.scheduled || this.stopped) return
    this.scheduled = true
    this.batch.add(this)
  }

  /**
   * Resolves once everything changed so far is stored, or the store is unreachable (none can be
   * made); a commit in flight is waited for, however slow, and one that fails while the store
   * is reachable (a refusal) is tried again: the callers bound the wait.
   */
  drain(): Promise<void> {
    return this.wait(this.stored)
  }

  /**
   * Resolves once no commit is in flight or due: the changes so far are stored, or the commit
   * that carried them failed (a resume claims the session again then, which must not fence a
   * write of its own still on its way).
   */
  quiet(): Promise<void> {
    return this.wait(this.idle)
  }

  private wait(waiters: (() => void)[]): Promise<void> {
    // Room cursors waiting for a commit go now: a handoff or a close stores them. So does what
    // was served while the store was away (its retry may be half a second off): the store may
    // be back, and the process that claims the session next must not resume it behind its client.
    // It tries at once, without waiting out the pause after a refused write.
    if (this.degraded) this.holding = false
    if (this.roomsChanged || this.degraded) this.touch()
    if (this.stopped || (!this.scheduled && !this.committing && !this.awaitingEpoch)) {
      return Promise.resolve()
    }
    return new Promise((resolve) => waiters.push(resolve))
  }

  /**
   * The server closes: resolves once everything changed so far is stored, as `drain`, but waits
   * for a store that is away too (tried again until it is back): what was served meanwhile is
   * in no store yet, and the process that resumes the session next would reset its client. The
   * close bounds the wait (`closeTimeoutMs`), reports it, and `stop`s the journal.
   */
  close(): Promise<void> {
    this.closing = true
    return this.drain()
  }

  /** The store is back while the server closes: what waits for it is tried now. */
  back(): void {
    if (!this.closing || !this.degraded || this.stopped) return
    this.holding = false
    this.touch()
  }

  /** Stops writing: the session ended or moved to another process. */
  stop(): void {
    this.stopped = true
    if (this.retry !== undefined) clearTimeout(this.retry)
    this.retry = undefined
    this.abandonCreation?.()
    this.abandonCreation = undefined
    this.halt()
    this.settle()
  }

  /**
   * The batch asks for this session's changes: the commit to write now, or undefined when
   * there is none to write (stopped, one in flight, the token not known yet, the store away).
   */
  prepare(): SessionCommit | undefined {
    this.scheduled = false
    if (this.stopped) return undefined
    // Served at once while the store is away: what came since is acknowledged and sent now,
    // even while a commit that will fail or time out is still in flight.
    if (this.degraded) this.host.committed()
    if (this.committing) {
      this.again = true
      return undefined
    }
    // A failed commit is tried again by `retry`: new changes wait for it (kept in `pending`).
    if (this.holding) return undefined
    if (!this.store.available()) {
      this.degrade()
      return undefined
    }
    const epoch = this.epoch
    if (typeof epoch !== 'number') {
      if (!this.awaitingEpoch) this.awaitEpoch(epoch)
      return undefined
    }
    const sent = this.pending
    this.pending = []
    const roomsChanged = this.roomsChanged
    this.roomsChanged = false
    const host = this.host
    this.committing = true
    return {
      id: host.sessionId,
      epoch,
      change: {
        lastClientSeq: host.lastProcessed(),
        sent,
        acknowledged: host.acknowledged(),
        lossy: host.lossy(),
        ...(roomsChanged ? { rooms: host.rooms() } : {}),
      },
    }
  }

  /**
   * Changes wait for the token (a creation or a claim in flight). The wait counts as a commit's
   * time too: a store that never answers has the session served at once after a second, and a
   * stop ends the wait.
   */
  private awaitEpoch(epoch: Promise<number | undefined>): void {
    this.awaitingEpoch = true
    const slow = setTimeout(() => this.degrade(), commitTimeoutMs)
    slow.unref()
    void Promise.race([epoch, this.halted]).then((settled) => {
      clearTimeout(slow)
      this.awaitingEpoch = false
      if (settled === undefined || this.stopped) this.settle()
      else this.touch()
    })
  }

  /** The store answered this session's commit. */
  settled(commit: SessionCommit, result: CommitResult | undefined): void {
    this.committing = false
    if (!this.stopped) this.apply(commit.change, result)
    this.next()
  }

  /** The write that carried this session's commit failed: the store is unreachable. */
  failed(commit: SessionCommit, error: unknown, report: boolean): void {
    this.committing = false
    if (!this.stopped) {
      // Kept for the next commit, which retries it.
      this.pending = commit.change.sent.concat(this.pending)
      this.roomsChanged ||= commit.change.rooms !== undefined
      // Tried again after a pause that grows while the store keeps failing, not at once.
      this.holding = true
      this.retryIn(refusedRetryMs(this.refusals++))
      this.degrade()
    }
    // Reported even by a session that ended meanwhile: the outage's one report is this.
    if (report) this.host.failure('the shared session store failed to store sessions', error)
    this.next()
  }

  /** The write that carries this session's commit takes over `commitTimeoutMs`. */
  slow(): void {
    if (this.committing) this.degrade()
  }

  private apply(change: SessionChange, result: CommitResult | undefined): void {
    const host = this.host
    if (result === 'fenced') {
      this.stop()
      host.fenced()
      return
    }
    if (result !== 'ok') {
      // The store lost the session (it restarted empty): this process still owns it.
      this.epoch = this.create()
      return
    }
    this.degraded = false
    this.refusals = 0
    this.clientSeq = Math.max(this.clientSeq, change.lastClientSeq)
    const last = change.sent[change.sent.length - 1]
    if (last !== undefined) this.serverSeq = Math.max(this.serverSeq, last.s)
    host.committed()
  }

  /** After a commit: the changes that came meanwhile go next, or the journal is idle. */
  private next(): void {
    if (this.scheduled || this.stopped) return
    const again = this.again
    this.again = false
    if (!this.holding && (again || this.pending.length > 0 || this.roomsChanged)) this.touch()
    // A commit that failed while the store is reachable is tried again (`failed`'s timer).
    else if (!this.awaitingEpoch) this.settle(!(this.degraded && this.reachable()))
  }

  /** The store can be reached (it may refuse writes for a while). */
  private reachable(): boolean {
    return this.store.reachable?.() ?? this.store.available()
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
      this.batch.recovered('create')
      host.committed()
      // A closing server waits for a commit to clear `degraded` (`settle`), and nothing else
      // would ask for one: the changes since the record was taken may be waiting too.
      if (this.closing) this.touch()
      return epoch
    } catch (error) {
      if (isFenced(error)) {
        this.stop()
        host.fenced()
        return undefined
      }
      this.degrade()
      // Once per outage (`JournalBatch.outage`), not once per attempt of each session.
      if (this.batch.outage('create'))
        host.failure('the shared session store failed to create a session', error)
      // The session ended (or its server closed) meanwhile: nothing to create any more.
      if (this.stopped) return undefined
      // Tried again by the next commit; the timer does not hold the process (`stop` clears it,
      // and settles this: nothing is created any more).
      this.epoch = new Promise((resolve) => {
        this.retry = setTimeout(() => {
          this.retry = undefined
          this.abandonCreation = undefined
          resolve(this.stopped ? undefined : this.create())
        }, retryMs)
        this.retry.unref()
        this.abandonCreation = () => resolve(undefined)
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
    if (this.retry === undefined && typeof this.epoch === 'number') this.retryIn(retryMs)
    // A commit that is only slow may still be stored: a handoff waits for its outcome (bounded
    // by the claim's wait, a close's by `closeTimeoutMs`), or the next process would process
    // again what it stores, and its late write would be refused. So does one the store refused
    // once while it stays reachable (an error reply, a room send kept ahead of the commits):
    // the retry stores it, and a live owner hands over everything it processed.
    if (!this.committing) this.settle(!this.reachable())
  }

  /** Commits again in `ms`, on the journal's one retry timer (`stop` clears it). */
  private retryIn(ms: number): void {
    if (this.retry !== undefined) clearTimeout(this.retry)
    this.retry = setTimeout(() => {
      this.retry = undefined
      this.holding = false
      this.touch()
    }, ms)
    this.retry.unref()
  }

  /** Nothing is in flight or due: `quiet` resolves, and `drain` too unless a retry is due. */
  private settle(stored = true): void {
    for (const resolve of this.idle.splice(0)) resolve()
    // Served while the store was away, and not stored since: a closing server waits for the
    // store (the retry timers go on) until the close stops the journal.
    if (this.closing && this.degraded && !this.stopped) return
    if (stored) for (const resolve of this.stored.splice(0)) resolve()
  }
}

/** A `create` refused because the session exists: another process holds it. */
export function isFenced(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'SESSION_FENCED'
}
