import type { IncomingMessage } from 'node:http'
import type { Schema } from '@lifeline/core/protocol'
import type { Peer } from './peer.js'

export interface ConnectionInfo {
  /** The upgrade request (headers, remote address). */
  request: IncomingMessage
  /**
   * True when the session was created by an earlier server and restored from the store (a
   * restarted listener): the client resumed, but this server sees the peer for the first time.
   */
  restored: boolean
}

export interface DisconnectInfo {
  /** The close code of the connection (1006 when it was lost without a close frame). */
  code: number
  reason: string
}

/**
 * Why a client that asked to resume got a new session (`resumed: false`). `'oversize'`: its
 * replay buffer holds a message over the largest frame the client now accepts (`max` of its
 * `$hello`), which could never be delivered. `'owner'`: the session belongs to another owner
 * (`sessionOwner`); it is left as it was.
 */
export type ResetReason = 'unknown' | 'expired' | 'lossy' | 'oversize' | 'owner'

/**
 * Why a session ended. `'moved'`: with a shared store, another process took the session over
 * (its client resumed there): the session lives on there, this process let go of it.
 */
export type SessionEndReason = 'expired' | 'closed' | 'lossy' | 'oversize' | 'moved'

/** The events of a server, with their arguments. */
export interface ServerEvents<S extends Schema, User> {
  /**
   * A peer this server had not seen: a new session, or one restored from the store. Fires once
   * per peer, after `$welcome` and the replay, before any of the client's messages is
   * dispatched: attach message handlers here.
   */
  connection: [peer: Peer<S, User>, info: ConnectionInfo]
  /** A new connection resumed a session this server holds; the peer is the same object. */
  resume: [peer: Peer<S, User>, info: ConnectionInfo]
  /** A session lost its connection; it waits `sessionTtlMs` for a resume. */
  disconnect: [peer: Peer<S, User>, info: DisconnectInfo]
  /**
   * A client asked to resume a session that is gone and got a new one (`resumed: false`): it
   * emits `reset` and resends what it had not seen acknowledged, as new messages. Fires right
   * after `'connection'` of the new peer.
   */
  'session:reset': [peer: Peer<S, User>, info: { reason: ResetReason }]
  /**
   * A session ended: it expired, was closed with `peer.close()`, or overflowed and was replaced.
   * `rooms`: those it was in, left by now (`peer.rooms` is empty), for a "left" to tell them.
   */
  'session:end': [peer: Peer<S, User>, info: { reason: SessionEndReason; rooms: readonly string[] }]
  /**
   * With a cluster: the room's history no longer reaches back to the last room message this
   * session got (it was away too long, or the history was lost): the messages in between are
   * not delivered. Resynchronise the client (send it the room's state).
   */
  'room:reset': [peer: Peer<S, User>, info: { room: string }]
  /**
   * A listener or handler of the application threw, or the server failed (the store, the HTTP
   * listener). Without a listener these go to `logger.error`. Never fired for bad client input,
   * which is counted in `stats` and logged with `logger.warn`.
   */
  error: [error: unknown, peer: Peer<S, User> | undefined]
  /** `close()` has released everything. */
  close: []
}
