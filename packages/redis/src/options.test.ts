import type { ListsEvery } from '@lifeline/test-utils'
import { describe, expect, it } from 'vitest'
import { resolveOptions, type RedisClusterOptions } from './options.js'

/** Enough of an ioredis client for the options to be read; nothing is sent. */
const redis = { defineCommand: () => undefined } as unknown as RedisClusterOptions['redis']

describe('resolveOptions', () => {
  it('refuses a heartbeat or handoff timeout longer than a timer can wait', () => {
    // Node fires a longer timer after 1 ms: a 30-day heartbeat would write every millisecond.
    const thirtyDays = 30 * 86_400_000
    for (const options of [
      { heartbeatMs: thirtyDays, processTtlMs: thirtyDays + 1 },
      { handoffTimeoutMs: thirtyDays },
    ]) {
      expect(() => resolveOptions({ redis, ...options })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
    const longest = 2 ** 31 - 1
    expect(
      resolveOptions({ redis, heartbeatMs: longest, processTtlMs: longest + 1 }).heartbeatMs,
    ).toBe(longest)
    expect(resolveOptions({ redis, handoffTimeoutMs: longest }).handoffTimeoutMs).toBe(longest)
  })
})

// A project without `exactOptionalPropertyTypes` (TypeScript's default) passes its own optional
// settings on as they are, `{ prefix: config.prefix }`: an option given as `undefined` must be
// one not given, its default applying, never a refusal or another behaviour.
describe('options given as undefined', () => {
  it('resolve as if not given: every default applies', () => {
    const optional = [
      'subscriber',
      'prefix',
      'historyLength',
      'historyTtlMs',
      'dedupeTtlMs',
      'heartbeatMs',
      'processTtlMs',
      'maxPendingBytes',
      'handoffTimeoutMs',
    ] as const satisfies readonly (keyof RedisClusterOptions)[]
    // Every option is in the list: one added to `RedisClusterOptions` and not here fails to
    // compile.
    const listsEvery: ListsEvery<RedisClusterOptions, (typeof optional)[number], 'redis'> = true
    expect(listsEvery).toBe(true)
    const base = resolveOptions({ redis })
    for (const key of optional) {
      expect([key, resolveOptions({ redis, [key]: undefined })]).toEqual([key, base])
    }
  })
})
