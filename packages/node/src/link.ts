import type { Agent } from 'node:http'
import type { SecureContextOptions } from 'node:tls'
import { LifelineError, redactUrl } from '@lifeline/core'
import type {
  ReconnectingWebSocket,
  ReconnectingWebSocketOptions,
  UrlProvider,
  WebSocketConstructor,
} from '@lifeline/core'
import { HeartbeatMonitor, parseWebSocketUrl, type HeartbeatHooks } from '@lifeline/core/protocol'
import { WebSocket, type ClientOptions, type PerMessageDeflateOptions } from 'ws'
import { nodeClock } from './clock.js'
import { holdWrites, type Corkable } from './writeBatch.js'

/** Request headers of the opening handshake. */
export type HandshakeHeaders = Record<string, string>

/** TLS options of `wss:` links, passed to `ws` (and on to `tls.connect`) as they are. */
export interface TlsOptions extends SecureContextOptions {
  /** Refuse a server whose certificate does not verify. @default true */
  rejectUnauthorized?: boolean
  /** Replaces Node's check of the certificate against the host name. */
  checkServerIdentity?: ClientOptions['checkServerIdentity']
}

/** What `@lifeline/node` adds to the options of a socket. */
export interface NodeSocketOptions {
  /**
   * Headers of the opening handshake (e.g. `Authorization`), or a function (sync or async)
   * called before every attempt, as a URL provider is, so each attempt carries a fresh token.
   * Never logged nor put in an error.
   * @default none but `ws`'s own
   */
  headers?: HandshakeHeaders | (() => HandshakeHeaders | Promise<HandshakeHeaders>)
  /**
   * The `http.Agent` or `https.Agent` of the handshake request (a proxy, a pool).
   * @default Node's global agent
   */
  agent?: Agent
  /**
   * `ca`, `cert`, `key`, `rejectUnauthorized`, … for `wss:` URLs.
   * @default Node's: the system's certificate authorities, certificates verified
   */
  tls?: TlsOptions
  /**
   * Largest inbound message in bytes. A larger one closes the link with 1009 and ends the
   * socket with `MESSAGE_TOO_LARGE`: the server would send it again after a reconnect.
   * @default 1048576 (1 MiB, the codecs' default `maxBytes`; a client takes its codecs' largest)
   */
  maxPayload?: number
  /** Compression per message: off, see the README's FAQ. @default false */
  perMessageDeflate?: boolean | PerMessageDeflateOptions
  /**
   * Protocol-level heartbeat: a WebSocket ping after `intervalMs` of quiet, which every server
   * answers; no frame nor pong for `intervalMs + timeoutMs` closes the link with 4000 and
   * `HEARTBEAT_TIMEOUT`, and it is reconnected.
   * @default { intervalMs: 25000, timeoutMs: 10000 }; a protocol-mode client's `$ping` does
   *   this job, so there it is off unless given
   */
  heartbeat?: { intervalMs?: number; timeoutMs?: number } | false
}

/** Core's socket options (but the `WebSocket`, which is `ws`, and the heartbeat) and Node's. */
export type NodeReconnectingWebSocketOptions = Omit<
  ReconnectingWebSocketOptions,
  'WebSocket' | 'heartbeat'
> &
  NodeSocketOptions

export const nodeSocketDefaults = {
  maxPayload: 1024 * 1024,
  heartbeat: { intervalMs: 25_000, timeoutMs: 10_000 },
} as const

/** One socket's links: the newest `ws` socket (the open one's, once open) and its owner. */
interface Link {
  socket?: WebSocket
  owner?: ReconnectingWebSocket
  quietMs: number
}

const pingHooks: HeartbeatHooks<Link> = {
  ping: ({ socket }) => {
    try {
      socket?.ping()
    } catch {
      // Only before the socket is open: the link is then judged by its silence alone.
    }
  },
  dead: ({ owner, quietMs }) => {
    const message = `no frame nor pong from ${redactUrl(owner?.url ?? '')} within ${quietMs} ms`
    const error = new LifelineError('HEARTBEAT_TIMEOUT', message, { closeCode: 4000 })
    owner?.failLink(error, 4000, 'heartbeat timeout', 'lost')
  },
}

/**
 * `ws` closes a link with 1009 when a message is over `maxPayload`, then reports 1006: it stops
 * reading, so never sees the peer's close frame, and the socket would reconnect to be sent the
 * same message again, forever. Told now with the code sent, the socket ends as for any 1009.
 */
function tooLarge(this: WebSocket, error: { code?: unknown }): void {
  if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
    this.emit('close', 1009, 'maxPayload exceeded')
}

/**
 * A `ws` socket whose writes of one turn leave together (see `holdWrites`). One class for every
 * link, made with each link's options: a class per link would give each socket a shape of its
 * own, and the code that handles many sockets would slow down (about 10 % per send).
 */
class BatchingWebSocket extends WebSocket {
  override send(data: unknown, options?: unknown, callback?: unknown): void {
    // `ws` keeps its net.Socket as `_socket` (unchanged across its major versions), null before open.
    const stream = (this as unknown as { _socket: Corkable | null })._socket
    if (stream) holdWrites(stream)
    super.send(data as string, options as object, callback as () => void)
  }
}

const invalid = (message: string) => new LifelineError('INVALID_ARGUMENT', message)

/** The `ws` sockets of one `ReconnectingWebSocket`, and what its owner is made with. */
export interface NodeLink {
  /** Core's options, with the link's sockets and `nodeClock` unless a clock is given. */
  readonly core: ReconnectingWebSocketOptions
  /** The URL provider, evaluating `headers` with the URL when they are a function. */
  readonly url: UrlProvider
  /** Runs the heartbeat (if any) on the owner's links. */
  attach(owner: ReconnectingWebSocket): void
  /** Pings the open link now. */
  checkNow(): void
}

/** Makes a socket's link; throws `INVALID_ARGUMENT` or `INVALID_URL` for bad options. */
export function createNodeLink(
  url: UrlProvider,
  options: NodeReconnectingWebSocketOptions,
  heartbeatByDefault: boolean,
): NodeLink {
  const { headers, agent, tls, perMessageDeflate = false, heartbeat: beat, ...core } = options
  const { maxPayload = nodeSocketDefaults.maxPayload, ...coreOptions } = core
  const clock = core.clock ?? nodeClock
  const heartbeat = { ...nodeSocketDefaults.heartbeat, ...beat }
  if (headers === null || !/^(undefined|object|function)$/.test(typeof headers))
    throw invalid('headers must be an object or a function')
  for (const [name, value] of Object.entries({ maxPayload, ...heartbeat }))
    // 0 would mean constant pings, or no message at all: never what was meant.
    if (!(typeof value === 'number' && value > 0)) throw invalid(`${name} must be a number > 0`)
  if (typeof url === 'string' || url instanceof URL) parseWebSocketUrl(url)
  const link: Link = { quietMs: heartbeat.intervalMs + heartbeat.timeoutMs }
  const on = beat ?? heartbeatByDefault
  const monitor = on ? new HeartbeatMonitor({ ...heartbeat, ping: '' }, clock, link, pingHooks) : 0
  function alive(this: WebSocket): void {
    if (monitor && this === link.socket) monitor.seen = true
  }
  let attemptHeaders = typeof headers === 'function' ? undefined : headers
  let latest = 0
  const withHeaders = (provide: () => HandshakeHeaders | Promise<HandshakeHeaders>) => () => {
    const attempt = ++latest
    const value = provide()
    const next = typeof url === 'function' ? url() : url
    if (!(value instanceof Promise || next instanceof Promise))
      return ((attemptHeaders = value), next)
    return Promise.all([value, next]).then(([resolved, nextUrl]) => {
      if (attempt === latest) attemptHeaders = resolved
      return nextUrl
    })
  }
  /** Called with `new` by core: the object it returns is what `new` gives. */
  function NodeWebSocket(address: string, protocols?: string | string[]): WebSocket {
    const wsOptions = { ...tls, headers: attemptHeaders, agent, maxPayload, perMessageDeflate }
    const socket = (link.socket = new BatchingWebSocket(address, protocols, wsOptions))
    socket.on('error', tooLarge)
    if (monitor) for (const type of ['message', 'pong', 'ping']) socket.on(type, alive)
    return socket
  }
  return {
    core: { ...coreOptions, clock, WebSocket: NodeWebSocket as unknown as WebSocketConstructor },
    url: typeof headers === 'function' ? withHeaders(headers) : url,
    attach(owner) {
      link.owner = owner
      if (!monitor) return
      owner.addEventListener('statechange', ({ state }) => {
        if (state.status === 'open') monitor.start()
        else monitor.stop()
      })
    },
    checkNow: () => monitor && monitor.pingNow(),
  }
}
