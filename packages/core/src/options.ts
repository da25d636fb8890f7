import { LifelineError } from '@lifeline/codec'
import { backoffDefaults } from './backoff.js'
import { maxTimerMs } from './clock.js'
import type { Clock } from './clock.js'
import type { HeartbeatOptions } from './heartbeat.js'
import type { SendQueueSettings } from './sendQueue.js'
import type { CloseEventLike, WebSocketConstructor } from './webSocketLike.js'

/** A debug sink: gets one line per state change or cause, with URLs already redacted. */
export type DebugLogger = (message: string, details?: Record<string, unknown>) => void

/** Passed to a custom `delayMs` function. */
export interface RetryContext {
  /** 0 for the first retry after the link was last stable. */
  readonly retry: number
  /** The close event of the link or attempt that failed. */
  readonly event: CloseEventLike
}

/**
 * Options of a `ReconnectingWebSocket`. The object is kept as it is given, not copied, and read
 * when a value is needed: sockets made from one options object share it and hold nothing more.
 */
export interface ReconnectingWebSocketOptions {
  /**
   * The WebSocket implementation: the browser's, `ws`, Node 22+'s global, Bun's, a fake.
   * @default the `isomorphic-ws` export (`ws` in Node, the global `WebSocket` in browsers)
   */
  WebSocket?: WebSocketConstructor | undefined
  /**
   * Upper bound of the first retry's delay; see `computeBackoffDelay`.
   * @default 500
   */
  initialDelayMs?: number | undefined
  /**
   * Growth of the delay bound per failed attempt; at least 1, so that no retry comes sooner than
   * the one before.
   * @default 2
   */
  factor?: number | undefined
  /**
   * Cap of the delay bound.
   * @default 30000
   */
  maxDelayMs?: number | undefined
  /** Replaces the backoff formula: the delay before the next attempt, in ms. */
  delayMs?: ((context: RetryContext) => number) | undefined
  /**
   * A link that stayed open this long counts as stable: the retry counter starts again.
   * @default 5000
   */
  minUptimeMs?: number | undefined
  /**
   * Failed attempts in a row before giving up (state `closed`, error `RETRIES_EXHAUSTED`).
   * @default Infinity
   */
  maxRetries?: number | undefined
  /**
   * Links dropped in a row by `failLink(…, 'violation')` (the peer broke the protocol) before
   * giving up for good: state `closed`, error `PROTOCOL_ERROR` with the link's close code. A
   * link that stays open `minUptimeMs` before it is dropped starts the count again. Each such
   * drop is a failed attempt meanwhile, with the backoff's delay. `0` or `1`: the first
   * violation ends the socket. `Infinity`: never give up (the backoff still spaces attempts).
   * @default 5
   */
  maxViolations?: number | undefined
  /**
   * An attempt that has not opened in this time is abandoned and retried. Also bounds the
   * closing handshake of `close()`. A `createClient` in protocol mode also gives each attempt
   * this long, from its start, to complete the handshake (`$welcome`). At least 1 ms.
   * @default 10000
   */
  connectionTimeoutMs?: number | undefined
  /**
   * Decides after each close whether to reconnect.
   * @default retry unless the code is in `fatalCloseCodes` (1002, 1003, 1007–1010, 4401, 4403)
   */
  shouldReconnect?: ((event: CloseEventLike) => boolean) | undefined
  /** Bounds and overflow policy of the send queue. */
  queue?: SendQueueSettings | undefined
  /**
   * Flushing the queue pauses while the socket's `bufferedAmount` is above this, so a large
   * flush does not copy the whole queue into the socket's buffer at once.
   * @default 1048576 (1 MiB)
   */
  highWaterMarkBytes?: number | undefined
  /** Dead-link detection. Off by default, since a ping means nothing to an unknown server. */
  heartbeat?: HeartbeatOptions | false | undefined
  /**
   * Asked before each attempt. While it returns `false` no attempt is made and none is counted:
   * the socket waits, `connecting` or `reconnecting`, with no timer, until `reconnect()` is
   * called. For a platform that knows the network is down (a browser's `navigator.onLine`);
   * whoever passes it calls `reconnect()` when the network is back.
   * @default always true
   */
  canConnect?: (() => boolean) | undefined
  /**
   * Create the socket closed; call `reconnect()` to connect.
   * @default false
   */
  startClosed?: boolean | undefined
  /** @default systemClock */
  clock?: Clock | undefined
  /** Uniform random number in [0, 1), for jitter. @default Math.random */
  random?: (() => number) | undefined
  /**
   * `true` logs state changes and causes with `console.debug`; a function receives them.
   * Query values in URLs are redacted.
   * @default false
   */
  debug?: boolean | DebugLogger | undefined
}

export const reconnectingWebSocketDefaults = {
  ...backoffDefaults,
  minUptimeMs: 5_000,
  maxRetries: Infinity,
  maxViolations: 5,
  connectionTimeoutMs: 10_000,
  highWaterMarkBytes: 1024 * 1024,
} as const

export function check(name: string, value: number | undefined, max = Infinity, min = 0): void {
  // `typeof`: a string or `null` compares as a number, and would be taken as one.
  if (value !== undefined && !(typeof value === 'number' && value >= min && value <= max)) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `${name} must be a number in ${min}..${max}, got ${value}`,
    )
  }
}

/**
 * Refuses keys that are not in `known` (space-separated), naming the first: a misspelt or
 * foreign option would otherwise be ignored without a word, or worse, reach code it was not
 * meant for. Throws `INVALID_ARGUMENT`.
 */
export function checkKeys(prefix: string, options: object | undefined, known: string): void {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `${prefix.slice(0, -1) || 'options'} must be an object`,
    )
  }
  const names = known.split(' ')
  for (const key of Object.keys(options ?? {})) {
    if (!names.includes(key)) {
      throw new LifelineError('INVALID_ARGUMENT', `unknown option '${prefix}${key}'`)
    }
  }
}

/** The keys of `ReconnectingWebSocketOptions`, for `checkKeys`. */
export const socketOptionKeys =
  'WebSocket initialDelayMs factor maxDelayMs delayMs minUptimeMs maxRetries maxViolations ' +
  'connectionTimeoutMs shouldReconnect queue highWaterMarkBytes heartbeat canConnect startClosed ' +
  'clock random debug'

/**
 * Rejects unknown keys and values that would make the socket misbehave; throws
 * `INVALID_ARGUMENT`.
 */
export function checkOptions(options: ReconnectingWebSocketOptions, prefix = ''): void {
  checkKeys(prefix, options, socketOptionKeys)
  const { queue = {}, heartbeat } = options
  checkKeys(`${prefix}queue.`, queue, 'maxMessages maxBytes overflow')
  if (heartbeat !== false)
    checkKeys(`${prefix}heartbeat.`, heartbeat, 'intervalMs timeoutMs ping isPong')
  for (const name of ['delayMs', 'shouldReconnect', 'canConnect', 'random'] as const) {
    const value = options[name]
    if (value !== undefined && typeof value !== 'function') {
      throw new LifelineError('INVALID_ARGUMENT', `${prefix}${name} must be a function`)
    }
  }
  check('initialDelayMs', options.initialDelayMs)
  check('factor', options.factor, Infinity, 1)
  check('maxDelayMs', options.maxDelayMs, maxTimerMs)
  check('minUptimeMs', options.minUptimeMs)
  check('maxRetries', options.maxRetries)
  check('maxViolations', options.maxViolations)
  // At least a millisecond: 0 abandoned every attempt before its handshake could answer, and a
  // socket given it (as "no timeout", the convention elsewhere) retried for ever, never open.
  check('connectionTimeoutMs', options.connectionTimeoutMs, maxTimerMs, 1)
  check('highWaterMarkBytes', options.highWaterMarkBytes)
  check('queue.maxMessages', queue.maxMessages)
  check('queue.maxBytes', queue.maxBytes)
  if (queue.overflow !== undefined && !/^(error|drop-oldest|drop-newest)$/.test(queue.overflow)) {
    throw new LifelineError('INVALID_ARGUMENT', `unknown queue.overflow ${String(queue.overflow)}`)
  }
  if (heartbeat) {
    // At least a millisecond, the heartbeat timer's tick (the server and `@lifeline/node` refuse
    // 0 too): a 0 interval pinged at every tick, and a 0 timeout found dead every link whose pong
    // took longer than a tick. Neither is ever meant; `heartbeat: false` turns it off.
    check('heartbeat.intervalMs', heartbeat.intervalMs, maxTimerMs, 1)
    check('heartbeat.timeoutMs', heartbeat.timeoutMs, maxTimerMs, 1)
  }
}
