import type { Peer } from '@lifeline/server'
import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import type { RedisServerFixture } from '@lifeline/test-utils'
import { afterEach, expect, it } from 'vitest'
import {
  RawClient,
  connected,
  movingClient,
  redisClient,
  startNode,
  startProxiedNode,
  type Chat,
} from './harness.js'

const fx = useFixtures(afterEach)

function echo(peer: Peer<Chat>): void {
  peer.on('up', ({ n }) => peer.send('down', { n }))
}

/**
 * Two processes that echo `up` as `down`: `a` reaches Redis through a proxy, so that it loses
 * Redis alone, while Redis and `b` stay up.
 */
async function echoingPair(redis: RedisServerFixture) {
  const { server: a, redis: aRedis, proxy } = await startProxiedNode(fx, redis)
  a.on('connection', echo)
  const b = await startNode(fx, redis)
  b.server.on('connection', echo)
  return { a, aRedis, proxy, b }
}

it('resets, rather than refuses as a violation, a client that got more than the store knows from a process that lost Redis', async () => {
  const redis = fx.add(await startRedisServer())
  const { a, aRedis, proxy, b } = await echoingPair(redis)
  const target = { port: a.port }
  const client = movingClient(fx, target)
  const down: number[] = []
  client.on('down', ({ n }) => down.push(n))
  const resets: unknown[] = []
  client.events.on('reset', (event) => resets.push(event))
  client.send('up', { n: 1 })
  await waitFor(() => down.length === 1, { message: 'served by a', timeoutMs: 10_000 })

  // `a` loses Redis and serves on without it (the crash guarantee suspended): the client gets
  // 2, which the store never holds.
  proxy.refuse(true)
  proxy.cut()
  await waitFor(() => aRedis.status !== 'ready', { message: 'a away from Redis' })
  client.send('up', { n: 2 })
  await waitFor(() => down.length === 2, {
    message: 'served by a without Redis',
    timeoutMs: 10_000,
  })
  // Its link to `a` drops; it reaches `b`, which takes the session as the store has it.
  client.close()
  await waitFor(() => client.state.status === 'closed', { message: 'closed' })
  target.port = b.server.port
  client.connect()
  // The session cannot be resumed exactly: a reset says so, and the client goes on.
  await waitFor(() => client.state.status === 'open', {
    message: () => `open on b (${JSON.stringify(client.state)})`,
    timeoutMs: 10_000,
  })
  expect(resets).toHaveLength(1)
  client.send('up', { n: 3 })
  await waitFor(() => down.includes(3), { message: 'served by b', timeoutMs: 10_000 })
})

it('resets, rather than resumes with a count below what it was acknowledged, a client that only sent to a process that lost Redis', async () => {
  const redis = fx.add(await startRedisServer())
  const { server: a, redis: aRedis, proxy } = await startProxiedNode(fx, redis)
  const b = await startNode(fx, redis)
  // The client only sends: what `a` processed without Redis reaches it as acknowledgements
  // alone, never as server envelopes the store would have to hold.
  const up: number[] = []
  for (const server of [a, b.server]) {
    server.on('connection', (peer: Peer<Chat>) => peer.on('up', ({ n }) => up.push(n)))
  }
  const target = { port: a.port }
  const client = movingClient(fx, target)
  const resets: unknown[] = []
  client.events.on('reset', (event) => resets.push(event))
  client.send('up', { n: 1 })
  await waitFor(() => up.length === 1 && client.unacked === 0, {
    message: 'acknowledged by a',
    timeoutMs: 10_000,
  })

  // `a` loses Redis and acknowledges 2 all the same, which the store never holds.
  proxy.refuse(true)
  proxy.cut()
  await waitFor(() => aRedis.status !== 'ready', { message: 'a away from Redis' })
  client.send('up', { n: 2 })
  await waitFor(() => up.length === 2 && client.unacked === 0, {
    message: 'acknowledged by a without Redis',
    timeoutMs: 10_000,
  })
  // It reaches `b`, which takes the session as the store has it: 1 processed, not 2. Resumed,
  // its `$welcome` would acknowledge 1 after 2, which the client refuses as a violation.
  client.close()
  await waitFor(() => client.state.status === 'closed', { message: 'closed' })
  target.port = b.server.port
  client.connect()
  await waitFor(() => client.state.status === 'open' || client.state.status === 'closed', {
    message: () => `settled on b (${JSON.stringify(client.state)})`,
    timeoutMs: 10_000,
  })
  expect(client.state).toMatchObject({ status: 'open' })
  expect(resets).toHaveLength(1)
  client.send('up', { n: 3 })
  await waitFor(() => up.includes(3), { message: 'served by b', timeoutMs: 10_000 })
  expect(up).toEqual([1, 2, 3])
})

it('stores again the sessions it holds once Redis is back empty, so that they resume on another process', async () => {
  const redis = fx.add(await startRedisServer())
  const a = await startNode(fx, redis)
  const b = await startNode(fx, redis)
  const inspect = redisClient(fx, redis)
  const { client, welcome } = await RawClient.connect(fx, a.server.port)
  const key = `lifeline:s:{${welcome.sid}}`
  await waitFor(async () => (await inspect.exists(key)) === 1, { message: 'stored' })
  // Redis restarts without its data; the session, idle, lives on `a`.
  await redis.restart()
  await connected(a.redis, a.cluster)
  await waitFor(async () => (await inspect.exists(key)) === 1, {
    message: 'stored again',
    timeoutMs: 10_000,
  })
  await client.close()
  const { welcome: moved } = await RawClient.connect(fx, b.server.port, {
    sid: welcome.sid,
    a: 0,
  })
  expect(moved).toMatchObject({ sid: welcome.sid, resumed: true })
})

it('does not store again, with its stale state, a session another process took from it and ended', async () => {
  const redis = fx.add(await startRedisServer())
  // `a` reaches Redis through a proxy: it loses Redis alone (and so misses its revoke).
  const { server: a, cluster: aCluster, redis: aRedis, proxy } = await startProxiedNode(fx, redis)
  // `b` ends a session its client left soon after.
  const b = await startNode(fx, redis, {}, { sessionTtlMs: 200 })
  const inspect = redisClient(fx, redis)
  const { client, welcome } = await RawClient.connect(fx, a.port)
  const key = `lifeline:s:{${welcome.sid}}`
  await waitFor(async () => (await inspect.exists(key)) === 1, { message: 'stored' })
  proxy.refuse(true)
  proxy.cut()
  await waitFor(() => aRedis.status !== 'ready', { message: 'a away from Redis' })
  await client.close()
  // The client resumes on `b`, which takes the session; `a` does not hear it.
  const { client: moved, welcome: resumed } = await RawClient.connect(fx, b.server.port, {
    sid: welcome.sid,
    a: 0,
  })
  expect(resumed).toMatchObject({ sid: welcome.sid, resumed: true })
  // It leaves `b` for good: the session ends there, and leaves Redis.
  await moved.close()
  await waitFor(async () => (await inspect.exists(key)) === 0, {
    message: 'ended on b',
    timeoutMs: 10_000,
  })
  // `a` is back: it finds the session gone from Redis, and must not store its stale copy again.
  proxy.refuse(false)
  await connected(aRedis, aCluster)
  await waitFor(() => a.stats.sessions === 0, {
    message: () => `a let go of it (${a.stats.sessions})`,
    timeoutMs: 10_000,
  })
  expect(await inspect.exists(key)).toBe(0)
})

it('resumes on another process a session held live while Redis restarted empty, before its holder stored it again', async () => {
  const redis = fx.add(await startRedisServer())
  // `a` stays away from Redis after the restart until the test lets it back, so `b` is asked
  // for the session before `a` stored it again.
  const { a, aRedis, proxy, b } = await echoingPair(redis)
  const inspect = redisClient(fx, redis)
  const { client, welcome } = await RawClient.connect(fx, a.port)
  const key = `lifeline:s:{${welcome.sid}}`
  // `down` 1 is kept for the client, which does not acknowledge it.
  client.send({ t: 'up', d: { n: 1 }, s: 1 })
  await waitFor(async () => (await inspect.hget(key, 'l')) === '1', {
    message: 'down 1 stored',
  })
  // A new Redis is not one that lost its data: nothing is waited for.
  expect(await inspect.exists('lifeline:refilling')).toBe(0)
  proxy.refuse(true)
  proxy.cut()
  await waitFor(() => aRedis.status !== 'ready', { message: 'a away from Redis' })
  // Redis restarts without its data: the session lives on `a` alone.
  await redis.restart()
  await connected(b.redis, b.cluster)
  await client.close()
  // `b`'s claim finds no session (`a` has not stored it again): only then is `a` let back.
  const claims = b.redis as unknown as {
    lifelineClaimBuffer: (...args: unknown[]) => Promise<unknown>
  }
  const claim = claims.lifelineClaimBuffer.bind(b.redis)
  let answered = 0
  claims.lifelineClaimBuffer = (...args) => {
    const reply = claim(...args)
    void reply.then(
      () => answered++,
      () => undefined,
    )
    return reply
  }
  const moved = await RawClient.open(fx, b.server.port)
  moved.send({ t: '$hello', d: { v: 1, sid: welcome.sid, a: 0 } })
  await waitFor(() => answered > 0, { message: 'b claimed the session', timeoutMs: 10_000 })
  proxy.refuse(false)
  await waitFor(() => moved.received.some((frame) => frame.t === '$welcome'), {
    message: '$welcome on b',
    timeoutMs: 10_000,
  })
  // Resumed as `a` held it: its message processed, and `down` 1 sent again.
  expect(await moved.welcome()).toMatchObject({ sid: welcome.sid, resumed: true, a: 1 })
  await waitFor(() => moved.reliable('down').length === 1, { message: 'down 1 sent again' })
  expect(moved.reliable('down')).toEqual([{ t: 'down', d: { n: 1 }, s: 1 }])
})

it('does not count a Redis restarted with its data as one that lost it', async () => {
  const redis = fx.add(await startRedisServer({ persistence: true }))
  const node = await startNode(fx, redis)
  const inspect = redisClient(fx, redis)
  await waitFor(async () => (await inspect.exists('lifeline:gen')) === 1, {
    message: 'the generation written',
  })
  const generation = await inspect.get('lifeline:gen')
  await redis.restart()
  await connected(node.redis, node.cluster)
  expect(await inspect.get('lifeline:gen')).toBe(generation)
  expect(await inspect.exists('lifeline:refilling')).toBe(0)
})
