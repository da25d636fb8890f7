import type {
  AnySchema,
  ClientMessages,
  ClientMethods,
  PayloadArgs,
  RequestOf,
  ResponseOf,
  Schema,
  ServerMessages,
  UserKeys,
} from '@lifeline/core/protocol'

/**
 * The method names of a method map: `keyof M & string`, which holds a method a schema parameter's
 * constraint names (see core's `MessageType`). The methods spell it out, as core's do.
 */
export type MethodName<M> = keyof M & string

export interface SendOptions {
  /**
   * `true`: numbered, kept until the client acknowledges it, replayed after a reconnect, and
   * processed exactly once. `false`: fire and forget, sent only if the link is up now.
   * @default true
   */
  reliable?: boolean | undefined
}

export interface RequestOptions {
  /**
   * The request rejects with `REQUEST_TIMEOUT` if no response came by then.
   * @default the server's requestTimeoutMs (10000)
   */
  timeoutMs?: number | undefined
  /** Aborting rejects the request with `ABORTED`; a late response is ignored. */
  signal?: AbortSignal | undefined
}

/** Which message a handler got: what an idempotent handler keys its effects by. */
export interface MessageInfo {
  /** The message's sequence number in its session; `undefined` for an unreliable message. */
  seq: number | undefined
  /**
   * `${peer.id}:${seq}`: unique per reliable message. A message processed by a process that was
   * then killed (SIGKILL) before its store write may be delivered once more, to any process,
   * with the same id (PROTOCOL.md, section 11). `undefined` for an unreliable message.
   */
  id: string | undefined
}

/**
 * Which request a method handler got (`server.handle`): a request is always reliable, so both
 * are set. A request that a process killed before its store write ran reaches the next process
 * with the same id, as a message does: an idempotent method keys its effects by it.
 */
export interface RequestInfo extends MessageInfo {
  seq: number
  id: string
}

/**
 * Handles one client message type: the payload, the session it came from, and which message it
 * is. What it returns is ignored, except that a rejected promise is reported like a throw.
 */
export type MessageHandler<S extends Schema, User, T> = (
  data: T,
  peer: Peer<S, User>,
  info: MessageInfo,
) => unknown

/**
 * One client session. It outlives its connections: a client that reconnects and resumes gets
 * the same peer object back, with its handlers, rooms, pending requests and unacknowledged
 * messages, so code that holds a peer keeps working across reconnects.
 */
export interface Peer<S extends Schema = AnySchema, User = unknown> {
  /** The public name of the session: safe to log and to show to other clients. */
  readonly id: string
  /**
   * The session id the client presents to resume. A secret, like a session cookie: never send
   * it to anyone else nor log it.
   */
  readonly sessionId: string
  /** What `authenticate` returned for the latest connection of the session. */
  readonly user: User
  /** True while a connection is attached and past the handshake. */
  readonly connected: boolean
  /** True once the session has ended (expired, or `close()`d); it cannot be used any more. */
  readonly closed: boolean
  /** The rooms the session is in. */
  readonly rooms: readonly string[]
  /**
   * Sends a message to the client. Reliable messages sent while the client is away wait in the
   * session's replay buffer (bounded by `replayLimit`). Returns `false` only for an unreliable
   * message that was dropped because the link is down.
   *
   * Throws `ENCODE_FAILED` or `MESSAGE_TOO_LARGE` for data the codec refuses (nothing is sent),
   * `INVALID_ARGUMENT` for a `$` type, `CLOSED` after the session ended or the server closed.
   */
  send<K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string>(
    type: K,
    ...args: PayloadArgs<ServerMessages<S>[K], [options?: SendOptions | undefined]>
  ): boolean
  /**
   * Calls `handler` for every message of `type` from this session, once per message (resends
   * are de-duplicated). Returns a function that removes the handler. A handler that throws or
   * rejects is reported (`'error'` event) and does not disturb the connection.
   */
  on<K extends keyof UserKeys<ClientMessages<S>> & keyof ClientMessages<S> & string>(
    type: K,
    handler: MessageHandler<S, User, ClientMessages<S>[K]>,
  ): () => void
  /**
   * Calls a method the client implements. Rejects with a `LifelineError`: `REQUEST_TIMEOUT`,
   * `ABORTED`, `REMOTE_ERROR` (with the client's code in `remoteCode`) or `CLOSED` when the
   * session ends or the server closes first (at once when it did already). The request survives
   * reconnects of the session.
   */
  request<K extends keyof ClientMethods<S> & string>(
    method: K,
    ...args: PayloadArgs<RequestOf<ClientMethods<S>, K>, [options?: RequestOptions | undefined]>
  ): Promise<ResponseOf<ClientMethods<S>, K>>
  /**
   * Adds the session to a room (idempotent). Membership holds across reconnects. Throws
   * `CLOSED` after the session ended or the server closed.
   */
  join(room: string): void
  /** Removes the session from a room (idempotent). */
  leave(room: string): void
  /**
   * Ends the session: closes its connection with `code` (and `reason`), leaves every room,
   * rejects pending requests with `CLOSED` and forgets the session, so a later resume gets
   * `resumed: false`. Throws `CLOSED` once the server closed: the store keeps the session for
   * the next server.
   * @param code 1000 or 3000–4999. @default 1000
   */
  close(code?: number, reason?: string): void
}
