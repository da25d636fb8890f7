import type { Client } from '@lifeline/core'
import type { Peer } from '@lifeline/server'
import { setTimeout as delay } from 'node:timers/promises'
import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import type { FaultProxy, RedisServerFixture } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import {
  connected,
  movingClient,
  startNode,
  RawClient,
  startProxiedNode,
  type Chat,
  type Node,
} from './harness.js'

const fx = useFixtures(afterEach)

/** How long a resume may take to be answered while Redis does not answer: well under 10 s. */
const answeredWithinMs = 3_000

/** Every node echoes `up` as `down`; `seen` gets what the handlers processed, per peer. */
function serve(node: Node, seen: { peer: string; n: number }[]): void {
  node.server.on('connection', (peer: Peer<Chat>) => {
    peer.on('up', ({ n }) => {
      seen.push({ peer: peer.id, n })
      peer.send('down', { n })
    })
  })
}

/** Sends `up` `n` and waits for its echo. */
async function echoed(client: Client<Chat>, down: number[], n: number): Promise<void> {
  client.send('up', { n })
  await waitFor(() => down.includes(n), { message: `the echo of ${n}`, timeoutMs: 10_000 })
}

/** When `client` first closed with `code`, from now on. */
function closedWith(client: Client<Chat>, code: number): { at: number | undefined } {
  const closed: { at: number | undefined } = { at: undefined }
  client.events.on('statechange', (state) => {
    if (state.status === 'reconnecting' && state.closeCode === code) closed.at ??= Date.now()
  })
  return closed
}

/** `proxy`'s node gets no answer from Redis any more, its connections up (a hung Redis). */
function hang(proxy: FaultProxy): void {
  proxy.blackhole(true)
}

/** Redis answers again: the node's client reconnects (the black-holed links are dead for good). */
async function answerAgain(proxy: FaultProxy, node: Node): Promise<void> {
  proxy.blackhole(false)
  proxy.cut()
  await connected(node.redis, node.cluster)
}

/** SIGSTOP of `redis`: every connection stays up, no command is answered. SIGCONT after. */
function stop(redis: RedisServerFixture): () => void {
  const pid = redis.pid as number
  process.kill(pid, 'SIGSTOP')
  let stopped = true
  const resume = (): void => {
    if (!stopped) return
    stopped = false
    process.kill(pid, 'SIGCONT')
  }
  fx.add(resume)
  return resume
}

/**
 * Two nodes on one Redis, each through a fault proxy (to hang its Redis alone), serving `up`;
 * `seen` gets what their handlers processed.
 */
async function twoNodes() {
  const redis = fx.add(await startRedisServer())
  const a = await startProxiedNode(fx, redis)
  const b = await startProxiedNode(fx, redis)
  const seen: { peer: string; n: number }[] = []
  serve(a, seen)
  serve(b, seen)
  return { redis, a, b, seen }
}

/** A client of `node` that got the echo of `up` 1; `target` is where it connects next. */
async function clientOf(node: Node) {
  const target = { port: node.server.port }
  const client = movingClient(fx, target)
  const down: number[] = []
  client.on('down', ({ n }) => down.push(n))
  await echoed(client, down, 1)
  return { target, client, down }
}

/**
 * Moves `client` to `to` and sends `up` 2 there: the resume is refused with 1013 (the claim
 * unanswered) within `answeredWithinMs`.
 */
async function movedAndRefused(
  client: Client<Chat>,
  target: { port: number },
  to: Node,
): Promise<void> {
  const refused = closedWith(client, 1013)
  client.close()
  await waitFor(() => client.state.status === 'closed', { message: 'closed' })
  target.port = to.server.port
  const resumedAt = Date.now()
  client.connect()
  // Waits for the resume: the message goes once the session is back.
  client.send('up', { n: 2 })
  await waitFor(() => refused.at !== undefined, {
    message: () => `the resume refused with 1013 (${JSON.stringify(client.state)})`,
    timeoutMs: 10_000,
  })
  expect((refused.at as number) - resumedAt).toBeLessThan(answeredWithinMs)
}

describe('a resume while Redis does not answer (it hangs)', () => {
  it('on a process that does not hold the session: 1013 within a bound, resumed with nothing lost once Redis answers', async () => {
    const { a, b, seen } = await twoNodes()
    const { target, client, down } = await clientOf(a)
    hang(b.proxy)
    await movedAndRefused(client, target, b)

    // A new client of `b` meanwhile is served, as the store's outage promises.
    const { client: fresh, welcome } = await RawClient.connect(fx, b.server.port)
    expect(welcome.resumed).toBe(false)
    fresh.send({ t: 'up', d: { n: 10 }, s: 1 })
    await waitFor(() => fresh.reliable('down').length === 1, {
      message: 'a new client served without Redis',
      timeoutMs: answeredWithinMs,
    })

    await answerAgain(b.proxy, b)
    await waitFor(() => down.includes(2), { message: 'resumed on b', timeoutMs: 10_000 })
    await echoed(client, down, 3)
    expect(down).toEqual([1, 2, 3])
    const mine = seen.filter((each) => each.n !== 10).map((each) => each.n)
    expect(mine).toEqual([1, 2, 3])
    expect(b.server.stats.sessionsResumed).toBe(1)
  })

  it('on the process that holds the session: served without waiting for the claim, which it makes once Redis answers', async () => {
    const { a, b, seen } = await twoNodes()
    const { target, client, down } = await clientOf(a)

    hang(a.proxy)
    client.close()
    await waitFor(() => client.state.status === 'closed', { message: 'closed' })
    const resumedAt = Date.now()
    client.connect()
    await waitFor(() => client.state.status === 'open', {
      message: () => `resumed on a (${JSON.stringify(client.state)})`,
      timeoutMs: 10_000,
    })
    expect(Date.now() - resumedAt).toBeLessThan(answeredWithinMs)
    await echoed(client, down, 2)

    // Once Redis answers, the claim is made and what was served meanwhile stored: the session
    // moves to `b` (handed over by `a`) with nothing lost or processed twice.
    await answerAgain(a.proxy, a)
    client.close()
    await waitFor(() => client.state.status === 'closed', { message: 'closed' })
    target.port = b.server.port
    client.connect()
    await echoed(client, down, 3)
    expect(down).toEqual([1, 2, 3])
    expect(seen.map((each) => each.n)).toEqual([1, 2, 3])
  })

  it('on the process that holds the session, resumed twice while its first claim is unanswered: served, then moved with nothing reset', async () => {
    const { a, b, seen } = await twoNodes()
    const { client: first, welcome } = await RawClient.connect(fx, a.server.port)
    const sid = welcome.sid
    first.send({ t: 'up', d: { n: 1 }, s: 1 })
    await waitFor(() => first.reliable('down').length === 1, { message: 'the first echo' })

    hang(a.proxy)
    await first.close()
    // A link that drops while its claim waits for Redis, and the client back at once.
    const dropped = await RawClient.open(fx, a.server.port)
    dropped.send({ t: '$hello', d: { v: 1, sid, a: 1 } })
    await dropped.close()
    const resumedAt = Date.now()
    const again = await RawClient.open(fx, a.server.port)
    again.send({ t: '$hello', d: { v: 1, sid, a: 1 } })
    expect(await again.welcome()).toMatchObject({ sid, resumed: true, a: 1 })
    expect(Date.now() - resumedAt).toBeLessThan(answeredWithinMs)
    again.send({ t: 'up', d: { n: 2 }, s: 2, a: 1 })
    await waitFor(() => again.reliable('down').length === 1, {
      message: 'served without Redis',
      timeoutMs: answeredWithinMs,
    })

    // Once Redis answers, what `a` served meanwhile is stored under the first claim's token:
    // the session moves to `b` exactly, not reset.
    await answerAgain(a.proxy, a)
    await again.close()
    const { welcome: moved } = await RawClient.connect(fx, b.server.port, { sid, a: 2 })
    expect(moved).toMatchObject({ sid, resumed: true, a: 2 })
    expect(seen.map((each) => each.n)).toEqual([1, 2])
  })

  it('on a process that does not hold the session, its client served elsewhere since: the claim, once answered, leaves the session there', async () => {
    const { a, b, seen } = await twoNodes()
    const { target, client, down } = await clientOf(a)
    // The claims `b` makes, settled or not.
    const store = b.cluster.store
    const claim = store.claim.bind(store)
    let claims = 0
    let settled = 0
    store.claim = (...args) => {
      claims++
      const claimed = claim(...args)
      const done = () => void settled++
      claimed.then(done, done)
      return claimed
    }
    hang(b.proxy)
    await movedAndRefused(client, target, b)
    // Back on `a` meanwhile, which claims the session again and serves the client.
    target.port = a.server.port
    await waitFor(() => down.includes(2), { message: 'resumed on a', timeoutMs: 10_000 })
    const moved = closedWith(client, 1012)

    // `b`'s claim reaches Redis now (resent on its new connection): its resume was refused
    // long ago, and the session has a live link on `a`.
    await answerAgain(b.proxy, b)
    expect(claims).toBeGreaterThan(0)
    await waitFor(() => settled === claims, { message: "b's claim settled", timeoutMs: 10_000 })
    // Had it taken the session, `a` closed the link (1012) before its handoff let the claim
    // settle: the echo of a message sent now comes after that close.
    await echoed(client, down, 3)
    expect(moved.at).toBeUndefined()
    expect(a.server.stats.sessionsMoved).toBe(0)
    expect(down).toEqual([1, 2, 3])
    expect(seen.map((each) => each.n)).toEqual([1, 2, 3])
  })

  it('SIGSTOP of Redis: a resume on another process is refused with 1013 within a bound, then resumed with nothing lost', async () => {
    const { redis, a, b, seen } = await twoNodes()
    const { target, client, down } = await clientOf(a)
    const resume = stop(redis)
    await movedAndRefused(client, target, b)

    resume()
    await waitFor(() => down.includes(2), { message: 'resumed on b', timeoutMs: 10_000 })
    await echoed(client, down, 3)
    expect(down).toEqual([1, 2, 3])
    expect(seen.map((each) => each.n)).toEqual([1, 2, 3])
  })
})

describe('a resume of a session another process served since, while Redis does not answer', () => {
  /**
   * The session starts on `a`, which then hears nothing from Redis (nor the handoff asked of
   * it) and holds it still; `b` takes it after its handoff wait, serves the client (`onB`), and
   * stores what it did. Returns what the handlers processed and the resets and ends told (but
   * moves).
   */
  async function servedOnBSince(onB: (client: RawClient, sid: string) => Promise<void>) {
    const redis = fx.add(await startRedisServer())
    const a = await startProxiedNode(fx, redis)
    const b = await startNode(fx, redis, { handoffTimeoutMs: 300 })
    const seen: number[] = []
    const told: string[] = []
    for (const node of [a, b]) {
      node.server.on('connection', (peer: Peer<Chat>) => {
        peer.on('up', ({ n }) => seen.push(n))
        if (node === b) peer.send('down', { n: 0 })
      })
      node.server.on('session:reset', (_peer, { reason }) => told.push(`reset ${reason}`))
      // Moved is no loss: the session goes on where its client is.
      node.server.on('session:end', (_peer, { reason }) => {
        if (reason !== 'moved') told.push(`end ${reason}`)
      })
    }
    const { client: first, welcome } = await RawClient.connect(fx, a.server.port)
    const sid = welcome.sid
    first.send({ t: 'up', d: { n: 1 }, s: 1 })
    await acknowledged(first, 1)
    hang(a.proxy)
    await first.close()
    const { client, welcome: moved } = await RawClient.connect(fx, b.server.port, { sid, a: 0 })
    expect(moved).toMatchObject({ sid, resumed: true, a: 1 })
    await onB(client, sid)
    await client.close()
    return { a, b, sid, seen, told }
  }

  async function acknowledged(client: RawClient, a: number): Promise<void> {
    await waitFor(() => client.received.some((f) => f.t === '$ack' && (f.a as number) >= a), {
      message: `the acknowledgement of ${a}`,
      timeoutMs: 10_000,
    })
  }

  /** Resumes `sid` on `node` with `hello`; the close code, or the `$welcome`. */
  async function resumeOn(node: Node, hello: object): Promise<unknown> {
    const client = await RawClient.open(fx, node.server.port)
    client.send({ t: '$hello', d: { v: 1, ...hello } })
    await waitFor(
      () => client.closeCode !== undefined || client.received.some((f) => f.t === '$welcome'),
      { message: 'an answer to the resume', timeoutMs: 10_000 },
    )
    return client.received.find((f) => f.t === '$welcome')?.d ?? client.closeCode
  }

  it('that sent the client more than the copy here: 1013, not a violation (1002) that ends the client', async () => {
    const { a, b, sid, seen, told } = await servedOnBSince(async (client) => {
      await waitFor(() => client.reliable('down').length === 1, { message: "b's message" })
    })
    expect(await resumeOn(a, { sid, a: 1, sa: 1 })).toBe(1013)
    await answerAgain(a.proxy, a)
    expect(await resumeOn(b, { sid, a: 1, sa: 1 })).toMatchObject({ sid, resumed: true, a: 1 })
    expect(seen).toEqual([1])
    expect(told).toEqual([])
  })

  it('that acknowledged more of its messages than the copy here processed: 1013, not reset', async () => {
    const { a, b, sid, seen, told } = await servedOnBSince(async (client) => {
      client.send({ t: 'up', d: { n: 2 }, s: 2, a: 0 })
      await acknowledged(client, 2)
    })
    expect(await resumeOn(a, { sid, a: 0, sa: 2 })).toBe(1013)
    await answerAgain(a.proxy, a)
    expect(await resumeOn(b, { sid, a: 1, sa: 2 })).toMatchObject({ sid, resumed: true, a: 2 })
    expect(seen).toEqual([1, 2])
    expect(told).toEqual([])
  })
})

describe('a resume of a session another process served since, while Redis is away', () => {
  it('from a client that got more than the copy here: not a violation (1002) that ends it', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startProxiedNode(fx, redis)
    const b = await startNode(fx, redis, { handoffTimeoutMs: 300 })
    b.server.on('connection', (peer: Peer<Chat>) => peer.send('down', { n: 0 }))
    const { client: first, welcome } = await RawClient.connect(fx, a.server.port)
    const sid = welcome.sid
    // `a` loses Redis: it holds the session still, and `b` takes it after its handoff wait.
    a.proxy.refuse(true)
    a.proxy.cut()
    await waitFor(() => !a.cluster.store.available(), { message: 'a away from Redis' })
    await first.close()
    const { client: onB, welcome: moved } = await RawClient.connect(fx, b.server.port, {
      sid,
      a: 0,
    })
    expect(moved).toMatchObject({ sid, resumed: true })
    await waitFor(() => onB.reliable('down').length === 1, { message: "b's message" })
    await onB.close()

    // Back on `a`, still away: the client got an envelope this copy never sent.
    const back = await RawClient.open(fx, a.server.port)
    back.send({ t: '$hello', d: { v: 1, sid, a: 1, sa: 0 } })
    await waitFor(
      () => back.closeCode !== undefined || back.received.some((f) => f.t === '$welcome'),
      { message: 'an answer to the resume', timeoutMs: 10_000 },
    )
    // As for a client acknowledged more than this copy processed: the session is reset.
    expect(back.closeCode).toBeUndefined()
    expect(back.received.find((f) => f.t === '$welcome')?.d).toMatchObject({ resumed: false })
  })
})

describe('a resume while Redis does not answer, behind a write of the session', () => {
  it('of a session this process ended (its release unanswered): refused within a bound', async () => {
    const redis = fx.add(await startRedisServer())
    const b = await startProxiedNode(fx, redis, { sessionTtlMs: 300 })
    const ended: string[] = []
    b.server.on('session:end', (_peer, { reason }) => ended.push(reason))
    const { client: first, welcome } = await RawClient.connect(fx, b.server.port)
    const sid = welcome.sid

    hang(b.proxy)
    await first.close()
    // Its time to live runs out meanwhile: ended here, its release waits for Redis.
    await waitFor(() => ended.includes('expired'), { message: 'the session expired' })
    const resumedAt = Date.now()
    const again = await RawClient.open(fx, b.server.port)
    again.send({ t: '$hello', d: { v: 1, sid, a: 0 } })
    await waitFor(
      () => again.closeCode !== undefined || again.received.some((f) => f.t === '$welcome'),
      { message: 'an answer to the resume', timeoutMs: 15_000 },
    )
    // Refused (1013) after the store's handoff wait, the bound on this process's own work on a
    // session in flight, not left to the hello timeout (10 s).
    expect(again.closeCode).toBe(1013)
    expect(Date.now() - resumedAt).toBeLessThan(8_000)
  })
})

describe('the heartbeat while Redis does not answer', () => {
  it('waits for its last beat: no heartbeat piles up in the client, nor runs in a burst after', async () => {
    const redis = fx.add(await startRedisServer())
    await startNode(fx, redis, { heartbeatMs: 20 })
    const beats = async (): Promise<number> => {
      const stats = String(await redis.command('INFO', 'commandstats'))
      return Number(/^cmdstat_multi:calls=(\d+)/m.exec(stats)?.[1] ?? 0)
    }
    const before = await beats()
    const resume = stop(redis)
    // Fifty heartbeats' time: each was a transaction (4 commands) and a script more in the
    // client's queue, for as long as Redis hung, all run at once when it answered.
    await delay(1_000)
    resume()
    await waitFor(async () => (await beats()) > before, {
      message: 'a heartbeat once Redis answers',
    })
    // The one that waited, and maybe one begun before Redis stopped or since it answered.
    expect((await beats()) - before).toBeLessThanOrEqual(3)
  })
})

describe('the heartbeat after a reconnection', () => {
  it('beats again when the beat it waited for was lost with the connection, never answered', async () => {
    // ioredis before 6.1, with `autoResendUnfulfilledCommands: false`, drops what was in flight
    // when its connection closed without settling it: the heartbeat waited for that beat for
    // good, and the live process was reaped by the others, its members' presence removed.
    const redis = fx.add(await startRedisServer())
    const node = await startNode(fx, redis, { heartbeatMs: 20 })
    const client = node.redis
    const beats = async (): Promise<number> => {
      const stats = String(await redis.command('INFO', 'commandstats'))
      return Number(/^cmdstat_multi:calls=(\d+)/m.exec(stats)?.[1] ?? 0)
    }
    const multi = client.multi.bind(client) as () => ReturnType<typeof client.multi>
    let lost = false
    Object.assign(client, {
      multi: () => {
        const transaction = multi()
        if (!lost) {
          lost = true
          const exec = transaction.exec.bind(transaction)
          Object.assign(transaction, {
            exec: () => {
              exec().catch(() => undefined)
              return new Promise(() => undefined)
            },
          })
        }
        return transaction
      },
    })
    await waitFor(() => lost, { message: 'a beat whose reply is lost' })
    client.disconnect(true)
    await connected(client, node.cluster)
    const before = await beats()
    await waitFor(async () => (await beats()) > before + 2, {
      message: 'heartbeats after the reconnection',
    })
  })
})

describe('the keep-alive of sessions while Redis does not answer', () => {
  it('waits for its last one: no keep-alive piles up in the client, nor runs in a burst after', async () => {
    const redis = fx.add(await startRedisServer())
    // A keep-alive every 50 ms (a quarter of the sessions' time to live).
    const node = await startNode(fx, redis, {}, { sessionTtlMs: 200 })
    serve(node, [])
    await clientOf(node)
    const keepAlives = async (): Promise<number> => {
      const stats = String(await redis.command('INFO', 'commandstats'))
      return Number(/^cmdstat_pexpire:calls=(\d+)/m.exec(stats)?.[1] ?? 0)
    }
    await waitFor(async () => (await keepAlives()) > 0, { message: 'a keep-alive' })
    const before = await keepAlives()
    const resume = stop(redis)
    // Twenty keep-alives' time: each was a PEXPIRE per session held in the client's queue, for
    // as long as Redis hung (an hour of it, with the defaults: 120 per session), all run at once.
    await delay(1_000)
    resume()
    await waitFor(async () => (await keepAlives()) > before, {
      message: 'a keep-alive once Redis answers',
    })
    // The one that waited, and maybe one begun before Redis stopped or since it answered.
    expect((await keepAlives()) - before).toBeLessThanOrEqual(3)
  })
})
