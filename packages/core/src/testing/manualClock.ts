import type { Clock, TimerHandle } from '../clock.js'

interface Timer {
  readonly id: number
  readonly at: number
  readonly callback: () => void
}

/**
 * A clock that moves only when told. Timers run in order of due time (then creation), each at
 * its own due time, including timers scheduled by other timers within the span advanced.
 *
 * ```ts
 * const clock = new ManualClock()
 * const socket = new ReconnectingWebSocket(url, undefined, { clock, WebSocket: FakeWebSocket })
 * clock.advance(500)
 * ```
 */
export class ManualClock implements Clock {
  private time: number
  private nextId = 1
  private timers: Timer[] = []

  constructor(startMs = 0) {
    this.time = startMs
  }

  now(): number {
    return this.time
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.nextId++, at: this.time + Math.max(0, delayMs), callback }
    this.timers.push(timer)
    return timer.id
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle)
  }

  /** Timers waiting to run. */
  get pending(): number {
    return this.timers.length
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.time + ms
    for (;;) {
      const next = this.nextDue()
      if (next === undefined || next.at > end) break
      this.timers = this.timers.filter((timer) => timer !== next)
      // A timer overdue after `jump` runs now, late: time never goes back.
      this.time = Math.max(this.time, next.at)
      next.callback()
    }
    this.time = end
  }

  /**
   * Moves time forward by `ms` without running any timer, as for a frozen page or a sleeping
   * machine: the timers that fell due meanwhile run late, at the next `advance` or `runNext`.
   */
  jump(ms: number): void {
    this.time += ms
  }

  /**
   * Moves time to the next timer and runs it (and any due at the same time); false if none. A
   * timer overdue after `jump` runs now, late: time never goes back.
   */
  runNext(): boolean {
    const next = this.nextDue()
    if (next === undefined) return false
    this.advance(Math.max(0, next.at - this.time))
    return true
  }

  /** Milliseconds until the next timer, or `undefined` when none is waiting. */
  nextDelay(): number | undefined {
    const next = this.nextDue()
    return next === undefined ? undefined : next.at - this.time
  }

  private nextDue(): Timer | undefined {
    let next: Timer | undefined
    for (const timer of this.timers) {
      if (
        next === undefined ||
        timer.at < next.at ||
        (timer.at === next.at && timer.id < next.id)
      ) {
        next = timer
      }
    }
    return next
  }
}
