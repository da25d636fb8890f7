import { ManualClock } from '@lifeline/core/testing'
import { describe, expect, it } from 'vitest'
import { AckSchedule, type AckOwer } from './ackSchedule.js'

function ower(name: string, calls: string[]): AckOwer {
  return { flushAckDue: () => void calls.push(name) }
}

/** A schedule of 20 ms on a manual clock, and owers `a` and `b` that note their calls. */
function schedule() {
  const clock = new ManualClock(0)
  const acks = new AckSchedule(clock, 20)
  const calls: string[] = []
  return { clock, acks, calls, a: ower('a', calls), b: ower('b', calls) }
}

describe('AckSchedule', () => {
  it('calls each held ower once, delayMs after it was held, on one timer', () => {
    const { clock, acks, calls, a, b } = schedule()
    acks.hold(a)
    clock.advance(5)
    acks.hold(b)
    acks.hold(a)
    expect(clock.pending).toBe(1)
    clock.advance(14)
    expect(calls).toEqual([])
    clock.advance(1)
    expect(calls).toEqual(['a'])
    clock.advance(4)
    expect(calls).toEqual(['a'])
    clock.advance(1)
    expect(calls).toEqual(['a', 'b'])
    expect(clock.pending).toBe(0)
  })

  it('does not call an ower cancelled, and calls one held again after a cancel at its new time', () => {
    const { clock, acks, calls, a, b } = schedule()
    acks.hold(a)
    acks.hold(b)
    acks.cancel(b)
    clock.advance(10)
    acks.cancel(a)
    acks.hold(a)
    clock.advance(10)
    expect(calls).toEqual([])
    clock.advance(10)
    expect(calls).toEqual(['a'])
    expect(clock.pending).toBe(0)
  })

  it('keeps an ower held again by a call it makes, for a full delay', () => {
    const clock = new ManualClock(0)
    const acks = new AckSchedule(clock, 20)
    let calls = 0
    const again: AckOwer = {
      flushAckDue: () => {
        if (++calls === 1) acks.hold(again)
      },
    }
    acks.hold(again)
    clock.advance(20)
    expect(calls).toBe(1)
    // One timer, not the one the call armed beside the schedule's own.
    expect(clock.pending).toBe(1)
    clock.advance(19)
    expect(calls).toBe(1)
    clock.advance(1)
    expect(calls).toBe(2)
  })

  it('calls what it held on time when the wall clock goes back', () => {
    const manual = new ManualClock(0)
    let offset = 0
    const clock = {
      now: () => manual.now() + offset,
      setTimeout: (callback: () => void, delayMs: number) => manual.setTimeout(callback, delayMs),
      clearTimeout: (handle: Parameters<ManualClock['clearTimeout']>[0]) =>
        manual.clearTimeout(handle),
    }
    const acks = new AckSchedule(clock, 20)
    const calls: string[] = []
    acks.hold(ower('a', calls))
    acks.hold(ower('b', calls))
    offset = -10_000
    manual.advance(20)
    expect(calls).toEqual(['a', 'b'])
    expect(manual.pending).toBe(0)
  })

  it('stop clears the timer and forgets what it held', () => {
    const { clock, acks, calls, a } = schedule()
    acks.hold(a)
    acks.stop()
    expect(clock.pending).toBe(0)
    clock.advance(40)
    expect(calls).toEqual([])
  })
})
