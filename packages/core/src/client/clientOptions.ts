import type { Codec } from '@lifeline/codec'
import type { ReconnectingWebSocketOptions } from '../options.js'
import { check, checkKeys, checkOptions } from '../options.js'
import { maxTimerMs } from '../clock.js'
import type { ProtocolsProvider, UrlProvider } from '../url.js'

/** How the client frames messages in raw mode, for a server that is not a Lifeline server. */
export interface RawFraming {
  /** Turns a typed message into the value the codec encodes. */
  wrap(type: string, data: unknown): unknown
  /** Reads the type and payload out of a decoded value; `undefined` when it is not a message. */
  unwrap(value: unknown): { type: string; data: unknown } | undefined
}

export interface ClientOptions {
  /** Server URL, or a function (sync or async) called before every attempt. */
  url: UrlProvider
  /**
   * `'protocol'`: the Lifeline wire protocol (sessions, acks, resend, RPC) against
   * `@lifeline/server`. `'raw'`: plain frames over any server, with the socket's own queue.
   * @default 'protocol'
   */
  mode?: 'protocol' | 'raw' | undefined
  /**
   * Codecs in order of preference. Protocol mode offers their names as subprotocols and uses
   * the one the server picks; raw mode uses the first.
   * @default [json()]
   */
  codecs?: readonly Codec[] | undefined
  /** Raw mode only: subprotocols to ask for (protocol mode asks for the codecs' names). */
  protocols?: ProtocolsProvider | undefined
  /** Raw mode only: the frame shape. @default `{ t: type, d: data }` */
  framing?: RawFraming | undefined
  /**
   * Socket options: WebSocket implementation, backoff, timeouts, `clock`, `random`, `debug`.
   * Raw mode also takes the socket's `queue` and `heartbeat`.
   */
  socket?: Omit<ReconnectingWebSocketOptions, 'startClosed'> | undefined
  /**
   * Protocol mode heartbeat: `$ping` after `intervalMs` of quiet; no frame for
   * `intervalMs + timeoutMs` means the link is half-open and is replaced.
   * @default { intervalMs: 25000, timeoutMs: 10000 }
   */
  heartbeat?:
    { intervalMs?: number | undefined; timeoutMs?: number | undefined } | false | undefined
  /**
   * Protocol mode: most reliable messages kept until the server acknowledges them; `send`
   * throws `QUEUE_FULL` beyond.
   * @default 10000
   */
  maxUnacked?: number | undefined
  /**
   * Protocol mode: most bytes (encoded) of reliable messages kept until the server acknowledges
   * them; `send` and `request` throw `QUEUE_FULL` beyond, so an outbox that cannot drain (the
   * server unreachable for long) holds a bounded amount of memory.
   * @default 8388608 (8 MiB)
   */
  maxUnackedBytes?: number | undefined
  /**
   * Protocol mode: acknowledge after this many messages (and, whatever this and `ackDelayMs`
   * say, once the server's frames since the last acknowledgement reach a quarter of its send
   * window `w`). @default 64
   */
  ackEvery?: number | undefined
  /** Protocol mode: or at most this long after the first unacknowledged one. @default 20 */
  ackDelayMs?: number | undefined
  /** Default timeout of `request()`. @default 30000 */
  requestTimeoutMs?: number | undefined
  /** Create closed; `client.connect()` connects. @default false */
  startClosed?: boolean | undefined
}

// A top-level constant rather than a property of `clientDefaults`: a bundle that only uses it
// does not carry the object.
export const defaultRequestTimeoutMs = 30_000

export const clientDefaults = {
  mode: 'protocol',
  heartbeat: { intervalMs: 25_000, timeoutMs: 10_000 },
  requestTimeoutMs: defaultRequestTimeoutMs,
} as const

/**
 * Refuses unknown keys, here and in `socket` and `heartbeat`, with `INVALID_ARGUMENT` naming the
 * key: an option the client does not know must not be ignored, nor passed on to where it would
 * change the protocol's guarantees.
 */
export function checkClientOptions(options: ClientOptions): void {
  checkKeys(
    '',
    options,
    'url mode codecs protocols framing socket heartbeat maxUnacked maxUnackedBytes ackEvery ' +
      'ackDelayMs requestTimeoutMs startClosed',
  )
  if (options.socket !== undefined) checkOptions(options.socket, 'socket.')
  if (options.heartbeat !== false)
    checkKeys('heartbeat.', options.heartbeat, 'intervalMs timeoutMs')
  check('maxUnacked', options.maxUnacked)
  check('maxUnackedBytes', options.maxUnackedBytes)
  check('ackEvery', options.ackEvery)
  check('ackDelayMs', options.ackDelayMs, maxTimerMs)
  // Above 0, as `request()`'s own `timeoutMs` must be: a 0 was taken, and each request refused.
  check('requestTimeoutMs', options.requestTimeoutMs, Infinity, Number.MIN_VALUE)
}

/** The default raw framing: `{ t, d }`, the same field names as the protocol's envelope. */
export const defaultFraming: RawFraming = {
  wrap: (type, data) => ({ t: type, d: data }),
  unwrap: (value) => {
    const { t, d } = (value ?? {}) as { t?: unknown; d?: unknown }
    return typeof t === 'string' ? { type: t, data: d } : undefined
  },
}
