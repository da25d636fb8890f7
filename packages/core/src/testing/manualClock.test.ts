import { describe, expect, it } from 'vitest'
import { ManualClock } from './manualClock.js'

describe('ManualClock', () => {
  it('runs timers in order of due time, each at its own, those they schedule included', () => {
    const clock = new ManualClock(1_000)
    const ran: string[] = []
    clock.setTimeout(() => ran.push(`b@${clock.now()}`), 20)
    clock.setTimeout(() => {
      ran.push(`a@${clock.now()}`)
      clock.setTimeout(() => ran.push(`c@${clock.now()}`), 15)
    }, 10)
    clock.advance(30)
    expect(ran).toEqual(['a@1010', 'b@1020', 'c@1025'])
    expect(clock.now()).toBe(1_030)
    expect(clock.pending).toBe(0)
  })

  it('runs a timer jump() left overdue late, at the next runNext(), without going back', () => {
    const clock = new ManualClock(1_000)
    const ran: number[] = []
    clock.setTimeout(() => ran.push(clock.now()), 500)
    clock.jump(1_000)
    expect(ran).toEqual([])
    expect(clock.runNext()).toBe(true)
    expect(ran).toEqual([2_000])
    // Not back to the timer's due time (1500), where a deadline measured since would be early.
    expect(clock.now()).toBe(2_000)
  })

  it('runs a timer jump() left overdue at the next advance(), without going back', () => {
    const clock = new ManualClock(1_000)
    const ran: number[] = []
    clock.setTimeout(() => ran.push(clock.now()), 500)
    clock.jump(1_000)
    clock.advance(0)
    expect(ran).toEqual([2_000])
    expect(clock.now()).toBe(2_000)
  })
})
