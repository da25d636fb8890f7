import { wallNow, type Clock, type TimerHandle } from './clock.js'
import { reportListenerError } from './events.js'
import type { WebSocketData } from './webSocketLike.js'

/** Dead-link detection for any server (raw mode). Off unless given. */
export interface HeartbeatOptions {
  /**
   * Quiet time after which a ping is sent (when `ping` is set).
   * @default 25000
   */
  intervalMs?: number | undefined
  /**
   * Time the pong (or any frame) gets to arrive. A link with no inbound frame for
   * `intervalMs + timeoutMs` is half-open: it is closed with 4000 "heartbeat timeout" and
   * reconnected.
   * @default 10000
   */
  timeoutMs?: number | undefined
  /**
   * What to send as a ping, or a function that makes it, or that sends a ping of its own and
   * returns nothing (a WebSocket ping frame, where the WebSocket has them). Without it no ping is
   * sent and any inbound frame counts as a sign of life (for servers that send their own heartbeat).
   */
  ping?: WebSocketData | (() => WebSocketData | undefined) | undefined
  /** Recognises the server's pong; matched frames are consumed, not dispatched as messages. */
  isPong?: ((data: unknown) => boolean) | undefined
}

export const heartbeatDefaults = {
  intervalMs: 25_000,
  timeoutMs: 10_000,
} as const

/**
 * One timer per clock drives every heartbeat on it: thousands of idle sockets hold no timer of
 * their own. It ticks at the finest step any of its monitors asked for, and stops when the last
 * one leaves, so an idle process can exit.
 */
interface Ticker {
  readonly monitors: Set<{ readonly stepMs: number; check(now: number, woke: boolean): void }>
  stepMs: number
  timer?: TimerHandle
  /**
   * A monitor left since the step was last set: the next tick works out the step of those still
   * there, which may be coarser (one that asked for 1 ms, gone, left every other at 1 ms).
   */
  left?: boolean
  /**
   * How far the wall clock was ahead of the monotonic one at the last tick, or when the ticker
   * was made (a sleep before its first tick, as a link opens, is found too). The monotonic clock
   * stops while the machine sleeps, the wall clock does not: grown by over a second, the machine
   * slept (or its clock was set forward).
   */
  skew: number
}

const tickers = new WeakMap<Clock, Ticker>()

function arm(clock: Clock, ticker: Ticker): void {
  ticker.timer = clock.setTimeout(() => {
    arm(clock, ticker)
    // One clock reading per tick for all monitors.
    const now = clock.now()
    // Timeouts run on the monotonic clock, which a step of the wall clock cannot move; but it
    // stops while the machine sleeps, and a link that died meanwhile would then be found only a
    // whole interval and timeout after waking. The wall clock, which went on, says it slept (or
    // was set forward): every link is checked at once, as when a page is shown again.
    const skew = wallNow(clock) - now
    const woke = skew - ticker.skew > 1e3
    ticker.skew = skew
    for (const monitor of ticker.monitors) monitor.check(now, woke)
    if (ticker.left && tickers.get(clock) === ticker) {
      ticker.left = false
      const stepMs = stepOf(ticker.monitors)
      if (stepMs > ticker.stepMs) {
        clock.clearTimeout(ticker.timer)
        ticker.stepMs = stepMs
        arm(clock, ticker)
      }
    }
  }, ticker.stepMs)
}

/**
 * The coarsest step that keeps every monitor's fifth (see `HeartbeatMonitor.start`): each one's
 * own step is the ticker's, or at least half as long again. The shortest, unless another is
 * longer by less than half: then two thirds of it.
 */
function stepOf(monitors: Ticker['monitors']): number {
  let min = Infinity
  for (const { stepMs } of monitors) min = Math.min(min, stepMs)
  for (const { stepMs } of monitors) {
    if (stepMs !== min && stepMs < min * 1.5) return (min * 2) / 3
  }
  return min
}

/** What a monitor does to its owner: send a ping, or report the link dead. */
export interface HeartbeatHooks<Owner> {
  ping(owner: Owner, data: WebSocketData): void
  dead(owner: Owner): void
}

/**
 * Watches one open link. Inbound frames only set `seen`: reading the clock per message would
 * cost more than everything else done per message. The flag is folded into a timestamp at the
 * next tick, and ticks come every tenth of the shorter period (or more often: see `start`), so
 * detection lands within `intervalMs + timeoutMs` plus at most a fifth of the shorter period
 * (under 10 %). Decisions use `clock.now()`, never a count of ticks, so throttled timers
 * (background tabs, a sleeping laptop) can delay a check but not fool it; a check that ran late
 * confirms a death at the next one, so frames held back with the timer are read first (one more
 * late tick, at worst).
 */
export class HeartbeatMonitor<Owner = unknown> {
  /** Set by the owner on every inbound frame. */
  seen = false
  readonly #options: HeartbeatOptions
  readonly #clock: Clock
  // An owner and hooks shared by all its monitors, rather than two closures per monitor.
  readonly #owner: Owner
  readonly #hooks: HeartbeatHooks<Owner>
  #lastSeenAt = 0
  #lastPingAt = -Infinity
  #lastCheckAt = 0
  /** The last check found the link dead, but ran late: the next one confirms it. */
  #suspect = false
  #running = false
  #stepMs = 1

  constructor(options: HeartbeatOptions, clock: Clock, owner: Owner, hooks: HeartbeatHooks<Owner>) {
    this.#options = options
    this.#clock = clock
    this.#owner = owner
    this.#hooks = hooks
  }

  start(): void {
    const clock = this.#clock
    const { intervalMs = heartbeatDefaults.intervalMs, timeoutMs = heartbeatDefaults.timeoutMs } =
      this.#options
    // Worked out at each start, as the periods are: the options are kept, not copied.
    const stepMs = (this.#stepMs = Math.max(1, Math.min(intervalMs, timeoutMs) / 10))
    this.#running = true
    this.seen = false
    const now = (this.#lastSeenAt = this.#lastCheckAt = clock.now())
    this.#lastPingAt = -Infinity
    this.#suspect = false
    let ticker = tickers.get(clock)
    if (ticker === undefined)
      tickers.set(clock, (ticker = { monitors: new Set(), stepMs, skew: wallNow(clock) - now }))
    ticker.monitors.add(this)
    // A deadline falls between ticks: the frame is folded, the ping sent and the verdict given
    // each up to a tick late. At the monitor's own step its shorter period is a whole number of
    // ticks, so two of those at most: a fifth of it. At any other step, three: only a step of
    // two thirds of its own or less keeps that fifth. The step shrinks to keep it for this
    // monitor and for every one already there (each ticking at its own step, or at two thirds of
    // it or less).
    let nextMs = ticker.stepMs
    if (ticker.timer === undefined || stepMs <= (nextMs * 2) / 3) nextMs = stepMs
    else if (stepMs !== nextMs && stepMs < nextMs * 1.5) nextMs = (Math.min(stepMs, nextMs) * 2) / 3
    if (ticker.timer === undefined || nextMs < ticker.stepMs) {
      if (ticker.timer !== undefined) clock.clearTimeout(ticker.timer)
      ticker.stepMs = nextMs
      arm(clock, ticker)
    }
  }

  /** The ticker step this monitor asks for: a tenth of its shorter period (1 ms at least). */
  get stepMs(): number {
    return this.#stepMs
  }

  stop(): void {
    if (!this.#running) return
    this.#running = false
    const clock = this.#clock
    const ticker = tickers.get(clock)
    if (!ticker?.monitors.delete(this)) return
    if (ticker.monitors.size === 0) {
      clock.clearTimeout(ticker.timer)
      tickers.delete(clock)
    } else ticker.left = true
  }

  /**
   * Checks the link now (e.g. when the page becomes visible): the interval's ping, brought
   * forward. With no frame within `timeoutMs` of it, the link is dead, however recent the last
   * frame before it: after a page was hidden or frozen, that frame says nothing of the link now.
   */
  pingNow(): void {
    // Without a ping, the server's own frames are awaited: nothing to bring forward.
    if (!this.#running || this.#options.ping === undefined) return
    const now = this.#clock.now()
    const { intervalMs = heartbeatDefaults.intervalMs } = this.#options
    // Counted as quiet since at least an interval ago; a frame seen from now on ends it. One that
    // came since the last check is dropped too: a hidden page's late timer (once a minute, after
    // a while) left it unread, and it says no more of the link now than an older one.
    this.seen = false
    this.#lastSeenAt = Math.min(this.#lastSeenAt, now - intervalMs)
    this.#ping(now)
  }

  /** Called by the ticker; `woke`: the machine slept since its last tick (see `arm`). */
  check(now: number, woke?: boolean): void {
    const { intervalMs = heartbeatDefaults.intervalMs, timeoutMs = heartbeatDefaults.timeoutMs } =
      this.#options
    // Quiet for at least an interval, as `pingNow` counts it, a frame since the last tick
    // dropped too (it may have come before the sleep): pinged now, dead with nothing heard
    // within `timeoutMs` (without a ping, nothing heard within `timeoutMs` from now). A ping
    // still out from before the sleep counts for nothing: its pong may be the frame just
    // dropped, and with it counted as sent, none went out and a live link was found dead.
    if (woke) {
      this.seen = false
      this.#lastSeenAt = Math.min(this.#lastSeenAt, now - intervalMs)
      this.#lastPingAt = -Infinity
    }
    // Checks come every tenth of the shorter period; a gap of more than two steps means the
    // timer ran late: the page was frozen or throttled, or the machine slept.
    const late = now - this.#lastCheckAt > Math.min(intervalMs, timeoutMs) / 5
    this.#lastCheckAt = now
    if (this.seen) {
      this.seen = false
      this.#lastSeenAt = now
    }
    const quietMs = now - this.#lastSeenAt
    const pinged = this.#lastPingAt >= this.#lastSeenAt
    // With pings, silence alone is not enough: a ping must have gone out since the last inbound
    // frame and had its full timeout, however late a throttled timer let it go.
    if (
      quietMs >= intervalMs + timeoutMs &&
      (this.#options.ping === undefined || (pinged && now - this.#lastPingAt >= timeoutMs))
    ) {
      // A late timer may run before the frames that arrived while it was held back (a pong
      // waiting in the network stack as a page thaws or a machine wakes): it only suspects the
      // link, and the next check, which those frames will have reached, confirms.
      if (late && !this.#suspect) {
        this.#suspect = true
        return
      }
      this.stop()
      this.#hooks.dead(this.#owner)
      return
    }
    this.#suspect = false
    if (quietMs >= intervalMs && !pinged) this.#ping(now)
  }

  #ping(now: number): void {
    const { ping } = this.#options
    if (ping === undefined) return
    this.#lastPingAt = now
    let data: WebSocketData | undefined
    try {
      data = typeof ping === 'function' ? ping() : ping
    } catch (error) {
      // The application's function: reported, never thrown into the ticker, which would skip
      // every other link's check (and, in Node, end the process). The link is then judged by
      // its silence alone.
      reportListenerError(error)
      return
    }
    if (data !== undefined) this.#hooks.ping(this.#owner, data)
  }
}
