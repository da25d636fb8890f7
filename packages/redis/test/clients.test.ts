import { createClient } from '@lifeline/core'
import { createServer } from '@lifeline/server'
import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { Cluster, Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { createRedisCluster, type PresenceEvent } from '../src/index.js'
import { createKeys } from '../src/keys.js'
import { movingClient, type Chat } from './harness.js'

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

  it('refuses a Redis Cluster client, whose scripts touch keys of several slots', async () => {
    const redis = fx.add(await startRedisServer())
    const cluster = new Cluster([{ host: '127.0.0.1', port: redis.port }], { lazyConnect: true })
    fx.add(() => cluster.disconnect())
    expect(() => createRedisCluster({ redis: cluster as unknown as Redis })).toThrow(invalid)
  })

  it('reports a client of a node of a Redis Cluster, whose transactions fail there', async () => {
    // A cluster of one node, all slots its own (a managed Redis in cluster mode, one shard):
    // sessions and rooms seemed to work, but the heartbeat (a MULTI over two slots) failed
    // with CROSSSLOT, said once, untyped: no process was ever alive in Redis, so no move was
    // handed over (messages processed twice) and no dead process's members were reaped.
    const redis = fx.add(
      await startRedisServer({
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
      }),
    )
    await redis.command('CLUSTER', 'ADDSLOTSRANGE', 0, 16383)
    await waitFor(async () => String(await redis.command('CLUSTER', 'INFO')).includes(':ok'), {
      message: 'the Redis Cluster is up',
      timeoutMs: 10_000,
    })
    const client = new Redis(redis.url)
    client.on('error', () => undefined)
    fx.add(() => client.disconnect())
    const cluster = createRedisCluster({ redis: client })
    const errors: unknown[] = []
    cluster.on('error', (error) => errors.push(error))
    const server = createServer<Chat>({ port: 0, cluster })
    fx.add(() => server.close())
    await server.ready
    await waitFor(() => errors.some((error) => (error as { code?: string }).code !== undefined), {
      message: 'a typed error',
    })
    expect(errors).toContainEqual(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('Redis Cluster') as unknown,
      }),
    )
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

  it('keeps apps on two databases of one Redis apart, pub/sub included', async () => {
    const redis = fx.add(await startRedisServer())
    const said: string[] = []
    const ports: number[] = []
    for (const db of [1, 2]) {
      const client = new Redis(redis.url, { db, retryStrategy: () => 50 })
      client.on('error', () => undefined)
      fx.add(() => client.disconnect())
      const cluster = createRedisCluster({ redis: client })
      cluster.on('error', () => undefined)
      const server = createServer<Chat>({ port: 0, cluster })
      server.on('error', () => undefined)
      fx.add(() => server.close())
      await server.ready
      server.on('connection', (peer) => {
        peer.join('chat')
        peer.on('say', ({ text, room }) => server.to(room).send('said', { text, from: `db${db}` }))
      })
      ports.push(server.port)
    }
    const clients = ports.map((port, i) => {
      const client = createClient<Chat>({ url: `ws://127.0.0.1:${port}/` })
      client.events.on('error', () => undefined)
      fx.add(() => client.close())
      client.on('said', ({ text, from }) => said.push(`${i + 1} <- ${from}: ${text}`))
      return client
    })
    await waitFor(() => clients.every((client) => client.state.status === 'open'), {
      message: 'both clients connected',
    })
    clients[0]?.send('say', { text: 'one', room: 'chat' })
    await waitFor(() => said.includes('1 <- db1: one'), { message: 'the first app’s message' })
    // Redis publishes in order: had the first message reached the second app, it came first.
    clients[1]?.send('say', { text: 'two', room: 'chat' })
    await waitFor(() => said.includes('2 <- db2: two'), { message: 'the second app’s message' })
    expect(said).toEqual(['1 <- db1: one', '2 <- db2: two'])
  })

  it('refuses a subscriber another cluster listens on, until that one closed', async () => {
    const redis = fx.add(await startRedisServer())
    const client = new Redis(redis.url)
    const subscriber = new Redis(redis.url)
    for (const each of [client, subscriber]) {
      each.on('error', () => undefined)
      fx.add(() => each.disconnect())
    }
    const first = createRedisCluster({ redis: client, subscriber })
    first.on('error', () => undefined)
    // Taken, either cluster's leave of a room (or its close) left the other's channel too.
    expect(() => createRedisCluster({ redis: client, subscriber })).toThrow(invalid)
    await first.close()
    const second = createRedisCluster({ redis: client, subscriber })
    second.on('error', () => undefined)
    await second.close()
  })

  it('ignores the application’s own channels on a subscriber it shares', async () => {
    const redis = fx.add(await startRedisServer())
    const client = new Redis(redis.url, { retryStrategy: () => 50 })
    const subscriber = new Redis(redis.url, { retryStrategy: () => 50 })
    const publisher = new Redis(redis.url)
    for (const each of [client, subscriber, publisher]) {
      each.on('error', () => undefined)
      fx.add(() => each.disconnect())
    }
    const news: string[] = []
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === 'app:news') news.push(message)
    })
    await subscriber.subscribe('app:news')
    const cluster = createRedisCluster({ redis: client, subscriber })
    const errors: unknown[] = []
    cluster.on('error', (error) => errors.push(error))
    const presence: PresenceEvent[] = []
    cluster.on('presence', (event) => presence.push(event))
    await cluster.watch('lobby')
    await publisher.publish('app:news', 'Jane joined the team')
    await publisher.publish('app:news', 'Unpacked this')
    await publisher.publish(createKeys('lifeline:').channel('lobby'), 'Jsomeone')
    await waitFor(() => presence.length > 0 && news.length === 2, {
      message: 'the news, and a join in the lobby',
    })
    expect(presence).toEqual([{ room: 'lobby', peerId: 'someone', joined: true }])
    expect(errors).toEqual([])
    await cluster.close()
  })

  it('works as a Redis user granted only what the README lists', async () => {
    const redis = fx.add(await startRedisServer())
    // Redis 7 gives a new user no channel (`acl-pubsub-default resetchannels`): with its keys
    // and every command, sessions seemed stored, but no room message went out.
    await redis.command(
      'ACL',
      'SETUSER',
      'chat',
      'on',
      '>secret',
      '~lifeline:*',
      '&lifeline:*',
      '-@all',
      ...aclCommands.map((command) => `+${command}`),
    )
    const said: string[] = []
    const errors: unknown[] = []
    const nodes = []
    for (const name of ['a', 'b']) {
      const client = new Redis(redis.url, {
        username: 'chat',
        password: 'secret',
      })
      client.on('error', () => undefined)
      fx.add(() => client.disconnect())
      const cluster = createRedisCluster({ redis: client })
      cluster.on('error', (error) => errors.push(error))
      const server = createServer<Chat>({ port: 0, cluster })
      server.on('error', (error) => errors.push(error))
      fx.add(() => server.close())
      await server.ready
      server.on('connection', (peer) => {
        peer.join('chat')
        peer.on('say', ({ text, room }) => server.to(room).send('said', { text, from: name }))
      })
      nodes.push({ server, cluster })
    }
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const target = { port: a.server.port }
    const client = movingClient(fx, target)
    client.on('said', ({ text, from }) => said.push(`${from}: ${text}`))
    await waitFor(() => client.state.status === 'open', { message: 'the client connected' })
    client.send('say', { text: 'one', room: 'chat' })
    await waitFor(() => said.includes('a: one'), { message: 'the room message on a' })
    // A graceful close: the session is stored, and claimed by b with the client's resume.
    target.port = b.server.port
    await a.server.close()
    client.send('say', { text: 'two', room: 'chat' })
    await waitFor(() => said.includes('b: two'), { message: 'the room message on b' })
    expect(await b.cluster.presence('chat')).toHaveLength(1)
    expect(said).toEqual(['a: one', 'b: two'])
    expect(errors).toEqual([])
  })
})

/** The commands the README lists for a Redis user of the cluster (ACL). */
const aclCommands = [
  'eval',
  'evalsha',
  'multi',
  'exec',
  'ping',
  'subscribe',
  'unsubscribe',
  'publish',
  'time',
  'exists',
  'get',
  'set',
  'del',
  'pexpire',
  'pttl',
  'hget',
  'hmget',
  'hset',
  'hdel',
  'hkeys',
  'sadd',
  'srem',
  'smembers',
  'sismember',
  'zadd',
  'zrem',
  'zrangebyscore',
  'xadd',
  'xrange',
  'xrevrange',
  'hello',
  'select',
  'info',
]
