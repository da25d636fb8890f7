import type { SessionRecord, SessionStore, StoredEnvelope } from './sessionStore.js'

/**
 * The room name under which `Cluster.joined`/`left` and a member's cursor stand for the
 * broadcast, which every session receives. Not a room a user may join.
 */
export const broadcastRoom = '\u0000'

/**
 * A server envelope as a shared store is given it. A room message carries `ref`: the room and
 * the id of the message in the room's history (the cluster's), from which a store may rebuild
 * the envelope instead of keeping a copy of the payload per member.
 */
export interface JournaledEnvelope extends StoredEnvelope {
  /** `[room, id]` of a room message (`room` is `'\u0000'` for a broadcast). */
  ref?: readonly [room: string, id: string]
}

/** What changed in a session since its last commit to a shared store. */
export interface SessionChange {
  /** The last client `s` processed. */
  lastClientSeq: number
  /**
   * Server envelopes numbered since the last commit that succeeded, oldest first. It may repeat
   * envelopes a commit that timed out did store: the store keeps each `s` once.
   */
  sent: JournaledEnvelope[]
  /** The highest server `s` the client acknowledged: the store may forget up to it. */
  acknowledged: number
  /** The rooms and their cursors now, when they changed since the last commit. */
  rooms?: Record<string, string>
  /** Whether the replay buffer overflowed (the session can no longer be resumed exactly). */
  lossy: boolean
}

/** A session taken by this process: its state, and the fencing token its writes carry. */
export interface ClaimedSession {
  record: SessionRecord
  /** The fencing token of this claim: every later commit must carry it. */
  epoch: number
  /** The token the session had before this claim (the previous owner's). */
  previousEpoch: number
}

/** What a commit found. `'fenced'`: another process claimed the session since. */
export type CommitResult = 'ok' | 'fenced' | 'missing'

/** One session's part of a commit: its changes, under the token this process holds it by. */
export interface SessionCommit {
  id: string
  epoch: number
  change: SessionChange
}

/**
 * A `SessionStore` that several processes share while they run, with no sticky routing: a
 * session is owned by one process at a time, by a fencing token (`epoch`) that a claim raises
 * and that every write must carry, so the store refuses the writes of a process that lost it.
 * The server writes a session as it changes (`commit`), not only when its connection closes,
 * and acknowledges to either side only what a commit stored (PROTOCOL.md, section 11).
 */
export interface SharedSessionStore extends SessionStore {
  /** Marks the store as shared: the server then uses the methods below, not `get`/`set`. */
  readonly shared: true
  /** True while the store can answer now; false while its service is unreachable. */
  available(): boolean
  /**
   * True while the store's service can be reached, even when it refuses writes for a while
   * (`available()` may be false then): a handoff or a close goes on trying to store what a
   * session processed rather than give up on a refusal. `available()` when absent.
   */
  reachable?(): boolean
  /**
   * How long a claim waits for a live owner to hand a session over before it treats it as
   * crashed. The server waits no longer, in a handoff, for a resume of the session in flight on
   * it and then for its own write of it (it lets the session go), nor, in a resume, for that
   * write (refused with 1013). 5 s when absent.
   */
  readonly handoffTimeoutMs?: number
  /** Creates a session owned by this process; resolves to its token. */
  create(record: SessionRecord, ttlMs: number): Promise<number>
  /**
   * Takes a session for this process: raises its token atomically, tells the previous owner
   * to let go, and returns the state; `undefined` when there is no such session. `acknowledged`
   * is the `a` of the client that resumes: the envelopes up to it need not be in the record's
   * `replay`. An envelope above it that the store kept as a room reference and can no longer
   * rebuild (the room's history was trimmed past it) makes the record `lossy`: the session
   * cannot be resumed exactly. `stalled`, if the store can tell, is called (once) when its
   * service leaves a request of the claim unanswered for a while (it hangs, its link up): the
   * server then answers the client that resumes without the claim, which goes on and settles
   * once the service answers. A wait for a live owner's handoff is no such request. `stalled`
   * returns true when the server gives the claim up then (it refused the resume, and the client
   * goes on elsewhere): from then on the claim must take the session from no live owner, nor ask
   * one for it (which would end the link its client has there since), and may fail instead; a
   * request already sent may still ask.
   */
  claim(
    id: string,
    ttlMs: number,
    acknowledged?: number,
    stalled?: () => boolean | void,
  ): Promise<ClaimedSession | undefined>
  /**
   * Applies the changes of several sessions at once (the server sends every session that
   * changed in one event-loop turn together), each only if its `epoch` is still the session's
   * token: one result per commit, in order. `'fenced'` refuses that session's change only;
   * `'missing'` when the session is not in the store any more (the store lost it: the server
   * creates it again). A rejection means none is known to be stored. The sessions' expiry is
   * `keepAlive`'s business, not the commit's.
   */
  commit(commits: readonly SessionCommit[]): Promise<CommitResult[]>
  /** Deletes the session if `epoch` is still its token. */
  release(id: string, epoch: number): Promise<void>
  /**
   * Keeps the sessions this process holds from expiring in the store for `ttlMs` more. May
   * resolve with those of `ids` it no longer has (it restarted empty, or failed over to a
   * replica that lacked them): the server stores them again, or a resume of one on another
   * process would find nothing and reset it.
   */
  keepAlive(ids: readonly string[], ttlMs: number): Promise<void | readonly string[]>
  /**
   * Calls `listener` each time the store's service is reachable again after it was not (a
   * reconnection); the server then checks at once that its sessions are still there
   * (`keepAlive`). Returns a function that stops the calls.
   */
  onBack?(listener: () => void): () => void
  /**
   * Calls `listener` with the id of a session this process holds that another process claimed
   * and the token of that claim, so that it lets go at once; returns a function that stops the
   * calls.
   */
  onRevoked(listener: (id: string, epoch: number) => void): () => void
  /**
   * Calls `listener` with the id of a session this process may hold that another process is
   * about to claim, and the token it was found held by; the listener resolves once what was
   * processed of it is stored (with this process's token, still valid) and this process let go
   * of it, or at once when it holds the session by a newer token (it claimed it again since:
   * the claim then finds that token, and asks again). The store makes the claim only then (or
   * after a bounded wait), so a move between live processes repeats nothing. Returns a function
   * that stops the calls. A store without it claims at once.
   */
  onHandoff?(listener: (id: string, token?: number) => Promise<void>): () => void
}

/** A local member of a room, as the cluster sees it. */
export interface ClusterMember {
  /** `peer.id`. */
  readonly id: string
  /**
   * `peer.sessionId`: the member's session in the cluster's store, whose holder (the process
   * that created or last claimed it) is the one process where the member is present.
   */
  readonly sessionId: string
  readonly closed: boolean
  /** The id of the last room message this member got in `room`, if any yet. */
  cursor(room: string): string | undefined
  /** Moves the cursor without delivering (a reset, or the room's last id at the join). */
  setCursor(room: string, id: string): void
  /** Delivers room message `id` (reliable) and moves the cursor to it, in one step. */
  deliver(room: string, id: string, type: string, data: unknown): void
  /** Sends an unreliable message, if the link is up. */
  sendUnreliable(type: string, data: unknown): void
  /** The room's history no longer reaches back to this member's cursor: skip to `id`. */
  reset(room: string, id: string): void
  /**
   * False while the member's client is behind (its unsent output over the high-water mark): a
   * catch-up from the room's history gives it more only once `whenRoom` calls back. Absent: it
   * always has room.
   */
  hasRoom?(): boolean
  /**
   * Calls `callback` once the member's output has drained, or its link changed or went away
   * (the catch-up then goes on as for a member away).
   */
  whenRoom?(callback: () => void): void
}

/** What a server offers the cluster it runs in. */
export interface ClusterHost {
  /** The local members of `room`, or every local session for `undefined` (a broadcast). */
  members(room: string | undefined): Iterable<ClusterMember>
  /** Reports a failure of the cluster (its service unreachable, a message that cannot be read). */
  failure(message: string, error: unknown): void
}

/**
 * Rooms, broadcast and presence across the server processes of a cluster. A room send goes to
 * the cluster, which delivers it to the members of every process (this one included) through
 * `ClusterMember.deliver`.
 */
export interface Cluster {
  /** The shared store of the cluster's sessions. */
  readonly store: SharedSessionStore
  /** Called once by the server that uses the cluster. */
  attach(host: ClusterHost): void
  /**
   * Resolves once the cluster first reaches its service (connected, and hearing what other
   * processes tell this one); never rejects. Until then a member that joins a room cannot be
   * placed in the room's order: what other processes send the room meanwhile would pass it by.
   * So the server holds its first `$hello`s until this resolves, for at most 2 s from its start
   * (or half of `helloTimeoutMs`, if less; then it serves as during an outage). A rejection
   * counts as resolved.
   */
  ready?(): Promise<void>
  /**
   * Sends to every member of `room` on every process (`undefined`: every session). Throws
   * `QUEUE_FULL` when the cluster's service is unreachable and its buffer is full. Returns
   * `false` for an unreliable send that it dropped (the service is unreachable): nobody gets it.
   */
  send(
    room: string | undefined,
    type: string,
    data: unknown,
    options: { reliable: boolean; except: string | undefined; id: string | undefined },
  ): boolean | void
  /** A local session joined a room (also when restored into its rooms). */
  joined(member: ClusterMember, room: string): void
  /**
   * A local member's cursor in `room` went back (a resume of a client that takes room messages
   * numbered by their room): deliver it what follows, from the room's history. Without it, such
   * clients get numbered room messages.
   */
  rewound?(member: ClusterMember, room: string): void
  /** A local session left a room; `moved`: it lives on in another process. */
  left(member: ClusterMember, room: string, moved: boolean): void
  /**
   * The server closes and its clients are gone (`server.close()` calls it): stop delivering
   * room messages to it, and send what waits. The store still answers for the server's sessions
   * while their last changes are written (a handoff, `SharedSessionStore.onHandoff`): a claim
   * made then waits for them.
   */
  detach(): Promise<void>
  /** The server's sessions are stored: stop the cluster's work for it (after `detach`). */
  close?(): Promise<void>
}

/** Whether a store is shared between running processes (and must be used as such). */
export function isShared(store: SessionStore): store is SharedSessionStore {
  return (store as Partial<SharedSessionStore>).shared === true
}
