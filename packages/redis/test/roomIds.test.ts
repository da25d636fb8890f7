import { createClient } from '@lifeline/core'
import type { Client } from '@lifeline/core'
import type { Peer } from '@lifeline/server'
import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { unpackRooms } from '../src/packing.js'
import {
  RawClient,
  connected,
  redisClient,
  startNode,
  startProxiedNode,
  type Chat,
  type Node,
} from './harness.js'

// Room messages numbered by their room (`r`): the same frame for every member, no per-member
// numbering or store write; exactly once from the client's cursors, a resume going on from the
// cursor stored (lazily) with the session.

const fx = useFixtures(afterEach)

/** `say` joins its room and relays to it, on whichever process. */
function serve(node: Node): void {
  node.server.on('connection', (peer: Peer<Chat>) => {
    peer.on('say', ({ text, room }) => {
      peer.join(room)
      node.server.to(room).send('said', { text, from: peer.id })
    })
  })
}

async function twoNodes(): Promise<readonly [Node, Node]> {
  const redis = fx.add(await startRedisServer())
  const nodes = [await startNode(fx, redis), await startNode(fx, redis)] as const
  for (const node of nodes) serve(node)
  return nodes
}

/** A client whose target can change, that records what the application and the wire got. */
function member(port: number, options: { ackEvery?: number; ackDelayMs?: number } = {}) {
  const target = { port }
  const client: Client<Chat> = createClient<Chat>({
    url: () => `ws://127.0.0.1:${target.port}/`,
    ...options,
    socket: { initialDelayMs: 10, maxDelayMs: 50 },
  })
  client.events.on('error', () => undefined)
  fx.add(() => client.close())
  const seen: string[] = []
  client.on('said', ({ text }) => seen.push(text))
  const wire: string[] = []
  client.socket.addEventListener('message', (event) => {
    const frame = String(event.data)
    if (frame.includes('"said"')) wire.push(frame)
  })
  return { client, target, seen, wire }
}

const texts = (from: number, to: number, prefix = 'm') =>
  Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`)

/** `m` joins room `r`, gets ten messages `b` sends there, and closes. */
async function joinGetTenAndLeave(m: ReturnType<typeof member>, b: Node): Promise<void> {
  m.client.send('say', { room: 'r', text: 'in' })
  await waitFor(() => m.seen.includes('in'), { message: 'joined', timeoutMs: 10_000 })
  for (const text of texts(0, 10)) b.server.to('r').send('said', { text, from: 'b' })
  await waitFor(() => m.seen.length === 11, { message: 'the first ten', timeoutMs: 10_000 })
  m.client.close()
  await waitFor(() => m.client.state.status === 'closed', { message: 'closed' })
}

describe('room messages numbered by their room, across processes', () => {
  it('writes one frame, the same for every member, with r and without s', async () => {
    const [a, b] = await twoNodes()
    const one = member(a.server.port)
    const two = member(a.server.port)
    one.client.send('say', { room: 'r', text: 'one in' })
    two.client.send('say', { room: 'r', text: 'two in' })
    await waitFor(() => one.seen.includes('two in') && two.seen.includes('two in'), {
      message: 'both joined',
      timeoutMs: 10_000,
    })
    b.server.to('r').send('said', { text: 'hi', from: 'b' })
    await waitFor(() => one.seen.includes('hi') && two.seen.includes('hi'), {
      message: 'the message',
      timeoutMs: 10_000,
    })
    const frame = one.wire.find((each) => each.includes('"hi"')) as string
    expect(two.wire).toContain(frame)
    const envelope = JSON.parse(frame) as { s?: number; r?: [string, string] }
    expect(envelope.s).toBeUndefined()
    expect(envelope.r?.[0]).toBe('r')
    expect(envelope.r?.[1]).toMatch(/^\d+-\d+$/)
  })

  it('catches a member that resumes on the other process up on what it missed, once and in order', async () => {
    const [a, b] = await twoNodes()
    const m = member(a.server.port)
    await joinGetTenAndLeave(m, b)
    for (const text of texts(10, 20)) b.server.to('r').send('said', { text, from: 'b' })
    m.target.port = b.server.port
    m.client.connect()
    await waitFor(() => m.seen.length >= 21, {
      message: () =>
        `what it missed (got ${m.seen.join(',')}; ${JSON.stringify(m.client.state)}; ${JSON.stringify(b.server.stats)})`,
      timeoutMs: 10_000,
    })
    b.server.to('r').send('said', { text: 'after', from: 'b' })
    await waitFor(() => m.seen.includes('after'), { message: 'the next one', timeoutMs: 10_000 })
    expect(m.seen).toEqual(['in', ...texts(0, 20), 'after'])
    expect(b.server.stats.sessionsResumed).toBe(1)
    // Numbered by their room, on both processes.
    expect(m.wire.every((frame) => /"r":\["r","\d+-\d+"\]/.test(frame))).toBe(true)
    expect(m.client.state).toMatchObject({ status: 'open', resumed: true })
  })

  it('sends again from a stale stored cursor: duplicates on the wire, each once to the application', async () => {
    const [a, b] = await twoNodes()
    // No cursor acknowledged: what is stored is where the member joined. (The client's room
    // cursor cadence is not an option: its `$ack`s with cursors are kept off the wire here, so
    // that a slow run, past 2 s, does not store a cursor.)
    const m = member(a.server.port)
    const socket = m.client.socket
    const send = socket.send.bind(socket)
    socket.send = (data) => {
      if (typeof data === 'string' && data.startsWith('{"t":"$ack","d"')) return
      send(data)
    }
    await joinGetTenAndLeave(m, b)
    m.target.port = b.server.port
    m.client.connect()
    b.server.to('r').send('said', { text: 'after', from: 'b' })
    await waitFor(() => m.seen.includes('after'), { message: 'the next one', timeoutMs: 10_000 })
    // 'in' and the ten went over the wire twice; the client dropped the second copies.
    expect(m.wire.length).toBe(2 * 11 + 1)
    expect(m.seen).toEqual(['in', ...texts(0, 10), 'after'])
  })
})

describe('a room send that Redis stores twice (its reply lost, the write sent again)', () => {
  it('reaches a member once after it moved to a process that never saw the first copy', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startProxiedNode(fx, redis)
    const b = await startNode(fx, redis)
    const c = await startNode(fx, redis)
    serve(b)
    serve(c)
    const inspect = redisClient(fx, redis)
    const m = member(b.server.port)
    m.client.send('say', { room: 'r', text: 'in' })
    await waitFor(() => m.seen.includes('in'), { message: 'joined', timeoutMs: 10_000 })

    // `a`'s write reaches Redis, its reply does not: the send is stored (and reaches the member
    // on `b`), and `a` waits for the reply.
    a.proxy.blackhole(true, 'toClient')
    a.server.to('r').send('said', { text: 'once', from: 'a' })
    await waitFor(() => m.seen.includes('once'), { message: 'the first copy', timeoutMs: 10_000 })
    // The member's cursor is stored at that copy: it moves to `c`, which has no member in the
    // room and has seen none of its messages.
    const [[first]] = (await inspect.xrevrange('lifeline:h:r', '+', '-', 'COUNT', 1)) as [
      [string, string[]],
    ]
    const [session] = await inspect.keys('lifeline:s:*')
    await waitFor(
      async () => unpackRooms(await inspect.hgetBuffer(session as string, 'r')).r === first,
      { message: 'the cursor stored', timeoutMs: 10_000 },
    )
    m.client.close()
    await waitFor(() => m.client.state.status === 'closed', { message: 'closed' })
    m.target.port = c.server.port
    m.client.connect()
    await waitFor(() => m.client.state.status === 'open', { message: 'resumed on c' })

    // `a`'s connection drops and comes back: ioredis sends the write again.
    a.proxy.blackhole(false)
    a.proxy.cut()
    await connected(a.redis, a.cluster)
    await a.redis.ping()
    c.server.to('r').send('said', { text: 'after', from: 'c' })
    await waitFor(() => m.seen.includes('after'), { message: 'the next one', timeoutMs: 10_000 })
    expect(m.seen).toEqual(['in', 'once', 'after'])
    // Stored once: any process that reads the history finds it once.
    expect(await inspect.xlen('lifeline:h:r')).toBe(3)
  })

  it.each([
    ['without an id', undefined],
    // Its id is forgotten by then, so the copy would count as a new send with that id: its
    // process's number tells it from one.
    ['with an id', 'x'],
  ])('is stored once, %s, when it is sent again later than dedupeTtlMs', async (_, id) => {
    // Redis keeps each process's last number in a room for `historyTtlMs` too, not only for
    // `dedupeTtlMs`: a process kept from Redis longer than that sends its kept write again all
    // the same, and a second copy would reach every member, here and on every process.
    const dedupeTtlMs = 200
    const redis = fx.add(await startRedisServer())
    const a = await startProxiedNode(fx, redis, {}, { dedupeTtlMs })
    const b = await startNode(fx, redis, { dedupeTtlMs })
    const c = await startNode(fx, redis, { dedupeTtlMs })
    serve(b)
    serve(c)
    const inspect = redisClient(fx, redis)
    const stay = member(b.server.port)
    const m = member(b.server.port)
    stay.client.send('say', { room: 'r', text: 'in' })
    await waitFor(() => stay.seen.includes('in'), { message: 'in', timeoutMs: 10_000 })
    m.client.send('say', { room: 'r', text: 'in too' })
    await waitFor(() => stay.seen.includes('in too') && m.seen.includes('in too'), {
      message: 'joined',
      timeoutMs: 10_000,
    })
    a.proxy.blackhole(true, 'toClient')
    a.server.to('r').send('said', { text: 'once', from: 'a' }, id === undefined ? {} : { id })
    const sentAt = Date.now()
    await waitFor(() => m.seen.includes('once'), { message: 'the first copy', timeoutMs: 10_000 })
    const [[first]] = (await inspect.xrevrange('lifeline:h:r', '+', '-', 'COUNT', 1)) as [
      [string, string[]],
    ]
    const state = m.client.state
    const session = `lifeline:s:{${state.status === 'open' ? state.sessionId : ''}}`
    await waitFor(async () => unpackRooms(await inspect.hgetBuffer(session, 'r')).r === first, {
      message: 'the cursor stored',
      timeoutMs: 10_000,
    })
    m.client.close()
    await waitFor(() => m.client.state.status === 'closed', { message: 'closed' })
    m.target.port = c.server.port
    m.client.connect()
    await waitFor(() => m.client.state.status === 'open', { message: 'resumed on c' })
    // The reply is lost for longer than `dedupeTtlMs`; then ioredis sends the write again.
    await waitFor(() => Date.now() - sentAt > 3 * dedupeTtlMs, { message: 'dedupeTtlMs past' })
    a.proxy.blackhole(false)
    a.proxy.cut()
    await connected(a.redis, a.cluster)
    await a.redis.ping()
    c.server.to('r').send('said', { text: 'after', from: 'c' })
    await waitFor(() => m.seen.includes('after') && stay.seen.includes('after'), {
      message: 'the next one',
      timeoutMs: 10_000,
    })
    expect(m.seen).toEqual(['in too', 'once', 'after'])
    expect(stay.seen).toEqual(['in', 'in too', 'once', 'after'])
    expect(await inspect.xlen('lifeline:h:r')).toBe(4)
  })
})

describe('a room send sent again later than historyTtlMs while the room stays busy', () => {
  it('is stored once, as within dedupeTtlMs before', async () => {
    // Each process's last number in a room lapses `historyTtlMs` after its own last send there,
    // while the others' sends keep the history: a short one must not undo `dedupeTtlMs`.
    const historyTtlMs = 300
    const redis = fx.add(await startRedisServer())
    const a = await startProxiedNode(fx, redis, {}, { historyTtlMs })
    const b = await startNode(fx, redis, { historyTtlMs })
    serve(b)
    const inspect = redisClient(fx, redis)
    const stay = member(b.server.port)
    stay.client.send('say', { room: 'r', text: 'in' })
    await waitFor(() => stay.seen.includes('in'), { message: 'in', timeoutMs: 10_000 })
    a.proxy.blackhole(true, 'toClient')
    a.server.to('r').send('said', { text: 'once', from: 'a' })
    await waitFor(() => stay.seen.includes('once'), {
      message: 'the first copy',
      timeoutMs: 10_000,
    })
    // b goes on sending: the room's history lives on past a's last number.
    const sentAt = Date.now()
    let ticks = 0
    while (Date.now() - sentAt < 4 * historyTtlMs) {
      b.server.to('r').send('said', { text: `tick ${ticks++}`, from: 'b' })
      await new Promise((resolve) => setTimeout(resolve, historyTtlMs / 4))
    }
    a.proxy.blackhole(false)
    a.proxy.cut()
    await connected(a.redis, a.cluster)
    await a.redis.ping()
    b.server.to('r').send('said', { text: 'after', from: 'b' })
    await waitFor(() => stay.seen.includes('after'), { message: 'the next one', timeoutMs: 10_000 })
    expect(stay.seen.filter((text) => text === 'once')).toHaveLength(1)
    expect(await inspect.xlen('lifeline:h:r')).toBe(ticks + 3)
  })
})

describe('a room whose history expired while it was idle (historyTtlMs)', () => {
  it('gives its members the messages sent since, after a room:reset', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startNode(fx, redis, { historyTtlMs: 200 })
    serve(a)
    const resets: string[] = []
    a.server.on('room:reset', (_peer, { room }) => resets.push(room))
    const inspect = redisClient(fx, redis)
    const m = member(a.server.port)
    m.client.send('say', { room: 'r', text: 'in' })
    await waitFor(() => m.seen.includes('in'), { message: 'joined', timeoutMs: 10_000 })
    await waitFor(async () => (await inspect.exists('lifeline:h:r')) === 0, {
      message: 'the history expired',
    })
    // The history begins again: what it holds, from its first entry, the member has not had.
    a.server.to('r').send('said', { text: 'one', from: 'a' })
    a.server.to('r').send('said', { text: 'two', from: 'a' })
    await waitFor(() => m.seen.includes('two'), {
      message: () => `the messages since (got ${m.seen.join(',')}, resets ${resets.join(',')})`,
      timeoutMs: 10_000,
    })
    expect(m.seen).toEqual(['in', 'one', 'two'])
  })
})

describe('a member that only sends to its room, except to itself', () => {
  it('has its stored cursor go past what it skipped, and resumes without a room:reset once the history is trimmed', async () => {
    const redis = fx.add(await startRedisServer())
    const nodes = [
      await startNode(fx, redis, { historyLength: 10 }),
      await startNode(fx, redis, { historyLength: 10 }),
    ] as const
    const resets: string[] = []
    for (const node of nodes) {
      serve(node)
      node.server.on('room:reset', (_, { room }) => resets.push(room))
      node.server.on('connection', (peer: Peer<Chat>) => {
        peer.on('up', ({ n }) => {
          node.server.to('r').send('said', { text: `u${n}`, from: peer.id }, { except: peer })
        })
      })
    }
    const [a, b] = nodes
    const other = member(b.server.port)
    other.client.send('say', { room: 'r', text: 'other in' })
    await waitFor(() => other.seen.includes('other in'), { message: 'other', timeoutMs: 10_000 })
    const m = member(a.server.port)
    m.client.send('say', { room: 'r', text: 'in' })
    await waitFor(() => other.seen.includes('in') && m.seen.includes('in'), {
      message: 'joined',
      timeoutMs: 10_000,
    })
    // Far more than the history keeps (MAXLEN ~ trims whole nodes of 100 entries).
    for (let n = 0; n < 300; n++) m.client.send('up', { n })
    await waitFor(() => other.seen.includes('u299'), { message: 'sent', timeoutMs: 10_000 })
    const last = other.wire.at(-1)?.match(/"r":\["r","(\d+-\d+)"\]/)?.[1] as string
    const state = m.client.state
    const sid = state.status === 'open' ? state.sessionId : ''
    // Its acknowledgement of 'in' covers what it skipped since: stored (lazily) with the session.
    await waitFor(
      async () => {
        const stored = await a.redis.hgetBuffer(`lifeline:s:{${sid}}`, 'r')
        return stored?.includes(Buffer.from(last)) === true
      },
      { message: 'the cursor stored past what it skipped', timeoutMs: 10_000 },
    )
    m.client.close()
    await waitFor(() => m.client.state.status === 'closed', { message: 'closed' })
    m.target.port = b.server.port
    m.client.connect()
    await waitFor(() => m.client.state.status === 'open', { message: 'resumed' })
    other.client.send('say', { room: 'r', text: 'after' })
    await waitFor(() => m.seen.includes('after'), { message: 'the next one', timeoutMs: 10_000 })
    expect(m.seen).toEqual(['in', 'after'])
    expect(m.client.state).toMatchObject({ status: 'open', resumed: true })
    expect(resets).toEqual([])
  })
})

describe('a member that never reads its room messages', () => {
  it('is closed as a slow consumer (4429) once its unsent output passes maxOutboundBytes', async () => {
    const redis = fx.add(await startRedisServer())
    const KiB = 1024
    const node = await startNode(
      fx,
      redis,
      { historyLength: 10 },
      { outboundHighWaterBytes: 64 * KiB, maxOutboundBytes: 256 * KiB },
    )
    serve(node)
    const { client } = await RawClient.connect(fx, node.server.port, { r: 1 })
    client.send({ t: 'say', d: { room: 'r', text: 'in' }, s: 1 })
    await waitFor(() => client.received.some((frame) => frame.r !== undefined), {
      message: 'joined',
    })
    client.pause()
    const blob = 'b'.repeat(128 * KiB)
    // Far more than the kernel's socket buffers hold; ends when the server lets it go.
    for (let i = 0; i < 400 && node.server.stats.slowConsumers === 0; i++) {
      const frames = node.server.stats.framesSent
      node.server.to('r').send('said', { text: blob, from: 'x' })
      await waitFor(
        () => node.server.stats.framesSent > frames || node.server.stats.slowConsumers > 0,
        { message: 'the room message written' },
      )
    }
    expect(node.server.stats.slowConsumers).toBe(1)
    expect(node.server.stats.unsentBytes).toBeLessThanOrEqual(256 * KiB + 2 * blob.length + KiB)
    // When it reads at last, it finds the reason.
    client.resume()
    await waitFor(() => client.closeCode !== undefined, { message: 'closed', timeoutMs: 10_000 })
    expect(client.closeCode).toBe(4429)
  })
})

describe('room cursor acknowledgements', () => {
  /** A raw member of `room` on `node` that says `r`, and the room message it got. */
  async function rawMember(node: Node, room: string) {
    const { client } = await RawClient.connect(fx, node.server.port, { r: 1 })
    client.send({ t: 'say', d: { room, text: 'in' }, s: 1 })
    await waitFor(() => client.received.some((frame) => frame.r !== undefined), {
      message: 'the room message',
      timeoutMs: 10_000,
    })
    const frame = client.received.find((each) => each.r !== undefined)
    return { client, id: frame?.r?.[1] as string }
  }

  it('takes a cursor of a room named __proto__, and stores it with the session', async () => {
    const [a] = await twoNodes()
    const { client, id } = await rawMember(a, '__proto__')
    client.send({ t: '$ack', d: { r: [['__proto__', id]] } })
    await waitFor(
      async () => {
        const keys = await a.redis.keys('lifeline:s:*')
        const stored = keys.length === 1 ? await a.redis.hgetBuffer(keys[0] as string, 'r') : null
        return stored !== null && stored.includes(Buffer.from(id))
      },
      { message: 'the cursor stored', timeoutMs: 10_000 },
    )
    expect(client.closeCode).toBeUndefined()
  })

  const violations: [string, (id: string) => unknown][] = [
    ['past what was sent', (id) => ({ r: [['r', `${Number(id.split('-')[0]) + 1}-0`]] })],
    ['not [room, id]', () => ({ r: [['r']] })],
    ['an id that is not ms-seq', () => ({ r: [['r', '1']] })],
    ['a room that is not a string', () => ({ r: [[1, '1-0']] })],
    ['not a list', () => ({ r: { r: '1-0' } })],
    ['another field', (id) => ({ r: [['r', id]], x: 1 })],
    ['that is null', () => null],
  ]
  it.each(violations)('closes a client that acknowledges a cursor %s with 1002', async (_, d) => {
    const [a] = await twoNodes()
    const { client, id } = await rawMember(a, 'r')
    client.send({ t: '$ack', d: d(id) })
    await waitFor(() => client.closeCode !== undefined, { message: 'closed', timeoutMs: 10_000 })
    expect(client.closeCode).toBe(1002)
  })

  it('closes a client whose cursor goes back with 1002', async () => {
    const [a, b] = await twoNodes()
    const { client, id } = await rawMember(a, 'r')
    b.server.to('r').send('said', { text: 'two', from: 'b' })
    await waitFor(() => client.received.filter((frame) => frame.r !== undefined).length === 2, {
      message: 'the second',
      timeoutMs: 10_000,
    })
    const second = client.received.filter((frame) => frame.r !== undefined)[1]?.r?.[1] as string
    client.send({ t: '$ack', d: { r: [['r', second]] } })
    client.send({ t: '$ack', d: { r: [['r', id]] } })
    await waitFor(() => client.closeCode !== undefined, { message: 'closed', timeoutMs: 10_000 })
    expect(client.closeCode).toBe(1002)
  })

  it('closes a client that acknowledges cursors without having said r in $hello with 1002', async () => {
    const [a] = await twoNodes()
    const { client } = await RawClient.connect(fx, a.server.port)
    client.send({ t: 'say', d: { room: 'r', text: 'in' }, s: 1 })
    await waitFor(() => client.reliable('said').length === 1, { message: 'numbered, as before' })
    client.send({ t: '$ack', d: { r: [['r', '1-0']] } })
    await waitFor(() => client.closeCode !== undefined, { message: 'closed', timeoutMs: 10_000 })
    expect(client.closeCode).toBe(1002)
  })
})
