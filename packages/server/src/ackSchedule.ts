import type { Clock, TimerHandle } from '@lifeline/core'

/** A session whose `$ack` may wait (`Session.sendAck`). */
export interface AckOwer {
  /** Writes the `$ack` it holds, if it is still owed. */
  flushAckDue(): void
}

/**
 * The delayed `$ack`s of every session of a server, on one timer: each is written `delayMs`
 * after it was held, unless the session wrote it meanwhile (with a room message, mostly) and
 * `cancel`led it. A timer of its own per session cost a `setTimeout` for nearly every message a
 * client sent with a shared store, and a `clearTimeout` when the room message took the `$ack`
 * along: two timer-list operations per message, where this is an array push. Every delay is
 * the same, so the held `$ack`s fall due in the order they were held.
 */
export class AckSchedule {
  /** Sessions in the order they were held, with when each falls due. */
  private owers: AckOwer[] = []
  private dueAt: number[] = []
  /** When each session held now falls due (absent: not held, or cancelled). */
  private readonly held = new Map<AckOwer, number>()
  private timer: TimerHandle | undefined

  constructor(
    private readonly clock: Clock,
    private readonly delayMs: number,
  ) {}

  /** Holds `ower`'s `$ack` for `delayMs`, unless it is held already. */
  hold(ower: AckOwer): void {
    if (this.held.has(ower)) return
    const at = this.clock.now() + this.delayMs
    this.held.set(ower, at)
    this.owers.push(ower)
    this.dueAt.push(at)
    this.timer ??= this.clock.setTimeout(this.fire, this.delayMs)
  }

  /** `ower` wrote its `$ack`, or has no link any more: it is not called. */
  cancel(ower: AckOwer): void {
    this.held.delete(ower)
  }

  /** Stops the timer: nothing held is called (the server closes). */
  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
    this.owers = []
    this.dueAt = []
    this.held.clear()
  }

  private readonly fire = (): void => {
    this.timer = undefined
    const now = this.clock.now()
    const { owers, dueAt } = this
    let next = 0
    // An entry due further away than a whole delay was held before the wall clock went back
    // (NTP, a resumed machine): it is due, or every `$ack` would wait behind it as long.
    const latest = now + this.delayMs
    // Only those held before: one held by a call below waits its whole delay.
    const end = owers.length
    while (next < end && ((dueAt[next] as number) <= now || (dueAt[next] as number) > latest)) {
      const ower = owers[next] as AckOwer
      const at = dueAt[next] as number
      next++
      // Cancelled, or cancelled and held again (a later entry): only its current entry runs.
      if (this.held.get(ower) !== at) continue
      this.held.delete(ower)
      ower.flushAckDue()
    }
    // Those held by the calls above were pushed behind: they stay, in order.
    this.owers = owers.slice(next)
    this.dueAt = dueAt.slice(next)
    // A call above that held again armed a timer for a whole delay: the first entry decides.
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    const first = this.dueAt[0]
    this.timer =
      first === undefined
        ? undefined
        : this.clock.setTimeout(this.fire, Math.min(this.delayMs, Math.max(0, first - now)))
  }
}
