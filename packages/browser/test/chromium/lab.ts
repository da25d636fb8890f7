/**
 * The script of `/lab.html`, a top-level page for the tests a vitest iframe cannot host (offline
 * for a whole browser context, the back/forward cache, a frozen page). The tests drive it from
 * Node with Playwright (`commands.ts`) and read `window.lab`.
 */
import type { Client, Clock } from '@lifeline/core'
import { createClient as createCoreClient } from '@lifeline/core'
import { createClient } from '../../src/index.js'
import type { LabSchema } from './servers.js'

interface LabOptions {
  readonly url: string
  readonly run: string
  readonly heartbeat?: { intervalMs: number; timeoutMs: number }
  /** Timers run late, at the next multiple of this (as Chromium's for a hidden page). */
  readonly timerAlignMs?: number
  readonly retry?: { initialDelayMs: number; maxDelayMs: number }
  /** `false`: core's client alone, without the preset. */
  readonly preset?: boolean
}

/** A clock whose timers fire at the next multiple of `alignMs`, wall-clock time untouched. */
const alignedClock = (alignMs: number): Clock => ({
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => {
    const due = Date.now() + delayMs
    return setTimeout(callback, Math.ceil(due / alignMs) * alignMs - Date.now())
  },
  clearTimeout: (handle) => clearTimeout(handle as number),
})

/** The lab client's timers: how many are set and how many have fired (positive signals). */
const timerCounts = { pending: 0, fired: 0 }

/** Counts the timers `clock` sets and fires, so a test can see a backoff or a check go by. */
const countingClock = (clock: Clock): Clock => {
  const live = new Map<unknown, unknown>()
  return {
    now: () => clock.now(),
    setTimeout: (callback, delayMs) => {
      const key = {}
      const handle = clock.setTimeout(() => {
        live.delete(key)
        timerCounts.pending = live.size
        timerCounts.fired++
        callback()
      }, delayMs)
      live.set(key, handle)
      timerCounts.pending = live.size
      return key
    },
    clearTimeout: (key) => {
      const handle = live.get(key)
      if (handle === undefined) return
      live.delete(key)
      timerCounts.pending = live.size
      clock.clearTimeout(handle)
    },
  }
}

const systemLabClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as number),
}

const log: string[] = []
/** When each named event last happened (ms since the epoch). */
const events: Record<string, number> = {}
const received: number[] = []
let client: Client<LabSchema> | undefined
let run = ''
const attempts = { count: 0 }

for (const type of ['pagehide', 'pageshow'] as const) {
  addEventListener(type, (event) => log.push(`${type}:${event.persisted}`))
}
for (const type of ['visibilitychange', 'freeze', 'resume']) {
  document.addEventListener(type, () => {
    log.push(`${type}:${document.visibilityState}`)
    events[`${type}:${document.visibilityState}`] = Date.now()
  })
}

/** When the client sent each `$ping` of its heartbeat (ms since the epoch). */
const pings: number[] = []
const send = WebSocket.prototype.send
WebSocket.prototype.send = function (this: WebSocket, data) {
  if (typeof data === 'string' && data.includes('"t":"$ping"')) pings.push(Date.now())
  send.call(this, data)
}

/** The longest time the page's timers were held back: a stopped page shows here. */
const timers = { longestGapMs: 0 }
let lastTick = Date.now()
setInterval(() => {
  timers.longestGapMs = Math.max(timers.longestGapMs, Date.now() - lastTick)
  lastTick = Date.now()
}, 50)

const lab = {
  timers,
  clock: timerCounts,
  log,
  received,
  attempts,
  events,
  pings,
  connect(options: LabOptions): void {
    run = options.run
    client = (options.preset === false ? createCoreClient<LabSchema> : createClient<LabSchema>)({
      url: options.url,
      heartbeat: options.heartbeat ?? false,
      socket: {
        ...(options.retry ?? { initialDelayMs: 20, maxDelayMs: 100 }),
        clock: countingClock(
          options.timerAlignMs ? alignedClock(options.timerAlignMs) : systemLabClock,
        ),
      },
    })
    client.on('said', (data) => {
      if (data.run === run) received.push(data.n)
    })
    client.events.on('statechange', (state) => log.push(`state:${state.status}`))
    client.events.on('error', (error) => {
      log.push(`error:${error.code}`)
      events[error.code] = Date.now()
    })
    client.socket.addEventListener('connecting', () => attempts.count++)
    client.socket.addEventListener('close', (event) => {
      log.push(`close:${event.code}:${event.reason}`)
      events[`close:${event.code}`] = Date.now()
    })
    client.socket.addEventListener('open', () => (events.open = Date.now()))
  },
  send(from: number, to: number): void {
    for (let n = from; n <= to; n++) client?.send('say', { run, n })
  },
  status(): string {
    return client?.state.status ?? 'none'
  },
  unacked(): number {
    return client?.unacked ?? -1
  },
  notRestoredReasons(): unknown {
    const [entry] = performance.getEntriesByType('navigation') as (PerformanceNavigationTiming & {
      notRestoredReasons?: unknown
    })[]
    return entry?.notRestoredReasons ?? null
  },
  close(): void {
    client?.close()
  },
  /** Connects the client again after `close()`. */
  reopen(): void {
    client?.connect()
  },
  /**
   * The Page Lifecycle advice, in the page's own handlers (added after the client's): close the
   * client as the page goes into the cache or freezes, connect it again as it comes back.
   */
  closeWhileAway(): void {
    addEventListener('pagehide', (event) => event.persisted && lab.close())
    addEventListener('pageshow', (event) => event.persisted && lab.reopen())
    document.addEventListener('freeze', () => lab.close())
    document.addEventListener('resume', () => lab.reopen())
  },
}

Object.assign(window, { lab })
export type Lab = typeof lab
