import { systemClock, wallNow, type Clock, type TimerHandle } from '@lifeline/core'
import type { SessionRecord, SessionStore } from './sessionStore.js'
import { delay } from './validate.js'

export interface MemorySessionStoreOptions {
  /**
   * Source of time for expiry. Pass the server's clock (a `ManualClock` in tests).
   * @default systemClock
   */
  clock?: Clock | undefined
  /**
   * How often expired records are removed. Expiry is also checked on every `get`, so this only
   * bounds the memory that records of clients that never came back hold.
   * @default 60000
   */
  sweepIntervalMs?: number | undefined
}

export const memorySessionStoreDefaults = {
  sweepIntervalMs: 60_000,
} as const

/** The in-memory store, with the number of records it holds (expired ones not yet swept included). */
export interface MemorySessionStore extends SessionStore {
  get(id: string): SessionRecord | undefined
  set(record: SessionRecord): void
  delete(id: string): void
  readonly size: number
  /** Forgets every record and stops the sweep timer. */
  close(): void
}

/**
 * Sessions in this process's memory: they survive a restart of the listener (pass the same
 * store to the new server) but not of the process. The sweep timer is unref'd and runs only
 * while records are held, so the store never keeps a process alive.
 */
export function createMemorySessionStore(
  options: MemorySessionStoreOptions = {},
): MemorySessionStore {
  const clock = options.clock ?? systemClock
  // Checked: 0, a negative number or one past what a timer can wait would sweep every turn.
  const sweepIntervalMs = delay(
    'sweepIntervalMs',
    options.sweepIntervalMs ?? memorySessionStoreDefaults.sweepIntervalMs,
  )
  const records = new Map<string, SessionRecord>()
  let sweepTimer: TimerHandle | undefined

  const sweep = (): void => {
    sweepTimer = undefined
    // `expiresAt` is wall time (see SessionRecord): a record may come from another process.
    const now = wallNow(clock)
    for (const [id, record] of records) {
      if (record.expiresAt <= now) records.delete(id)
    }
    scheduleSweep()
  }

  const scheduleSweep = (): void => {
    if (sweepTimer !== undefined || records.size === 0) return
    sweepTimer = clock.setTimeout(sweep, sweepIntervalMs)
    unref(sweepTimer)
  }

  return {
    get(id) {
      const record = records.get(id)
      if (record === undefined) return undefined
      if (record.expiresAt <= wallNow(clock)) {
        records.delete(id)
        return undefined
      }
      return record
    },
    set(record) {
      records.set(record.id, record)
      scheduleSweep()
    },
    delete(id) {
      records.delete(id)
    },
    get size() {
      return records.size
    },
    close() {
      records.clear()
      if (sweepTimer !== undefined) clock.clearTimeout(sweepTimer)
      sweepTimer = undefined
    },
  }
}

/** Lets a Node timer not keep the process alive; other clocks' handles are left alone. */
export function unref(handle: TimerHandle): void {
  if (typeof handle === 'object' && handle !== null && 'unref' in handle) {
    const { unref: release } = handle as { unref: unknown }
    if (typeof release === 'function') release.call(handle)
  }
}
