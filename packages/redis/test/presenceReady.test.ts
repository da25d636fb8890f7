import { createClient } from '@lifeline/core'
import { createServer } from '@lifeline/server'
import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { Redis } from 'ioredis'
import { afterEach, expect, it } from 'vitest'
import { createRedisCluster } from '../src/index.js'
import type { Chat } from './harness.js'

const fx = useFixtures(afterEach)

it('writes the presence of a member that joined while its Redis client was not ready', async () => {
  const redis = fx.add(await startRedisServer())
  // A process that serves while Redis is away (or before its client has connected).
  await redis.stop()
  const lazy = new Redis(redis.url, { retryStrategy: () => 50 })
  lazy.on('error', () => undefined)
  fx.add(() => lazy.disconnect())
  const cluster = createRedisCluster({ redis: lazy })
  cluster.on('error', () => undefined)
  const server = createServer<Chat>({ port: 0, cluster })
  server.on('error', () => undefined)
  fx.add(() => server.close())
  await server.ready
  const peers: string[] = []
  server.on('connection', (peer) => {
    peer.join('r')
    peers.push(peer.id)
  })
  const client = createClient<Chat>({ url: `ws://127.0.0.1:${server.port}/` })
  client.events.on('error', () => undefined)
  fx.add(() => client.close())
  await waitFor(() => peers.length === 1, { message: 'a member', timeoutMs: 10_000 })
  expect(lazy.status).not.toBe('ready')
  await redis.restart()
  await waitFor(async () => (await cluster.presence('r')).includes(peers[0] as string), {
    message: 'the member present once Redis is ready',
    timeoutMs: 10_000,
  })
})
