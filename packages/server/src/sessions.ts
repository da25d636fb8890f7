import { LifelineError, type Codec } from '@lifeline/codec'
import {
  maxTimerMs,
  protocolCloseCodes,
  protocolError,
  type KeptEnvelope,
  type Schema,
} from '@lifeline/core/protocol'
import { wallNow } from '@lifeline/core'
import type { Connection } from './connection.js'
import type { ServerContext } from './context.js'
import type { ResetReason, SessionEndReason } from './events.js'
import { welcome, type Hello } from './handshake.js'
import { JournalBatch, SessionJournal } from './journal.js'
import { tryAgainLater } from './limits.js'
import { clientWindowBytes } from './outputBound.js'
import { unref } from './memorySessionStore.js'
import { Session, type Link } from './session.js'
import { withoutCommand } from './logger.js'
import type { SessionRecord } from './sessionStore.js'
import { isShared, type ClaimedSession, type SharedSessionStore } from './cluster.js'
import { encodeEnvelope, frameBytes } from './frames.js'
import { within } from './within.js'
import { newPeerId, newSessionId, ownedBy } from './sessionIds.js'

const noop = (): void => undefined

/** How long a handoff or a resume waits for a write in flight, when the store does not say. */
const defaultHandoffTimeoutMs = 5_000

/** A claim of a session in the shared store, in flight. */
interface ClaimInFlight {
  /** Settles with the claim (whenever the store answers). */
  claimed: Promise<ClaimedSession | undefined>
  /** Settles with the claim, or with `'stalled'` once the store stopped answering it. */
  answer: Promise<ClaimedSession | undefined | 'stalled'>
  /** The store stopped answering it, or a claim of the same session it waits for. */
  stalled: boolean
}

function claimGivenUp(): LifelineError {
  return new LifelineError('STORE_UNAVAILABLE', 'the claim was given up: its resume was refused')
}

function storeNotAnswering(): LifelineError {
  return new LifelineError(
    'STORE_UNAVAILABLE',
    'the session store does not answer now: try again later',
    { closeCode: tryAgainLater },
  )
}

/**
 * The sessions of a server: the handshake's decisions (resume, restore from the store, or new),
 * expiry while detached, and every read and write of the store.
 */
export class SessionRegistry<S extends Schema, User> {
  private readonly bySessionId = new Map<string, Session<S, User>>()
  readonly byPeerId = new Map<string, Session<S, User>>()
  /** The last store operation per session id: the next one waits for it (store contract). */
  private readonly storeOps = new Map<string, Promise<void>>()
  /** The store, when it is shared between running processes; then sessions are journaled. */
  private readonly shared: SharedSessionStore | undefined
  private readonly keepAliveTimer: ReturnType<typeof setInterval> | undefined
  private readonly stopRevoked: (() => void) | undefined
  private readonly stopBack: (() => void) | undefined
  /** The journals of a closing server, writing their last changes. */
  private readonly closingJournals: SessionJournal[] = []
  /** Stops telling the closing journals that the store is back (`shutDown`). */
  private stopClosingBack: (() => void) | undefined
  /** With a shared store: the sessions that changed in a turn are committed together. */
  private journals: JournalBatch | undefined
  /** The sessions of a closing server by id: when their last changes are written. */
  private readonly closing = new Map<string, Promise<void>>()
  /** `'disconnect'` events told once the send that closed their connection is through. */
  private readonly disconnectsDue = new Map<Session<S, User>, { code: number; reason: string }>()
  /**
   * The restores and reclaims in flight by session id (settled when the last one started is
   * done): a handoff of one waits for them, or it would let the session go before they build
   * it, and what they then process would be processed again by the process that took it.
   */
  private readonly opening = new Map<string, Promise<void>>()
  /** The last claim made of each session id, until the store answers it. */
  private readonly claims = new Map<string, ClaimInFlight>()

  constructor(private readonly context: ServerContext<S, User>) {
    const { store, sessionTtlMs } = context.options
    if (!isShared(store)) return
    this.shared = store
    // Sessions held here do not expire in the store while this process lives; a killed
    // process's expire `sessionTtlMs` (plus at most a quarter of it) after its last beat.
    this.keepAliveTimer = setInterval(() => this.keepAlive(store), sessionTtlMs / 4)
    this.keepAliveTimer.unref()
    // Back from an outage, the store may have lost sessions (restarted empty): checked at once.
    this.stopBack = store.onBack?.(() => this.keepAlive(store))
    this.stopRevoked = store.onRevoked((id, epoch) => {
      const session = this.bySessionId.get(id)
      const token = session?.journal?.token
      if (session !== undefined && token !== undefined && token < epoch) this.letGo(session)
    })
    // Kept while the server closes: a closing session is handed over once its last write is done.
    store.onHandoff?.((id, token) => this.handOff(id, token))
  }

  /**
   * Keeps the sessions held here alive in the shared store; those it lost (it restarted empty)
   * are stored again, whole: else a resume on another process, or after this one closes, would
   * find nothing and reset a session that lives here.
   */
  private keepAlive(store: SharedSessionStore): void {
    // Reachable is enough: room sends kept ahead of the commits do not hold a keep-alive back.
    if (!(store.reachable?.() ?? store.available()) || this.bySessionId.size === 0) return
    store.keepAlive([...this.bySessionId.keys()], this.storeTtlMs()).then(
      (lost) => {
        for (const id of lost ?? []) this.bySessionId.get(id)?.journal?.lost()
      },
      (error: unknown) =>
        this.context.failure(
          'the shared session store failed to keep sessions',
          withoutCommand(error),
          undefined,
        ),
    )
  }

  /** How long a session lives in a shared store without a write or a keep-alive. */
  private storeTtlMs(): number {
    return Math.ceil(this.context.options.sessionTtlMs * 1.25)
  }

  get size(): number {
    return this.bySessionId.size
  }

  sessions(): IterableIterator<Session<S, User>> {
    return this.bySessionId.values()
  }

  /** Answers a `$hello` (PROTOCOL.md, section 4). */
  open(connection: Connection<S, User>, hello: Hello, user: User): void | Promise<void> {
    if (hello.sid === undefined) {
      this.create(connection, hello, user, undefined)
      return
    }
    // Checked before the session is even looked up: a claim would take it from its owner's link.
    const owner = this.ownerOf(user)
    if (owner !== undefined && !ownedBy(hello.sid, owner)) {
      this.notResumed(connection, 'it belongs to another owner', 'FORBIDDEN')
      this.create(connection, hello, user, 'owner')
      return
    }
    const live = this.bySessionId.get(hello.sid)
    if (live === undefined) {
      return this.opened(
        hello.sid,
        this.restore(connection, hello as Hello & { sid: string }, user),
      )
    }
    if (this.shared?.available() === true && live.journal !== undefined) {
      return this.opened(
        hello.sid,
        this.reclaim(live, connection, hello as Hello & { sid: string }, user),
      )
    }
    const reason = this.unresumable(live, connection, hello)
    if (reason === undefined) {
      this.resume(live, connection, hello, user, false)
      return
    }
    // Its time was up, its timer not run yet: it expired all the same.
    if (reason === 'expired') this.context.counters.sessionsExpired++
    this.replace(live, reason)
    this.create(connection, hello, user, reason)
  }

  /**
   * A session lost its connection: it waits `sessionTtlMs` for its client. `later`: the event is
   * told after the code running now (a send that closed the connection) is through.
   */
  detached(session: Session<S, User>, code: number, reason: string, later = false): void {
    if (!this.context.isClosing()) {
      this.expireLater(session)
      // A journaled session is in the store already.
      if (session.journal === undefined) this.persist(session)
    }
    if (!later) {
      this.context.fire('disconnect', session, { code, reason })
      return
    }
    this.disconnectsDue.set(session, { code, reason })
    queueMicrotask(() => this.tellDisconnect(session))
  }

  /** Tells a `'disconnect'` that waited for the send that closed the connection, if not told yet. */
  private tellDisconnect(session: Session<S, User>): void {
    const due = this.disconnectsDue.get(session)
    if (due === undefined) return
    this.disconnectsDue.delete(session)
    this.context.fire('disconnect', session, due)
  }

  /** The session waits `sessionTtlMs` for its client. */
  private expireLater(session: Session<S, User>): void {
    const { clock, sessionTtlMs } = this.context.options
    session.expiresAt = clock.now() + sessionTtlMs
    this.clearExpiry(session)
    session.expiryTimer = clock.setTimeout(() => this.expire(session), sessionTtlMs)
    unref(session.expiryTimer)
  }

  /**
   * How long a handoff or a resume waits for this process's own work on a session in flight (a
   * restore, a reclaim, a write: a store that stalls). The process that asks for a handoff gives
   * up at its own `handoffTimeoutMs` whatever this one does; these bounds keep this one's.
   */
  private storeWaitMs(): number {
    // A store of the application's may say more than a timer can wait, which would fire at once.
    return Math.min(this.shared?.handoffTimeoutMs ?? defaultHandoffTimeoutMs, maxTimerMs)
  }

  /** A session ended (`Session.end`): forget it here and in the store. */
  ended(session: Session<S, User>, reason: SessionEndReason, rooms: string[]): void {
    this.clearExpiry(session)
    this.bySessionId.delete(session.sessionId)
    this.byPeerId.delete(session.id)
    this.context.limits?.sessionEnded(session)
    const id = session.sessionId
    const shared = this.shared
    const journal = session.journal
    const failed = (error: unknown): void =>
      this.context.failure(
        'the session store failed to delete a session',
        withoutCommand(error),
        session,
      )
    if (shared === undefined) {
      this.queued(id, () => this.context.options.store.delete(id)).catch(failed)
    } else if (reason !== 'moved' && journal !== undefined) {
      const token = journal.token
      if (token !== undefined) this.queued(id, () => shared.release(id, token)).catch(failed)
      else this.queued(id, () => this.releaseLanded(id, journal, failed)).catch(failed)
    }
    // A 'disconnect' still waiting (a send closed the connection, and the session ended in the
    // same turn) is told first: told after the end, it brought back a session the application
    // had forgotten (away, for ever, in its presence).
    this.tellDisconnect(session)
    this.context.fire('session:end', session, { reason, rooms })
  }

  /**
   * A session that ended while its creation or claim was in flight is released once that lands:
   * left in the store, it would be resumed on another process. The store operations of its id
   * wait meanwhile (a resume of it here finds it released), at most the store's bound; one that
   * lands later is released then.
   */
  private async releaseLanded(
    id: string,
    journal: SessionJournal,
    failed: (error: unknown) => void,
  ): Promise<void> {
    const shared = this.shared as SharedSessionStore
    let token: number | undefined
    const landed = journal.landed().then((held) => (token = held))
    if (await within(landed, this.storeWaitMs(), false)) {
      if (token !== undefined) await shared.release(id, token)
      return
    }
    void landed.then((held) => {
      if (held !== undefined) this.queued(id, () => shared.release(id, held)).catch(failed)
    }, noop)
  }

  /**
   * The server closes: every session goes to the store as it is (to be resumed by the next
   * server on the same store), its timers stop and its pending requests fail.
   */
  shutDown(): void {
    const { clock, sessionTtlMs } = this.context.options
    // Records carry wall time: the next server on the store may be another process. A session
    // whose connection this close ended waits `sessionTtlMs` from now; one detached before keeps
    // the time it had left (`persist`): a restart must not make an abandoned session live longer.
    const now = clock.now()
    const wall = wallNow(clock)
    if (this.keepAliveTimer !== undefined) clearInterval(this.keepAliveTimer)
    this.stopRevoked?.()
    this.stopBack?.()
    for (const session of this.bySessionId.values()) {
      this.clearExpiry(session)
      session.shutDown()
      const journal = session.journal
      if (journal !== undefined) {
        // Journaled as it changed: what is left is the last commit, then the session stays in
        // the store for the next process its client reaches. A store away is waited for (the
        // close bounds it, and reports what did not go): what was served meanwhile is stored
        // nowhere else.
        const done = journal.close().then(() => journal.stop())
        this.storeOps.set(session.sessionId, done)
        this.closingJournals.push(journal)
        const id = session.sessionId
        this.closing.set(id, done)
        void done.then(() => this.closing.delete(id))
        continue
      }
      const left = Number.isFinite(session.expiresAt) ? session.expiresAt - now : sessionTtlMs
      this.write(session, session.toRecord(wall + left))
    }
    this.bySessionId.clear()
    this.byPeerId.clear()
    this.context.limits?.clearSessions()
    // A store back during the close gets the last changes at once, not at a journal's next
    // retry (up to a second on): the close may have less than that left.
    if (this.closingJournals.length > 0) {
      const journals = this.closingJournals
      this.stopClosingBack = this.shared?.onBack?.(() => {
        for (const journal of journals) journal.back()
      })
    }
  }

  /** The close stops waiting for the store: a journal not done yet writes nothing more. */
  abandon(): void {
    this.stopClosingBack?.()
    this.stopClosingBack = undefined
    for (const journal of this.closingJournals.splice(0)) journal.stop()
  }

  /** Resolves when every store operation issued so far has settled. */
  async flush(): Promise<void> {
    await Promise.all(this.storeOps.values())
  }

  private unresumable(
    session: Session<S, User>,
    connection: Connection<S, User>,
    hello: Hello,
  ): Exclude<ResetReason, 'unknown' | 'owner'> | undefined {
    if (session.link === undefined && session.expiresAt <= this.context.options.clock.now()) {
      return 'expired'
    }
    if (session.stream.lossy) return 'lossy'
    const { stream } = session
    if (replayTooLarge(() => stream.snapshot().unacked, stream.lastProcessed, connection, hello)) {
      return this.oversize(connection)
    }
    return undefined
  }

  /** The owner of `user`'s sessions (`sessionOwner`), if sessions are bound to one. */
  private ownerOf(user: User): string | undefined {
    const { sessionOwner } = this.context.options
    if (sessionOwner === undefined) return undefined
    const owner: unknown = sessionOwner(user)
    // A defect of the application's: reported, and the connection closed with 1011.
    if (typeof owner !== 'string') throw new TypeError('sessionOwner must return a string')
    return owner
  }

  /** A resume refused for a message the client can never accept: logged, then reset. */
  private oversize(connection: Connection<S, User>): 'oversize' {
    this.notResumed(
      connection,
      'its replay buffer holds a message over the client max',
      'MESSAGE_TOO_LARGE',
    )
    return 'oversize'
  }

  /** Logs a resume that gets a new session for `why`. */
  private notResumed(
    connection: Connection<S, User>,
    why: string,
    code: 'FORBIDDEN' | 'MESSAGE_TOO_LARGE',
  ): void {
    const { remoteAddress } = connection
    this.context.warn(`session not resumed: ${why}`, {
      code,
      ...(remoteAddress === undefined ? {} : { remoteAddress }),
    })
  }

  /**
   * With a shared store, a resume of a session this process holds goes through the store too:
   * another process may have taken it over since (its client went there and came back), and
   * then what this process holds is stale.
   */
  private async reclaim(
    live: Session<S, User>,
    connection: Connection<S, User>,
    hello: Hello & { sid: string },
    user: User,
  ): Promise<void> {
    const journal = live.journal as SessionJournal
    const previous = live.link
    if (previous !== undefined) {
      // The old link stops here: nothing it brings may change the session while it is claimed.
      live.detach(previous)
      this.takenOver(live, previous)
    }
    try {
      return await this.claimHeld(live, journal, connection, hello, user)
    } finally {
      // Not resumed (the claim failed or was refused, or its connection went meanwhile) and not
      // let go: linked to nothing, the session waits `sessionTtlMs` for its client, as detached.
      if (!live.closed && live.link === undefined && live.expiryTimer === undefined) {
        this.expireLater(live)
      }
    }
  }

  /** `reclaim` once the old link is gone: the store's claim, then resumed, let go or refused. */
  private async claimHeld(
    live: Session<S, User>,
    journal: SessionJournal,
    connection: Connection<S, User>,
    hello: Hello & { sid: string },
    user: User,
  ): Promise<void> {
    // A claim of it made here is in flight: its answer comes first (the token this one asks by).
    // Left unanswered (the store hangs), the session is served as while the store is away; that
    // claim, once answered, tells whether it is still this process's.
    const ahead = this.claims.get(hello.sid)
    if (ahead !== undefined) {
      const answer = await ahead.answer.catch(noop)
      if (!connection.alive) return
      if (live.closed) return this.open(connection, hello, user)
      if (answer === 'stalled') {
        this.serveUnclaimed(live, connection, hello, user)
        return
      }
    }
    if (!(await within(journal.quiet(), this.storeWaitMs(), false))) {
      // A write of it is still in flight (the store stalls): a claim now would wait behind it,
      // or fence it. The session stays here, as while the store is away; the client comes back.
      throw new LifelineError(
        'STORE_UNAVAILABLE',
        'the session cannot be stored now: try again later',
        {
          closeCode: tryAgainLater,
        },
      )
    }
    const held = journal.token
    let answer: ClaimedSession | undefined | 'stalled'
    const claim = this.claim(hello.sid, hello.ack)
    journal.rebind(claim.claimed, held)
    try {
      answer = await claim.answer
    } catch (error) {
      this.claimFailed('the shared session store failed to claim a session', error, live)
      if (!connection.alive) return
      // Ended meanwhile (the application closed it): a new session, as after a claim that
      // succeeded; the resume must be answered, not left to its hello timeout.
      if (live.closed) return this.open(connection, hello, user)
      // Unreachable: this process still holds the session, and serves it.
      this.resume(live, connection, hello, user, false)
      return
    }
    if (!connection.alive) return
    if (answer === 'stalled') {
      // The store hangs: the client is not left waiting for it. The claim goes on, and the
      // journal takes its outcome (its token, or a let-go if another process took it since).
      // Out of the claim's `try`: the refusal of a stale copy (1013) is no failed claim, which
      // would serve that copy.
      if (live.closed) return this.open(connection, hello, user)
      this.serveUnclaimed(live, connection, hello, user)
      return
    }
    const claimed = answer
    if (claimed !== undefined && claimed.previousEpoch !== held) {
      // Another process took it over since: what is here is stale, and its journal let it go.
      if (!live.closed) this.letGo(live)
      this.restoreClaimed(connection, hello, user, claimed)
      return
    }
    if (live.closed) return this.open(connection, hello, user)
    // The store lost it (it restarted empty, `undefined`): this process holds it, and stores
    // it again; or nobody took it meanwhile.
    this.resume(live, connection, hello, user, false)
  }

  /**
   * Claims session `id` in the shared store, after the store operations on it ahead. Its answer
   * is `'stalled'` once the store leaves the claim unanswered for a while (it hangs), or leaves
   * so a claim of `id` ahead that it waits for, or another operation on `id` (a write, a
   * release) for `storeWaitMs`: a resume does not wait for the store past that. The claim goes
   * on all the same, and settles once the store answers; but with `givenUpOnStall` (a resume of
   * a session this process does not hold, refused then) it is given up: it no longer starts, and
   * the store takes the session from no live owner for it. The client went on elsewhere
   * meanwhile, maybe to a process that claimed the session since and serves it.
   */
  private claim(id: string, acknowledged: number, givenUpOnStall = false): ClaimInFlight {
    const shared = this.shared as SharedSessionStore
    let stall: () => void = noop
    const stalled = new Promise<'stalled'>((resolve) => (stall = () => resolve('stalled')))
    const ahead = this.claims.get(id)
    const before = this.storeOps.get(id)
    let started = false
    const claimed = this.queued(id, () => {
      started = true
      if (givenUpOnStall && claim.stalled) throw claimGivenUp()
      return shared.claim(id, this.storeTtlMs(), acknowledged, () => {
        claim.stalled = true
        stall()
        return givenUpOnStall
      })
    })
    const claim: ClaimInFlight = {
      claimed,
      answer: Promise.race([claimed, stalled]),
      stalled: false,
    }
    // Queued behind a claim the store does not answer: this one waits as long.
    const behind = (): void => {
      if (started) return
      claim.stalled = true
      stall()
    }
    if (ahead?.stalled === true) behind()
    else if (ahead !== undefined) {
      void ahead.answer.then((answer) => answer === 'stalled' && behind(), noop)
    } else if (before !== undefined) {
      // Queued behind a release or write of the session that the store does not answer (a
      // session this process ended while it hangs): that one tells nothing of a stall, and the
      // resume would wait for it until its hello times out.
      const { clock } = this.context.options
      const timer = clock.setTimeout(behind, this.storeWaitMs())
      unref(timer)
      void before.then(() => clock.clearTimeout(timer))
    }
    this.claims.set(id, claim)
    const answered = (): void => {
      claim.stalled = false
      if (this.claims.get(id) === claim) this.claims.delete(id)
    }
    claimed.then(answered, answered)
    claimed.then(() => this.batch(shared).recovered('claim'), noop)
    return claim
  }

  /**
   * A claim failed (the store away, or refusing it): reported once per outage, as its writes
   * and creations are. Each resume refused was reported, and every client that came here while
   * the store was away retries its resume through its backoff: a report each, every few
   * seconds, for as long as the outage lasted.
   */
  private claimFailed(
    message: string,
    error: unknown,
    session: Session<S, User> | undefined,
  ): void {
    if (this.batch(this.shared as SharedSessionStore).outage('claim')) {
      this.context.failure(message, withoutCommand(error), session)
    }
  }

  /** The journals' batch, which also counts the store's outages (`JournalBatch.outage`). */
  private batch(shared: SharedSessionStore): JournalBatch {
    return (this.journals ??= new JournalBatch(shared))
  }

  /**
   * A resume of a session this process holds, served without the store's claim (it hangs), as
   * while the store is away. A client that got more than this process sent it, or had more of
   * its own messages acknowledged than this process processed, was served by another process
   * since: what is here is stale, and it tries again later. Reset here instead, the session
   * would be lost, though the store holds it whole.
   */
  private serveUnclaimed(
    live: Session<S, User>,
    connection: Connection<S, User>,
    hello: Hello,
    user: User,
  ): void {
    const { stream } = live
    if (clientAhead(hello, stream.lastSent, stream.lastProcessed)) throw storeNotAnswering()
    this.resume(live, connection, hello, user, false)
  }

  /** Tracks a restore or reclaim of session `id` in flight (`opening`). */
  private opened(id: string, open: Promise<void>): Promise<void> {
    const before = this.opening.get(id) ?? Promise.resolve()
    const done = Promise.all([before, open.then(noop, noop)]).then(noop)
    this.opening.set(id, done)
    void done.then(() => {
      if (this.opening.get(id) === done) this.opening.delete(id)
    })
    return open
  }

  /**
   * Another process is about to claim the session: it stops taking client messages here (its
   * client is there now), what it processed is stored with this process's token, and it lets
   * go. Then the claim reads everything this process processed: nothing is processed twice.
   * A restore or reclaim of it in flight here is waited for first: the claim it made may have
   * taken the session already, and it would serve it, with frames its link brought. Each wait is
   * bounded by the store's `handoffTimeoutMs`: past it (the store stalls), the session goes as
   * after a crash, and the store's tokens decide between a claim still in flight here and theirs.
   * Asked by `token`, a session this process holds by a newer one (it claimed it afresh
   * meanwhile) is kept: the claim that asked finds the new token, and asks again if it still
   * wants it.
   */
  private async handOff(id: string, token: number | undefined): Promise<void> {
    const askedAt = performance.now()
    await within(this.openingDone(id), this.storeWaitMs(), false)
    const closing = this.closing.get(id)
    if (closing !== undefined) return closing
    const session = this.bySessionId.get(id)
    const journal = session?.journal
    if (session === undefined || journal === undefined || session.closed) return
    const held = journal.token
    if (token !== undefined && held !== undefined && held > token) return
    const link = session.link
    if (link !== undefined) {
      session.detach(link)
      link.close(1012, 'session moved')
    }
    // The answers of its handlers still running go with it; past half the bound they are
    // answered `CLOSED`. The requests are stored as processed: the next process drops them as
    // duplicates, and their answers must be in the store before the claim that asked stops
    // waiting, `handoffTimeoutMs` after it asked. Waited for the whole bound, a `CLOSED` came
    // after the claim had taken the session, and its write was refused: never answered.
    const handlersMs = Math.max(0, askedAt + this.storeWaitMs() / 2 - performance.now())
    await within(session.handlersDone(), handlersMs, false)
    if (!session.closed) session.answerRunning('the session moved before the handler finished')
    // A write still in flight past the wait (the store stalls) is as after a crash: the session
    // goes all the same, and that write, late, is refused once the claim raised the token.
    await within(journal.drain(), this.storeWaitMs(), false)
    if (!session.closed) this.letGo(session)
  }

  /** Settles once no restore or reclaim of session `id` is in flight here (`opening`). */
  private async openingDone(id: string): Promise<void> {
    for (let open = this.opening.get(id); open !== undefined; open = this.opening.get(id)) {
      await open
    }
  }

  /** Another process owns the session now: forget it here, without touching the store. */
  letGo(session: Session<S, User>): void {
    const link = session.link
    this.context.counters.sessionsMoved++
    session.end('moved')
    link?.close(1012, 'session moved')
  }

  private async restore(
    connection: Connection<S, User>,
    hello: Hello & { sid: string },
    user: User,
  ): Promise<void> {
    const { store, clock } = this.context.options
    const sid = hello.sid
    let record: SessionRecord | undefined
    let claimed: ClaimedSession | undefined
    let stalled = false
    try {
      if (this.shared === undefined) record = await this.queued(sid, () => store.get(sid))
      else {
        const answer = await this.claim(sid, hello.ack, true).answer
        stalled = answer === 'stalled'
        claimed = answer === 'stalled' ? undefined : answer
        record = claimed?.record
      }
    } catch (error) {
      if (this.shared !== undefined) {
        this.claimFailed('the session store failed to read a session', error, undefined)
      } else {
        this.context.failure(
          'the session store failed to read a session',
          withoutCommand(error),
          undefined,
        )
      }
      // A shared store away: the session may well be alive (on another process, or in the store
      // when it is back). Try again later (1013) rather than lose it to a reset.
      if (this.shared !== undefined) {
        throw new LifelineError(
          'STORE_UNAVAILABLE',
          'sessions cannot be read now: try again later',
          {
            closeCode: tryAgainLater,
          },
        )
      }
    }
    // The store hangs: try again later (1013), rather than wait for it until the hello times
    // out. The claim goes on; should it take the session, the next claim takes it from here at
    // once, and this process hands it over to another's at once.
    if (stalled) throw storeNotAnswering()
    if (!connection.alive) return
    // Another connection may have restored it while the store answered.
    if (this.bySessionId.has(sid)) return this.open(connection, hello, user)
    if (claimed !== undefined) return this.restoreClaimed(connection, hello, user, claimed)
    let reason: ResetReason = 'unknown'
    if (record !== undefined) {
      reason =
        record.expiresAt <= wallNow(clock)
          ? 'expired'
          : stale(record, hello)
            ? 'lossy'
            : replayTooLarge(() => record.replay, record.lastClientSeq, connection, hello)
              ? this.oversize(connection)
              : 'unknown'
      if (reason === 'unknown') {
        const session = this.restored(record, user, connection)
        this.add(session, connection)
        this.resume(session, connection, hello, user, true)
        return
      }
      // Stored by a process gone since (a close, a crash): no timer of any process counted it.
      if (reason === 'expired') this.context.counters.sessionsExpired++
      this.queued(sid, () => store.delete(sid)).catch(noop)
    }
    this.create(connection, hello, user, reason)
  }

  /** A session rebuilt from its stored record, for the connection that resumes it. */
  private restored(
    record: SessionRecord,
    user: User,
    connection: Connection<S, User>,
  ): Session<S, User> {
    return new Session(this.context, {
      id: record.peerId,
      sessionId: record.id,
      user,
      codec: connection.codec,
      state: {
        lastProcessed: record.lastClientSeq,
        lastSent: record.lastServerSeq,
        unacked: record.replay,
        lossy: false,
      },
      rooms: record.rooms,
      ...(record.roomCursors === undefined ? {} : { roomCursors: record.roomCursors }),
    })
  }

  /** A session this process claimed from the shared store: resumed here, or refused. */
  private restoreClaimed(
    connection: Connection<S, User>,
    hello: Hello & { sid: string },
    user: User,
    claimed: ClaimedSession,
  ): void {
    const shared = this.shared as SharedSessionStore
    const { record, epoch } = claimed
    // A client that got more than the store holds (server envelopes, or acknowledgements of its
    // own) was served by a process that could not store it (it had lost the store, and the
    // client left it meanwhile): the session cannot be resumed exactly, as after an overflow.
    // No fault of the client's: a violation (ours for its `a`, its own for our lower `a`) would
    // close it for good.
    const reason: ResetReason | undefined = stale(record, hello)
      ? 'lossy'
      : replayTooLarge(() => record.replay, record.lastClientSeq, connection, hello)
        ? this.oversize(connection)
        : undefined
    if (reason !== undefined) {
      this.queued(record.id, () => shared.release(record.id, epoch)).catch(noop)
      this.create(connection, hello, user, reason)
      return
    }
    const session = this.restored(record, user, connection)
    this.journal(session, {
      epoch,
      clientSeq: record.lastClientSeq,
      serverSeq: record.lastServerSeq,
    })
    this.add(session, connection)
    this.resume(session, connection, hello, user, true)
    session.joinCluster()
  }

  /** With a shared store: the session is written as it changes. */
  private journal(
    session: Session<S, User>,
    start: { epoch: number; clientSeq: number; serverSeq: number } | undefined,
  ): void {
    const shared = this.shared
    if (shared === undefined) return
    const context = this.context
    session.journal = new SessionJournal(
      shared,
      this.batch(shared),
      {
        sessionId: session.sessionId,
        lastProcessed: () => session.stream.lastProcessed,
        acknowledged: () => session.stream.acknowledged,
        lossy: () => session.stream.lossy,
        rooms: () => session.roomCursors(),
        record: () =>
          session.toRecord(wallNow(context.options.clock) + context.options.sessionTtlMs),
        committed: () => session.pump(),
        fenced: () => {
          if (!session.closed) this.letGo(session)
        },
        failure: (message, error) => context.failure(message, withoutCommand(error), session),
      },
      this.storeTtlMs(),
      start,
      context.options.replayLimit,
    )
  }

  private resume(
    session: Session<S, User>,
    connection: Connection<S, User>,
    hello: Hello,
    user: User,
    restored: boolean,
  ): void {
    const { stream } = session
    // The client was acknowledged more than this copy processed: another process served the
    // session since and could not store what it did (see `restoreClaimed`), and this one, away
    // from the store or not told, holds it still. Resumed, its lower `a` would be a violation.
    // So for a client that got more than this copy sent, with a shared store (`journal`): no
    // violation of the client's, which a close with 1002 would end for good.
    if (
      session.journal === undefined
        ? hello.acknowledged > stream.lastProcessed
        : clientAhead(hello, stream.lastSent, stream.lastProcessed)
    ) {
      this.replace(session, 'lossy')
      this.create(connection, hello, user, 'lossy')
      return
    }
    if (hello.ack > stream.lastSent) throw ackTooHigh(hello.ack, stream.lastSent)
    const previous = session.link
    if (previous !== undefined) {
      session.detach(previous)
      this.takenOver(session, previous)
      // Its `'disconnect'` listener may have ended it (`peer.close()`): the client gets a new
      // session, as it would a moment later. Resumed, it would be served by a session the server
      // forgot: its requests never answered, and nothing would ever expire it.
      if (session.closed) {
        this.create(connection, hello, user, 'unknown')
        return
      }
    }
    this.clearExpiry(session)
    connection.bind(session)
    session.attach(connection, user, hello.max, hello.roomIds)
    connection.write(
      connection.codec.encode(
        welcome(
          session.sessionId,
          true,
          stream.lastProcessed,
          this.maxFrame(connection),
          clientWindowBytes(this.context.options),
        ),
      ),
    )
    session.replay(hello.ack)
    session.rewindRooms()
    this.context.counters.sessionsResumed++
    this.context.fire(restored ? 'connection' : 'resume', session, {
      request: connection.request,
      restored,
    })
    connection.opened()
  }

  /**
   * Ends `session` for a resume that cannot be served exactly (it gets a new one). A connection
   * still attached is taken over first, as by a resume: left open, its client would go on
   * talking to a session the server forgot, and nothing would ever close it.
   */
  private replace(session: Session<S, User>, reason: SessionEndReason): void {
    const previous = session.link
    if (previous !== undefined) {
      session.detach(previous)
      this.takenOver(session, previous)
    }
    session.end(reason)
  }

  /** A newer connection took `session` over from `previous`, which closes. */
  private takenOver(session: Session<S, User>, previous: Link): void {
    this.context.counters.takeovers++
    previous.close(protocolCloseCodes.sessionTakenOver, 'session taken over', 'SESSION_TAKEN_OVER')
    this.context.fire('disconnect', session, {
      code: protocolCloseCodes.sessionTakenOver,
      reason: 'session taken over',
    })
  }

  private create(
    connection: Connection<S, User>,
    hello: Hello,
    user: User,
    reset: ResetReason | undefined,
  ): void {
    const refusal = this.context.limits?.sessionRefusal(connection.request)
    if (refusal !== undefined) {
      this.context.counters.sessionsRefused++
      throw refusal
    }
    const session = new Session(this.context, {
      id: newPeerId(),
      sessionId: newSessionId(this.ownerOf(user)),
      user,
      codec: connection.codec,
    })
    this.journal(session, undefined)
    this.add(session, connection)
    session.joinCluster()
    connection.bind(session)
    session.attach(connection, user, hello.max, hello.roomIds)
    connection.write(
      connection.codec.encode(
        welcome(
          session.sessionId,
          false,
          0,
          this.maxFrame(connection),
          clientWindowBytes(this.context.options),
        ),
      ),
    )
    this.context.fire('connection', session, { request: connection.request, restored: false })
    // A 'connection' listener may have ended the session already ('session:end' fired): no
    // reset is told for a session that is gone.
    if (reset !== undefined && !session.closed) {
      this.context.fire('session:reset', session, { reason: reset })
    }
    connection.opened()
  }

  /** The largest frame this server accepts on `connection`: what `$welcome` announces. */
  private maxFrame(connection: Connection<S, User>): number {
    return Math.min(this.context.options.maxMessageSize, connection.codec.maxBytes ?? Infinity)
  }

  private add(session: Session<S, User>, connection: Connection<S, User>): void {
    this.bySessionId.set(session.sessionId, session)
    this.byPeerId.set(session.id, session)
    this.context.limits?.sessionAdded(session, connection.request)
    this.context.counters.sessionsCreated++
  }

  private expire(session: Session<S, User>): void {
    session.expiryTimer = undefined
    if (session.link !== undefined || session.closed) return
    this.context.counters.sessionsExpired++
    session.end('expired')
  }

  private clearExpiry(session: Session<S, User>): void {
    if (session.expiryTimer !== undefined) {
      this.context.options.clock.clearTimeout(session.expiryTimer)
    }
    session.expiryTimer = undefined
  }

  private persist(session: Session<S, User>): void {
    // The session's own deadline is on the monotonic clock, which only this process can read;
    // the record gets the same time left as a wall time, which a store shared with other
    // processes, or kept across a restart, compares with its own wall clock.
    const { clock } = this.context.options
    this.write(session, session.toRecord(wallNow(clock) + (session.expiresAt - clock.now())))
  }

  private write(session: Session<S, User>, record: SessionRecord): void {
    const { store } = this.context.options
    this.queued(record.id, () => store.set(record)).catch((error: unknown) =>
      this.context.failure(
        'the session store failed to save a session',
        withoutCommand(error),
        session,
      ),
    )
  }

  /** Runs `operation` after the previous store operation on `id` has settled. */
  private queued<T>(id: string, operation: () => T | Promise<T>): Promise<T> {
    const previous = this.storeOps.get(id) ?? Promise.resolve()
    const result = previous.then(operation)
    const tail = result.then(noop, noop)
    this.storeOps.set(id, tail)
    void tail.then(() => {
      if (this.storeOps.get(id) === tail) this.storeOps.delete(id)
    })
    return result
  }
}

/**
 * Whether the replay a resume would send holds an envelope over the client's `max`: it would be
 * refused on every resume, forever. Measured only when the client accepts less than the codec
 * produces; an envelope the codec cannot encode is left to the replay to report.
 */
function replayTooLarge(
  replay: () => readonly KeptEnvelope[],
  lastProcessed: number,
  connection: { codec: Codec },
  hello: Hello,
): boolean {
  const { codec } = connection
  const max = hello.max
  if (max >= (codec.maxBytes ?? Infinity)) return false
  return replay().some((envelope) => {
    if (envelope.s <= hello.ack) return false
    let frame
    try {
      frame = encodeEnvelope(codec, { ...envelope, a: lastProcessed })
    } catch {
      return false
    }
    return frameBytes(frame) > max
  })
}

/**
 * A stored session that cannot be resumed exactly: it overflowed, or its client got more than
 * the record holds (server envelopes past its count, or acknowledgements of client messages
 * past it): a process served it and its record is older than what it did (a store shared with a
 * process that had lost it, or a store that outlives a process killed after its last write).
 * No fault of the client's: a violation (ours for its `a`, its own for our lower `a`) would close
 * it for good.
 */
function stale(record: SessionRecord, hello: Hello): boolean {
  return record.lossy || clientAhead(hello, record.lastServerSeq, record.lastClientSeq)
}

/**
 * The client got more than a copy of its session holds, which `sent` server envelopes and
 * `processed` client messages: a process served it since, and this copy is older than that.
 */
function clientAhead(hello: Hello, sent: number, processed: number): boolean {
  return hello.ack > sent || hello.acknowledged > processed
}

function ackTooHigh(ack: number, lastSent: number): Error {
  return protocolError(`$hello acknowledges ${ack}, but only ${lastSent} were sent`)
}
