import type { IncomingMessage, Server as HttpServer } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import { json, type Codec } from '@lifeline/codec'
import { systemClock, type Clock } from '@lifeline/core'
import { maxControlFrameBytes, reliableStreamDefaults } from '@lifeline/core/protocol'
import type { ClientAddress } from './address.js'
import type { ResolvedConnectionLimits } from './limits.js'
import type { Logger } from './logger.js'
import { defaultLogger } from './logger.js'
import { createMemorySessionStore } from './memorySessionStore.js'
import type { Cluster } from './cluster.js'
import { chromiumPath } from './upgrade.js'
import { delay, invalid, positive, positiveInteger } from './validate.js'
import type { SessionStore } from './sessionStore.js'

/** Protocol-level (RFC 6455) ping, answered by every WebSocket client without its help. */
export interface ServerHeartbeatOptions {
  /**
   * A connection from which nothing (no frame, no pong) arrived for this long is pinged.
   * @default 25000
   */
  intervalMs?: number | undefined
  /**
   * A connection from which nothing arrived for `intervalMs + timeoutMs` is dead (half-open):
   * it is terminated, and its session waits for a resume. Found at most 10 % later.
   * @default 10000
   */
  timeoutMs?: number | undefined
}

/**
 * Limits per client address and in all, against a client (or a few) that would take the server's
 * memory or CPU by opening connections and sessions in a loop. A refusal is a close 1013 (try
 * again later: clients back off) after an `$error` with code `RATE_LIMITED` or
 * `TOO_MANY_SESSIONS`. The defaults leave room for many users behind one address (an office's
 * NAT, a mobile carrier's CGNAT): they stop a loop, not a crowd. `Infinity` lifts one limit.
 */
export interface ConnectionLimitOptions {
  /**
   * New connections per second from one address, sustained: its bucket refills at this rate.
   * Resumes count too (each is a new connection).
   * @default 50
   */
  connectionsPerSecond?: number | undefined
  /**
   * New connections one address may open at once before the rate applies, e.g. an office's
   * clients coming back together after a server restart.
   * @default 500
   */
  connectionBurst?: number | undefined
  /**
   * Live sessions (attached, or waiting for a resume) created from one address. A session counts
   * against the address that created it until it ends.
   * @default 5000
   */
  sessionsPerAddress?: number | undefined
  /**
   * Live sessions in all. A session costs about 2 KB with nothing queued, for up to
   * `sessionTtlMs` after its client left.
   * @default 100000
   */
  maxSessions?: number | undefined
  /**
   * Addresses whose connection rate is remembered at once (about 150 bytes each). Past it the
   * least recently seen one is forgotten (a fresh burst for it), so a flood of distinct addresses
   * cannot grow the limiter. A bucket that has refilled is dropped anyway.
   * @default 10000
   */
  maxTrackedAddresses?: number | undefined
}

/**
 * Decides whether a browser page from `origin` may connect, at once: a throw refuses, and so does
 * a promise (an async predicate), which is no answer.
 */
export type OriginPredicate = (origin: string, request: IncomingMessage) => boolean

/**
 * Checks the credentials of an upgrade request and returns what the application knows of the
 * user (it becomes `peer.user`). Return `false`, `null` or `undefined` (a function that falls
 * through without a `return`), or any other falsy value (`''`, `0`, `NaN`: what
 * `token && lookup(token)` answers for an empty token), or throw, to refuse with 4401; throw a
 * `LifelineError` with code `FORBIDDEN` (see `forbidden()`) to refuse with 4403. An anonymous
 * user is a value of its own (`{ anonymous: true }`, say).
 */
export type Authenticate<User> = (
  request: IncomingMessage,
) => User | false | null | undefined | Promise<User | false | null | undefined>

export interface ServerOptions<User = unknown> {
  /**
   * Port to listen on; `0` picks a free one (read it from `server.port` after `ready`).
   * Exactly one of `port` and `server` is required.
   */
  port?: number | undefined
  /**
   * An HTTP(S) server of the application to attach to, instead of `port`. Lifeline handles its
   * `upgrade` requests (those on `path`) and never closes it. Beside other `upgrade` listeners,
   * give a `path`: without one, every upgrade is Lifeline's but those another listener answered
   * before it.
   */
  server?: HttpServer | HttpsServer | undefined
  /**
   * Interface to listen on with `port`. The default listens on loopback only; pass `'0.0.0.0'`
   * or `'::'` to accept connections from other machines.
   * @default '127.0.0.1'
   */
  host?: string | undefined
  /**
   * Only upgrade requests for this path are accepted (others get HTTP 400, or are left to the
   * server's other `upgrade` listeners when `server` has some: HTTP 400 if none of them answers
   * within `upgradeTimeoutMs`). Written as clients send it: percent-encoded (`/caf%C3%A9`),
   * with no dot segments.
   * @default undefined (every path)
   */
  path?: string | undefined
  /**
   * Codecs, in order of preference: the first one the client also offers (by subprotocol,
   * `lifeline.v1.json` / `lifeline.v1.msgpack`) is used on the connection.
   * @default [json({ maxBytes: maxMessageSize })]
   */
  codecs?: readonly Codec[] | undefined
  /**
   * Runs for every connection after the upgrade and before the handshake. Its result is
   * `peer.user`. Tokens and its error messages are never logged.
   * @default undefined (everyone is let in; `peer.user` is `undefined`)
   */
  authenticate?: Authenticate<User> | undefined
  /**
   * Binds each session to its owner: the string this returns for `peer.user` (a user id). A
   * client that presents a session id while authenticated as another owner does not resume it:
   * it gets a new session (`session:reset` with `'owner'`), and the session stays as it was for
   * its owner. Without it a session id is a bearer credential: whoever presents it,
   * authenticated as anyone, resumes the session and gets its replay. Every process sharing a
   * store must pass the same function; turning it on resets the sessions made without it. Needs
   * `authenticate` (without it every user is `undefined`).
   * @default undefined (a session id alone resumes its session)
   */
  sessionOwner?: ((user: User) => string) | undefined
  /**
   * Browser origins allowed to connect: exact `Origin` values (`'https://app.example.com'`) or
   * a predicate. A disallowed origin is refused at the upgrade with HTTP 403.
   * @default undefined (every origin)
   */
  allowedOrigins?: readonly string[] | OriginPredicate | undefined
  /**
   * Refuse (HTTP 403) upgrade requests without an `Origin` header. Browsers always send one;
   * other clients (services, CLIs) usually do not.
   * @default false
   */
  requireOrigin?: boolean | undefined
  /**
   * Largest inbound frame in bytes (`ws`'s `maxPayload`). A larger one closes the connection
   * with 1009.
   * @default 1048576 (1 MiB)
   */
  maxMessageSize?: number | undefined
  /**
   * Protocol-level heartbeat; `false` turns it off.
   * @default { intervalMs: 25000, timeoutMs: 10000 }
   */
  heartbeat?: ServerHeartbeatOptions | false | undefined
  /**
   * Connection rate and session caps per client address, and in all; `false` turns them off.
   * @default { connectionsPerSecond: 50, connectionBurst: 500, sessionsPerAddress: 5000, maxSessions: 100000, maxTrackedAddresses: 10000 }
   */
  connectionLimits?: ConnectionLimitOptions | false | undefined
  /**
   * The client's address for `connectionLimits` (and nothing else), when the server is behind a
   * proxy: e.g. the last entry of `X-Forwarded-For` as set by your own proxy. Only trust a header
   * that your proxy sets and overwrites: a client can write any value in a header that reaches the
   * server unchanged, and dodge the limits or have others refused. `undefined` or a throw falls
   * back to the socket's address. IPv6 addresses are limited by their /64.
   * @default undefined (`request.socket.remoteAddress`)
   */
  clientAddress?: ClientAddress | undefined
  /**
   * Time a client gets, from its TCP connect, to send a complete HTTP upgrade request; past it
   * the socket is dropped (HTTP 408). Applied to the HTTP server Lifeline creates for `port`
   * (`headersTimeout` and `requestTimeout`); an application's own `server` must set them itself
   * (see the README). On such a server it is also how long an upgrade on another path waits for
   * an answer from the server's other `upgrade` listeners.
   * @default 10000
   */
  upgradeTimeoutMs?: number | undefined
  /**
   * Time from the upgrade until the client's `$hello` has been answered (authentication
   * included). Past it the connection is closed with 4408.
   * @default 10000
   */
  helloTimeoutMs?: number | undefined
  /**
   * How long a session waits for its client to come back after its last connection closed.
   * @default 120000
   */
  sessionTtlMs?: number | undefined
  /**
   * Most server-to-client envelopes a session keeps until the client acknowledges them. When
   * more are waiting, the oldest is dropped and the session cannot be resumed exactly any more:
   * the client's next `$hello` gets `resumed: false`.
   * @default 10000
   */
  replayLimit?: number | undefined
  /**
   * Most bytes (encoded) of server-to-client envelopes a session keeps until the client
   * acknowledges them; past it, as past `replayLimit`, the oldest are dropped and the next
   * `$hello` gets `resumed: false`. Twice `maxOutboundBytes`: a connection closed as a slow
   * consumer still has everything it missed here, and resumes exactly.
   * @default 8388608 (8 MiB)
   */
  replayLimitBytes?: number | undefined
  /**
   * Unsent output of a connection (bytes the socket has not written yet) above which the server
   * stops reading that connection's frames, until its output drains: a client that sends
   * requests but does not read the answers cannot make the server produce more. Output sent but
   * not acknowledged counts too (the kernel's buffers hide it): past this much of it, the
   * client's envelopes wait, in order, until its acknowledgements (applied at once) bring it
   * back under. Past this much of them waiting, the connection is still read, for its
   * acknowledgements and pings, but its envelopes are discarded unprocessed; once those that
   * waited are processed, the client is asked to resend what was discarded (it still holds it):
   * with `$resend` on its link when its `$hello` said `rs: 1` (as `@lifeline/core` clients do),
   * else by a close with 1012, after which it resumes at once. So a client that pipelines many
   * requests ahead of its
   * acknowledgements is never stalled; one that discards more than twice `maxOutboundBytes`
   * without acknowledging is closed as a slow consumer (4429).
   * @default 1048576 (1 MiB)
   */
  outboundHighWaterBytes?: number | undefined
  /**
   * Output of a connection, unsent or not yet acknowledged by the client, past which it is
   * closed as a slow consumer (close code 4429, `$error` `SLOW_CONSUMER`; the client reconnects
   * and resumes: below `replayLimitBytes`, its session still holds all it missed). Counting
   * what is unacknowledged bounds the work a client that does not read can cause, whatever
   * the kernel's socket buffers take. The handshake's output (`$welcome` and the replay of a
   * resumed session) is allowed on top of it; the replay writes at most this much that the
   * client has not acknowledged, and the rest as it acknowledges. Twice this much of a client's
   * envelopes discarded while its output is over `outboundHighWaterBytes` (it keeps sending and
   * never acknowledges) closes it the same way.
   * @default 4194304 (4 MiB)
   */
  maxOutboundBytes?: number | undefined
  /**
   * Most rooms a session is in at once: `peer.join` past it throws `TOO_MANY_ROOMS`. Rooms are
   * the application's to choose, but often after the client's word (`join` messages): the bound
   * keeps one client from holding a room, its name and (with a cluster) its presence and
   * cursor, without end. A client keeps cursors for 10,000 rooms at most. `Infinity` lifts it.
   * @default 1000
   */
  maxRoomsPerSession?: number | undefined
  /**
   * Default timeout of `peer.request()`.
   * @default 10000
   */
  requestTimeoutMs?: number | undefined
  /**
   * How long a client gets to answer the server's close frame before its socket is terminated:
   * on `close()` (where running RPC handlers get as long again to finish), and whenever the
   * server closes or refuses a connection, so that a peer that never answers holds no socket.
   * A connection closed as a slow consumer is dropped sooner if its client comes back for the
   * session meanwhile.
   * @default 1000
   */
  closeTimeoutMs?: number | undefined
  /**
   * Acknowledge at once after this many inbound reliable envelopes with nothing sent back (and,
   * whatever this and `ackDelayMs` say, once their frames since the last acknowledgement reach
   * a quarter of the client's send window, half of `outboundHighWaterBytes` and at least 1 KiB).
   * @default 64
   */
  ackEvery?: number | undefined
  /**
   * Otherwise acknowledge this long after the first unacknowledged one.
   * @default 20
   */
  ackDelayMs?: number | undefined
  /**
   * Where sessions live while their client is away, and across a restart of the listener.
   * @default createMemorySessionStore({ clock })
   */
  store?: SessionStore | undefined
  /**
   * The cluster of server processes this one runs in (e.g. `createRedisCluster` of
   * `@lifeline/redis`): its shared store holds the sessions (then `store` must be left out), so a
   * client resumes on any process with no sticky routing, and rooms, broadcast and presence span
   * every process.
   * @default undefined (one process)
   */
  cluster?: Cluster | undefined
  /**
   * Source of time for every timer and expiry of the server.
   * @default systemClock
   */
  clock?: Clock | undefined
  /**
   * Receives one line per refused connection or frame (`warn`) and per failure on the server's
   * side that no `'error'` listener took (`error`).
   * @default warnings dropped, errors to console.error
   */
  logger?: Logger | undefined
}

export const serverDefaults = {
  host: '127.0.0.1',
  requireOrigin: false,
  maxMessageSize: 1_048_576,
  heartbeat: { intervalMs: 25_000, timeoutMs: 10_000 },
  helloTimeoutMs: 10_000,
  connectionLimits: {
    connectionsPerSecond: 50,
    connectionBurst: 500,
    sessionsPerAddress: 5_000,
    maxSessions: 100_000,
    maxTrackedAddresses: 10_000,
  },
  upgradeTimeoutMs: 10_000,
  sessionTtlMs: 120_000,
  replayLimit: 10_000,
  replayLimitBytes: 8 * 1024 * 1024,
  outboundHighWaterBytes: 1024 * 1024,
  maxOutboundBytes: 4 * 1024 * 1024,
  requestTimeoutMs: 10_000,
  maxRoomsPerSession: 1_000,
  closeTimeoutMs: 1_000,
  ackEvery: reliableStreamDefaults.ackEvery,
  ackDelayMs: reliableStreamDefaults.ackDelayMs,
} as const

/** Options after defaults and validation. */
export interface ResolvedOptions<User> {
  readonly port: number | undefined
  readonly server: HttpServer | HttpsServer | undefined
  readonly host: string
  readonly path: string | undefined
  readonly codecs: readonly Codec[]
  readonly authenticate: Authenticate<User> | undefined
  readonly sessionOwner: ((user: User) => string) | undefined
  readonly allowedOrigins: readonly string[] | OriginPredicate | undefined
  readonly requireOrigin: boolean
  readonly maxMessageSize: number
  readonly heartbeat: { readonly intervalMs: number; readonly timeoutMs: number } | undefined
  readonly helloTimeoutMs: number
  readonly connectionLimits: ResolvedConnectionLimits | undefined
  readonly clientAddress: ClientAddress | undefined
  readonly upgradeTimeoutMs: number
  readonly sessionTtlMs: number
  readonly replayLimit: number
  readonly replayLimitBytes: number
  readonly outboundHighWaterBytes: number
  readonly maxOutboundBytes: number
  readonly requestTimeoutMs: number
  readonly maxRoomsPerSession: number
  readonly closeTimeoutMs: number
  readonly ackEvery: number
  readonly ackDelayMs: number
  readonly store: SessionStore
  readonly cluster: Cluster | undefined
  readonly clock: Clock
  readonly logger: Logger
}

/** A positive whole number, or `Infinity` for no limit. */
function limit(name: string, value: number): number {
  return value === Infinity ? value : positiveInteger(name, value)
}

function resolveConnectionLimits(
  options: ConnectionLimitOptions | false | undefined,
): ResolvedConnectionLimits | undefined {
  if (options === false) return undefined
  const defaults = serverDefaults.connectionLimits
  const rate = options?.connectionsPerSecond ?? defaults.connectionsPerSecond
  return {
    connectionsPerSecond:
      rate === Infinity ? rate : positive('connectionLimits.connectionsPerSecond', rate),
    connectionBurst: limit(
      'connectionLimits.connectionBurst',
      options?.connectionBurst ?? defaults.connectionBurst,
    ),
    sessionsPerAddress: limit(
      'connectionLimits.sessionsPerAddress',
      options?.sessionsPerAddress ?? defaults.sessionsPerAddress,
    ),
    maxSessions: limit(
      'connectionLimits.maxSessions',
      options?.maxSessions ?? defaults.maxSessions,
    ),
    maxTrackedAddresses: positiveInteger(
      'connectionLimits.maxTrackedAddresses',
      options?.maxTrackedAddresses ?? defaults.maxTrackedAddresses,
    ),
  }
}

/**
 * An origin as a browser sends it in `Origin`: scheme and host in lower case, no default port,
 * no trailing slash or path (`HTTPS://App.example.com:443/` is `https://app.example.com`), so
 * that an entry of `allowedOrigins` written otherwise still matches. What is no URL (`null`) is
 * kept as it is.
 */
function serializedOrigin(origin: string): string {
  try {
    const serialized = new URL(origin).origin
    return serialized === 'null' ? origin : serialized
  } catch {
    return origin
  }
}

/**
 * Whether a browser may send `origin` as its `Origin`: `null`, a scheme and a host (of any
 * scheme: an extension's `chrome-extension://…` too), or `file://` (what Electron's pages send).
 * Not a pattern: `*` is in no host a browser reaches.
 */
function isSentOrigin(origin: string): boolean {
  if (origin === 'null') return true
  if (origin.includes('*')) return false
  try {
    const url = new URL(origin)
    return url.host !== '' || url.protocol === 'file:'
  } catch {
    return false
  }
}

/** An HTTP(S) server, as `node:http` and `node:https` make it (a `net.Server`). */
function isServer(server: unknown): boolean {
  const candidate = server as Partial<Record<'address' | 'listen' | 'prependListener', unknown>>
  return (
    typeof server === 'object' &&
    server !== null &&
    typeof candidate.address === 'function' &&
    typeof candidate.listen === 'function' &&
    typeof candidate.prependListener === 'function'
  )
}

/** Applies defaults and refuses nonsense at once, where the caller can see the mistake. */
export function resolveOptions<User>(options: ServerOptions<User>): ResolvedOptions<User> {
  const { port, server } = options
  if (options.cluster !== undefined && options.store !== undefined) {
    throw invalid('pass `store` or `cluster` (which brings its own store), not both')
  }
  if ((port === undefined) === (server === undefined)) {
    throw invalid('pass exactly one of `port` and `server`')
  }
  // An application (Express's, Koa's: event emitters too) in place of the server it listens on
  // took the listeners where no upgrade comes: `ready` never settled, every upgrade got a 404.
  if (server !== undefined && !isServer(server)) {
    throw invalid(
      'server must be the HTTP(S) server the application listens on (`app.listen(…)`, `fastify.server`), not the application',
    )
  }
  if (port !== undefined && !(Number.isSafeInteger(port) && port >= 0 && port <= 65_535)) {
    throw invalid(`port must be an integer from 0 to 65535, got ${String(port)}`)
  }
  const path: unknown = options.path
  // Compared with the path of each request, query left out: one without a leading `/`, or with
  // a query or fragment, matches none, and every upgrade would be refused (HTTP 400).
  if (path !== undefined && !(typeof path === 'string' && /^\/[^?#]*$/.test(path))) {
    throw invalid(`path must start with / and have no query or fragment, got ${String(path)}`)
  }
  // Clients send a URL's path as the WHATWG URL parser writes it (browsers, `ws`): percent-encoded
  // (`/café` arrives as `/caf%C3%A9`, `/live chat` as `/live%20chat`), without dot segments
  // (`/a/../live` as `/live`). Written otherwise, the path matches none of them. Chromium also
  // encodes `|` and `^`, which the parser keeps and `ws` sends as they are: written encoded,
  // the path matches both (an upgrade's `|` and `^` are read as encoded, `serves`).
  const sent =
    path === undefined ? undefined : chromiumPath(new URL(`http://localhost${path}`).pathname)
  if (sent !== path) {
    throw invalid(`path must be written as clients send it, ${String(sent)}, got ${String(path)}`)
  }
  const maxMessageSize = positiveInteger(
    'maxMessageSize',
    options.maxMessageSize ?? serverDefaults.maxMessageSize,
  )
  // Both are announced as the `$welcome`'s `max`, which a client refuses under a control
  // frame's cap (a smaller limit could not carry the error answer to a request): every
  // connection would fail its handshake and come back, for ever.
  if (maxMessageSize < maxControlFrameBytes) {
    throw invalid(`maxMessageSize must be at least ${maxControlFrameBytes}, got ${maxMessageSize}`)
  }
  const codecs = options.codecs ?? [json({ maxBytes: maxMessageSize })]
  if (codecs.length === 0) throw invalid('codecs must name at least one codec')
  for (const codec of codecs) {
    if ((codec.maxBytes ?? Infinity) < maxControlFrameBytes) {
      throw invalid(
        `a codec's maxBytes must be at least ${maxControlFrameBytes}, got ${codec.maxBytes} (${codec.name})`,
      )
    }
  }
  if (new Set(codecs.map((codec) => codec.name)).size !== codecs.length) {
    throw invalid('codecs must not name the same subprotocol twice')
  }
  const heartbeat =
    options.heartbeat === false
      ? undefined
      : {
          intervalMs: delay(
            'heartbeat.intervalMs',
            options.heartbeat?.intervalMs ?? serverDefaults.heartbeat.intervalMs,
          ),
          timeoutMs: delay(
            'heartbeat.timeoutMs',
            options.heartbeat?.timeoutMs ?? serverDefaults.heartbeat.timeoutMs,
          ),
        }
  const allowedOrigins: unknown = options.allowedOrigins
  // A string would be searched as one (`includes`): another site's origin may be in it
  // (`https://app.example.co` in `https://app.example.com`).
  if (
    allowedOrigins !== undefined &&
    typeof allowedOrigins !== 'function' &&
    !(Array.isArray(allowedOrigins) && allowedOrigins.every((origin) => typeof origin === 'string'))
  ) {
    throw invalid('allowedOrigins must be an array of origins or a function (origin, request)')
  }
  // An entry no browser sends matches nobody: every browser is refused (403), and with warnings
  // dropped by default nothing says why. A pattern is a predicate's job.
  const notSent = Array.isArray(allowedOrigins)
    ? (allowedOrigins as string[]).find((origin) => !isSentOrigin(origin))
    : undefined
  if (notSent !== undefined) {
    throw invalid(
      `allowedOrigins: ${JSON.stringify(notSent)} is no origin a browser sends (a scheme and a host, or 'null'); match patterns with a function`,
    )
  }
  if (options.sessionOwner !== undefined && typeof options.sessionOwner !== 'function') {
    throw invalid('sessionOwner must be a function of peer.user')
  }
  // Without `authenticate` every user is `undefined`: one owner for all, which binds nothing,
  // and a function that reads a field of the user would close every connection with 1011.
  if (options.sessionOwner !== undefined && options.authenticate === undefined) {
    throw invalid('sessionOwner needs authenticate, which gives the user it reads the owner of')
  }
  if (options.clientAddress !== undefined && typeof options.clientAddress !== 'function') {
    throw invalid('clientAddress must be a function of the request')
  }
  const clock = options.clock ?? systemClock
  const outboundHighWaterBytes = positiveInteger(
    'outboundHighWaterBytes',
    options.outboundHighWaterBytes ?? serverDefaults.outboundHighWaterBytes,
  )
  const maxOutboundBytes = positiveInteger(
    'maxOutboundBytes',
    options.maxOutboundBytes ?? serverDefaults.maxOutboundBytes,
  )
  if (maxOutboundBytes < outboundHighWaterBytes) {
    throw invalid('maxOutboundBytes must be at least outboundHighWaterBytes')
  }
  return {
    port,
    server,
    host: options.host ?? serverDefaults.host,
    path: options.path,
    codecs,
    authenticate: options.authenticate,
    sessionOwner: options.sessionOwner,
    allowedOrigins: Array.isArray(allowedOrigins)
      ? allowedOrigins.map(serializedOrigin)
      : options.allowedOrigins,
    requireOrigin: options.requireOrigin ?? serverDefaults.requireOrigin,
    maxMessageSize,
    heartbeat,
    helloTimeoutMs: delay(
      'helloTimeoutMs',
      options.helloTimeoutMs ?? serverDefaults.helloTimeoutMs,
    ),
    connectionLimits: resolveConnectionLimits(options.connectionLimits),
    clientAddress: options.clientAddress,
    upgradeTimeoutMs: delay(
      'upgradeTimeoutMs',
      options.upgradeTimeoutMs ?? serverDefaults.upgradeTimeoutMs,
      true,
    ),
    sessionTtlMs: delay('sessionTtlMs', options.sessionTtlMs ?? serverDefaults.sessionTtlMs),
    replayLimit: positiveInteger('replayLimit', options.replayLimit ?? serverDefaults.replayLimit),
    replayLimitBytes: positiveInteger(
      'replayLimitBytes',
      options.replayLimitBytes ?? serverDefaults.replayLimitBytes,
    ),
    outboundHighWaterBytes,
    maxOutboundBytes,
    // No timer's delay: a request's deadline is checked again each time the longest timer is up,
    // as for a call's own `timeoutMs`, so a longer one is waited, and was always taken.
    requestTimeoutMs: positive(
      'requestTimeoutMs',
      options.requestTimeoutMs ?? serverDefaults.requestTimeoutMs,
    ),
    maxRoomsPerSession: limit(
      'maxRoomsPerSession',
      options.maxRoomsPerSession ?? serverDefaults.maxRoomsPerSession,
    ),
    closeTimeoutMs: delay(
      'closeTimeoutMs',
      options.closeTimeoutMs ?? serverDefaults.closeTimeoutMs,
    ),
    ackEvery: positiveInteger('ackEvery', options.ackEvery ?? serverDefaults.ackEvery),
    ackDelayMs: delay('ackDelayMs', options.ackDelayMs ?? serverDefaults.ackDelayMs),
    store: options.cluster?.store ?? options.store ?? createMemorySessionStore({ clock }),
    cluster: options.cluster,
    clock,
    logger: options.logger ?? defaultLogger,
  }
}
