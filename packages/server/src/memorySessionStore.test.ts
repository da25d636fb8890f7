import { systemClock, type Clock, type TimerHandle } from '@lifeline/core'
import { ManualClock } from '@lifeline/core/testing'
import { describe, expect, it } from 'vitest'
import { createMemorySessionStore } from './memorySessionStore.js'
import type { SessionRecord } from './sessionStore.js'

function record(id: string, expiresAt: number): SessionRecord {
  return {
    id,
    peerId: `p-${id}`,
    lastClientSeq: 3,
    lastServerSeq: 5,
    replay: [{ t: 'm', d: 1, s: 5 }],
    lossy: false,
    rooms: ['red'],
    expiresAt,
  }
}

describe('createMemorySessionStore', () => {
  it('returns a record until its expiry, and nothing from then on', () => {
    const clock = new ManualClock(1_000)
    const store = createMemorySessionStore({ clock })
    const saved = record('a', 1_100)
    store.set(saved)
    expect(store.get('a')).toEqual(saved)
    clock.advance(99)
    expect(store.get('a')).toEqual(saved)
    clock.advance(1)
    expect(store.get('a')).toBeUndefined()
    expect(store.size).toBe(0)
    expect(store.get('unknown')).toBeUndefined()
  })

  it('replaces a record with the same id, and deletes', () => {
    const store = createMemorySessionStore({ clock: new ManualClock() })
    store.set(record('a', 10))
    store.set({ ...record('a', 20), lastClientSeq: 9 })
    expect(store.get('a')?.lastClientSeq).toBe(9)
    store.delete('a')
    expect(store.get('a')).toBeUndefined()
  })

  it('sweeps expired records on a timer that runs only while records are held', () => {
    const clock = new ManualClock()
    const store = createMemorySessionStore({ clock, sweepIntervalMs: 1_000 })
    expect(clock.pending).toBe(0)
    store.set(record('short', 500))
    store.set(record('long', 1_500))
    expect(clock.pending).toBe(1)
    clock.advance(1_000)
    expect(store.size).toBe(1)
    clock.advance(1_000)
    expect(store.size).toBe(0)
    expect(clock.pending).toBe(0)
    store.set(record('again', 5_000))
    store.close()
    expect(store.size).toBe(0)
    expect(clock.pending).toBe(0)
  })

  it('refuses a sweep interval that would sweep every turn (INVALID_ARGUMENT)', () => {
    // 0, a negative or NaN interval fires at once; one past 2^31 - 1 ms fires after 1 ms.
    for (const sweepIntervalMs of [0, -1, Number.NaN, 2 ** 31]) {
      expect(() => createMemorySessionStore({ sweepIntervalMs })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
    expect(() => createMemorySessionStore({ sweepIntervalMs: 2 ** 31 - 1 })).not.toThrow()
  })

  it('never keeps a Node process alive: its timer is unref’d', () => {
    const handles: TimerHandle[] = []
    const clock: Clock = {
      ...systemClock,
      setTimeout: (callback, delayMs) => {
        const handle = systemClock.setTimeout(callback, delayMs)
        handles.push(handle)
        return handle
      },
    }
    const store = createMemorySessionStore({ clock })
    store.set(record('a', Date.now() + 60_000))
    expect(handles).toHaveLength(1)
    expect((handles[0] as NodeJS.Timeout).hasRef()).toBe(false)
    store.close()
  })
})
