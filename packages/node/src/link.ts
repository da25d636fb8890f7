import type { Agent } from 'node:http'
import type { ConnectionOptions, SecureContextOptions } from 'node:tls'
import { LifelineError } from '@lifeline/core'
import type {
  ReconnectingWebSocketOptions,
  UrlProvider,
  WebSocketConstructor,
} from '@lifeline/core'
import { isPromise, parseWebSocketUrl } from '@lifeline/core/protocol'
import type { PerMessageDeflateOptions, WebSocket } from 'ws'
import { nodeClock } from './clock.js'
import { BatchingWebSocket } from './batchingWebSocket.js'

/** Request headers of the opening handshake. */
export type HandshakeHeaders = Record<string, string>

/** TLS options of `wss:` links, passed to `ws` (and on to `tls.connect`) as they are. */
export interface TlsOptions extends SecureContextOptions {
  /** Refuse a server whose certificate does not verify. @default true */
  rejectUnauthorized?: boolean | undefined
  /**
   * Replaces Node's check of the certificate against the host name (`tls.checkServerIdentity`):
   * returns an `Error` to refuse the server, `undefined` to accept it. (`false` refuses too.)
   */
  checkServerIdentity?: ConnectionOptions['checkServerIdentity'] | undefined
  /** The name sent in SNI and checked against the certificate. @default the URL's host name */
  servername?: string | undefined
}

/** What `@lifeline/node` adds to the options of a socket. */
export interface NodeSocketOptions {
  /**
   * Headers of the opening handshake (e.g. `Authorization`), or a function (sync or async)
   * called before every attempt, as a URL provider is, so each attempt carries a fresh token.
   * Never logged nor put in an error.
   * @default none but `ws`'s own
   */
  headers?: (HandshakeHeaders | (() => HandshakeHeaders | Promise<HandshakeHeaders>)) | undefined
  /**
   * The `http.Agent` or `https.Agent` of the handshake request (a proxy, a pool).
   * @default Node's global agent
   */
  agent?: Agent | undefined
  /**
   * `ca`, `cert`, `key`, `rejectUnauthorized`, … for `wss:` URLs.
   * @default Node's: the system's certificate authorities, certificates verified
   */
  tls?: TlsOptions | undefined
  /**
   * Largest inbound message in bytes. A larger one closes the link with 1009 and ends the
   * socket with `MESSAGE_TOO_LARGE`: the server would send it again after a reconnect.
   * @default 1048576 (1 MiB, the codecs' default `maxBytes`; a client takes its codecs' largest)
   */
  maxPayload?: number | undefined
  /** Compression per message: off, see the README's FAQ. @default false */
  perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined
  /**
   * Protocol-level heartbeat: a WebSocket ping after `intervalMs` of quiet, which every server
   * answers; no frame nor pong for `intervalMs + timeoutMs` closes the link with 4000 and
   * `HEARTBEAT_TIMEOUT`, and it is reconnected.
   * @default { intervalMs: 25000, timeoutMs: 10000 }; a protocol-mode client's `$ping` does
   *   this job, so there it is not used (as core's socket heartbeat is not)
   */
  heartbeat?:
    { intervalMs?: number | undefined; timeoutMs?: number | undefined } | false | undefined
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

/**
 * What a `ws` socket hands core when a pong or a ping arrives: a message only core's heartbeat
 * sees (its `isPong` takes it), as life on the link. Nothing else is a message of this identity.
 */
const pongMarker: unknown = Object.freeze({ pong: true })

/** Relays a pong or a ping to core as `pongMarker`, binary, so `ws` passes it as it is. */
function relayLife(this: WebSocket): void {
  this.emit('message', pongMarker, true)
}

/**
 * `ws` closes a link with the close code of a frame it refuses (1009 for a message over
 * `maxPayload`, 1007 for invalid UTF-8 or compressed data, 1002 for a broken frame), then reports
 * 1006: it stops reading, so never sees the peer's close frame, and the socket would reconnect to
 * be sent the same frame again, forever. Told now with the code sent, the socket ends as for any
 * of these codes. `ws` keeps the code on the error under a symbol of its own, `status-code`, and
 * the opcode of the frame it read last in its receiver's `_opcode`.
 */
function refusedFrame(this: WebSocket, error: unknown): void {
  if (!(error instanceof Error)) return
  // A close frame the peer got wrong (a code no endpoint may send, a reason cut within a
  // character) still closes the link, and says nothing of what a new one would be sent: it goes
  // on as a close whose code is not known (1006), through the backoff.
  const receiver = (this as unknown as { _receiver?: { _opcode?: unknown } })._receiver
  if (receiver?._opcode === 0x08) return
  const key = Object.getOwnPropertySymbols(error).find((s) => s.description === 'status-code')
  const code: unknown = key && (error as unknown as Record<symbol, unknown>)[key]
  if (typeof code !== 'number') return
  const tooLarge = (error as { code?: unknown }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
  this.emit('close', code, tooLarge ? 'maxPayload exceeded' : error.message)
  // `ws` sent its close frame and waits up to 30 s for the peer's, reading nothing: a peer that
  // never answers kept the connection and the timer (and the process) alive that long, the
  // socket ended already. The frame goes out first (`terminate` writes what is held).
  this.terminate()
}

/**
 * `tls.connect` refuses a server when `checkServerIdentity` returns an Error, and accepts it on
 * anything falsy: a check written to `ws`'s types, which say it returns a boolean, refused with
 * `false` and the server was accepted (and `true` refused it). A boolean means what it says.
 */
function identityCheck(
  check: NonNullable<TlsOptions['checkServerIdentity']>,
): TlsOptions['checkServerIdentity'] {
  return (host, cert) => {
    const verdict: unknown = check(host, cert)
    if (verdict === false)
      return new Error(`checkServerIdentity refused the certificate of ${host}`)
    return verdict === true ? undefined : (verdict as Error | undefined)
  }
}

const invalid = (message: string) => new LifelineError('INVALID_ARGUMENT', message)

/**
 * `ws` spreads the headers into the request's: a string went as one header per character, and a
 * `Headers`, a `Map` or an array, whose entries are no properties of theirs, as no header or
 * headers named 0, 1, …; the link opened without them. Only an object that is none of these (of
 * any realm, as a headers function's promise may be) or none at all is headers.
 */
const isHeaders = (value: unknown): boolean =>
  value === undefined ||
  (typeof value === 'object' && Object.prototype.toString.call(value) === '[object Object]')

const notHeaders = 'headers must be a plain object of header names and values'

/**
 * What a socket is made with on `ws`: core's options (the `ws` sockets, `nodeClock` unless a
 * clock is given, the ping heartbeat when on) and the URL provider, which evaluates `headers`
 * with the URL when they are a function. Throws `INVALID_ARGUMENT` or `INVALID_URL` for bad
 * options.
 */
export function createNodeLink(
  url: UrlProvider,
  options: NodeReconnectingWebSocketOptions,
  pings: boolean,
): { core: ReconnectingWebSocketOptions; url: UrlProvider } {
  const { headers, agent, tls, perMessageDeflate = false, heartbeat: beat, ...core } = options
  const { maxPayload = nodeSocketDefaults.maxPayload, ...coreOptions } = core
  const clock = core.clock ?? nodeClock
  // A period left undefined takes its default, as core's heartbeat reads them.
  const { intervalMs = nodeSocketDefaults.heartbeat.intervalMs, ...restOfBeat } = beat || {}
  const { timeoutMs = nodeSocketDefaults.heartbeat.timeoutMs, ...others } = restOfBeat
  const heartbeat = { intervalMs, timeoutMs }
  // Refused here, not left to core: a protocol-mode client hands core no ping heartbeat at all
  // (its `$ping` does the job), so a misspelt period was ignored there without a word. The
  // ping and its pong are this package's own, so no other key has a meaning.
  const unknown = Object.keys(others)[0]
  if (unknown !== undefined) throw invalid(`unknown option 'heartbeat.${unknown}'`)
  if (typeof headers !== 'function' && !isHeaders(headers))
    throw invalid('headers must be a plain object or a function')
  for (const [name, value] of Object.entries({ maxPayload, ...heartbeat }))
    // 0 would mean constant pings, or no message at all: never what was meant.
    if (!(typeof value === 'number' && value > 0)) throw invalid(`${name} must be a number > 0`)
  if (typeof url === 'string' || url instanceof URL) parseWebSocketUrl(url)
  const on = pings && beat !== false
  const check = tls?.checkServerIdentity
  const tlsOptions = check ? { ...tls, checkServerIdentity: identityCheck(check) } : tls
  // Core's heartbeat runs while a link is open, on the newest socket: it pings with a WebSocket
  // ping frame, which every server answers.
  let newest: WebSocket | undefined
  const ping = () => void newest?.ping()
  const resolveUrl = () => (typeof url === 'function' ? url() : url)
  let attemptHeaders = typeof headers === 'function' ? undefined : headers
  let latest = 0
  const withHeaders = (provide: () => HandshakeHeaders | Promise<HandshakeHeaders>) => () => {
    const attempt = ++latest
    const value = provide()
    let next: ReturnType<typeof resolveUrl>
    try {
      next = resolveUrl()
    } catch (error) {
      // The attempt fails with the URL provider's error: a rejection of the headers' promise
      // would have no handler, and end the process.
      if (isPromise(value)) Promise.resolve(value).catch(() => undefined)
      throw error
    }
    // Any thenable, as core takes a provider's: a promise of another realm (a `vm` context, a
    // test runner's) or of a promise library is no `instanceof Promise`, and was handed to `ws`
    // as the headers themselves, so the attempt went without them.
    if (!isPromise(value) && !isPromise(next)) return ((attemptHeaders = value), next)
    return Promise.all([value, next]).then(([resolved, nextUrl]) => {
      if (attempt === latest) attemptHeaders = resolved
      return nextUrl
    })
  }
  /** Called with `new` by core: the object it returns is what `new` gives. */
  function NodeWebSocket(address: string, protocols?: string | string[]): WebSocket {
    // What a headers function gave: the attempt fails, as when the request refuses a value.
    // `null` is none, as it always was (`() => token ? { authorization } : null`).
    if (attemptHeaders !== null && !isHeaders(attemptHeaders)) throw new TypeError(notHeaders)
    const wsOptions = {
      ...tlsOptions,
      headers: attemptHeaders,
      agent,
      maxPayload,
      perMessageDeflate,
    }
    const socket = (newest = new BatchingWebSocket(address, protocols, wsOptions))
    socket.on('error', refusedFrame)
    if (on) socket.on('pong', relayLife).on('ping', relayLife)
    return socket
  }
  const isPong = (data: unknown) => data === pongMarker
  return {
    core: {
      ...coreOptions,
      clock,
      WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
      heartbeat: on && { ...heartbeat, ping, isPong },
    },
    url: typeof headers === 'function' ? withHeaders(headers) : url,
  }
}
