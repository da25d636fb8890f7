// Lifeline's scale-out on Redis, as the benchmark's server processes use it: the server options
// that put the sessions, rooms and fan-out on the Redis at `redisUrl` (`@lifeline/redis`).
import { createRedisCluster } from '@lifeline/redis'
import type { ServerOptions } from '@lifeline/server'
import { Redis } from 'ioredis'
import { historyLength } from './schema.js'

/** Whether `lifelineRedisOptions` can be called: the default kinds of `main.ts` depend on it. */
export const lifelineRedisAvailable = true

/** The options for `createServer` that share sessions and rooms through Redis. */
export function lifelineRedisOptions(redisUrl: string): Promise<Partial<ServerOptions>> {
  const cluster = createRedisCluster({ redis: new Redis(redisUrl), historyLength })
  cluster.on('error', (error) => console.error('lifeline-redis cluster:', error))
  return Promise.resolve({ cluster })
}
