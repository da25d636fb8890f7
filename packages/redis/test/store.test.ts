import { json } from '@lifeline/codec'
import { createFaultProxy, startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import type { SessionRecord } from '@lifeline/server'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { createKeys } from '../src/keys.js'
import { packr } from '../src/packing.js'
import { RedisSessionStore } from '../src/store.js'

const fx = useFixtures(afterEach)

async function redisPair() {
  const server = await startRedisServer()
  fx.add(server)
  const open = async (): Promise<Redis> => {
    const redis = new Redis(server.url, { lazyConnect: true })
    fx.add(() => redis.disconnect())
    await redis.connect()
    return redis
  }
  return { server, a: await open(), b: await open() }
}

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: 'sid-1',
    peerId: 'peer-1',
    lastClientSeq: 3,
    lastServerSeq: 2,
    replay: [
      { t: 'x', d: { n: 1 }, s: 1 },
      { t: 'y', d: new Uint8Array([1, 2, 3]), s: 2 },
    ],
    lossy: false,
    rooms: ['lobby'],
    roomCursors: { lobby: '5-0' },
    expiresAt: Infinity,
    ...overrides,
  }
}

const liveKeys = createKeys('t:')

/** A live process: its heartbeat, its channel, and handoffs it answers once `release`d. */
async function live(redis: Redis, id: string, handoffTimeoutMs?: number) {
  const store = new RedisSessionStore(redis, liveKeys, id, handoffTimeoutMs)
  await redis.set(liveKeys.process(id), '1', 'PX', 60_000)
  const subscriber = redis.duplicate()
  fx.add(() => subscriber.disconnect())
  subscriber.on('message', (_channel: string, message: string) => store.revoke(message))
  await subscriber.subscribe(liveKeys.revokeChannel(id))
  let release: () => void = () => undefined
  const released = new Promise<void>((resolve) => (release = resolve))
  const asked: string[] = []
  store.onHandoff(async (session) => {
    asked.push(session)
    await released
  })
  return { store, asked, release }
}

describe('RedisSessionStore', () => {
  it('stores a session as it changes and gives it whole to a claim', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    const one = new RedisSessionStore(a, keys, 'one')
    const two = new RedisSessionStore(b, keys, 'two')
    const epoch = await one.create(record(), 60_000)
    expect(
      await one.commit([
        {
          id: 'sid-1',
          epoch,
          change: {
            lastClientSeq: 7,
            // 2 again (a commit resent after a lost reply): kept once.
            sent: [
              { t: 'y', d: new Uint8Array([1, 2, 3]), s: 2 },
              { t: 'z', s: 3 },
              { t: 'w', d: 'four', s: 4 },
            ],
            acknowledged: 1,
            lossy: false,
            rooms: { lobby: '9-0', other: '' },
          },
        },
      ]),
    ).toEqual(['ok'])
    const claimed = await two.claim('sid-1', 60_000)
    expect(claimed?.previousEpoch).toBe(epoch)
    expect(claimed?.epoch).toBe(epoch + 1)
    expect(claimed?.record).toMatchObject({
      peerId: 'peer-1',
      lastClientSeq: 7,
      lastServerSeq: 4,
      replay: [
        // Binary data comes back as binary (a Uint8Array).
        { t: 'y', d: expect.any(Uint8Array), s: 2 },
        { t: 'z', s: 3 },
        { t: 'w', d: 'four', s: 4 },
      ],
      rooms: ['lobby', 'other'],
      roomCursors: { lobby: '9-0', other: '' },
    })
    expect([...(claimed?.record.replay[0]?.d as Uint8Array)]).toEqual([1, 2, 3])
    expect(await two.claim('nope', 60_000)).toBeUndefined()
  })

  it('gives binary data back as a Uint8Array, which a JSON client gets as it did before the move', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    const one = new RedisSessionStore(a, keys, 'one')
    const two = new RedisSessionStore(b, keys, 'two')
    const data = { blob: new Uint8Array([1, 2, 3]) }
    const history = keys.history('lobby')
    const id = String(
      await a.xadd(history, '*', 'p', '', 'm', packr.pack(['u1', 'said', data, null])),
    )
    const replay = [
      { t: 'direct', d: data, s: 1 },
      { t: 'said', d: data, s: 2, ref: ['lobby', id] as const },
    ]
    await one.create(record({ replay, lastServerSeq: 2, lastClientSeq: 0 }), 60_000)
    const claimed = await two.claim('sid-1', 60_000)
    const codec = json()
    // A Buffer would be JSON's { type: 'Buffer', data: [...] }, not what the client got first.
    expect(claimed?.record.replay.map((envelope) => codec.encode(envelope.d))).toEqual([
      codec.encode(data),
      codec.encode(data),
    ])
  })

  it('stores each kept message of a created session under its own seq, a gap too', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    const one = new RedisSessionStore(a, keys, 'one')
    const two = new RedisSessionStore(b, keys, 'two')
    // A lossy session's replay (a room message it kept was trimmed from the room's history),
    // stored again whole once Redis lost it.
    const replay = [
      { t: 'x', d: 1, s: 1 },
      { t: 'z', d: 3, s: 3 },
    ]
    await one.create(record({ replay, lastServerSeq: 3, lossy: true }), 60_000)
    const claimed = await two.claim('sid-1', 60_000)
    expect(claimed?.record.replay).toEqual(replay)
  })

  it('keeps any room name: __proto__, constructor, toString', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    const one = new RedisSessionStore(a, keys, 'one')
    const two = new RedisSessionStore(b, keys, 'two')
    const cursors = (entries: [string, string][]): Record<string, string> =>
      Object.assign(Object.create(null) as Record<string, string>, Object.fromEntries(entries))
    const epoch = await one.create(
      record({ rooms: ['__proto__', 'lobby'], roomCursors: cursors([['__proto__', '1-0']]) }),
      60_000,
    )
    expect((await two.claim('sid-1', 60_000))?.record).toMatchObject({
      rooms: ['__proto__', 'lobby'],
    })
    const rooms = cursors([
      ['__proto__', '2-0'],
      ['constructor', '3-0'],
      ['toString', ''],
    ])
    // A message of the room `__proto__` kept as a reference to its history.
    const id = String(
      await a.xadd(
        keys.history('__proto__'),
        '*',
        'p',
        '',
        'm',
        packr.pack(['u1', 'said', 1, null]),
      ),
    )
    const sent = [{ t: 'said', d: 1, s: 3, ref: ['__proto__', id] as const }]
    const change = { lastClientSeq: 3, sent, acknowledged: 2, lossy: false, rooms }
    expect(await two.commit([{ id: 'sid-1', epoch: epoch + 1, change }])).toEqual(['ok'])
    // Stored as pairs, which no msgpack decoder renames.
    const stored = packr.unpack((await a.hgetBuffer(keys.session('sid-1'), 'r')) as Buffer)
    expect(stored).toEqual(Object.entries(rooms))
    const claimed = (await one.claim('sid-1', 60_000))?.record
    expect(claimed?.rooms).toEqual(['__proto__', 'constructor', 'toString'])
    expect(Object.entries(claimed?.roomCursors ?? {})).toEqual(Object.entries(rooms))
    expect(claimed?.replay).toEqual([{ t: 'said', d: 1, s: 3 }])
    expect(claimed?.lossy).toBe(false)
  })

  it('fences: two processes race for one session, the loser is refused and told to let go', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    const one = new RedisSessionStore(a, keys, 'one')
    const two = new RedisSessionStore(b, keys, 'two')
    const subscriber = a.duplicate()
    fx.add(() => subscriber.disconnect())
    const revoked: string[] = []
    one.onRevoked((id, epoch) => revoked.push(`${id} ${epoch}`))
    subscriber.on('message', (_channel: string, message: string) => one.revoke(message))
    await subscriber.subscribe(keys.revokeChannel('one'))

    const first = await one.create(record(), 60_000)
    // Both claim at once: Redis orders them; each gets its own token, one after the other.
    const [x, y] = await Promise.all([one.claim('sid-1', 60_000), two.claim('sid-1', 60_000)])
    const tokens = [x?.epoch, y?.epoch].sort()
    expect(tokens).toEqual([first + 1, first + 2])
    const winner = x?.epoch === first + 2 ? one : two
    const loser = winner === one ? two : one
    const change = { lastClientSeq: 9, sent: [], acknowledged: 0, lossy: false }
    const loserEpoch = winner === one ? (y?.epoch as number) : (x?.epoch as number)
    const winnerEpoch = first + 2
    expect(await loser.commit([{ id: 'sid-1', epoch: loserEpoch, change }])).toEqual(['fenced'])
    expect(await loser.commit([{ id: 'sid-1', epoch: first, change }])).toEqual(['fenced'])
    expect(await winner.commit([{ id: 'sid-1', epoch: winnerEpoch, change }])).toEqual(['ok'])
    // A release with a stale token leaves the session alone.
    await loser.release('sid-1', loserEpoch)
    expect((await winner.claim('sid-1', 60_000))?.record.lastClientSeq).toBe(9)
    // `one` created it, so `two`'s claim told `one` to let go, with the token of that claim.
    await waitFor(() => revoked.length > 0, { message: 'revocation' })
    expect(revoked[0]).toMatch(/^sid-1 \d+$/)
    // A session the store lost answers 'missing'; a create of one that exists is refused.
    expect(await one.commit([{ id: 'gone', epoch: 1, change }])).toEqual(['missing'])
    await expect(one.create(record(), 60_000)).rejects.toMatchObject({ code: 'SESSION_FENCED' })
  })

  it('fences a stale owner whose session another process took and released: it is not stored again', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    const one = new RedisSessionStore(a, keys, 'one')
    const two = new RedisSessionStore(b, keys, 'two')
    const first = await one.create(record(), 60_000)
    // `two` takes the session (`one` misses its revoke), then the session ends there.
    const claimed = await two.claim('sid-1', 60_000)
    await two.release('sid-1', claimed?.epoch as number)
    expect(await a.exists(keys.session('sid-1'))).toBe(0)
    // `one`, stale, writes with its old token: fenced, not 'missing' (which stores it again
    // whole, with `one`'s stale state, for any process to resume by its id).
    const change = { lastClientSeq: 9, sent: [], acknowledged: 0, lossy: false }
    expect(await one.commit([{ id: 'sid-1', epoch: first, change }])).toEqual(['fenced'])
    expect(await a.exists(keys.session('sid-1'))).toBe(0)
    expect(await two.claim('sid-1', 60_000)).toBeUndefined()
    // A session created again under that id afterwards is written as any other.
    const again = await two.create(record(), 60_000)
    expect(await two.commit([{ id: 'sid-1', epoch: again, change }])).toEqual(['ok'])
  })

  it('takes a session only from the owner that answered: one that claimed it meanwhile is asked in turn', async () => {
    const { server, a, b } = await redisPair()
    const c = new Redis(server.url)
    fx.add(() => c.disconnect())
    const one = await live(a, 'one')
    const two = await live(b, 'two')
    // Gives up on an owner at once: takes the session while `two` waits for `one`.
    const three = await live(c, 'three', 1)
    const first = await one.store.create(record(), 60_000)
    const claim = two.store.claim('sid-1', 60_000)
    await waitFor(() => one.asked.length > 0, { message: 'one asked' })
    const taken = await three.store.claim('sid-1', 60_000)
    expect(taken?.previousEpoch).toBe(first)
    // `one` answers `two`, late: `three` holds the session now, and is asked before it is taken.
    one.release()
    await waitFor(() => three.asked.length > 0, { message: 'three asked' })
    let done = false
    void claim.then(() => (done = true))
    expect(done).toBe(false)
    three.release()
    const claimed = await claim
    expect(claimed?.previousEpoch).toBe(taken?.epoch)
    expect(claimed?.epoch).toBe((taken?.epoch as number) + 1)
  })

  it('gives each owner that takes the session during a claim the whole wait for its handoff', async () => {
    const { server, a, b } = await redisPair()
    const c = new Redis(server.url)
    fx.add(() => c.disconnect())
    const one = await live(a, 'one')
    const two = await live(b, 'two', 1_000)
    const three = await live(c, 'three', 1)
    await one.store.create(record(), 60_000)
    // Neither `one` nor `three` answers: `two` waits a second for each, from when it asked it.
    const claim = two.store.claim('sid-1', 60_000)
    await waitFor(() => one.asked.length > 0, { message: 'one asked' })
    await new Promise((resolve) => setTimeout(resolve, 600))
    const taken = await three.store.claim('sid-1', 60_000)
    const takenAt = performance.now()
    const claimed = await claim
    expect(claimed?.previousEpoch).toBe(taken?.epoch)
    expect(three.asked.length).toBeGreaterThan(0)
    // Not at the end of `one`'s second, 400 ms after `three` took it.
    expect(performance.now() - takenAt).toBeGreaterThan(900)
  })

  it('commits many sessions in one write, each fenced on its own', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    const one = new RedisSessionStore(a, keys, 'one')
    const two = new RedisSessionStore(b, keys, 'two')
    const epochs = await Promise.all(
      ['s1', 's2', 's3'].map((id) =>
        one.create(record({ id, replay: [], lastServerSeq: 0 }), 60_000),
      ),
    )
    // Another process takes s2: only s2's change is refused.
    await two.claim('s2', 60_000)
    const change = (n: number) => ({
      lastClientSeq: 10 + n,
      sent: [{ t: 'x', d: n, s: 1 }],
      acknowledged: 0,
      lossy: false,
    })
    const before = await scriptCount(a)
    expect(
      await one.commit(
        ['s1', 's2', 's3'].map((id, i) => ({
          id,
          epoch: epochs[i] as number,
          change: change(i + 1),
        })),
      ),
    ).toEqual(['ok', 'fenced', 'ok'])
    // One script for the three (the store's write count is what scales with traffic).
    expect((await scriptCount(a)) - before).toBe(1)
    const claimed = await Promise.all(['s1', 's2', 's3'].map((id) => two.claim(id, 60_000)))
    expect(claimed.map((each) => each?.record.lastClientSeq)).toEqual([11, 3, 13])
    expect(claimed.map((each) => each?.record.replay)).toEqual([
      [{ t: 'x', d: 1, s: 1 }],
      [],
      [{ t: 'x', d: 3, s: 1 }],
    ])
  })

  it('stores a message msgpack cannot hold as a JSON client got it, and the other sessions of the write', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    const one = new RedisSessionStore(a, keys, 'one')
    const two = new RedisSessionStore(b, keys, 'two')
    const epochs = await Promise.all(
      ['s1', 's2'].map((id) => one.create(record({ id, replay: [], lastServerSeq: 0 }), 60_000)),
    )
    // The JSON codec leaves a symbol-valued property out; msgpackr throws on it.
    const data = { n: 2, tag: Symbol('tag') }
    const change = (d: unknown) => ({
      lastClientSeq: 1,
      sent: [{ t: 'x', d, s: 1 }],
      acknowledged: 0,
      lossy: false,
    })
    expect(
      await one.commit([
        { id: 's1', epoch: epochs[0] as number, change: change(1) },
        { id: 's2', epoch: epochs[1] as number, change: change(data) },
      ]),
    ).toEqual(['ok', 'ok'])
    const claimed = await Promise.all(['s1', 's2'].map((id) => two.claim(id, 60_000)))
    expect(claimed.map((each) => each?.record.replay)).toEqual([
      [{ t: 'x', d: 1, s: 1 }],
      [{ t: 'x', d: JSON.parse(json().encode(data)), s: 1 }],
    ])
  })

  it('stores a message outside msgpack (Map, Float32Array, Error) as a JSON client got it', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    const one = new RedisSessionStore(a, keys, 'one')
    const two = new RedisSessionStore(b, keys, 'two')
    // Only a JSON session keeps such data (the msgpack codec refuses it when sent); packr takes
    // it without a throw and changes it: a Map to its entries, a Float32Array to its bytes and
    // stale ones of its buffer.
    const data = {
      tags: new Map([['k', 1]]),
      samples: new Float32Array([1.5, 2.5]),
      failure: new Error('e'),
    }
    const replay = [{ t: 'x', d: data, s: 1 }]
    await one.create(record({ replay, lastServerSeq: 1, lastClientSeq: 0 }), 60_000)
    const claimed = await two.claim('sid-1', 60_000)
    expect(claimed?.record.replay).toEqual([{ t: 'x', d: JSON.parse(json().encode(data)), s: 1 }])
  })

  it('keeps a room message as a reference to the room history, and reads it back on a claim', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    const one = new RedisSessionStore(a, keys, 'one')
    const two = new RedisSessionStore(b, keys, 'two')
    const history = keys.history('lobby')
    const payload = (n: number) => packr.pack([`u${n}`, 'said', { n }, null])
    const ids: string[] = []
    for (let n = 1; n <= 3; n++)
      ids.push(String(await a.xadd(history, '*', 'p', '', 'm', payload(n))))
    const epoch = await one.create(record({ replay: [], lastServerSeq: 0 }), 60_000)
    const sent = [
      { t: 'said', d: { n: 1 }, s: 1, ref: ['lobby', ids[0] as string] as const },
      { t: 'direct', d: 'own', s: 2 },
      { t: 'said', d: { n: 3 }, s: 3, ref: ['lobby', ids[2] as string] as const },
    ]
    await one.commit([
      { id: 'sid-1', epoch, change: { lastClientSeq: 0, sent, acknowledged: 0, lossy: false } },
    ])
    // The payload is not copied into the session: only the room and the id are.
    const stored = await a.hget(keys.session('sid-1'), '1')
    expect(stored).toBe(`R${ids[0]} lobby`)
    const claimed = await two.claim('sid-1', 60_000)
    expect(claimed?.record.lossy).toBe(false)
    expect(claimed?.record.replay).toEqual([
      { t: 'said', d: { n: 1 }, s: 1 },
      { t: 'direct', d: 'own', s: 2 },
      { t: 'said', d: { n: 3 }, s: 3 },
    ])
    // Trimmed from the history: the session cannot be resumed exactly any more.
    await a.xdel(history, ids[0] as string)
    expect((await one.claim('sid-1', 60_000))?.record.lossy).toBe(true)
  })

  it('looks again, while Redis is refilled after it lost its data, for a session missing, within handoffTimeoutMs; not for one it holds', async () => {
    const { a, b } = await redisPair()
    const keys = createKeys('t:')
    // `one` holds sessions; `two` resumes them, waiting a second at most for a missing one.
    const one = new RedisSessionStore(a, keys, 'one', 20_000)
    const two = new RedisSessionStore(b, keys, 'two', 1_000)
    let started = performance.now()
    // Redis did not lose its data: a session missing is none, at once (not in 20 s).
    expect(await one.claim('sid-0', 60_000)).toBeUndefined()
    expect(performance.now() - started).toBeLessThan(10_000)
    // It lost its data: refilled while the processes come back.
    await a.set(keys.refilling(), '1', 'PX', 60_000)
    const claims = b as unknown as { lifelineClaimBuffer: (...args: unknown[]) => Promise<unknown> }
    const run = claims.lifelineClaimBuffer.bind(b)
    let answered = 0
    claims.lifelineClaimBuffer = (...args) => {
      const reply = run(...args)
      void reply.then(
        () => answered++,
        () => undefined,
      )
      return reply
    }
    const claimed = two.claim('sid-1', 60_000)
    await waitFor(() => answered > 0, { message: 'the session found missing' })
    // Stored again by its holder after the claim found it missing: the claim gets it.
    await one.create(record(), 60_000)
    expect((await claimed)?.record).toMatchObject({
      id: 'sid-1',
      lastClientSeq: 3,
      lastServerSeq: 2,
    })
    // A session nobody stores again is none once `two`'s second is over, not Redis' minute.
    started = performance.now()
    expect(await two.claim('sid-2', 60_000)).toBeUndefined()
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_000)
    expect(performance.now() - started).toBeLessThan(10_000)
    // One that `one` holds and found lost (its keep-alive) is stored again once claimed: its
    // claim does not wait for that, which waits for the claim.
    expect(await one.keepAlive(['sid-3'], 60_000)).toEqual(['sid-3'])
    started = performance.now()
    expect(await one.claim('sid-3', 60_000)).toBeUndefined()
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('releases a session once Redis is back when it was asked to while Redis was away', async () => {
    const server = fx.add(await startRedisServer({ persistence: true }))
    const redis = new Redis(server.url, { retryStrategy: () => 50, maxRetriesPerRequest: 2 })
    redis.on('error', () => undefined)
    fx.add(() => redis.disconnect())
    const keys = createKeys('t:')
    const store = new RedisSessionStore(redis, keys, 'one')
    await waitFor(() => redis.status === 'ready', { message: 'connected' })
    const kept = await store.create(record(), 60_000)
    const gone = await store.create(record({ id: 'sid-2' }), 60_000)
    await server.stop()
    await waitFor(() => redis.status !== 'ready', { message: 'Redis away' })
    await store.release('sid-1', kept)
    // Asked twice (the server does not), and for a token another process took since: once, by it.
    await store.release('sid-2', gone + 1)
    await store.release('sid-2', gone)
    await server.restart()
    await waitFor(
      async () =>
        redis.status === 'ready' &&
        (await redis.exists(keys.session('sid-1'), keys.session('sid-2'))) === 0,
      { message: 'both released', timeoutMs: 10_000 },
    )
  })
})

describe('RedisSessionStore, a release kept while Redis was away', () => {
  it('reports it when Redis refuses it once back (a replica now), and the session stays', async () => {
    const server = fx.add(await startRedisServer())
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    const admin = new Redis(server.url)
    fx.add(() => admin.disconnect())
    const redis = new Redis(proxy.port, '127.0.0.1', {
      retryStrategy: () => 50,
      maxRetriesPerRequest: 2,
    })
    redis.on('error', () => undefined)
    fx.add(() => redis.disconnect())
    const keys = createKeys('t:')
    const reports: Array<{ message: string; error: unknown }> = []
    const store = new RedisSessionStore(
      redis,
      keys,
      'one',
      undefined,
      undefined,
      (message, error) => reports.push({ message, error }),
    )
    await waitFor(() => redis.status === 'ready', { message: 'connected' })
    const epoch = await store.create(record(), 60_000)
    // This process loses Redis; Redis itself stays up.
    proxy.refuse(true)
    proxy.cut()
    await waitFor(() => redis.status !== 'ready', { message: 'Redis away' })
    await store.release('sid-1', epoch)
    expect(reports).toEqual([])
    // Meanwhile Redis became a replica (of a master that does not answer): it refuses writes.
    await admin.replicaof('127.0.0.1', 1)
    fx.add(() => admin.replicaof('NO', 'ONE'))
    proxy.refuse(false)
    await waitFor(() => reports.length > 0, { message: 'the refused release reported' })
    expect(reports).toHaveLength(1)
    expect(reports[0]?.message).toMatch(/could not be released once it was back/)
    expect(String(reports[0]?.error)).toMatch(/READONLY/)
    expect(await admin.exists(keys.session('sid-1'))).toBe(1)
  })
})

/** How many scripts Redis ran (`INFO commandstats`: `EVALSHA`, and `EVAL` after a NOSCRIPT). */
async function scriptCount(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats')
  const calls = (command: string) =>
    Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0)
  return calls('evalsha') + calls('eval')
}
