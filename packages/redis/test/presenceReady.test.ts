import { createClient } from '@lifeline/core'
import { createServer } from '@lifeline/server'
import type { ClusterMember, Peer } from '@lifeline/server'
import {
  createFaultProxy,
  expectNoEvent,
  once,
  startRedisServer,
  useFixtures,
  waitFor,
} from '@lifeline/test-utils'
import { Redis } from 'ioredis'
import { afterEach, expect, it } from 'vitest'
import { createRedisCluster, type PresenceEvent, type PresenceSyncEvent } from '../src/index.js'
import { createKeys } from '../src/keys.js'
import { unpackRooms } from '../src/packing.js'
import {
  connected,
  movingClient,
  RawClient,
  redisClient,
  startNode,
  startProxiedNode,
  type Chat,
} from './harness.js'

const fx = useFixtures(afterEach)

/** A process that serves while Redis is away (or before its client has connected). */
async function servingWithoutRedis() {
  const redis = fx.add(await startRedisServer())
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
  return { redis, lazy, cluster, server }
}

it('writes the presence of a member that joined while its Redis client was not ready', async () => {
  const { redis, lazy, cluster, server } = await servingWithoutRedis()
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

it('keeps nothing for members that join and leave while its Redis client is not ready', async () => {
  const { lazy, cluster, server } = await servingWithoutRedis()
  let left = 0
  server.on('connection', (peer) => {
    peer.join('r')
    peer.join('s')
    peer.leave('r')
    peer.leave('s')
    left++
  })
  // Sessions that come and go during an outage: their joins were never stored, so neither need
  // their leaves be, and nothing of them is kept until Redis is back.
  for (let i = 0; i < 20; i++) {
    const client = createClient<Chat>({ url: `ws://127.0.0.1:${server.port}/` })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
  }
  await waitFor(() => left === 20, { message: 'twenty members came and went', timeoutMs: 10_000 })
  expect(lazy.status).not.toBe('ready')
  const { unstored } = cluster as unknown as { unstored: Map<string, unknown> }
  expect(unstored.size).toBe(0)
})

/**
 * A member of room `x` on a process whose Redis is stopped (its client held from reconnecting),
 * and `leave` done meanwhile; then Redis back, a process watching `x`, and the first process's
 * client connected again: the presence events the watcher heard.
 */
async function awayFromRedis(leave: (peer: Peer<Chat>) => void) {
  const redis = fx.add(await startRedisServer({ persistence: true }))
  const a = await startNode(fx, redis)
  const peers: Peer<Chat>[] = []
  a.server.on('connection', (peer) => {
    peer.join('x')
    peers.push(peer)
  })
  await RawClient.connect(fx, a.server.port)
  const peer = peers[0] as Peer<Chat>
  await waitFor(async () => (await a.cluster.presence('x')).length === 1, { message: 'joined' })
  await redis.stop()
  await waitFor(() => a.redis.status !== 'ready', { message: 'Redis away' })
  // Held until the watcher below listens: a presence event published before would be lost.
  a.redis.disconnect()
  leave(peer)
  await redis.restart()
  const watcher = await startNode(fx, redis)
  const events: PresenceEvent[] = []
  watcher.cluster.on('presence', (event) => events.push(event))
  await watcher.cluster.watch('x')
  await a.redis.connect()
  return { a, peer, events }
}

it('writes a leave made while its Redis client was not ready once it is ready again', async () => {
  const { a, peer, events } = await awayFromRedis((member) => member.leave('x'))
  await waitFor(async () => (await a.cluster.presence('x')).length === 0, {
    message: 'the member gone once Redis is ready',
    timeoutMs: 10_000,
  })
  await waitFor(() => events.length === 1, { message: 'a leave' })
  expect(events).toEqual([{ room: 'x', peerId: peer.id, joined: false }])
})

it('forgets a leave made while its Redis client was not ready when the member joins again', async () => {
  const { a, peer, events } = await awayFromRedis((member) => {
    member.leave('x')
    member.join('x')
  })
  await waitFor(() => a.redis.status === 'ready', { message: 'ready', timeoutMs: 10_000 })
  await expectNoEvent(a.cluster, 'presence', 500)
  expect(events).toEqual([])
  expect(await a.cluster.presence('x')).toEqual([peer.id])
})

/**
 * A member of `r` on `a`, which loses Redis alone (it reaches it through a proxy; Redis and `b`
 * stay up): its client goes to `b`, which takes the session (`a` cannot be asked). Then `a` gets
 * Redis back, and lets the session go. `inFlight`: `a` joins the member to `r` as it loses Redis,
 * the join run by Redis and its reply lost. Checks that the member stays present, on `b`.
 */
async function movedWhileAway(inFlight: boolean) {
  const redis = fx.add(await startRedisServer())
  const {
    server: a,
    redis: aRedis,
    proxy,
  } = await startProxiedNode(fx, redis, { sessionTtlMs: 3_000 })
  const b = await startNode(fx, redis)
  const peers: Peer<Chat>[] = []
  for (const server of [a, b.server]) {
    server.on('connection', (peer) => {
      if (!inFlight) peer.join('r')
      peers.push(peer)
    })
  }
  const target = { port: a.port }
  const client = movingClient(fx, target)
  await waitFor(() => peers.length === 1, { message: 'a session on a', timeoutMs: 10_000 })
  const peer = peers[0] as Peer<Chat>
  const session = createKeys('lifeline:').session(peer.sessionId)
  if (inFlight) {
    // Stored before it moves: else `b` finds no session to take.
    await waitFor(async () => (await b.redis.exists(session)) === 1, { message: 'stored' })
    // And every write `a` sent so far answered, none sent since: some of its writes wait for the
    // one before (a session's commits, a write with room sends), so one whose reply is lost below
    // would hold back the write of the join's room. A ping answers only what went before it: on
    // a loaded machine `a` committed the session again while the ping was on its way, and the
    // join's room waited for that commit's lost reply.
    await waitFor(
      async () => (await aRedis.ping()) === 'PONG' && aRedis.commandQueue.length === 0,
      { message: "every write of a's answered" },
    )
    // Redis runs the join; its reply, and every other, is lost on the way to `a`.
    proxy.blackhole(true, 'toClient')
    peer.join('r')
  }
  await waitFor(async () => (await b.cluster.presence('r')).length === 1, {
    message: 'present through a',
    timeoutMs: 10_000,
  })
  // The session's room written too (in flight, its reply lost as well): Redis ran the whole
  // join. On a loaded machine that write could still wait in `a` when Redis went away, and `b`
  // took a session without the room, a join lost with the move (its entry lapses once `a`
  // leaves). Without the join in flight as well: the room goes in a commit once the session's
  // creation is answered, after the presence `b` reads above.
  await waitFor(async () => 'r' in unpackRooms(await b.redis.hgetBuffer(session, 'r')), {
    message: "the room in the session's record",
    timeoutMs: 10_000,
  })

  const events: PresenceEvent[] = []
  b.cluster.on('presence', (event) => events.push(event))
  // `a` loses Redis; its client goes to `b`, which takes the session (`a` cannot be asked).
  proxy.refuse(true)
  proxy.cut()
  proxy.blackhole(false, 'toClient')
  await waitFor(() => aRedis.status !== 'ready', { message: 'a away from Redis' })
  client.close()
  await waitFor(() => client.state.status === 'closed', { message: 'closed' })
  target.port = b.server.port
  client.connect()
  await waitFor(() => b.server.stats.sessionsResumed === 1, {
    message: 'resumed on b',
    timeoutMs: 10_000,
  })
  // `a` gets Redis back, then forgets the session it still had (its time to live is over, or
  // it finds the session taken).
  proxy.refuse(false)
  await waitFor(() => aRedis.status === 'ready', { message: 'a back', timeoutMs: 10_000 })
  await waitFor(() => a.stats.sessions === 0, {
    message: 'a let the session go',
    timeoutMs: 10_000,
  })
  // What `a` wrote of it is through once a command after it is answered.
  await aRedis.ping()
  // The member is in `r` on `b`: it stays present, and its entry names `b` (one naming `a`
  // would be removed once `a`'s leave lapses).
  expect(await b.cluster.presence('r')).toEqual([peer.id])
  expect(await b.redis.hget('lifeline:p:r', peer.id)).toBe(b.cluster.processId)
  expect(events).toEqual([])
  expect(await b.redis.zcard('lifeline:moves')).toBe(0)
}

it('keeps a member present on the process its session moved to while the process it left had lost Redis', async () => {
  await movedWhileAway(false)
})

// ioredis sends a command again, once back, when its reply was lost with the connection: that
// join came after the one of the process the session moved to.
it('keeps a member present on the process its session moved to when the process it left lost Redis with its join in flight', async () => {
  await movedWhileAway(true)
})

it('writes its members present again once its heartbeat lapsed and another process reaped it', async () => {
  const redis = fx.add(await startRedisServer())
  // `a`'s next heartbeat is far off: it hears that it was reaped.
  const a = await startNode(fx, redis, { heartbeatMs: 60_000, processTtlMs: 120_000 })
  const b = await startNode(fx, redis, { heartbeatMs: 100, processTtlMs: 1_000 })
  const peers: string[] = []
  a.server.on('connection', (peer) => {
    peer.join('r')
    peers.push(peer.id)
  })
  const events: PresenceEvent[] = []
  b.cluster.on('presence', (event) => events.push(event))
  await b.cluster.watch('r')
  const client = createClient<Chat>({ url: `ws://127.0.0.1:${a.server.port}/` })
  client.events.on('error', () => undefined)
  fx.add(() => client.close())
  await waitFor(async () => (await b.cluster.presence('r')).length === 1, {
    message: 'present',
    timeoutMs: 10_000,
  })
  const peerId = peers[0] as string
  // `a` stalls past its processTtlMs (a frozen event loop, a paused VM): its heartbeat key
  // lapses and `b` reaps it, here in one step. Its client stays connected to it.
  const reaped = (await (
    b.redis.multi().del(`lifeline:proc:${a.cluster.processId}`) as unknown as {
      lifelineReap(...args: string[]): { exec(): Promise<[Error | null, unknown][]> }
    }
  )
    .lifelineReap('lifeline:procs', 'lifeline:moves', 'lifeline:', 'lifeline:')
    .exec()) as [Error | null, unknown][]
  expect(reaped[1]).toEqual([null, 1])
  // The member, still in `r` on `a`, is present again.
  await waitFor(async () => (await b.cluster.presence('r')).includes(peerId), {
    message: 'present again',
    timeoutMs: 5_000,
  })
  await waitFor(() => events.length === 3, { message: 'the join heard' })
  expect(events).toEqual([
    { room: 'r', peerId, joined: true },
    { room: 'r', peerId, joined: false },
    { room: 'r', peerId, joined: true },
  ])
})

it('writes a join that Redis refused (out of memory) while it stayed ready once it takes writes again', async () => {
  const redis = fx.add(await startRedisServer())
  // A process ttl past the refusal: its heartbeat (refused too) does not lapse meanwhile.
  const a = await startNode(fx, redis, { heartbeatMs: 100, processTtlMs: 10_000 })
  const peers: Peer<Chat>[] = []
  a.server.on('connection', (peer) => {
    peers.push(peer)
  })
  const errors: unknown[] = []
  a.cluster.on('error', (error) => errors.push(error))
  const events: PresenceEvent[] = []
  a.cluster.on('presence', (event) => events.push(event))
  await a.cluster.watch('s')
  await a.cluster.watch('t')
  const client = createClient<Chat>({ url: `ws://127.0.0.1:${a.server.port}/` })
  client.events.on('error', () => undefined)
  fx.add(() => client.close())
  await waitFor(() => peers.length === 1, { message: 'a peer', timeoutMs: 10_000 })
  const peer = peers[0] as Peer<Chat>
  await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
  await redis.command('CONFIG', 'SET', 'maxmemory', '1')
  peer.join('s')
  peer.join('t')
  await waitFor(() => errors.some((error) => String(error).includes('OOM')), {
    message: 'the joins refused',
  })
  // Answered after both joins (one connection, in order): both were refused.
  await a.redis.ping()
  // Gone from `t` before Redis takes writes again: its refused join is not written.
  peer.leave('t')
  expect(a.redis.status).toBe('ready')
  await redis.command('CONFIG', 'SET', 'maxmemory', '0')
  await waitFor(async () => (await a.cluster.presence('s')).includes(peer.id), {
    message: 'present in s once Redis takes writes',
    timeoutMs: 5_000,
  })
  await waitFor(() => events.length === 1, { message: 'the join heard' })
  expect(events).toEqual([{ room: 's', peerId: peer.id, joined: true }])
  // Some heartbeats later: nothing more (a join of `t` would be heard).
  await expectNoEvent(a.cluster, 'presence', 500)
  expect(await a.cluster.presence('t')).toEqual([])
  expect(a.redis.status).toBe('ready')
})

it('removes a member that left since the state Redis came back with (a snapshot), though its process lives', async () => {
  const redis = fx.add(await startRedisServer())
  // A lapse long enough for the subscriber to be back before the reaper tells the leave: one
  // told while it is away is not heard (the README says so), and a Redis restart on a busy
  // machine took longer than a 1 s lapse.
  const a = await startNode(fx, redis, { heartbeatMs: 100, processTtlMs: 4_000 })
  const peers: Peer<Chat>[] = []
  a.server.on('connection', (peer) => {
    peer.join('r')
    peers.push(peer)
  })
  const events: PresenceEvent[] = []
  a.cluster.on('presence', (event) => events.push(event))
  await a.cluster.watch('r')
  const client = createClient<Chat>({ url: `ws://127.0.0.1:${a.server.port}/` })
  client.events.on('error', () => undefined)
  fx.add(() => client.close())
  await waitFor(async () => (await a.cluster.presence('r')).length === 1, { message: 'present' })
  const peer = peers[0] as Peer<Chat>
  // Redis saves a snapshot, the member leaves, and Redis comes back from the snapshot (a restart
  // that loses its last writes, or a failover to a replica behind): the member is in it again.
  await redis.command('SAVE')
  peer.leave('r')
  await waitFor(async () => (await a.cluster.presence('r')).length === 0, { message: 'left' })
  // Heard before Redis is killed: a leave written just before, its message not yet read here,
  // went with the connection (on a loaded machine, for this subscriber and another alike).
  await waitFor(() => events.length === 2, { message: 'the leave heard' })
  await redis.kill()
  await redis.restart()
  await connected(a.redis, a.cluster)
  // It leaves as a session that moved would: once the entry lapses (processTtlMs) and is reaped.
  await waitFor(async () => (await a.cluster.presence('r')).length === 0, {
    message: 'the member gone again',
    timeoutMs: 10_000,
  })
  await waitFor(() => events.length === 3, { message: 'its leave heard' })
  expect(events).toEqual([
    { room: 'r', peerId: peer.id, joined: true },
    { room: 'r', peerId: peer.id, joined: false },
    { room: 'r', peerId: peer.id, joined: false },
  ])
})

it('checks the presence it is listed for against its members in one pass per room once Redis is back', async () => {
  const redis = fx.add(await startRedisServer())
  const client = redisClient(fx, redis)
  const cluster = createRedisCluster({ redis: client })
  cluster.on('error', () => undefined)
  fx.add(() => cluster.close())
  const member = (id: string): ClusterMember => ({
    id,
    sessionId: id,
    closed: false,
    cursor: () => undefined,
    setCursor: () => undefined,
    deliver: () => undefined,
    sendUnreliable: () => undefined,
    reset: () => undefined,
  })
  const members = Array.from({ length: 2_000 }, (_, i) => member(`p${i}`))
  let reads = 0
  cluster.attach({
    members: (room) => {
      if (room !== 'r') return []
      reads++
      return members
    },
    failure: () => undefined,
  })
  await waitFor(() => client.status === 'ready', { message: 'Redis ready' })
  for (const each of members) cluster.joined(each, 'r')
  await waitFor(async () => (await cluster.presence('r')).length === members.length, {
    message: 'the members present',
  })
  // As if Redis came back older: it lists a member that is no longer here.
  members.pop()
  const listed = createKeys('lifeline:').processMembers(cluster.processId)
  reads = 0
  client.disconnect(true)
  await waitFor(async () => (await client.scard(listed)) === members.length, {
    message: 'the member gone left',
    timeoutMs: 10_000,
  })
  // A few reads of the room (its joins written again, its entries checked), where one per
  // entry made a pass of n² steps: seconds with the event loop held for 20,000 members.
  expect(reads).toBeLessThan(10)
})

/**
 * Two processes on one Redis: clients of `a` join `r`; `b` watches `r` and reaches Redis through
 * a proxy, so that it loses Redis alone and misses what `a` publishes meanwhile.
 */
async function watchingPair() {
  const redis = fx.add(await startRedisServer())
  const a = await startNode(fx, redis)
  const { cluster: b, redis: bRedis, proxy } = await startProxiedNode(fx, redis)
  const syncs: PresenceSyncEvent[] = []
  b.on('presence:sync', (event) => syncs.push(event))
  await b.watch('r')
  const peers: Peer<Chat>[] = []
  a.server.on('connection', (peer) => {
    peer.join('r')
    peers.push(peer)
  })
  return { a, b, bRedis, proxy, syncs, peers }
}

it('tells the members of each room it hears once its subscriber is back, the joins and leaves it missed in them', async () => {
  const { a, b, bRedis, proxy, syncs, peers } = await watchingPair()
  const heard: PresenceEvent[] = []
  b.on('presence', (event) => heard.push(event))
  movingClient(fx, { port: a.server.port })
  // Heard on the subscriber, which may bring it after a read of the room on the other
  // connection saw the member (pub/sub keeps no order with replies): waited for, else it could
  // come once the test counts what was heard live.
  await waitFor(() => heard.length === 1, { message: 'one joined' })

  proxy.refuse(true)
  proxy.cut()
  await waitFor(() => bRedis.status !== 'ready', { message: 'b away from Redis' })
  // While `b` is away, the first member leaves and a second joins, on `a`.
  peers[0]?.leave('r')
  movingClient(fx, { port: a.server.port })
  await waitFor(
    async () => {
      const present = await a.cluster.presence('r')
      return peers.length === 2 && present.length === 1 && present[0] === peers[1]?.id
    },
    { message: 'the first gone, the second present', timeoutMs: 10_000 },
  )
  proxy.refuse(false)
  await waitFor(() => syncs.length > 0, {
    message: 'the members told once b is back',
    timeoutMs: 10_000,
  })
  expect(syncs).toEqual([{ room: 'r', peerIds: [peers[1]?.id] }])
  // The leave and the join made while `b` was away are not heard live: that is what the list is
  // for.
  expect(heard).toEqual([{ room: 'r', peerId: peers[0]?.id, joined: true }])
})

it('counts in the list it tells once its subscriber is back a change heard while the list was read', async () => {
  const { a, b, bRedis, proxy, syncs, peers } = await watchingPair()
  proxy.refuse(true)
  proxy.cut()
  await waitFor(() => bRedis.status !== 'ready', { message: 'b away from Redis' })
  movingClient(fx, { port: a.server.port })
  await waitFor(async () => (await a.cluster.presence('r')).length === 1, { message: 'present' })

  // Redis runs `b`'s read of the room before a join is published, and its reply reaches `b`
  // after the join was heard: the list it tells must have the joined member all the same.
  let read = false
  let release = (): void => undefined
  const released = new Promise<void>((resolve) => (release = resolve))
  const client = bRedis as unknown as { hkeys: (key: string) => Promise<string[]> }
  const hkeys = client.hkeys.bind(client)
  client.hkeys = async (key) => {
    client.hkeys = hkeys
    const ids = await hkeys(key)
    read = true
    await released
    return ids
  }
  const heard: PresenceEvent[] = []
  b.on('presence', (event) => heard.push(event))
  proxy.refuse(false)
  await waitFor(() => read, { message: 'the room read', timeoutMs: 10_000 })
  movingClient(fx, { port: a.server.port })
  await waitFor(() => heard.length === 1, { message: 'the second join heard', timeoutMs: 10_000 })
  release()
  await waitFor(() => syncs.length > 0, { message: 'the members told' })
  expect(heard).toEqual([{ room: 'r', peerId: peers[1]?.id, joined: true }])
  expect(syncs).toEqual([{ room: 'r', peerIds: [peers[0]?.id, peers[1]?.id] }])
})

// An application's subscriber is usually connected already when it is passed in: its first
// `'ready'` came before the cluster listened, and the first outage is an outage all the same.
it('tells the members of a room once a subscriber it was given ready is back from its first outage', async () => {
  const redis = fx.add(await startRedisServer())
  const a = await startNode(fx, redis)
  const proxy = fx.add(await createFaultProxy({ targetPort: redis.port }))
  const bRedis = new Redis(proxy.port, '127.0.0.1', { retryStrategy: () => 50 })
  const subscriber = bRedis.duplicate()
  for (const client of [bRedis, subscriber]) {
    client.on('error', () => undefined)
    fx.add(() => client.disconnect())
  }
  await waitFor(() => bRedis.status === 'ready' && subscriber.status === 'ready', {
    message: 'both connected before the cluster is made',
  })
  const b = createRedisCluster({ redis: bRedis, subscriber })
  b.on('error', () => undefined)
  const bServer = createServer<Chat>({ port: 0, cluster: b })
  bServer.on('error', () => undefined)
  fx.add(() => bServer.close())
  await bServer.ready
  await connected(bRedis, b)
  const syncs: PresenceSyncEvent[] = []
  b.on('presence:sync', (event) => syncs.push(event))
  await b.watch('r')
  const peers: string[] = []
  a.server.on('connection', (peer) => {
    peer.join('r')
    peers.push(peer.id)
  })

  proxy.refuse(true)
  proxy.cut()
  await waitFor(() => subscriber.status !== 'ready', { message: 'b away from Redis' })
  movingClient(fx, { port: a.server.port })
  await waitFor(async () => (await a.cluster.presence('r')).length === 1, { message: 'present' })
  proxy.refuse(false)
  await waitFor(() => syncs.length > 0, {
    message: 'the members told once b is back',
    timeoutMs: 10_000,
  })
  expect(syncs).toEqual([{ room: 'r', peerIds: peers }])
})

it('reads a room again once its Redis client is ready again when its read after an outage failed', async () => {
  const { a, bRedis, proxy, syncs, peers } = await watchingPair()
  proxy.refuse(true)
  proxy.cut()
  await waitFor(() => bRedis.status !== 'ready', { message: 'b away from Redis' })
  movingClient(fx, { port: a.server.port })
  await waitFor(async () => (await a.cluster.presence('r')).length === 1, { message: 'present' })
  // The first read of the room, once `b` is back, fails.
  const failed = failNextRead(bRedis)
  proxy.refuse(false)
  await waitFor(failed, { message: 'the read failed', timeoutMs: 10_000 })
  // Its client ready again (a reconnection): the room is read again, and its members told.
  bRedis.disconnect(true)
  await waitFor(() => syncs.length > 0, { message: 'the members told', timeoutMs: 10_000 })
  expect(syncs).toEqual([{ room: 'r', peerIds: [peers[0]?.id] }])
})

it('forgets a room whose read after an outage failed once it no longer hears it', async () => {
  const { b, bRedis, proxy } = await watchingPair()
  proxy.refuse(true)
  proxy.cut()
  await waitFor(() => bRedis.status !== 'ready', { message: 'b away from Redis' })
  const failed = failNextRead(bRedis)
  proxy.refuse(false)
  await waitFor(failed, { message: 'the read failed', timeoutMs: 10_000 })
  // Watched no longer: nothing is owed of it. Kept, every room so left after a failed read
  // stayed for as long as the process lived, and each reconnection went over them all.
  b.unwatch('r')
  const back = once(bRedis, 'ready')
  bRedis.disconnect(true)
  await back
  const { syncFailed } = b as unknown as { syncFailed: Set<string> }
  expect(syncFailed.size).toBe(0)
})

/** Has the next read of a room's presence on `redis` fail; tells whether it did. */
function failNextRead(redis: Redis): () => boolean {
  const client = redis as unknown as { hkeys: (key: string) => Promise<string[]> }
  const hkeys = client.hkeys.bind(client)
  let failed = false
  client.hkeys = () => {
    client.hkeys = hkeys
    failed = true
    return Promise.reject(new Error('the read failed'))
  }
  return () => failed
}
