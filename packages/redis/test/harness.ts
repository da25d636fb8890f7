import { createClient } from '@lifeline/core'
import type { Client, ClientOptions } from '@lifeline/core'
import { createServer } from '@lifeline/server'
import type { LifelineServer, ServerOptions } from '@lifeline/server'
import type { Balancer, FixtureScope, RedisServerFixture } from '@lifeline/test-utils'
import { Redis } from 'ioredis'
import { createRedisCluster, type RedisCluster, type RedisClusterOptions } from '../src/index.js'

/** The schema of the cluster tests. */
export interface Chat {
  client: { up: { n: number }; say: { text: string; room: string } }
  server: { down: { n: number }; said: { text: string; from: string } }
}

export interface Node {
  server: LifelineServer<Chat>
  cluster: RedisCluster
  redis: Redis
}

/** An ioredis client that retries fast (tests restart Redis), closed after the test. */
export function redisClient(fx: FixtureScope, redis: RedisServerFixture): Redis {
  const client = new Redis(redis.url, {
    retryStrategy: () => 50,
    maxRetriesPerRequest: 2,
  })
  client.on('error', () => undefined)
  fx.add(() => client.disconnect())
  return client
}

/** One server process of a cluster, in this process: a server with its own Redis clients. */
export async function startNode(
  fx: FixtureScope,
  redis: RedisServerFixture,
  options: Partial<RedisClusterOptions> = {},
  serverOptions: Partial<ServerOptions> = {},
): Promise<Node> {
  const client = redisClient(fx, redis)
  const cluster = createRedisCluster({ redis: client, ...options })
  cluster.on('error', () => undefined)
  const server = createServer<Chat>({ port: 0, cluster, ...serverOptions })
  server.on('error', () => undefined)
  fx.add(() => server.close())
  await server.ready
  return { server, cluster, redis: client }
}

export function clientOf(
  fx: FixtureScope,
  balancer: Balancer,
  options: Partial<ClientOptions> = {},
): Client<Chat> {
  const client = createClient<Chat>({
    url: balancer.url('/'),
    ...options,
    socket: { initialDelayMs: 10, maxDelayMs: 100, ...options.socket },
  })
  client.events.on('error', () => undefined)
  fx.add(() => client.close())
  return client
}
