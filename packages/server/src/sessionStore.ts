import type { KeptEnvelope } from '@lifeline/core/protocol'

/** A server-to-client envelope kept for replay: type, payload and sequence number. */
export type StoredEnvelope = KeptEnvelope

/**
 * Everything needed to resume a session in another server (a restarted listener, or another
 * process sharing the store). Plain data: a store may serialise it (JSON or msgpack) as it is,
 * as long as the payloads `d` survive the trip.
 */
export interface SessionRecord {
  /** The session id: the secret a client presents in `$hello` to resume. */
  id: string
  /** `peer.id`: the public name of the session. */
  peerId: string
  /** The last client `s` processed. */
  lastClientSeq: number
  /** The `s` of the last server envelope numbered. */
  lastServerSeq: number
  /** Server envelopes not acknowledged by the client, oldest first. */
  replay: StoredEnvelope[]
  /** True when the replay buffer overflowed: the session can no longer be resumed exactly. */
  lossy: boolean
  /** Rooms the session belongs to. */
  rooms: string[]
  /**
   * With a cluster: per room, the id of the last room message the session got (`''` before
   * the first); the broadcast's under the key `'\u0000'`. Absent in stores without a cluster.
   * An object without a prototype, since a room may be named `__proto__`: a store that
   * serialises it must keep every key (msgpack decoders rename `__proto__` in maps read as
   * objects; pairs survive).
   */
  roomCursors?: Record<string, string>
  /**
   * When the session expires, in milliseconds since the Unix epoch (the server clock's
   * `wallNow`, `now()` on a clock without one): a wall time, since the record may be read by
   * another process or after a restart.
   */
  expiresAt: number
}

/**
 * Where sessions live while their client is away. Every method may return a promise, so a store
 * over a network service (Redis, a database) fits; the in-memory one answers synchronously.
 *
 * Contract:
 * - `get` returns the record last `set` for `id`, or `undefined` when there is none or it has
 *   expired (`expiresAt` at or before now). It may return a copy. Errors reject (or throw); the
 *   server then treats the session as unknown and reports the error.
 * - `set` stores the record (replacing any with that id) until `expiresAt`; `delete` forgets it.
 *   Neither may mutate the record, and the server never mutates one after passing it.
 * - Calls for one session id are issued one at a time, in order (the server waits for the
 *   previous call on that id to settle), so a store needs no locking of its own for that.
 * - A server writes a session when its connection closes and when the server closes, and
 *   deletes it when the session ends or expires. It reads a session only when a client asks to
 *   resume one that it does not hold, so one process owns a live session at a time: sharing
 *   such a store between processes that run at once needs sticky routing of a client to one
 *   process. A `SharedSessionStore` (see `cluster.ts`, e.g. `@lifeline/redis`) lifts that: it
 *   fences each session to one process at a time and is written as the session changes.
 * - A store must not keep a Node process alive by itself (unref its timers and sockets, or
 *   document a `close()`); `close` is never called by the server, since a store outlives it.
 */
export interface SessionStore {
  get(id: string): SessionRecord | undefined | Promise<SessionRecord | undefined>
  set(record: SessionRecord): void | Promise<void>
  delete(id: string): void | Promise<void>
  /** Releases the store's timers and connections, if it has any. */
  close?(): void | Promise<void>
}
