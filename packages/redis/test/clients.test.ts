import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { createRedisCluster } from '../src/index.js'

const fx = useFixtures(afterEach)

const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown

describe('the application’s Redis clients', () => {
  it('refuses a client with a keyPrefix, which the scripts’ own keys would not carry', async () => {
    const redis = fx.add(await startRedisServer())
    const client = new Redis(redis.url, { keyPrefix: 'app:' })
    client.on('error', () => undefined)
    fx.add(() => client.disconnect())
    // Taken, a session was created under `app:lifeline:s:{…}` and written under
    // `lifeline:s:{…}`: each write was fenced, the client moved with 1012 and its messages
    // processed again, hundreds of times a second.
    expect(() => createRedisCluster({ redis: client })).toThrow(invalid)
  })

  it('refuses a client or subscriber already closed, which ioredis never connects again', async () => {
    const redis = fx.add(await startRedisServer())
    const quit = new Redis(redis.url)
    await quit.ping()
    await quit.quit()
    const dropped = new Redis(redis.url, { lazyConnect: true })
    dropped.disconnect()
    const open = new Redis(redis.url)
    open.on('error', () => undefined)
    fx.add(() => open.disconnect())
    await waitFor(() => open.status === 'ready', { message: 'the client connected' })
    expect(() => createRedisCluster({ redis: quit })).toThrow(invalid)
    expect(() => createRedisCluster({ redis: dropped })).toThrow(invalid)
    expect(() => createRedisCluster({ redis: open, subscriber: quit })).toThrow(invalid)
  })

  it('refuses the client itself as its subscriber over RESP2, where it runs nothing else', async () => {
    const redis = fx.add(await startRedisServer())
    const client = new Redis(redis.url, { protocol: 2 })
    client.on('error', () => undefined)
    fx.add(() => client.disconnect())
    // Taken, every script, heartbeat and read failed: no session was ever stored.
    expect(() => createRedisCluster({ redis: client, subscriber: client })).toThrow(invalid)
  })
})
