import type { Schema } from '@lifeline/core/protocol'
import type { Cluster } from './cluster.js'
import type { ServerEvents, SessionEndReason } from './events.js'
import type { AckSchedule } from './ackSchedule.js'
import type { AddressLimits } from './limits.js'
import type { LogDetails } from './logger.js'
import type { ResolvedOptions } from './options.js'
import type { Peer, RequestInfo } from './peer.js'
import type { Rooms } from './rooms.js'
import type { Session } from './session.js'
import type { StatsCounter } from './stats.js'
import type { Turns } from './turns.js'

/** An RPC method's implementation, as the server stores it. */
export type MethodImplementation<S extends Schema, User> = (
  data: never,
  peer: Peer<S, User>,
  info: RequestInfo,
) => unknown

/** What the parts of a server share: options, counters, rooms, methods, and ways to report. */
export interface ServerContext<S extends Schema, User> {
  readonly options: ResolvedOptions<User>
  readonly counters: Record<StatsCounter, number>
  readonly rooms: Rooms<Session<S, User>>
  readonly methods: ReadonlyMap<string, MethodImplementation<S, User>>
  /** The output of busy connections, shared out turn by turn. */
  readonly turns: Turns
  /** The sessions' delayed `$ack`s, on one timer. */
  readonly acks: AckSchedule
  /** The limits per client address and in all; `undefined` when they are off. */
  readonly limits: AddressLimits<Session<S, User>> | undefined
  /** The cluster the server runs in, if any (rooms and broadcast across processes). */
  readonly cluster: Cluster | undefined
  /** True from the start of `close()`. */
  isClosing(): boolean
  /** Emits an event; a listener that throws is reported, never thrown into the caller. */
  fire<E extends keyof ServerEvents<S, User>>(event: E, ...args: ServerEvents<S, User>[E]): void
  /** The application's listener or handler threw. */
  handlerError(error: unknown, peer: Peer<S, User> | undefined): void
  /** The server's own side failed (store, listener, an encoding that cannot be). */
  failure(message: string, error: unknown, peer: Peer<S, User> | undefined): void
  /** A connection or frame was refused. */
  warn(message: string, details: LogDetails): void
  /** A session ended: forget it, tell the store and the application. */
  sessionEnded(session: Session<S, User>, reason: SessionEndReason, rooms: string[]): void
  /** Work (an RPC handler) that `close()` should give a chance to finish. */
  track(work: Promise<unknown>): void
}
