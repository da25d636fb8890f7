import { json } from '@lifeline/codec'
import { createClient, type Client } from '@lifeline/core'
import {
  createFaultProxy,
  expectNoEvent,
  startBalancer,
  startRedisServer,
  useFixtures,
  waitFor,
} from '@lifeline/test-utils'
import type { Balancer, RedisServerFixture } from '@lifeline/test-utils'
import type { LogDetails, Peer, ServerOptions } from '@lifeline/server'
import { Redis } from 'ioredis'
import { EventEmitter } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { PresenceEvent, RedisClusterOptions } from '../src/index.js'
import { createKeys } from '../src/keys.js'
import {
  clientOf,
  connected,
  RawClient,
  redisClient,
  startNode,
  type Chat,
  type Node,
} from './harness.js'

const keys = createKeys('lifeline:')

const fx = useFixtures(afterEach)

/** Every server echoes `up` as `down`, and relays `say` to its room, on whichever process. */
function serve(node: Node, seen: { peer: string; n: number; id: string | undefined }[]): void {
  node.server.on('connection', (peer: Peer<Chat>) => {
    peer.on('up', ({ n }, _peer, info) => {
      seen.push({ peer: peer.id, n, id: info.id })
      peer.send('down', { n })
    })
    peer.on('say', ({ text, room }) => {
      peer.join(room)
      node.server.to(room).send('said', { text, from: peer.id })
    })
  })
}

describe('a cluster on Redis', () => {
  it('resumes a session on another process, exactly once and in order both ways', async () => {
    const redis = fx.add(await startRedisServer())
    const nodes = [await startNode(fx, redis), await startNode(fx, redis)]
    const seen: { peer: string; n: number; id: string | undefined }[] = []
    for (const node of nodes) serve(node, seen)
    const balancer = fx.add(
      await startBalancer({ backends: nodes.map((node) => node.server.port) }),
    )
    const client = clientOf(fx, balancer)
    const down: number[] = []
    client.on('down', ({ n }) => down.push(n))
    let resets = 0
    client.events.on('reset', () => resets++)
    const total = 600
    for (let n = 1; n <= total; n++) {
      client.send('up', { n })
      // A cut every 100 messages: the next connection goes to the other process.
      if (n % 100 === 0) {
        await waitFor(() => down.length >= n - 50, {
          message: `echoes of ${n - 50}`,
          timeoutMs: 10_000,
        })
        balancer.cut()
      }
    }
    await waitFor(() => down.length >= total, { message: 'every echo', timeoutMs: 10_000 })
    expect(resets).toBe(0)
    expect(seen.map((each) => each.n)).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    expect(new Set(seen.map((each) => each.peer)).size).toBe(1)
    expect(down).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    // Both processes served it, and let go when the other took it.
    expect(nodes.every((node) => node.server.stats.sessionsResumed > 0)).toBe(true)
    await waitFor(() => nodes.reduce((sum, node) => sum + node.server.stats.sessions, 0) === 1, {
      message: 'one holder',
      timeoutMs: 10_000,
    })
  })

  it('counts in a room send the members here that get it, as a single process does', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startNode(fx, redis)
    const peers: Peer<Chat>[] = []
    a.server.on('connection', (peer) => {
      peers.push(peer)
      peer.join('r')
    })
    const client = createClient<Chat>({ url: `ws://127.0.0.1:${a.server.port}/` })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
    await waitFor(() => client.state.status === 'open' && peers.length === 1, {
      message: 'the member',
    })
    const only = peers[0] as Peer<Chat>
    const said = { text: 'x', from: 'a' }
    expect(a.server.to('r').send('said', said)).toBe(1)
    expect(a.server.broadcast('said', said)).toBe(1)
    // A relay from the room's only member reaches none here: it counted the member excepted.
    expect(a.server.to('r').send('said', said, { except: only })).toBe(0)
    expect(a.server.broadcast('said', said, { except: only })).toBe(0)
    // Once the server closed its peers get nothing (a single process counts 0): the room still
    // listed its member, counted as reached.
    await a.server.close()
    expect(a.server.to('r').send('said', said)).toBe(0)
    expect(a.server.broadcast('said', said)).toBe(0)
  })

  it('delivers a room send from any process to every member on every process, once', async () => {
    const redis = fx.add(await startRedisServer())
    const nodes = [await startNode(fx, redis), await startNode(fx, redis)]
    for (const node of nodes) serve(node, [])
    const balancer = fx.add(
      await startBalancer({ backends: nodes.map((node) => node.server.port) }),
    )
    const clients = [clientOf(fx, balancer), clientOf(fx, balancer), clientOf(fx, balancer)]
    const got = clients.map(() => [] as string[])
    clients.forEach((client, i) => client.on('said', ({ text }) => got[i]?.push(text)))
    // Everyone joins first (their first `say` joins them), then everyone talks.
    clients.forEach((client, i) => client.send('say', { room: 'r', text: `hello ${i}` }))
    await waitFor(() => got[2]?.includes('hello 2'), { message: 'joins', timeoutMs: 10_000 })
    await waitFor(() => got.every((each) => each.length >= 1), {
      message: 'joined',
      timeoutMs: 10_000,
    })
    const base = got.map((each) => each.length)
    for (let k = 0; k < 50; k++) {
      clients.forEach((client, i) => client.send('say', { room: 'r', text: `${i}:${k}` }))
    }
    await waitFor(() => got.every((each, i) => each.length - (base[i] as number) >= 150), {
      message: 'every room message',
      timeoutMs: 10_000,
    })
    for (const each of got) {
      const after = each.filter((text) => text.includes(':'))
      expect(after).toHaveLength(150)
      expect(new Set(after).size).toBe(150)
      // In order per sender.
      for (let i = 0; i < 3; i++) {
        expect(after.filter((text) => text.startsWith(`${i}:`))).toEqual(
          Array.from({ length: 50 }, (_, k) => `${i}:${k}`),
        )
      }
    }
    // Every member got the room's messages in the same order.
    const orders = got.map((each) => each.filter((text) => text.includes(':')).join(','))
    expect(new Set(orders).size).toBe(1)
    expect(
      new Set(balancer.counters.perBackend ? Object.keys(balancer.counters.perBackend) : []).size,
    ).toBe(2)
  })

  /**
   * Two processes; a member on the first that acknowledges nothing gets `count` room messages
   * from a member on the second, then drops its link. Returns what it got, its session id, and
   * a way to send more to the room.
   */
  async function unacknowledgedRoomMessages(count: number) {
    const redis = fx.add(await startRedisServer())
    const nodes = [await startNode(fx, redis), await startNode(fx, redis)] as const
    for (const node of nodes) serve(node, [])
    const { client: member, welcome } = await RawClient.connect(fx, nodes[0].server.port)
    member.send({ t: 'say', d: { room: 'r', text: 'in' }, s: 1 })
    await waitFor(() => member.reliable('said').length === 1, { message: 'joined' })
    const talker = createClient<Chat>({ url: `ws://127.0.0.1:${nodes[1].server.port}/` })
    fx.add(() => talker.close())
    const say = (text: string) => talker.send('say', { room: 'r', text })
    for (let k = 0; k < count; k++) say(`m${k}`)
    await waitFor(() => member.reliable('said').length === count + 1, {
      message: 'the room messages',
      timeoutMs: 10_000,
    })
    await member.close()
    return { nodes, sid: welcome.sid, got: member.reliable('said'), say }
  }

  it('resumes a moved session with its unacknowledged room messages: same numbers, once, in order', async () => {
    const { nodes, sid, got, say } = await unacknowledgedRoomMessages(20)
    // Its own message, then the talker's: 21 room messages, numbered 1 to 21, none acknowledged.
    expect(got.map((frame) => frame.s)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1))
    // Moves to the second process, which rebuilds them from the room's history.
    const { client, welcome } = await RawClient.connect(fx, nodes[1].server.port, { sid, a: 5 })
    expect(welcome).toMatchObject({ sid, resumed: true })
    await waitFor(() => client.reliable('said').length === 16, {
      message: 'the replay',
      timeoutMs: 10_000,
    })
    say('after')
    await waitFor(() => client.reliable('said').length === 17, { message: 'the next one' })
    const again = client.reliable('said')
    expect(again.slice(0, 16)).toEqual(got.slice(5))
    expect(again[16]).toMatchObject({ s: 22, d: { text: 'after' } })
    // The first process let go of it.
    await waitFor(() => nodes[0].server.stats.sessions === 0, { message: 'let go' })
  })

  it('resets a moved session whose unacknowledged room messages the history no longer has', async () => {
    const { nodes, sid } = await unacknowledgedRoomMessages(5)
    await nodes[0].redis.xtrim('lifeline:h:r', 'MAXLEN', 0)
    const { welcome } = await RawClient.connect(fx, nodes[1].server.port, { sid, a: 1 })
    // Not resumed with a gap: a new session, which the client reports as a reset.
    expect(welcome.resumed).toBe(false)
    expect(welcome.sid).not.toBe(sid)
  })
})

describe('a session the application closes', () => {
  it('is released in Redis, not resumed elsewhere, when it closed while its creation was in flight', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startNode(fx, redis)
    const b = await startNode(fx, redis)
    const ends: string[] = []
    // Closed at once: before Redis answered the creation.
    a.server.on('connection', (peer) => peer.close(4000, 'no'))
    a.server.on('session:end', (_peer, { reason }) => ends.push(reason))
    const first = await RawClient.connect(fx, a.server.port)
    await waitFor(() => first.client.closeCode === 4000, { message: 'closed 4000' })
    expect(ends).toEqual(['closed'])
    const sid = first.welcome.sid
    await waitFor(async () => (await a.redis.exists(keys.session(sid))) === 0, {
      message: 'the session released',
    })
    const again = await RawClient.connect(fx, b.server.port, { sid, a: 0 })
    expect(again.welcome.resumed).toBe(false)
  })
})

describe('a session moving between live processes', () => {
  type Seen = { peer: string; n: number; id: string | undefined }

  /** Processes `a` and `b` serving `up`, what their handlers processed, and a client of `a`. */
  async function moving(
    options: {
      a?: Partial<RedisClusterOptions>
      b?: Partial<RedisClusterOptions>
      aServer?: Partial<ServerOptions>
    } = {},
    given?: RedisServerFixture,
  ) {
    const redis = given ?? fx.add(await startRedisServer())
    const a = await startNode(fx, redis, options.a, options.aServer)
    const b = await startNode(fx, redis, options.b)
    const seen: Seen[] = []
    serve(a, seen)
    serve(b, seen)
    const balancer = fx.add(await startBalancer({ backends: [a.server.port] }))
    return { redis, a, b, seen, balancer }
  }

  /** Sends `up` 1 and waits for its echo: the echoes `client` hears. */
  async function echoes(client: Client<Chat>): Promise<number[]> {
    const down: number[] = []
    client.on('down', ({ n }) => down.push(n))
    client.send('up', { n: 1 })
    await waitFor(() => down.includes(1), { message: 'the first echo', timeoutMs: 10_000 })
    return down
  }

  /** From now on `node`'s writes wait for `until` (a loaded process, a slow round trip). */
  function holdWrites(node: Node, until: Promise<unknown>): void {
    const store = node.cluster.store
    const commit = store.commit.bind(store)
    store.commit = async (...args) => {
      await until
      return commit(...args)
    }
  }

  /**
   * `tap` hears every message on `node`'s channel (revocations, handoff requests and answers)
   * first; the store gets those for which it does not return false.
   */
  function tapChannel(node: Node, tap: (message: string) => boolean | void): void {
    const store = node.cluster.store
    const revoke = store.revoke.bind(store)
    store.revoke = (message) => {
      if (tap(message) !== false) revoke(message)
    }
  }

  /** `node`'s writes wait until it hears from another process about the session. */
  function holdWritesUntilAsked(node: Node): void {
    let heard: () => void = () => undefined
    holdWrites(node, new Promise<void>((resolve) => (heard = resolve)))
    tapChannel(node, () => heard())
  }

  /** Sends `up` 2 and waits until `a` processed it. */
  async function processedOnA(client: Client<Chat>, seen: Seen[]): Promise<void> {
    client.send('up', { n: 2 })
    await waitFor(() => seen.some((each) => each.n === 2), {
      message: 'processed on a',
      timeoutMs: 10_000,
    })
  }

  /** Sends `up` 3 once the client reached `b`, and checks 1 to 3 were each processed once. */
  async function servedByB(
    client: Client<Chat>,
    down: number[],
    seen: Seen[],
    b: Node,
  ): Promise<void> {
    client.send('up', { n: 3 })
    await waitFor(() => down.includes(3), { message: 'served by b', timeoutMs: 10_000 })
    expect(seen.map((each) => each.n)).toEqual([1, 2, 3])
    expect(down).toEqual([1, 2, 3])
    expect(b.server.stats.sessionsResumed).toBe(1)
  }

  /** The client's link drops, and its next connection goes to `b`. */
  function moveToB(balancer: Balancer, b: Node): void {
    balancer.setBackends([b.server.port])
    balancer.cut()
  }

  /** The client moves to `b` and sends `up` 2 there: echoed, on a session `b` resumed. */
  async function resumesOnB(
    client: Client<Chat>,
    down: number[],
    balancer: Balancer,
    b: Node,
  ): Promise<void> {
    moveToB(balancer, b)
    client.send('up', { n: 2 })
    await waitFor(() => down.includes(2), { message: 'served by b', timeoutMs: 10_000 })
    expect(down).toEqual([1, 2])
    expect(b.server.stats.sessionsResumed).toBe(1)
  }

  it('processes a client message once when the process that processed it has not stored it yet', async () => {
    // `b` would wait a minute for an owner that does not answer: a resume within the test's
    // bounds is one that `a` answered.
    const { a, b, seen, balancer } = await moving({ b: { handoffTimeoutMs: 60_000 } })
    const client = clientOf(fx, balancer)
    const down = await echoes(client)
    holdWritesUntilAsked(a)
    await processedOnA(client, seen)
    // The link drops before `a` stored that it processed 2: the client resumes on `b`, with 2
    // not acknowledged. `a` is alive, and hands the session over with 2 stored.
    moveToB(balancer, b)
    await servedByB(client, down, seen, b)
    await waitFor(() => a.server.stats.sessions === 0, { message: 'a let go', timeoutMs: 10_000 })
  })

  it('answers a handoff of a session it is restoring only once the restore is done, with what it processed', async () => {
    const { a, b, seen } = await moving({ b: { handoffTimeoutMs: 60_000 } })
    // The session starts on `b`, which processes and stores 1; then its link drops.
    const { client: first, welcome } = await RawClient.connect(fx, b.server.port)
    const sid = welcome.sid
    first.send({ t: 'up', d: { n: 1 }, s: 1 })
    await waitFor(() => first.received.some((frame) => (frame.a ?? 0) >= 1), {
      message: '1 acknowledged',
    })
    await first.close()
    // A link to `a` resumes it, with 2 right behind its `$hello`: `a`'s claim takes the
    // session in Redis (`b` hands it over), and its reply is held.
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => (release = resolve))
    const claim = a.cluster.store.claim.bind(a.cluster.store)
    a.cluster.store.claim = async (...args) => {
      const claimed = await claim(...args)
      await held
      return claimed
    }
    const onA = await RawClient.open(fx, a.server.port)
    onA.send({ t: '$hello', d: { v: 1, sid, a: 1 } })
    onA.send({ t: 'up', d: { n: 2 }, s: 2 })
    await waitFor(
      async () => (await a.redis.hget(keys.session(sid), 'o')) === a.cluster.processId,
      {
        message: 'claimed by a',
      },
    )
    // Meanwhile the client reaches `b` again: `b` asks `a` for the session.
    let asked = false
    tapChannel(a, (message) => {
      if (message.includes(' ?')) asked = true
    })
    const answers = new EventEmitter()
    let answered = 0
    tapChannel(b, (message) => {
      if (!message.includes(' !')) return
      answered++
      answers.emit('answer')
    })
    const onB = await RawClient.open(fx, b.server.port)
    onB.send({ t: '$hello', d: { v: 1, sid, a: 1 } })
    await waitFor(() => asked, { message: 'a asked' })
    // Not answered while `a` has not built the session: it would then process 2 on its link.
    await expectNoEvent(answers, 'answer', 200)
    expect(answered).toBe(0)
    release()
    // `a` served 2 and stored it, then handed the session over: `b` resumes it after 2.
    expect(await onB.welcome()).toMatchObject({ sid, resumed: true, a: 2 })
    onB.send({ t: 'up', d: { n: 2 }, s: 2 })
    onB.send({ t: 'up', d: { n: 3 }, s: 3 })
    await waitFor(() => onB.reliable('down').length === 2, { message: '2 and 3 echoed' })
    expect(onB.reliable('down').map((frame) => frame.d)).toEqual([{ n: 2 }, { n: 3 }])
    expect(seen.map((each) => each.n)).toEqual([1, 2, 3])
    await waitFor(() => onA.closeCode === 1012, { message: 'a let go' })
  })

  it('processes a client message once when its process closes gracefully before storing it', async () => {
    const { a, b, seen } = await moving({ b: { handoffTimeoutMs: 60_000 } })
    // The client reaches `a`, then, once `a` stopped delivering room messages in its close
    // (`detach`), `b`: the claim comes while `a` writes its sessions' last changes.
    let target = a.server.port
    let reachable: Promise<void> = Promise.resolve()
    const client = createClient<Chat>({
      url: async () => {
        await reachable
        return `ws://127.0.0.1:${target}/`
      },
      socket: { initialDelayMs: 10, maxDelayMs: 100 },
    })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
    const down = await echoes(client)
    holdWritesUntilAsked(a)
    let detached: () => void = () => undefined
    reachable = new Promise<void>((resolve) => (detached = resolve))
    const detach = a.cluster.detach.bind(a.cluster)
    a.cluster.detach = async () => {
      await detach()
      detached()
    }
    await processedOnA(client, seen)
    // `a` closes (SIGTERM) before it stored that it processed 2: the client resumes on `b`,
    // with 2 not acknowledged, and `b` gets the session once `a` stored 2.
    target = b.server.port
    const closed = a.server.close()
    await servedByB(client, down, seen, b)
    await closed
  })

  it('hands over what it processed when Redis refused its write once', async () => {
    const { redis, a, b, seen } = await moving({ b: { handoffTimeoutMs: 60_000 } })
    const { client: onA, welcome } = await RawClient.connect(fx, a.server.port)
    const sid = welcome.sid
    onA.send({ t: 'up', d: { n: 1 }, s: 1 })
    await waitFor(() => onA.reliable('down').length === 1, { message: 'the first echo' })
    // `a`'s write of 2 waits until `b` asks for the session; Redis then refuses it once (out of
    // memory: the client acknowledged nothing, so the write's first command is one that Redis
    // refuses), and takes writes again before `a` hears of the refusal.
    let heard: () => void = () => undefined
    const asked = new Promise<void>((resolve) => (heard = resolve))
    tapChannel(a, (message) => {
      if (message.includes(' ?')) heard()
    })
    const store = a.cluster.store
    const commit = store.commit.bind(store)
    const refusals: unknown[] = []
    store.commit = async (...args) => {
      await asked
      if (refusals.length > 0) return commit(...args)
      await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
      await redis.command('CONFIG', 'SET', 'maxmemory', '1')
      try {
        return await commit(...args)
      } catch (error) {
        refusals.push(error)
        throw error
      } finally {
        await redis.command('CONFIG', 'SET', 'maxmemory', '0')
      }
    }
    onA.send({ t: 'up', d: { n: 2 }, s: 2 })
    await waitFor(() => seen.length === 2, { message: 'processed on a' })
    await onA.close()
    // The client resumes on `b`: `a` stores 2 again before it lets go, and `b` resumes after it.
    const { client: onB, welcome: resumed } = await RawClient.connect(fx, b.server.port, { sid })
    expect(String(refusals[0])).toContain('OOM')
    expect(resumed).toMatchObject({ sid, resumed: true, a: 2 })
    onB.send({ t: 'up', d: { n: 2 }, s: 2 })
    onB.send({ t: 'up', d: { n: 3 }, s: 3 })
    await waitFor(() => onB.reliable('down').length === 3, { message: 'the echoes' })
    expect(seen.map((each) => each.n)).toEqual([1, 2, 3])
  })

  it('hands over what it processed while Redis refused its room send, once Redis takes it', async () => {
    // `a`'s failures logged with what failed: Redis refuses every write, heartbeats included,
    // and only the room send's refusal proves that path.
    let roomSendRefused: (error: unknown) => void = () => undefined
    const refused = new Promise((resolve) => (roomSendRefused = resolve))
    const error = (message: string, details?: LogDetails): void => {
      if (message === 'a room message could not be published yet') roomSendRefused(details?.error)
    }
    const { redis, a, b, balancer } = await moving({
      b: { handoffTimeoutMs: 60_000 },
      aServer: { logger: { warn: () => undefined, error } },
    })
    a.cluster.removeAllListeners('error')
    a.server.removeAllListeners('error')
    const processed: string[] = []
    for (const node of [a, b]) {
      node.server.on('connection', (peer: Peer<Chat>) => {
        peer.on('say', ({ text }) => processed.push(text))
      })
    }
    const client = clientOf(fx, balancer)
    const said: string[] = []
    client.on('said', ({ text }) => said.push(text))
    client.send('say', { room: 'r', text: 'in' })
    await waitFor(() => said.includes('in'), { message: 'joined', timeoutMs: 10_000 })
    // Redis refuses writes (out of memory) while `a` processes `x`: its room send is kept to be
    // sent again, and no commit goes ahead of it. Redis takes writes again once `b` asks `a`.
    await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
    await redis.command('CONFIG', 'SET', 'maxmemory', '1')
    client.send('say', { room: 'r', text: 'x' })
    expect(String(await refused)).toContain('OOM')
    tapChannel(a, (message) => {
      if (message.includes(' ?')) void redis.command('CONFIG', 'SET', 'maxmemory', '0')
    })
    moveToB(balancer, b)
    client.send('say', { room: 'r', text: 'y' })
    await waitFor(() => said.includes('y'), { message: 'served by b', timeoutMs: 10_000 })
    // `a` stored `x` processed before it let go: `b` did not process it again.
    expect(processed).toEqual(['in', 'x', 'y'])
    expect(await a.redis.xlen(keys.history('r'))).toBe(3)
    expect(said).toEqual(['in', 'x', 'y'])
    expect(b.server.stats.sessionsResumed).toBe(1)
  })

  it('waits for a live owner whose last write takes over a second, and processes its message once', async () => {
    // `b` waits for a live owner as long as by default.
    const { a, b, seen, balancer } = await moving()
    const client = clientOf(fx, balancer)
    const down = await echoes(client)
    // `a`'s writes reach Redis 1.2 s after `b` asked for the session: past the second after
    // which `a` serves its clients without waiting for the store, while `b` waits for it.
    let asked: () => void = () => undefined
    holdWrites(
      a,
      new Promise<void>((resolve) => (asked = resolve)).then(
        () => new Promise((resolve) => setTimeout(resolve, 1_200)),
      ),
    )
    tapChannel(a, (message) => {
      if (message.includes(' ?')) asked()
    })
    await processedOnA(client, seen)
    moveToB(balancer, b)
    await servedByB(client, down, seen, b)
  })

  it('refuses a resume with 1013 while its own write of the session stalls, and resumes it once the write is through', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startNode(fx, redis, { handoffTimeoutMs: 300 })
    const seen: Seen[] = []
    serve(a, seen)
    const { client: first, welcome } = await RawClient.connect(fx, a.server.port)
    const sid = welcome.sid
    first.send({ t: 'up', d: { n: 1 }, s: 1 })
    await waitFor(() => first.reliable('down').length === 1, { message: 'the first echo' })
    // Redis stops answering `a`'s writes (they wait until the test lets them through), the write
    // of 2 among them; then the link drops and the client comes back to `a`.
    let unstall: () => void = () => undefined
    holdWrites(a, new Promise<void>((resolve) => (unstall = resolve)))
    first.send({ t: 'up', d: { n: 2 }, s: 2, a: 1 })
    await waitFor(() => seen.length === 2, { message: 'processed on a' })
    await first.close()
    const again = await RawClient.open(fx, a.server.port)
    again.send({ t: '$hello', d: { v: 1, sid, a: 1 } })
    // Not a resume that never answers: try again later, once `handoffTimeoutMs` passed.
    await waitFor(() => again.closeCode !== undefined, {
      message: 'the resume refused',
      timeoutMs: 10_000,
    })
    expect(again.closeCode).toBe(1013)
    unstall()
    const { welcome: resumed } = await RawClient.connect(fx, a.server.port, { sid, a: 1 })
    expect(resumed).toMatchObject({ sid, resumed: true, a: 2 })
    expect(seen.map((each) => each.n)).toEqual([1, 2])
  })

  it('lets a session go, as after a crash, when its write stalls past handoffTimeoutMs in a handoff', async () => {
    // `b` would wait a minute for an owner that does not answer: `a` gives up on its write.
    const { a, b, seen, balancer } = await moving({
      a: { handoffTimeoutMs: 300 },
      b: { handoffTimeoutMs: 60_000 },
    })
    const client = clientOf(fx, balancer)
    const down = await echoes(client)
    let unstall: () => void = () => undefined
    holdWrites(a, new Promise<void>((resolve) => (unstall = resolve)))
    await processedOnA(client, seen)
    moveToB(balancer, b)
    client.send('up', { n: 3 })
    await waitFor(() => down.includes(3), { message: 'served by b', timeoutMs: 10_000 })
    // What a crash costs: 2, never stored by `a`, is processed again by `b`, with its id.
    expect(seen.map((each) => each.n)).toEqual([1, 2, 2, 3])
    expect(seen[2]?.id).toBe(seen[1]?.id)
    expect(down).toEqual([1, 2, 3])
    await waitFor(() => a.server.stats.sessions === 0, { message: 'a let go' })
    // `a`'s write, late, is refused: `b` goes on writing the session.
    unstall()
    client.send('up', { n: 4 })
    await waitFor(() => down.includes(4), { message: 'served by b still', timeoutMs: 10_000 })
    expect(b.server.stats.sessions).toBe(1)
    expect(seen.map((each) => each.n)).toEqual([1, 2, 2, 3, 4])
  })

  it('stops waiting for an owner that does not answer once it misses its heartbeats', async () => {
    // `a` beats once, at its start; the test sets its heartbeat key to expire in 1.5 s.
    const { a, b, balancer } = await moving({
      a: { heartbeatMs: 60_000, processTtlMs: 120_000 },
      b: { handoffTimeoutMs: 60_000 },
    })
    const client = clientOf(fx, balancer)
    const down = await echoes(client)
    // Frozen: `a` still hears its channel, but answers no handoff request and stops beating.
    let asked = 0
    tapChannel(a, (message) => {
      if (!message.includes(' ?')) return true
      asked++
      return false
    })
    await a.redis.set(keys.process(a.cluster.processId), '1', 'PX', 1_500)
    // Not the minute `b` would wait for an owner alive.
    await resumesOnB(client, down, balancer, b)
    // Asked while alive, again while it did not answer.
    expect(asked).toBeGreaterThan(1)
  })

  it('does not wait for a process that is gone from Redis (killed): the claim is made at once', async () => {
    const redis = fx.add(await startRedisServer())
    const subscriber = redisClient(fx, redis)
    const { a, b, balancer } = await moving(
      { a: { subscriber }, b: { handoffTimeoutMs: 60_000 } },
      redis,
    )
    const client = clientOf(fx, balancer)
    const down = await echoes(client)
    // As after a SIGKILL: `a`'s connections to Redis are gone, its heartbeat key is not yet.
    a.redis.disconnect()
    subscriber.disconnect()
    await resumesOnB(client, down, balancer, b)
  })

  it("neither claims nor resumes a session for another owner (sessionOwner): its owner's process keeps it", async () => {
    const redis = fx.add(await startRedisServer())
    const owned: Partial<ServerOptions> = {
      authenticate: (request) => new URL(request.url ?? '/', 'http://x').searchParams.get('user'),
      sessionOwner: (user) => String(user),
    }
    const a = await startNode(fx, redis, {}, owned)
    const b = await startNode(fx, redis, {}, owned)
    const alice = await RawClient.connect(fx, a.server.port, {}, '/?user=alice')
    const mallory = await RawClient.connect(
      fx,
      b.server.port,
      { sid: alice.welcome.sid, a: 0 },
      '/?user=mallory',
    )
    expect(mallory.welcome.resumed).toBe(false)
    // A round trip on alice's link: a claim would have taken it from `a` (1012) by now.
    alice.client.send({ t: '$ping', d: { ts: 1 } })
    await waitFor(() => alice.client.received.some((frame) => frame.t === '$pong'), {
      message: "alice's $pong",
    })
    expect(alice.client.closeCode).toBeUndefined()
    expect(a.server.stats).toMatchObject({ sessions: 1, sessionsMoved: 0 })
    // Its owner moves it to `b` as usual.
    await alice.client.close()
    const back = await RawClient.connect(
      fx,
      b.server.port,
      { sid: alice.welcome.sid, a: 0 },
      '/?user=alice',
    )
    expect(back.welcome).toMatchObject({ sid: alice.welcome.sid, resumed: true })
  })

  it('delivers a room message to the members it found: one an error listener moves out and back in is not visited again', async () => {
    const redis = fx.add(await startRedisServer())
    const node = await startNode(fx, redis)
    const peers: Peer<Chat>[] = []
    node.server.on('connection', (peer) => {
      peers.push(peer)
      peer.join('r')
    })
    // Told during the delivery that the message is over the small client's limit, the listener
    // moves that member out and back in. Bounded: a member visited again would be told again,
    // for ever.
    let told = 0
    node.server.on('error', (_error, peer) => {
      if (peer === undefined || ++told > 3) return
      peer.leave('r')
      peer.join('r')
    })
    await RawClient.connect(fx, node.server.port, { max: 1024 })
    const big = await RawClient.connect(fx, node.server.port)
    await waitFor(() => peers.length === 2, { message: 'two peers' })
    node.server.to('r').send('said', { text: 'y'.repeat(4096), from: 'x' })
    node.server.to('r').send('said', { text: 'after', from: 'x' })
    await waitFor(() => big.client.reliable('said').length === 2, { message: 'both messages' })
    expect(told).toBe(1)
  })

  it('leaves its channels on a subscriber of the application when its server closes', async () => {
    const redis = fx.add(await startRedisServer())
    const subscriber = redisClient(fx, redis)
    const a = await startNode(fx, redis, { subscriber })
    serve(a, [])
    const client = createClient<Chat>({ url: `ws://127.0.0.1:${a.server.port}/` })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
    client.send('say', { room: 'r', text: 'in' })
    await waitFor(() => a.server.stats.sessions === 1, { message: 'a session', timeoutMs: 10_000 })
    await subscriber.subscribe('the-application')
    await a.server.close()
    // Another process finds `a` gone: it does not wait for a handoff that would never come.
    const listeners = async (channel: string) =>
      Number(((await a.redis.pubsub('NUMSUB', channel)) as [string, number])[1])
    expect(await listeners(keys.revokeChannel(a.cluster.processId))).toBe(0)
    expect(await listeners(keys.channel('r'))).toBe(0)
    expect(await listeners('the-application')).toBe(1)
  })

  // ioredis gives up a command queued while it cannot connect after `maxRetriesPerRequest` tries,
  // and once back subscribes again to every channel it had: a room left meanwhile was heard for
  // as long as the process lived, each such room a subscription more.
  it('leaves the channel of a room left while its subscriber was away, once it is back', async () => {
    const redis = fx.add(await startRedisServer())
    const proxy = fx.add(await createFaultProxy({ targetPort: redis.port }))
    const subscriber = new Redis(proxy.port, '127.0.0.1', {
      retryStrategy: () => 50,
      maxRetriesPerRequest: 2,
    })
    subscriber.on('error', () => undefined)
    fx.add(() => subscriber.disconnect())
    const node = await startNode(fx, redis, { subscriber })
    const peers: Peer<Chat>[] = []
    node.server.on('connection', (peer) => {
      peer.join('gone')
      peers.push(peer)
    })
    await RawClient.connect(fx, node.server.port)
    const listeners = async (channel: string) =>
      Number(((await node.redis.pubsub('NUMSUB', channel)) as [string, number])[1])
    const room = keys.channel('gone')
    await waitFor(async () => (await listeners(room)) === 1, { message: 'the room heard' })
    const unsubscribe = vi.spyOn(subscriber, 'unsubscribe')
    proxy.refuse(true)
    proxy.cut()
    await waitFor(async () => (await listeners(room)) === 0, { message: 'the subscriber away' })
    peers[0]?.leave('gone')
    await waitFor(
      () => unsubscribe.mock.settledResults.some((result) => result.type === 'rejected'),
      { message: 'the unsubscription given up', timeoutMs: 10_000 },
    )
    proxy.refuse(false)
    // Its own channel heard again: ioredis has subscribed again to what it had.
    await connected(node.redis, node.cluster)
    await waitFor(async () => (await listeners(room)) === 0, { message: 'the room left' })
  })
})

describe('presence of a session that moves between processes', () => {
  it('stays present, without a leave or a join, when the process that claimed the session rebuilds it', async () => {
    const redis = fx.add(await startRedisServer())
    const options = { heartbeatMs: 200, processTtlMs: 1_000 }
    const a = await startNode(fx, redis, options)
    const b = await startNode(fx, redis, options)
    const peers: Peer<Chat>[] = []
    for (const node of [a, b]) {
      node.server.on('connection', (peer, info) => {
        if (!info.restored) peer.join('x')
        peers.push(peer)
      })
    }
    const events: PresenceEvent[] = []
    b.cluster.on('presence', (event) => events.push(event))
    await b.cluster.watch('x')
    const { welcome } = await RawClient.connect(fx, a.server.port)
    await waitFor(() => events.length === 1, { message: 'joined' })
    const second = await RawClient.connect(fx, b.server.port, { sid: welcome.sid, a: 0 })
    expect(second.welcome.resumed).toBe(true)
    // `a` left the room as moved, before it answered the handoff: its entry lapses unless taken.
    expect(await b.redis.zcard(keys.moves())).toBe(1)
    // Past the lapse of the move (the process ttl, and a heartbeat of either process to reap).
    await expectNoEvent(b.cluster, 'presence', 2_000)
    expect(events).toEqual([{ room: 'x', peerId: peers[0]?.id, joined: true }])
    expect(await b.cluster.presence('x')).toEqual([peers[0]?.id])
  })

  it('leaves the room when the process that claimed the session does not rebuild it (a reset)', async () => {
    const redis = fx.add(await startRedisServer())
    const options = { heartbeatMs: 200, processTtlMs: 1_000 }
    const a = await startNode(fx, redis, options, { replayLimit: 2 })
    const b = await startNode(fx, redis, options)
    const peers: Peer<Chat>[] = []
    for (const node of [a, b]) {
      node.server.on('connection', (peer) => {
        peer.join('x')
        peers.push(peer)
      })
    }
    const events: PresenceEvent[] = []
    b.cluster.on('presence', (event) => events.push(event))
    await b.cluster.watch('x')
    const { welcome } = await RawClient.connect(fx, a.server.port)
    const old = peers[0] as Peer<Chat>
    await waitFor(() => events.some((event) => event.joined), { message: 'joined' })
    // More than `replayLimit` messages the client does not acknowledge: stored as lossy.
    for (let n = 0; n < 5; n++) old.send('down', { n })
    await waitFor(async () => (await b.redis.hget(keys.session(welcome.sid), 'x')) === '1', {
      message: 'stored as lossy',
    })
    // `a` hands the session over (alive, it leaves the room as moved), and `b`, which claimed
    // it, resets it: a new session, with a new peer id, joins; the old one is never rebuilt.
    const second = await RawClient.connect(fx, b.server.port, { sid: welcome.sid, a: 0 })
    expect(second.welcome.resumed).toBe(false)
    const fresh = peers[1] as Peer<Chat>
    await waitFor(() => events.some((event) => !event.joined), {
      message: 'the old peer left',
      timeoutMs: 10_000,
    })
    expect(events).toEqual([
      { room: 'x', peerId: old.id, joined: true },
      { room: 'x', peerId: fresh.id, joined: true },
      { room: 'x', peerId: old.id, joined: false },
    ])
    expect(await b.cluster.presence('x')).toEqual([fresh.id])
  })
})

describe('watching presence', () => {
  it('stops hearing a room after unwatch, and keeps it while a member is in it here', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startNode(fx, redis)
    const b = await startNode(fx, redis)
    const channel = createKeys('lifeline:').channel('x')
    const subscribers = async () =>
      ((await b.redis.pubsub('NUMSUB', channel)) as [string, number])[1]
    a.server.on('connection', (peer) => peer.join('x'))
    const events: PresenceEvent[] = []
    b.cluster.on('presence', (event) => events.push(event))
    await b.cluster.watch('x')
    await RawClient.connect(fx, a.server.port)
    await waitFor(() => events.length === 1, { message: 'the join heard' })
    expect(await subscribers()).toBe(2)
    b.cluster.unwatch('x')
    // Only `a`, which has a member in the room, listens to it now.
    await waitFor(async () => (await subscribers()) === 1, { message: 'b unsubscribed' })
    // A member here keeps the room heard after unwatch.
    b.server.on('connection', (peer) => peer.join('x'))
    await b.cluster.watch('x')
    await RawClient.connect(fx, b.server.port)
    await waitFor(() => events.length === 2, { message: 'the second join heard' })
    b.cluster.unwatch('x')
    await RawClient.connect(fx, a.server.port)
    await waitFor(() => events.length === 3, { message: 'a join heard through the member' })
    expect(await subscribers()).toBe(2)
  })

  it('refuses what is not a room name in watch and presence (INVALID_ARGUMENT)', async () => {
    const redis = fx.add(await startRedisServer())
    const { cluster } = await startNode(fx, redis)
    for (const room of [42, '\u0000', '\uD800', 'x'.repeat(1025)]) {
      await expect(cluster.watch(room as string)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
      await expect(cluster.presence(room as string)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
      expect(() => cluster.unwatch(room as string)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
  })
})

/**
 * A process without a heartbeat during the test (its only Redis commands are the test's) and a
 * client that joined room `r`: the texts the client hears.
 */
/** A client of `node` that joined room `r`: what it got, from its own `'in'`. */
async function memberOf(node: Node): Promise<string[]> {
  const client = createClient<Chat>({ url: `ws://127.0.0.1:${node.server.port}/` })
  client.events.on('error', () => undefined)
  fx.add(() => client.close())
  const got: string[] = []
  client.on('said', ({ text }) => got.push(text))
  client.send('say', { room: 'r', text: 'in' })
  await waitFor(() => got.includes('in'), { message: 'in the room', timeoutMs: 10_000 })
  return got
}

async function memberOfR(
  redis: Awaited<ReturnType<typeof startRedisServer>>,
): Promise<{ node: Node; got: string[] }> {
  const node = await startNode(fx, redis, { heartbeatMs: 60_000, processTtlMs: 120_000 })
  serve(node, [])
  return { node, got: await memberOf(node) }
}

describe('a cluster whose Redis refuses writes while it stays ready', () => {
  it('sends a room message refused (out of memory) again, in order, once Redis takes writes, and reports the outage once', async () => {
    const redis = fx.add(await startRedisServer())
    // No heartbeat during the test: the cluster's errors are its room sends' only.
    const { node, got } = await memberOfR(redis)
    const errors: unknown[] = []
    node.cluster.on('error', (error) => errors.push(error))

    const refused = async (): Promise<number> => {
      const info = String(await redis.command('INFO', 'stats'))
      return Number(/total_error_replies:(\d+)/.exec(info)?.[1])
    }
    const before = await refused()
    await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
    await redis.command('CONFIG', 'SET', 'maxmemory', '1')
    for (let i = 1; i <= 5; i++) node.server.to('r').send('said', { text: `oom ${i}`, from: 'x' })
    // Tried again while Redis refuses: a few refusals, reported once.
    await waitFor(async () => (await refused()) - before >= 3, {
      message: 'the send tried again',
      timeoutMs: 10_000,
    })
    expect(node.redis.status).toBe('ready')
    await redis.command('CONFIG', 'SET', 'maxmemory', '0')
    await waitFor(() => got.includes('oom 5'), {
      message: 'the refused messages sent',
      timeoutMs: 10_000,
    })
    expect(got.filter((text) => text.startsWith('oom'))).toEqual([
      'oom 1',
      'oom 2',
      'oom 3',
      'oom 4',
      'oom 5',
    ])
    expect(errors).toHaveLength(1)
    expect(String(errors[0])).toContain('OOM')
    // Without the command, whose arguments hold payloads (and, for a session, its id).
    expect(errors[0]).not.toHaveProperty('command')
  })
})

/**
 * Two processes, `a` keeping `maxPendingBytes` of room sends, and a member of room `r` on `b`
 * (its messages in `got`, from `'in'`), once Redis is stopped and `a` knows it.
 */
async function awayFromRedis(maxPendingBytes: number) {
  const redis = fx.add(await startRedisServer({ persistence: true }))
  const a = await startNode(fx, redis, { maxPendingBytes })
  const b = await startNode(fx, redis)
  serve(a, [])
  serve(b, [])
  const got = await memberOf(b)
  await redis.stop()
  await waitFor(() => a.redis.status !== 'ready', { message: 'Redis away' })
  return { redis, a, b, got }
}

describe('a cluster whose Redis is away', () => {
  it('keeps its reliable room sends within maxPendingBytes, not its unreliable ones, which go only while Redis is there', async () => {
    const { redis, a, b, got } = await awayFromRedis(2048)
    // Fire and forget, many times the buffer: neither refused nor kept to go late.
    const pad = 'p'.repeat(100)
    for (let i = 0; i < 100; i++) {
      a.server.to('r').send('said', { text: `moved ${i} ${pad}`, from: 'a' }, { reliable: false })
    }
    // Sent to nobody, its member here included, and said so.
    await waitFor(() => b.redis.status !== 'ready', { message: 'Redis away from b' })
    expect(b.server.to('r').send('said', { text: 'here', from: 'b' }, { reliable: false })).toBe(0)
    expect(b.server.broadcast('said', { text: 'all', from: 'b' }, { reliable: false })).toBe(0)
    expect(b.server.to('r').send('said', { text: 'kept too', from: 'b' })).toBe(1)
    a.server.to('r').send('said', { text: 'kept', from: 'a' })
    await redis.restart()
    await waitFor(() => got.includes('kept') && got.includes('kept too'), {
      message: 'the kept sends',
      timeoutMs: 10_000,
    })
    expect(got.slice(0, 1)).toEqual(['in'])
    expect(got.slice(1).sort()).toEqual(['kept', 'kept too'])
  })

  it('counts what each kept send holds beside its payload against maxPendingBytes', async () => {
    // Short messages cost far more than their payloads: counted by payload alone, the bound
    // held some nine times its bytes of them.
    const maxPendingBytes = 16_384
    const { redis, a, got } = await awayFromRedis(maxPendingBytes)
    let kept = 0
    let refused: unknown
    while (refused === undefined && kept < 10_000) {
      try {
        a.server.to('r').send('said', { text: String(kept), from: 'a' })
        kept++
      } catch (error) {
        refused = error
      }
    }
    expect(refused).toMatchObject({ code: 'QUEUE_FULL' })
    expect(kept).toBeGreaterThan(0)
    expect(kept).toBeLessThan(maxPendingBytes / 256)
    await redis.restart()
    await waitFor(() => got.length === kept + 1, { message: 'the kept sends', timeoutMs: 10_000 })
    expect(got).toEqual(['in', ...Array.from({ length: kept }, (_, i) => String(i))])
  })
})

describe('a cluster whose Redis goes away', () => {
  it('says so once per outage, not at each failed reconnection of its subscriber', async () => {
    const redis = fx.add(await startRedisServer({ persistence: true }))
    // No heartbeat in the window: what is counted is the subscriber's own reports.
    const node = await startNode(fx, redis, { heartbeatMs: 60_000, processTtlMs: 120_000 })
    const errors: unknown[] = []
    node.cluster.on('error', (error) => errors.push(error))
    let failedReconnections = 0
    node.redis.on('error', () => failedReconnections++)
    for (let outage = 1; outage <= 2; outage++) {
      await redis.stop()
      // The application's client retries as the subscriber does (every 50 ms): twenty of its
      // failures are some twenty of the subscriber's.
      const from = failedReconnections
      await waitFor(() => failedReconnections - from >= 20, {
        message: 'failed reconnections',
        timeoutMs: 10_000,
      })
      expect(errors).toHaveLength(outage)
      await redis.restart()
      await connected(node.redis, node.cluster)
    }
  })
})

describe('a cluster whose command connection alone is away', () => {
  it('reports the room histories and presence it cannot read once, not at each retry of each room', async () => {
    const redis = fx.add(await startRedisServer())
    // The commands go through a proxy that then refuses them; the subscriber reaches Redis.
    const proxy = fx.add(await createFaultProxy({ targetPort: redis.port }))
    const client = new Redis(proxy.port, '127.0.0.1', {
      retryStrategy: () => 50,
      maxRetriesPerRequest: 2,
    })
    client.on('error', () => undefined)
    fx.add(() => client.disconnect())
    const subscriber = redisClient(fx, redis)
    const node = await startNode(fx, redis, {
      redis: client,
      subscriber,
      heartbeatMs: 60_000,
      processTtlMs: 120_000,
    })
    serve(node, [])
    const member = createClient<Chat>({ url: `ws://127.0.0.1:${node.server.port}/` })
    fx.add(() => member.close())
    const said: string[] = []
    member.on('said', ({ text }) => said.push(text))
    const rooms = Array.from({ length: 20 }, (_, i) => `room-${i}`)
    for (const room of rooms) member.send('say', { room, text: room })
    await waitFor(() => rooms.every((room) => said.includes(room)), { message: 'in every room' })
    const errors: unknown[] = []
    node.cluster.on('error', (error) => errors.push(error))
    proxy.refuse(true)
    proxy.cut()
    await waitFor(() => client.status !== 'ready', { message: 'the command connection lost' })
    // The subscriber is back: each room's history and presence are read again, and fail.
    await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub')
    // Some forty failed reconnections: each room's read is tried again every 500 ms, failed by
    // ioredis at every second of them (maxRetriesPerRequest).
    await waitFor(() => proxy.counters.refused >= 40, {
      message: 'failed reconnections',
      timeoutMs: 10_000,
    })
    // One for the histories, one for presence: not two a second for each room.
    expect(errors).toHaveLength(2)
  })
})

describe('a cluster whose heartbeat Redis refuses while it stays ready', () => {
  it('reports it once per outage, not at every heartbeat', async () => {
    const redis = fx.add(await startRedisServer())
    // A process ttl past the refusals: nothing is reaped meanwhile.
    const node = await startNode(fx, redis, { heartbeatMs: 50, processTtlMs: 30_000 })
    const errors: unknown[] = []
    node.cluster.on('error', (error) => errors.push(error))
    const refused = async (): Promise<number> => {
      const info = String(await redis.command('INFO', 'stats'))
      return Number(/total_error_replies:(\d+)/.exec(info)?.[1])
    }
    const heartbeat = keys.process(node.cluster.processId)
    for (let outage = 1; outage <= 2; outage++) {
      const before = await refused()
      await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
      await redis.command('CONFIG', 'SET', 'maxmemory', '1')
      await waitFor(async () => (await refused()) - before >= 5, {
        message: 'heartbeats refused',
        timeoutMs: 10_000,
      })
      await redis.command('CONFIG', 'SET', 'maxmemory', '0')
      expect(errors).toHaveLength(outage)
      expect(String(errors[outage - 1])).toContain('OOM')
      // Heartbeats through (each sets its key again): the next refusal is a new outage.
      for (let beat = 0; beat < 3; beat++) {
        await redis.command('DEL', heartbeat)
        await waitFor(async () => (await redis.command('EXISTS', heartbeat)) === 1, {
          message: 'a heartbeat through',
        })
      }
    }
  })
})

describe('a session whose writes Redis refuses while it stays ready', () => {
  it('is served, its write tried again after a growing pause (not as fast as Redis answers), the outage reported once', async () => {
    const redis = fx.add(await startRedisServer())
    const node = await startNode(fx, redis, { heartbeatMs: 60_000, processTtlMs: 120_000 })
    serve(node, [])
    const errors: unknown[] = []
    node.server.on('error', (error) => errors.push(error))
    const store = node.cluster.store
    const commit = store.commit.bind(store)
    const attempts: number[] = []
    let stored = 0
    store.commit = async (...args) => {
      attempts.push(performance.now())
      const results = await commit(...args)
      stored++
      return results
    }
    const { client } = await RawClient.connect(fx, node.server.port)
    client.send({ t: 'up', d: { n: 1 }, s: 1 })
    await waitFor(() => client.reliable('down').length === 1, { message: 'the first echo' })
    await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
    await redis.command('CONFIG', 'SET', 'maxmemory', '1')
    const before = attempts.length
    client.send({ t: 'up', d: { n: 2 }, s: 2 })
    await waitFor(() => client.reliable('down').length === 2, { message: 'served meanwhile' })
    await waitFor(() => attempts.length >= before + 4, { message: 'the write tried 4 times' })
    // The pauses between them, 50, 100 then 200 ms (a timer can run a little early, never much):
    // without them the session was written as fast as Redis answered.
    const tried = attempts.slice(before, before + 4)
    const pauses = tried.slice(1).map((at, i) => at - (tried[i] as number))
    expect(pauses[0]).toBeGreaterThanOrEqual(40)
    expect(pauses[1]).toBeGreaterThanOrEqual(80)
    expect(pauses[2]).toBeGreaterThanOrEqual(160)
    expect(errors).toHaveLength(1)
    expect(String(errors[0])).toContain('OOM')
    await redis.command('CONFIG', 'SET', 'maxmemory', '0')
    const storedBefore = stored
    await waitFor(() => stored > storedBefore, { message: 'stored', timeoutMs: 10_000 })
    expect(node.server.stats.sessions).toBe(1)
    expect(errors).toHaveLength(1)
  })
})

describe('writes to Redis', () => {
  it('sends the room messages of one event-loop iteration in one write, each once and in order', async () => {
    const redis = fx.add(await startRedisServer())
    const { node, got } = await memberOfR(redis)

    // The writes that reach the Redis connection's handle: one system call each.
    const stream = node.redis.stream
    let writes = 0
    const write = stream._write.bind(stream)
    stream._write = (chunk, encoding, callback) => {
      writes++
      write(chunk, encoding, callback)
    }
    const writev = stream._writev?.bind(stream)
    if (writev !== undefined) {
      stream._writev = (chunks, callback) => {
        writes++
        writev(chunks, callback)
      }
    }
    const count = 20
    // Half in this turn, half in a later one of the same iteration (another callback).
    for (let i = 1; i <= count / 2; i++) {
      node.server.to('r').send('said', { text: `m ${i}`, from: 'x' })
    }
    await Promise.resolve()
    for (let i = count / 2 + 1; i <= count; i++) {
      node.server.to('r').send('said', { text: `m ${i}`, from: 'x' })
    }
    expect(writes).toBe(0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(writes).toBe(1)
    await waitFor(() => got.length === count + 1, { message: 'every message', timeoutMs: 10_000 })
    expect(got.slice(1)).toEqual(Array.from({ length: count }, (_, i) => `m ${i + 1}`))
  })

  it("acknowledges a sender's message with its own room message when the reply is read after the publication", async () => {
    const redis = fx.add(await startRedisServer())
    const subscriber = redisClient(fx, redis)
    const node = await startNode(fx, redis, {
      subscriber,
      heartbeatMs: 60_000,
      processTtlMs: 120_000,
    })
    serve(node, [])
    const { client } = await RawClient.connect(fx, node.server.port, { r: 1 })
    client.send({ t: 'say', d: { room: 'r', text: 'in' }, s: 1 })
    await waitFor(() => client.received.some((frame) => frame.r !== undefined), {
      message: 'joined',
    })
    await waitFor(() => client.received.some((frame) => frame.t === '$ack'), { message: 'ack 1' })
    // And every write of the node's answered: the commit of the room's cursor, which follows the
    // first message's, may still wait for its reply, which the pause below would hold; the next
    // message's commit would wait behind it, and its `$ack` go after the room message.
    await waitFor(() => node.redis.commandQueue.length === 0, { message: 'every write answered' })

    // The write that stores the next message and publishes it: its reply and the publication
    // come on two connections. Both are held until both arrived, then read in one turn, the
    // publication first (the order the chat benchmark mostly saw).
    const replies = node.redis.stream
    const publications = subscriber.stream
    replies.pause()
    publications.pause()
    client.send({ t: 'say', d: { room: 'r', text: 'two' }, s: 2 })
    await waitFor(() => replies.readableLength > 0 && publications.readableLength > 0, {
      message: 'the reply and the publication',
    })
    const from = client.received.length
    publications.resume()
    replies.resume()
    await waitFor(() => client.received.slice(from).some((frame) => frame.r !== undefined), {
      message: 'the room message',
    })
    // The `$ack` went first, in the same write: not `ackDelayMs` later on its own.
    expect(client.received.slice(from).map((frame) => [frame.t, frame.a])).toEqual([
      ['$ack', 2],
      ['said', undefined],
    ])
  })
})

describe('room names', () => {
  it('keeps a member of __proto__, constructor and toString in its rooms when its session moves to another process', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startNode(fx, redis)
    const b = await startNode(fx, redis)
    serve(a, [])
    serve(b, [])
    const rooms = ['__proto__', 'constructor', 'toString']
    const target = { port: a.server.port }
    const client = createClient<Chat>({
      url: () => `ws://127.0.0.1:${target.port}/`,
      socket: { initialDelayMs: 10, maxDelayMs: 50 },
    })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
    const got: string[] = []
    client.on('said', ({ text }) => got.push(text))
    for (const room of rooms) client.send('say', { room, text: `in ${room}` })
    await waitFor(() => got.includes('in toString'), { message: 'joined', timeoutMs: 10_000 })
    // `a` closes: the session is restored on `b` from Redis.
    target.port = b.server.port
    await a.server.close()
    await waitFor(() => b.server.stats.sessionsResumed === 1, {
      message: 'resumed on b',
      timeoutMs: 10_000,
    })
    for (const room of rooms) b.server.to(room).send('said', { text: `to ${room}`, from: 'b' })
    await waitFor(() => rooms.every((room) => got.includes(`to ${room}`)), {
      message: () => `every room's message (got ${got.join(', ')})`,
      timeoutMs: 10_000,
    })
    expect([...(b.server.peers.values().next().value?.rooms ?? [])].sort()).toEqual(
      [...rooms].sort(),
    )
  })

  it('refuses a room name with a lone surrogate, which Redis would name as another room', async () => {
    const redis = fx.add(await startRedisServer())
    const node = await startNode(fx, redis)
    const joined: unknown[] = []
    node.server.on('connection', (peer) => {
      for (const room of ['\uD800', 'a\uDC00', '\uDBFFb']) {
        try {
          peer.join(room)
          joined.push(room)
        } catch (error) {
          joined.push((error as { code?: string }).code)
        }
      }
      // A pair is one character: a room like any other.
      peer.join('\uD83D\uDE00')
    })
    await RawClient.connect(fx, node.server.port)
    await waitFor(() => joined.length === 3, { message: 'the joins tried' })
    // Each would have been the room '\uFFFD' in Redis (its keys and channel in UTF-8): one
    // presence and history for all, and no live message for their members.
    expect(joined).toEqual(['INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT'])
    expect(() => node.server.to('\uDFFF')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    await waitFor(async () => (await node.cluster.presence('\uD83D\uDE00')).length === 1, {
      message: 'present in the room of a pair',
    })
    expect(await node.cluster.presence('\uFFFD')).toEqual([])
  })
})

describe('room messages a codec refuses', () => {
  it('throws ENCODE_FAILED to the caller of a room send or broadcast, as a single process does', async () => {
    const redis = fx.add(await startRedisServer())
    const node = await startNode(fx, redis)
    const errors: unknown[] = []
    node.cluster.on('error', (error) => errors.push(error))
    node.server.on('connection', (peer) => peer.join('x'))
    const { client } = await RawClient.connect(fx, node.server.port)
    await waitFor(async () => (await node.cluster.presence('x')).length === 1, {
      message: 'joined',
    })
    // A key the JSON codec refuses (as its peers would).
    const refused = { text: 'no', from: { constructor: 1 } as unknown as string }
    const code = expect.objectContaining({ code: 'ENCODE_FAILED' }) as unknown
    expect(() => node.server.to('x').send('said', refused)).toThrow(code)
    expect(() => node.server.broadcast('said', refused)).toThrow(code)
    expect(() => node.server.to('x').send('said', refused, { reliable: false })).toThrow(code)
    node.server.to('x').send('said', { text: 'yes', from: 'a' })
    await waitFor(() => client.reliable('said').length === 1, { message: 'the next message' })
    expect(client.reliable('said')).toEqual([{ t: 'said', d: { text: 'yes', from: 'a' }, s: 1 }])
    expect(errors).toEqual([])
  })

  it("refuses a room send to no room or to the broadcast's name, which would reach every session", async () => {
    const redis = fx.add(await startRedisServer())
    const node = await startNode(fx, redis)
    node.server.on('connection', (peer) => peer.join('x'))
    const { client } = await RawClient.connect(fx, node.server.port)
    await waitFor(async () => (await node.cluster.presence('x')).length === 1, {
      message: 'joined',
    })
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown
    // A room id the application did not have yet, and the name a cluster gives the broadcast.
    for (const room of [undefined, '\u0000']) {
      expect(() =>
        node.server.to(room as string).send('said', { text: 'not a room', from: 'a' }),
      ).toThrow(invalid)
    }
    expect(() => node.server.to('y'.repeat(1025)).send('said', { text: 'no', from: 'a' })).toThrow(
      invalid,
    )
    node.server.to('x').send('said', { text: 'x', from: 'a' })
    await waitFor(() => client.reliable('said').length > 0, { message: 'the room message' })
    expect(client.reliable('said').map((frame) => frame.d)).toEqual([{ text: 'x', from: 'a' }])
  })

  it("skips a member whose codec refuses another process's room message, reports it with the member, and delivers the next", async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startNode(fx, redis)
    // Nests less deep than `a`'s codec: what `a` checked, `b` cannot encode.
    const b = await startNode(fx, redis, {}, { codecs: [json({ maxDepth: 4 })] })
    const clusterErrors: unknown[] = []
    b.cluster.on('error', (error) => clusterErrors.push(error))
    const serverErrors: { error: unknown; peer: string | undefined }[] = []
    b.server.on('error', (error, peer) => serverErrors.push({ error, peer: peer?.id }))
    let member: string | undefined
    b.server.on('connection', (peer) => {
      member = peer.id
      peer.join('x')
    })
    // Without `r`: room messages go through the session's own numbering.
    const { client } = await RawClient.connect(fx, b.server.port)
    await waitFor(async () => (await a.cluster.presence('x')).length === 1, { message: 'joined' })
    const deep = { text: 'deep', from: [[[['x']]]] as unknown as string }
    a.server.to('x').send('said', deep)
    a.server.to('x').send('said', { text: 'next', from: 'a' })
    await waitFor(() => client.reliable('said').length === 1, { message: 'the next message' })
    expect(client.reliable('said')).toEqual([{ t: 'said', d: { text: 'next', from: 'a' }, s: 1 }])
    expect(serverErrors).toEqual([
      { error: expect.objectContaining({ code: 'ENCODE_FAILED' }) as unknown, peer: member },
    ])
    expect(clusterErrors).toEqual([])
  })
})

describe('a room send with an id', () => {
  it('reaches every member again once its id is past dedupeTtlMs, as Redis stores it again', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startNode(fx, redis, { dedupeTtlMs: 200 })
    const b = await startNode(fx, redis, { dedupeTtlMs: 200 })
    serve(a, [])
    serve(b, [])
    const got = await memberOf(a)
    b.server.to('r').send('said', { text: 'first', from: 'b' }, { id: 'x' })
    // Within dedupeTtlMs the id names the same send: stored once, delivered once.
    b.server.to('r').send('said', { text: 'copy', from: 'b' }, { id: 'x' })
    await waitFor(() => got.includes('first'), { message: 'the first' })
    await waitFor(async () => (await b.redis.exists(keys.sent('r', 'x'))) === 0, {
      message: 'the id forgotten',
    })
    // Past it, a new send: in the history for any member that catches up, and live here too.
    b.server.to('r').send('said', { text: 'second', from: 'b' }, { id: 'x' })
    b.server.to('r').send('said', { text: 'third', from: 'b' })
    await waitFor(() => got.includes('third'), { message: 'the third' })
    const history = await b.redis.xrange(keys.history('r'), '-', '+')
    expect(history).toHaveLength(4)
    expect(got).toEqual(['in', 'first', 'second', 'third'])
  })

  it('refuses an id that is no string with INVALID_ARGUMENT, before anything is written', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startNode(fx, redis)
    serve(a, [])
    const errors: unknown[] = []
    a.server.on('error', (error) => errors.push(error))
    a.cluster.on('error', (error) => errors.push(error))
    const got = await memberOf(a)
    // An object (a handler's whole `info` for its `info.id`) threw Node's RangeError half way
    // into the batch of room sends, whose write Redis then refused as a whole; a number was
    // taken as its text, a Symbol threw a TypeError.
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown
    for (const id of [{ id: 'x' }, 5, Symbol('x')] as unknown[]) {
      expect(() =>
        a.server.to('r').send('said', { text: 'refused', from: 'a' }, { id: id as string }),
      ).toThrow(invalid)
      expect(() =>
        a.server.broadcast('said', { text: 'refused', from: 'a' }, { id: id as string }),
      ).toThrow(invalid)
    }
    a.server.to('r').send('said', { text: 'next', from: 'a' }, { id: 'next' })
    await waitFor(() => got.includes('next'), { message: 'the next' })
    expect(got).toEqual(['in', 'next'])
    expect(errors).toEqual([])
  })
})

describe('a server that closes while Redis is away', () => {
  /**
   * Processes `a` (closing in `closeTimeoutMs`) and `b` on a Redis kept on disk, a client of `a`
   * whose next connection, once let through, goes to `b`, and the echoes it got of `up` 1 to
   * 3: 1 stored (and acknowledged), 2 and 3 served while Redis is away, which only `a`'s close
   * can store.
   */
  async function closingAway(closeTimeoutMs: number) {
    const redis = fx.add(await startRedisServer({ persistence: true }))
    const a = await startNode(fx, redis, {}, { closeTimeoutMs })
    const b = await startNode(fx, redis)
    const seen: { peer: string; n: number; id: string | undefined }[] = []
    serve(a, seen)
    serve(b, seen)
    const errors: unknown[] = []
    a.server.on('error', (error) => errors.push(error))
    let target = a.server.port
    let letThrough: () => void = () => undefined
    let through: Promise<void> = Promise.resolve()
    const client = createClient<Chat>({
      url: async () => {
        await through
        return `ws://127.0.0.1:${target}/`
      },
      socket: { initialDelayMs: 10, maxDelayMs: 50 },
    })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
    let resets = 0
    client.events.on('reset', () => resets++)
    const down: number[] = []
    client.on('down', ({ n }) => down.push(n))
    client.send('up', { n: 1 })
    await waitFor(() => down.includes(1), { message: 'the first echo', timeoutMs: 10_000 })
    // Its acknowledgement stored too (the echo no longer kept), so that `a` has no write on its
    // way when Redis stops: one that Redis leaves unanswered as it stops fails once ioredis gives
    // it up (`maxRetriesPerRequest`), and `a` reports that failure as the outage's (`'error'`).
    // The client acknowledges 20 ms after the echo, which on a loaded machine was that late.
    const session = keys.session(String(client.state.status === 'open' && client.state.sessionId))
    await waitFor(async () => (await b.redis.hget(session, 'f')) === '2', {
      message: 'the first echo acknowledged in Redis',
      timeoutMs: 10_000,
    })
    await redis.stop()
    await waitFor(() => a.redis.status !== 'ready', { message: 'Redis away from a' })
    client.send('up', { n: 2 })
    client.send('up', { n: 3 })
    await waitFor(() => down.includes(3), { message: 'served while away', timeoutMs: 10_000 })
    through = new Promise<void>((resolve) => (letThrough = resolve))
    target = b.server.port
    return { redis, a, b, seen, errors, client, down, resets: () => resets, letThrough }
  }

  it("stores its sessions' last changes once Redis is back within closeTimeoutMs: a client resumes elsewhere without a reset", async () => {
    const { redis, a, b, seen, errors, client, down, resets, letThrough } =
      await closingAway(10_000)
    let closed = false
    const closing = a.server.close().then(() => {
      closed = true
    })
    await waitFor(() => client.state.status !== 'open', { message: 'the client sent away' })
    // Still waiting for the store: a close that settled here had dropped what it did not store.
    expect(closed).toBe(false)
    await redis.restart()
    await closing
    await connected(b.redis, b.cluster)
    letThrough()
    client.send('up', { n: 4 })
    await waitFor(() => down.includes(4), { message: 'served by b', timeoutMs: 10_000 })
    expect(resets()).toBe(0)
    expect(b.server.stats.sessionsResumed).toBe(1)
    expect(seen.map((each) => each.n)).toEqual([1, 2, 3, 4])
    expect(down).toEqual([1, 2, 3, 4])
    expect(errors).toEqual([])
  }, 30_000)

  it('settles within closeTimeoutMs a step when Redis stays away, and reports what it did not store', async () => {
    const closeTimeoutMs = 500
    const { a, errors } = await closingAway(closeTimeoutMs)
    const started = performance.now()
    await a.server.close()
    const took = performance.now() - started
    // It waited for Redis (the step of the sessions' writes), and no longer.
    expect(took).toBeGreaterThanOrEqual(closeTimeoutMs - 20)
    expect(took).toBeLessThan(4 * closeTimeoutMs + 500)
    expect(errors).toContainEqual(expect.objectContaining({ code: 'STORE_UNAVAILABLE' }))
  }, 30_000)
})
