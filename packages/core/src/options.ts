import { LifelineError } from '@lifeline/codec'
import { backoffDefaults } from './backoff.js'
import type { Clock } from './clock.js'
import { systemClock } from './clock.js'
import type { HeartbeatOptions } from './heartbeat.js'
import { defaultShouldReconnect } from './closeCodes.js'
import type { SendQueueOptions } from './sendQueue.js'
import { sendQueueDefaults } from './sendQueue.js'
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

export interface ReconnectingWebSocketOptions {
  /**
   * The WebSocket implementation: the browser's, `ws`, Node 22+'s global, Bun's, a fake.
   * @default the `isomorphic-ws` export (`ws` in Node, the global `WebSocket` in browsers)
   */
  WebSocket?: WebSocketConstructor
  /**
   * Upper bound of the first retry's delay; see `computeBackoffDelay`.
   * @default 500
   */
  initialDelayMs?: number
  /**
   * Growth of the delay bound per failed attempt.
   * @default 2
   */
  factor?: number
  /**
   * Cap of the delay bound.
   * @default 30000
   */
  maxDelayMs?: number
  /** Replaces the backoff formula: the delay before the next attempt, in ms. */
  delayMs?: (context: RetryContext) => number
  /**
   * A link that stayed open this long counts as stable: the retry counter starts again.
   * @default 5000
   */
  minUptimeMs?: number
  /**
   * Failed attempts in a row before giving up (state `closed`, error `RETRIES_EXHAUSTED`).
   * @default Infinity
   */
  maxRetries?: number
  /**
   * An attempt that has not opened in this time is abandoned and retried. Also bounds the
   * closing handshake of `close()`.
   * @default 10000
   */
  connectionTimeoutMs?: number
  /**
   * Decides after each close whether to reconnect.
   * @default retry unless the code is in `fatalCloseCodes` (1002, 1003, 1007–1010, 4401, 4403)
   */
  shouldReconnect?: (event: CloseEventLike) => boolean
  /** Bounds and overflow policy of the send queue. */
  queue?: Partial<SendQueueOptions>
  /**
   * Flushing the queue pauses while the socket's `bufferedAmount` is above this, so a large
   * flush does not copy the whole queue into the socket's buffer at once.
   * @default 1048576 (1 MiB)
   */
  highWaterMarkBytes?: number
  /** Dead-link detection. Off by default, since a ping means nothing to an unknown server. */
  heartbeat?: HeartbeatOptions | false
  /**
   * Create the socket closed; call `reconnect()` to connect.
   * @default false
   */
  startClosed?: boolean
  /** @default systemClock */
  clock?: Clock
  /** Uniform random number in [0, 1), for jitter. @default Math.random */
  random?: () => number
  /**
   * `true` logs state changes and causes with `console.debug`; a function receives them.
   * Query values in URLs are redacted.
   * @default false
   */
  debug?: boolean | DebugLogger
}

export interface ResolvedOptions {
  readonly WebSocket: WebSocketConstructor
  readonly backoff: typeof backoffDefaults
  readonly delayMs: ((context: RetryContext) => number) | undefined
  readonly minUptimeMs: number
  readonly maxRetries: number
  readonly connectionTimeoutMs: number
  readonly shouldReconnect: (event: CloseEventLike) => boolean
  readonly queue: SendQueueOptions
  readonly highWaterMarkBytes: number
  readonly heartbeat: HeartbeatOptions | undefined
  readonly clock: Clock
  readonly random: () => number
  readonly debug: DebugLogger | undefined
}

export const reconnectingWebSocketDefaults = {
  ...backoffDefaults,
  minUptimeMs: 5_000,
  maxRetries: Infinity,
  connectionTimeoutMs: 10_000,
  highWaterMarkBytes: 1024 * 1024,
} as const

const consoleDebug: DebugLogger = (message, details) =>
  console.debug(`lifeline: ${message}`, details ?? '')

function nonNegative(name: string, value: number): number {
  if (!(value >= 0)) {
    throw new LifelineError('INVALID_ARGUMENT', `${name} must be a number >= 0, got ${value}`)
  }
  return value
}

/** Timers take at most 2^31 - 1 ms; beyond, Node and browsers fire them at once. */
const maxTimerDelayMs = 2 ** 31 - 1

function timerDelay(name: string, value: number): number {
  if (!(value >= 0 && value <= maxTimerDelayMs)) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `${name} must be a number of ms from 0 to ${maxTimerDelayMs}, got ${value}`,
    )
  }
  return value
}

/** Fills in defaults and rejects values that would make the socket misbehave. */
export function resolveOptions(
  options: ReconnectingWebSocketOptions,
  defaultWebSocket: WebSocketConstructor | undefined,
): ResolvedOptions {
  const d = reconnectingWebSocketDefaults
  const WebSocketImpl = options.WebSocket ?? defaultWebSocket
  if (typeof WebSocketImpl !== 'function') {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      'no WebSocket implementation: pass one as the `WebSocket` option',
    )
  }
  const queue = { ...sendQueueDefaults, ...options.queue }
  nonNegative('queue.maxMessages', queue.maxMessages)
  nonNegative('queue.maxBytes', queue.maxBytes)
  if (!['error', 'drop-oldest', 'drop-newest'].includes(queue.overflow)) {
    throw new LifelineError('INVALID_ARGUMENT', `unknown queue.overflow ${String(queue.overflow)}`)
  }
  const heartbeat = options.heartbeat === false ? undefined : options.heartbeat
  if (heartbeat !== undefined) {
    if (heartbeat.intervalMs !== undefined)
      nonNegative('heartbeat.intervalMs', heartbeat.intervalMs)
    if (heartbeat.timeoutMs !== undefined) nonNegative('heartbeat.timeoutMs', heartbeat.timeoutMs)
  }
  const debug = options.debug === true ? consoleDebug : options.debug || undefined
  return {
    WebSocket: WebSocketImpl,
    backoff: {
      initialDelayMs: nonNegative('initialDelayMs', options.initialDelayMs ?? d.initialDelayMs),
      factor: nonNegative('factor', options.factor ?? d.factor),
      maxDelayMs: timerDelay('maxDelayMs', options.maxDelayMs ?? d.maxDelayMs),
    },
    delayMs: options.delayMs,
    minUptimeMs: nonNegative('minUptimeMs', options.minUptimeMs ?? d.minUptimeMs),
    maxRetries: nonNegative('maxRetries', options.maxRetries ?? d.maxRetries),
    connectionTimeoutMs: timerDelay(
      'connectionTimeoutMs',
      options.connectionTimeoutMs ?? d.connectionTimeoutMs,
    ),
    shouldReconnect: options.shouldReconnect ?? defaultShouldReconnect,
    queue,
    highWaterMarkBytes: nonNegative(
      'highWaterMarkBytes',
      options.highWaterMarkBytes ?? d.highWaterMarkBytes,
    ),
    heartbeat,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    debug,
  }
}
