// Lifeline's scale-out on Redis, as the benchmark's server processes use it: the server options
// that put the sessions, rooms and fan-out on the Redis at `redisUrl`.
import type { ServerOptions } from '@lifeline/server'

/** Whether `lifelineRedisOptions` can be called: the default kinds of `main.ts` depend on it. */
export const lifelineRedisAvailable = false

/**
 * The options for `createServer` that share sessions and rooms through Redis. Empty until the
 * scale-out package exists: the `lifeline-redis` kind refuses to start rather than measure one
 * process and call it scale-out.
 */
export function lifelineRedisOptions(redisUrl: string): Promise<Partial<ServerOptions>> {
  return Promise.reject(
    new Error(`Lifeline's Redis scale-out is not available yet (asked for ${redisUrl})`),
  )
}
