import { createClient } from '@lifeline/core'
import type { Client, ClientOptions } from '@lifeline/core'
import { createServer } from '@lifeline/server'
import type { LifelineServer, ServerOptions } from '@lifeline/server'
import { createFaultProxy, once, waitFor } from '@lifeline/test-utils'
import type { Balancer, FaultProxy, FixtureScope, RedisServerFixture } from '@lifeline/test-utils'
import { Redis } from 'ioredis'
import { WebSocket } from 'ws'
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
  await connected(client, cluster, options.prefix)
  return { server, cluster, redis: client }
}

/**
 * Waits until `cluster`'s Redis client is ready and it hears its channel. A session opened
 * before Redis is ready is served without it, and stored only when a retry of its creation
 * succeeds: a test that moves it sooner would see it reset. And a claim of another process
 * reaches this one only once it hears its channel.
 */
export async function connected(
  client: Redis,
  cluster: RedisCluster,
  prefix = 'lifeline:',
): Promise<void> {
  const channel = `${prefix}revoke:${cluster.processId}`
  await waitFor(
    async () =>
      client.status === 'ready' &&
      Number(((await client.pubsub('NUMSUB', channel)) as [string, number])[1]) === 1,
    { message: 'the node connected to Redis', timeoutMs: 10_000 },
  )
}

/** A node that reaches Redis through a fault proxy: a test takes Redis from it alone. */
export async function startProxiedNode(
  fx: FixtureScope,
  redis: RedisServerFixture,
  serverOptions: Partial<ServerOptions> = {},
  options: Partial<RedisClusterOptions> = {},
): Promise<Node & { proxy: FaultProxy }> {
  const proxy = fx.add(await createFaultProxy({ targetPort: redis.port }))
  const client = new Redis(proxy.port, '127.0.0.1', { retryStrategy: () => 50 })
  client.on('error', () => undefined)
  fx.add(() => client.disconnect())
  const cluster = createRedisCluster({ redis: client, ...options })
  cluster.on('error', () => undefined)
  const server = createServer<Chat>({ port: 0, cluster, ...serverOptions })
  server.on('error', () => undefined)
  fx.add(() => server.close())
  await server.ready
  await connected(client, cluster)
  return { server, cluster, redis: client, proxy }
}

/** A client of the server on `target.port`, which a test may change to move it. */
export function movingClient(fx: FixtureScope, target: { port: number }): Client<Chat> {
  const client = createClient<Chat>({
    url: () => `ws://127.0.0.1:${target.port}/`,
    socket: { initialDelayMs: 10, maxDelayMs: 50 },
  })
  client.events.on('error', () => undefined)
  fx.add(() => client.close())
  return client
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

/** An envelope as the raw client sees it (JSON codec). */
export interface RawFrame {
  t: string
  d?: unknown
  s?: number
  a?: number
  r?: [string, string]
}

/**
 * A client speaking the wire protocol by hand, which acknowledges only what a test says: to
 * leave room messages unacknowledged in a session, then resume it elsewhere with a chosen `a`.
 */
export class RawClient {
  readonly received: RawFrame[] = []
  /** The close code, once the socket closed. */
  closeCode: number | undefined

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => this.received.push(JSON.parse(String(data)) as RawFrame))
    socket.on('close', (code: number) => (this.closeCode = code))
    socket.on('error', () => undefined)
  }

  /**
   * Opens a socket to `port` (at `path`), sends `$hello` with `hello`, resolves with the
   * `$welcome`.
   */
  static async connect(
    fx: FixtureScope,
    port: number,
    hello: { sid?: string; a?: number; r?: number; max?: number } = {},
    path = '/',
  ): Promise<{ client: RawClient; welcome: { sid: string; resumed: boolean; a: number } }> {
    const client = await RawClient.open(fx, port, path)
    client.send({ t: '$hello', d: { v: 1, ...hello } })
    return { client, welcome: await client.welcome() }
  }

  /** Opens a socket to `port`; the test sends the `$hello` (and frames after it at once). */
  static async open(fx: FixtureScope, port: number, path = '/'): Promise<RawClient> {
    const socket = fx.add(new WebSocket(`ws://127.0.0.1:${port}${path}`, ['lifeline.v1.json']))
    const client = new RawClient(socket)
    await once(socket, 'open')
    return client
  }

  /** The `$welcome`, once it came. */
  async welcome(): Promise<{ sid: string; resumed: boolean; a: number }> {
    await waitFor(() => this.received.some((frame) => frame.t === '$welcome'), {
      message: '$welcome',
    })
    return this.received.find((frame) => frame.t === '$welcome')?.d as {
      sid: string
      resumed: boolean
      a: number
    }
  }

  /** Stops reading the socket (a client that never reads). */
  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  send(frame: RawFrame): void {
    this.socket.send(JSON.stringify(frame))
  }

  /** The reliable envelopes of type `t` received, as `{ t, d, s }`. */
  reliable(t: string): RawFrame[] {
    return this.received
      .filter((frame) => frame.t === t && frame.s !== undefined)
      .map(({ d, s }) => ({ t, d, s: s as number }))
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return
    const closed = once(this.socket, 'close')
    this.socket.close()
    await closed
  }
}
