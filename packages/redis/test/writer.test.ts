import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import type { SessionChange, SessionRecord } from '@lifeline/server'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { createKeys } from '../src/keys.js'
import { redisClusterDefaults } from '../src/options.js'
import { packr } from '../src/packing.js'
import { withScripts } from '../src/redisClient.js'
import { RedisSessionStore } from '../src/store.js'
import { RedisWriter, type RoomSend } from '../src/writer.js'
import { createRedisCluster } from '../src/index.js'

const fx = useFixtures(afterEach)
const keys = createKeys('t:')

/** A connection to `url`, closed after the test. */
async function connect(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true })
  fx.add(() => redis.disconnect())
  await redis.connect()
  return redis
}

async function setUp() {
  const server = fx.add(await startRedisServer())
  const open = () => connect(server.url)
  const redis = await open()
  const settled: { uids: string[]; error: string | undefined }[] = []
  const writer = new RedisWriter(
    withScripts(redis),
    { ...redisClusterDefaults, prefix: keys.prefix, channels: keys.channels },
    (sends, error) =>
      settled.push({
        uids: sends.map((send) => uidOf(send)),
        error: error === undefined ? undefined : String(error),
      }),
  )
  const store = new RedisSessionStore(redis, keys, 'one', undefined, writer)
  const other = new RedisSessionStore(await open(), keys, 'two')
  const publications: string[] = []
  const subscriber = await open()
  subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) =>
    publications.push(String(message.subarray(0, 1))),
  )
  await subscriber.subscribe(keys.channel('lobby'))
  return { redis, writer, store, other, settled, publications }
}

const uidOf = (send: RoomSend): string => (packr.unpack(send.payload) as [string])[0]

function send(uid: string, room = 'lobby', id?: string): RoomSend {
  return { room, payload: packr.pack([uid, 'said', { uid }, null]), reliable: true, id }
}

function record(id: string): SessionRecord {
  return {
    id,
    peerId: `peer-${id}`,
    lastClientSeq: 0,
    lastServerSeq: 0,
    replay: [],
    lossy: false,
    rooms: [],
    roomCursors: {},
    expiresAt: Infinity,
  }
}

const change = (lastClientSeq: number): SessionChange => ({
  lastClientSeq,
  sent: [],
  acknowledged: 0,
  lossy: false,
})

/** The history of `room`: each entry's id and `prev`. */
async function history(redis: Redis, room: string): Promise<{ id: string; prev: string }[]> {
  const entries = await redis.xrange(keys.history(room), '-', '+')
  return entries.map(([id, fields]) => ({ id, prev: fields[fields.indexOf('p') + 1] as string }))
}

/** How many scripts Redis ran (`INFO commandstats`: `EVALSHA`, and `EVAL` after a NOSCRIPT). */
async function scriptCount(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats')
  const calls = (command: string) =>
    Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0)
  return calls('evalsha') + calls('eval')
}

describe('RedisWriter', () => {
  it('writes the room sends and the commits of an iteration in one script call; a fenced commit refuses its session only', async () => {
    const { redis, writer, store, other, settled, publications } = await setUp()
    const epochs = [
      await store.create(record('s1'), 60_000),
      await store.create(record('s2'), 60_000),
    ]
    // Another process takes s2: this one's commit of it is refused.
    await other.claim('s2', 60_000)

    const before = await scriptCount(redis)
    writer.send(send('u1'))
    writer.send(send('u2', 'lobby', 'once'))
    // The same idempotency id again: dropped.
    writer.send(send('u3', 'lobby', 'once'))
    writer.send({
      room: 'lobby',
      payload: packr.pack(['said', 'fleeting', null]),
      reliable: false,
      id: undefined,
    })
    expect(
      await store.commit([
        { id: 's1', epoch: epochs[0] as number, change: change(5) },
        { id: 's2', epoch: epochs[1] as number, change: change(5) },
      ]),
    ).toEqual(['ok', 'fenced'])
    expect((await scriptCount(redis)) - before).toBe(1)
    expect(settled).toEqual([{ uids: ['u1', 'u2', 'u3', 'said'], error: undefined }])

    // Each reliable send in the history once, chained by `prev`, the history given its expiry.
    const entries = await history(redis, 'lobby')
    expect(entries).toHaveLength(2)
    expect(entries.map((entry) => entry.prev)).toEqual(['0-0', entries[0]?.id])
    expect(await redis.pttl(keys.history('lobby'))).toBeGreaterThan(0)
    await waitFor(() => publications.length === 3, { message: 'the publications' })
    expect(publications).toEqual(['M', 'M', 'U'])
    const claimed = await other.claim('s1', 60_000)
    expect(claimed?.record.lastClientSeq).toBe(5)
    expect((await other.claim('s2', 60_000))?.record.lastClientSeq).toBe(0)
  })

  it('reports a send that Redis refuses with those after it, while those before it are stored and the commits of the call are not', async () => {
    const { redis, writer, store, other, settled } = await setUp()
    const epoch = await store.create(record('s1'), 60_000)
    // A key of another type where the room's history would be: its sends fail.
    await redis.set(keys.history('broken'), 'not a stream')

    writer.send(send('u1'))
    writer.send(send('u2', 'broken'))
    writer.send(send('u3'))
    // The commit acknowledges messages whose room sends may be among those refused.
    await expect(store.commit([{ id: 's1', epoch, change: change(7) }])).rejects.toThrow(
      /WRONGTYPE/,
    )
    expect(settled).toHaveLength(2)
    expect(settled[0]).toEqual({ uids: ['u1'], error: undefined })
    expect(settled[1]?.uids).toEqual(['u2', 'u3'])
    expect(settled[1]?.error).toContain('WRONGTYPE')
    expect(await history(redis, 'lobby')).toHaveLength(1)
    expect((await other.claim('s1', 60_000))?.record.lastClientSeq).toBe(0)

    // Sent again on their own (as the cluster does), what ran is counted.
    await redis.del(keys.history('broken'))
    expect(await writer.sendNow([send('u2', 'broken'), send('u3')])).toEqual({ ran: 2 })
    expect(await history(redis, 'lobby')).toHaveLength(2)
    expect(await history(redis, 'broken')).toHaveLength(1)
  })

  it('fails the commits that Redis refuses without failing the sends of the same call', async () => {
    const { redis, writer, store, settled } = await setUp()
    const epoch = await store.create(record('s1'), 60_000)
    // A key of another type where a session would be.
    await redis.set(keys.session('s2'), 'not a session')

    writer.send(send('u1'))
    await expect(
      store.commit([
        { id: 's1', epoch, change: change(3) },
        { id: 's2', epoch, change: change(3) },
      ]),
    ).rejects.toThrow(/WRONGTYPE/)
    expect(settled).toEqual([{ uids: ['u1'], error: undefined }])
    expect(await history(redis, 'lobby')).toHaveLength(1)
  })

  it('fails the sends and the commits of a call that Redis refuses whole, and stores nothing of it', async () => {
    const { redis, writer, store, other, settled } = await setUp()
    const epoch = await store.create(record('s1'), 60_000)
    await redis.config('SET', 'maxmemory-policy', 'noeviction')
    await redis.config('SET', 'maxmemory', '1')

    writer.send(send('u1'))
    await expect(store.commit([{ id: 's1', epoch, change: change(3) }])).rejects.toThrow(/OOM/)
    expect(settled).toHaveLength(1)
    expect(settled[0]?.uids).toEqual(['u1'])
    expect(settled[0]?.error).toContain('OOM')
    await redis.config('SET', 'maxmemory', '0')
    expect(await history(redis, 'lobby')).toHaveLength(0)
    expect((await other.claim('s1', 60_000))?.record.lastClientSeq).toBe(0)
  })

  it('stores a send with an idempotency id that Redis refused when it is sent again', async () => {
    const { redis, writer, settled } = await setUp()
    await redis.set(keys.history('broken'), 'not a stream')
    writer.send(send('u1', 'broken', 'once'))
    await waitFor(() => settled.length === 1, { message: 'the send refused' })
    expect(settled[0]?.error).toContain('WRONGTYPE')

    await redis.del(keys.history('broken'))
    expect(await writer.sendNow([send('u1', 'broken', 'once')])).toEqual({ ran: 1 })
    expect(await history(redis, 'broken')).toHaveLength(1)
    // Stored once: the id is marked now.
    expect(await writer.sendNow([send('u1', 'broken', 'once')])).toEqual({ ran: 1 })
    expect(await history(redis, 'broken')).toHaveLength(1)
  })

  it('sends what an iteration gathered at its end, without a commit', async () => {
    const { redis, writer, settled } = await setUp()
    writer.send(send('u1'))
    writer.send(send('u2'))
    expect(settled).toEqual([])
    await waitFor(() => settled.length === 1, { message: 'the sends settled' })
    expect(settled).toEqual([{ uids: ['u1', 'u2'], error: undefined }])
    expect(await history(redis, 'lobby')).toHaveLength(2)
  })
})

/** A cluster on its own Redis, without a server: its sends and its store, as a server uses them. */
async function setUpCluster() {
  const server = fx.add(await startRedisServer())
  const open = () => connect(server.url)
  const client = await open()
  const cluster = createRedisCluster({ redis: client, prefix: keys.prefix })
  fx.add(() => cluster.close())
  const errors: string[] = []
  cluster.on('error', (error) => errors.push(String(error)))
  const say = (room: string, n: number, id?: string) =>
    cluster.send(room, 'said', { n }, { reliable: true, except: undefined, id })
  return {
    server,
    client,
    redis: await open(),
    cluster,
    store: cluster.store,
    other: new RedisSessionStore(await open(), keys, 'two'),
    errors,
    say,
  }
}

/** The `n` of each message in `room`'s history, in order. */
async function said(redis: Redis, room: string): Promise<number[]> {
  const entries = await redis.xrangeBuffer(keys.history(room), '-', '+')
  return entries.map(([, fields]) => {
    const payload = fields[fields.map(String).indexOf('m') + 1] as Buffer
    return (packr.unpack(payload) as [string, string, { n: number }])[2].n
  })
}

describe('RedisCluster writes', () => {
  it('stores no commit while room sends wait to be sent again, and stores it once they are sent', async () => {
    const { redis, store, other, errors, say } = await setUpCluster()
    const epoch = await store.create(record('s1'), 60_000)
    await redis.set(keys.history('broken'), 'not a stream')

    say('broken', 1)
    await waitFor(() => errors.length > 0, { message: 'the send refused' })
    expect(errors[0]).toContain('WRONGTYPE')
    // A handler's message whose room send waits: not acknowledged (stored) ahead of it.
    expect(store.available()).toBe(false)
    await expect(store.commit([{ id: 's1', epoch, change: change(4) }])).rejects.toThrow()
    expect((await redis.hget(keys.session('s1'), 'c')) ?? '0').toBe('0')

    await redis.del(keys.history('broken'))
    await waitFor(() => store.available(), { message: 'the send sent again' })
    expect(await said(redis, 'broken')).toEqual([1])
    expect(await store.commit([{ id: 's1', epoch, change: change(4) }])).toEqual(['ok'])
    expect((await other.claim('s1', 60_000))?.record.lastClientSeq).toBe(4)
  })

  it('relays a message with one idempotency id to each room it is sent to, once per room', async () => {
    const { redis, say } = await setUpCluster()
    // A handler that relays one client message (its `info.id`) to two rooms and the broadcast:
    // a server without a cluster delivers each; the id only drops a second send to one room.
    say('lobby', 1, 'peer:1')
    say('inbox', 1, 'peer:1')
    say('\u0000', 1, 'peer:1')
    say('lobby', 1, 'peer:1')
    // One script call stores (or drops) the four: once the first is there, all are decided.
    await waitFor(async () => (await said(redis, 'lobby')).length > 0, { message: 'the sends' })
    expect(await said(redis, 'lobby')).toEqual([1])
    expect(await said(redis, 'inbox')).toEqual([1])
    expect(await said(redis, '\u0000')).toEqual([1])
  })

  it("keeps a sender's room order when a write fails partway while a later iteration's send waits", async () => {
    const { client, redis, errors, say } = await setUpCluster()
    await redis.set(keys.history('broken'), 'not a stream')

    say('lobby', 0)
    say('broken', 1)
    // The iteration's write goes at its end; the fault is mended behind it on the same
    // connection, ahead of any later write of the cluster.
    await new Promise((resolve) => setImmediate(resolve))
    const mended = client.del(keys.history('broken'))
    say('broken', 2)
    await mended
    await waitFor(async () => (await said(redis, 'broken')).length === 2, {
      message: 'both sends stored',
    })
    expect(await said(redis, 'broken')).toEqual([1, 2])
    expect(await said(redis, 'lobby')).toEqual([0])
    expect(errors[0]).toContain('WRONGTYPE')
  })

  it('keeps a send gathered behind a write in flight when Redis drops twice and its write fails while a later send is stored', async () => {
    const { client, redis, store, other, errors, say } = await setUpCluster()
    const epoch = await store.create(record('s1'), 60_000)
    await redis.set(keys.history('broken'), 'not a stream')
    let readies = 0
    client.on('ready', () => readies++)
    const reconnected = async (): Promise<void> => {
      const before = readies
      client.stream.destroy()
      await waitFor(() => readies > before, { message: 'the connection back' })
    }

    // A write Redis holds unanswered, sent again on each new connection.
    await redis.call('CLIENT', 'PAUSE', '20000', 'WRITE')
    say('lobby', 0)
    await new Promise((resolve) => setImmediate(resolve))
    // Back: the cluster waits for that write to send what it kept (nothing).
    await reconnected()
    // A commit waits for it too, and a send is gathered behind it.
    const committed = store.commit([{ id: 's1', epoch, change: change(4) }])
    committed.catch(() => undefined)
    say('broken', 1)
    // Away again: a later send is kept.
    client.stream.destroy()
    await waitFor(() => client.status !== 'ready', { message: 'the connection lost' })
    say('lobby', 2)
    await waitFor(() => client.status === 'ready', { message: 'the connection back' })
    await redis.call('CLIENT', 'UNPAUSE')
    // The gathered send is refused; the commit, behind it, with it.
    await expect(committed).rejects.toThrow()
    await waitFor(() => errors.length > 0, { message: 'the send refused' })
    expect(errors[0]).toContain('WRONGTYPE')

    await redis.del(keys.history('broken'))
    await waitFor(async () => (await said(redis, 'broken')).length > 0, {
      message: 'the refused send stored once Redis takes it',
      timeoutMs: 10_000,
    })
    expect(await said(redis, 'broken')).toEqual([1])
    expect(await said(redis, 'lobby')).toEqual([0, 2])
    // And only then the commit that acknowledges the message that sent it.
    await waitFor(() => store.available(), { message: 'nothing kept' })
    expect(await store.commit([{ id: 's1', epoch, change: change(4) }])).toEqual(['ok'])
    expect((await other.claim('s1', 60_000))?.record.lastClientSeq).toBe(4)
  })
  it('detaches once the room sends kept while Redis was away are stored, though their write was in flight', async () => {
    // A server's close() detaches its cluster, then the process may exit (closeOnSignals):
    // detach returned at once while a write of the kept sends was in flight.
    const { client, redis, cluster, say } = await setUpCluster()
    client.stream.destroy()
    await waitFor(() => client.status !== 'ready', { message: 'the connection lost' })
    say('lobby', 1)
    // Back, its write of the kept send held unanswered.
    await redis.call('CLIENT', 'PAUSE', '20000', 'WRITE')
    await waitFor(() => client.status === 'ready', { message: 'the connection back' })
    await new Promise((resolve) => setImmediate(resolve))
    let detached = false
    const detaching = cluster.detach().then(() => {
      detached = true
    })
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(detached).toBe(false)
    await redis.call('CLIENT', 'UNPAUSE')
    await detaching
    expect(await said(redis, 'lobby')).toEqual([1])
  })

  it('detaches once the room sends kept while Redis is away are stored, not at once', async () => {
    // The server's close() gives detach closeTimeoutMs and reports what it did not send: a
    // detach that returned at once with sends kept dropped them without a word.
    const { server, client, cluster, say } = await setUpCluster()
    await server.stop()
    await waitFor(() => client.status !== 'ready', { message: 'the connection lost' })
    say('lobby', 1)
    let detached = false
    const detaching = cluster.detach().then(() => {
      detached = true
    })
    // Its own run of the sends that wait ends in this turn (Redis away, nothing is written), and
    // nothing runs another until Redis is back: a detach that returned without them has by now.
    await new Promise((resolve) => setImmediate(resolve))
    expect(detached).toBe(false)
    await server.restart()
    await detaching
    expect(await said(await connect(server.url), 'lobby')).toEqual([1])
  })

  it('detaches once the room sends Redis refused are stored, not at once', async () => {
    const { client, redis, cluster, errors, say } = await setUpCluster()
    // Each write of the room sends ends a run of them, which a detach waiting for them sees.
    const scripted = withScripts(client)
    const write = scripted.lifelineWrite.bind(scripted)
    let refused = 0
    scripted.lifelineWrite = async (...args) => {
      const reply = await write(...args)
      if (reply[0] !== 0) refused++
      return reply
    }
    await redis.set(keys.history('broken'), 'not a stream')
    say('broken', 1)
    await waitFor(() => errors.length > 0, { message: 'the send refused' })
    const refusedBefore = refused
    let detached = false
    const detaching = cluster.detach().then(() => {
      detached = true
    })
    // Refused twice more: detach's own run and the retry's after it (on the backoff's timer)
    // ended while it waits. A detach that returned at the end of a run has by the next turn.
    await waitFor(() => refused >= refusedBefore + 2, { message: 'two more writes refused' })
    await new Promise((resolve) => setImmediate(resolve))
    expect(detached).toBe(false)
    await redis.del(keys.history('broken'))
    await detaching
    expect(await said(redis, 'broken')).toEqual([1])
  })
})
