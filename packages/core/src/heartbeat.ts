import type { Clock, TimerHandle } from './clock.js'
import type { WebSocketData } from './webSocketLike.js'

/** Dead-link detection for any server (raw mode). Off unless given. */
export interface HeartbeatOptions {
  /**
   * Quiet time after which a ping is sent (when `ping` is set).
   * @default 25000
   */
  intervalMs?: number
  /**
   * Time the pong (or any frame) gets to arrive. A link with no inbound frame for
   * `intervalMs + timeoutMs` is half-open: it is closed with 4000 "heartbeat timeout" and
   * reconnected.
   * @default 10000
   */
  timeoutMs?: number
  /**
   * What to send as a ping, or a function that makes it. Without it no ping is sent and any
   * inbound frame counts as a sign of life (for servers that send their own heartbeat).
   */
  ping?: WebSocketData | (() => WebSocketData)
  /** Recognises the server's pong; matched frames are consumed, not dispatched as messages. */
  isPong?: (data: unknown) => boolean
}

export const heartbeatDefaults = {
  intervalMs: 25_000,
  timeoutMs: 10_000,
} as const

/**
 * Watches one open link. Inbound frames only set a flag (`markSeen`): reading the clock per
 * message would cost more than everything else done per message. The flag is folded into a
 * timestamp at each check, and checks run every tenth of the shorter period and exactly at the
 * deadline, so detection lands within `intervalMs + timeoutMs` plus at most a tenth of the
 * shorter period. Decisions use `clock.now()`, never a count of ticks, so throttled timers
 * (background tabs, a sleeping laptop) can delay a check but not fool it.
 */
export class HeartbeatMonitor {
  /** Set by the owner on every inbound frame. */
  seen = false
  private readonly intervalMs: number
  private readonly timeoutMs: number
  private readonly stepMs: number
  private lastSeenAt = 0
  private lastPingAt = -Infinity
  private timer: TimerHandle | undefined
  private running = false

  constructor(
    private readonly options: HeartbeatOptions,
    private readonly clock: Clock,
    private readonly sendPing: (data: WebSocketData) => void,
    private readonly onDead: () => void,
  ) {
    this.intervalMs = options.intervalMs ?? heartbeatDefaults.intervalMs
    this.timeoutMs = options.timeoutMs ?? heartbeatDefaults.timeoutMs
    this.stepMs = Math.max(1, Math.min(this.intervalMs, this.timeoutMs) / 10)
  }

  start(): void {
    this.stop()
    this.running = true
    this.seen = false
    this.lastSeenAt = this.clock.now()
    this.lastPingAt = -Infinity
    this.schedule(this.lastSeenAt)
  }

  stop(): void {
    this.running = false
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Sends a ping now (e.g. when the page becomes visible) without waiting for the interval. */
  pingNow(): void {
    if (!this.running || this.options.ping === undefined) return
    this.ping(this.clock.now())
  }

  private check = (): void => {
    this.timer = undefined
    if (!this.running) return
    const now = this.clock.now()
    if (this.seen) {
      this.seen = false
      this.lastSeenAt = now
    }
    const quietMs = now - this.lastSeenAt
    const pings = this.options.ping !== undefined
    // With pings, silence alone is not enough: a ping must have gone out since the last inbound
    // frame and had its full timeout, however late a throttled timer let it go.
    const pongOverdue =
      !pings || (this.lastPingAt >= this.lastSeenAt && now - this.lastPingAt >= this.timeoutMs)
    if (quietMs >= this.intervalMs + this.timeoutMs && pongOverdue) {
      this.running = false
      this.onDead()
      return
    }
    if (pings && quietMs >= this.intervalMs && this.lastPingAt < this.lastSeenAt) this.ping(now)
    this.schedule(now)
  }

  private ping(now: number): void {
    const { ping } = this.options
    this.lastPingAt = now
    this.sendPing(typeof ping === 'function' ? ping() : (ping as WebSocketData))
  }

  private schedule(now: number): void {
    const deadline = Math.max(
      this.lastSeenAt + this.intervalMs + this.timeoutMs,
      this.lastPingAt + this.timeoutMs,
    )
    const pingDue =
      this.options.ping !== undefined && this.lastPingAt < this.lastSeenAt
        ? this.lastSeenAt + this.intervalMs
        : Infinity
    const next = Math.min(now + this.stepMs, deadline, pingDue)
    this.timer = this.clock.setTimeout(this.check, Math.max(0, next - now))
  }
}
