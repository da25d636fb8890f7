import { createClient } from '@lifeline/core'
import { createServer, type ServerOptions } from '@lifeline/server'
import { createFaultProxy, startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import type { RedisServerFixture } from '@lifeline/test-utils'
import { Redis } from 'ioredis'
import { afterEach, expect, it } from 'vitest'
import { createRedisCluster } from '../src/index.js'
import { startNode, type Chat } from './harness.js'

const fx = useFixtures(afterEach)

/** A cluster whose Redis is behind a proxy that refuses it from the start: it never connected. */
async function unconnectedCluster(redis: RedisServerFixture) {
  const proxy = fx.add(await createFaultProxy({ targetPort: redis.port }))
  proxy.refuse(true)
  const client = new Redis(proxy.port, '127.0.0.1', { retryStrategy: () => 50 })
  client.on('error', () => undefined)
  fx.add(() => client.disconnect())
  const cluster = createRedisCluster({ redis: client })
  cluster.on('error', () => undefined)
  return { proxy, client, cluster }
}

/** A process on such a cluster. */
async function startUnconnected(redis: RedisServerFixture, options: Partial<ServerOptions> = {}) {
  const { proxy, client, cluster } = await unconnectedCluster(redis)
  const server = createServer<Chat>({ port: 0, cluster, ...options })
  server.on('error', () => undefined)
  fx.add(() => server.close())
  await server.ready
  return { proxy, client, cluster, server }
}

function clientOf(port: number) {
  const client = createClient<Chat>({ url: `ws://127.0.0.1:${port}/` })
  client.events.on('error', () => undefined)
  fx.add(() => client.close())
  return client
}

it('resolves ready once its client is ready and its own channel is heard', async () => {
  const redis = fx.add(await startRedisServer())
  const { proxy, client, cluster } = await startUnconnected(redis)
  let seen: [string, number] | undefined
  const ready = cluster.ready().then(async () => {
    const channel = `lifeline:revoke:${cluster.processId}`
    const [, subscribers] = (await client.pubsub('NUMSUB', channel)) as [string, number]
    seen = [client.status, Number(subscribers)]
  })
  proxy.refuse(false)
  await ready
  expect(seen).toEqual(['ready', 1])
})

// A member joined to a room before its process reached Redis is placed in the room's order only
// once Redis answers: what another process sent the room meanwhile passed it by, though its
// client was open and in the room already.
it('holds its first sessions until it reaches Redis: a member it joins gets what other processes send the room once its client is open', async () => {
  const redis = fx.add(await startRedisServer())
  const a = await startNode(fx, redis)
  const b = await startUnconnected(redis)
  let joinedWith: string | undefined
  b.server.on('connection', (peer) => {
    peer.join('r')
    joinedWith = b.client.status
  })
  const client = clientOf(b.server.port)
  const said: string[] = []
  client.on('said', ({ text }) => said.push(text))
  await waitFor(() => b.server.stats.connectionsAccepted === 1, {
    message: 'b took the connection',
  })
  b.proxy.refuse(false)
  await waitFor(() => client.state.status === 'open', { message: 'open', timeoutMs: 10_000 })
  expect(joinedWith).toBe('ready')
  a.server.to('r').send('said', { text: 'from a', from: 'a' })
  await waitFor(() => said.includes('from a'), { message: "a's room message on b" })
  expect(said).toEqual(['from a'])
})

it('serves without Redis once the start wait is over (2 s, or half of helloTimeoutMs if less)', async () => {
  const redis = fx.add(await startRedisServer())
  const started = performance.now()
  const b = await startUnconnected(redis, { helloTimeoutMs: 1_000 })
  const client = clientOf(b.server.port)
  await waitFor(() => client.state.status === 'open', {
    message: 'served without Redis',
    timeoutMs: 10_000,
  })
  // The wait runs from the server's start: its first sessions are held no longer than that.
  expect(performance.now() - started).toBeGreaterThanOrEqual(500)
  expect(b.client.status).not.toBe('ready')
})

// ioredis gives up a command queued while it cannot connect after `maxRetriesPerRequest` tries
// (20 by default: a second at 50 ms apart), and subscribes again only to the channels it had
// subscribed to: its own channel, never heard, is asked for again once the subscriber is back.
it('hears its own channel once it reaches Redis after its first subscription was given up', async () => {
  const redis = fx.add(await startRedisServer())
  const errors: unknown[] = []
  const { proxy, client, cluster } = await unconnectedCluster(redis)
  cluster.on('error', (error) => errors.push(error))
  fx.add(() => cluster.close())
  await waitFor(() => errors.some((error) => String(error).includes('max retries')), {
    message: 'the subscription given up',
    timeoutMs: 10_000,
  })
  proxy.refuse(false)
  await cluster.ready()
  const channel = `lifeline:revoke:${cluster.processId}`
  await waitFor(
    async () => {
      const [, subscribers] = (await client.pubsub('NUMSUB', channel)) as [string, number]
      return Number(subscribers) === 1
    },
    { message: 'its own channel heard' },
  )
})

it('serves its sessions when a cluster breaks its contract and ready() rejects', async () => {
  const redis = fx.add(await startRedisServer())
  const client = new Redis(redis.url, { retryStrategy: () => 50 })
  client.on('error', () => undefined)
  fx.add(() => client.disconnect())
  const cluster = createRedisCluster({ redis: client })
  cluster.on('error', () => undefined)
  cluster.ready = () => Promise.reject(new Error('not ready, ever'))
  const server = createServer<Chat>({ port: 0, cluster })
  server.on('error', () => undefined)
  fx.add(() => server.close())
  await server.ready
  const opened = clientOf(server.port)
  await waitFor(() => opened.state.status === 'open', { message: 'open', timeoutMs: 10_000 })
})
