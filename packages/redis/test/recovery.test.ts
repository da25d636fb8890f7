import { createClient, type Client } from '@lifeline/core'
import type { Peer } from '@lifeline/server'
import {
  expectNoEvent,
  startBalancer,
  startRedisServer,
  useFixtures,
  waitFor,
} from '@lifeline/test-utils'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { PresenceEvent } from '../src/index.js'
import { clientOf, startNode, type Chat, type Node } from './harness.js'
import { bundleNode, NodeProcess } from './nodeProcess.js'

const fx = useFixtures(afterEach)
let bundle: Awaited<ReturnType<typeof bundleNode>>
beforeAll(async () => {
  bundle = await bundleNode()
})
afterAll(() => bundle?.remove())

/** Echoes `up` as `down`; `say` joins its room and relays to it; a room reset is told. */
function serve(node: Node): void {
  node.server.on('connection', (peer: Peer<Chat>) => {
    peer.on('up', ({ n }) => peer.send('down', { n }))
    peer.on('say', ({ text, room }) => {
      peer.join(room)
      node.server.to(room).send('said', { text, from: peer.id })
    })
  })
  node.server.on('room:reset', (peer, { room }) => peer.send('said', { text: 'RESET', from: room }))
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('recovery', () => {
  it('Redis restarted mid-traffic: local clients are served, nothing acknowledged is lost, every process recovers', async () => {
    const redis = fx.add(await startRedisServer({ persistence: true }))
    const nodes = [await startNode(fx, redis), await startNode(fx, redis)]
    for (const node of nodes) serve(node)
    const balancer = fx.add(
      await startBalancer({ backends: nodes.map((node) => node.server.port) }),
    )
    const clients = [clientOf(fx, balancer), clientOf(fx, balancer)]
    const down = clients.map(() => [] as number[])
    const said = clients.map(() => [] as string[])
    let resets = 0
    clients.forEach((client, i) => {
      client.on('down', ({ n }) => down[i]?.push(n))
      client.on('said', ({ text }) => said[i]?.push(text))
      client.events.on('reset', () => resets++)
      client.send('say', { room: 'r', text: `join ${i}` })
    })
    await waitFor(() => said.every((each, i) => each.includes(`join ${i}`)), {
      message: 'joined',
      timeoutMs: 10_000,
    })
    clients[1]?.send('say', { room: 'r', text: 'ready' })
    await waitFor(() => said.every((each) => each.includes('ready')), {
      message: 'ready',
      timeoutMs: 10_000,
    })
    let n = 0
    const burst = async (count: number): Promise<void> => {
      for (let k = 0; k < count; k++) {
        n++
        for (const client of clients) client.send('up', { n })
      }
      await waitFor(() => down.every((each) => each.length >= n), {
        message: `echoes of ${n}`,
        timeoutMs: 10_000,
      })
    }
    await burst(100)
    await redis.stop()
    // Redis away: each process serves its own clients (no acknowledgement waits for it).
    await burst(100)
    // A room message waits for Redis (bounded), and goes once it is back.
    clients[0]?.send('say', { room: 'r', text: 'during the outage' })
    await redis.restart()
    await burst(100)
    await waitFor(() => said.every((each) => each.includes('during the outage')), {
      message: 'the room message sent during the outage',
      timeoutMs: 10_000,
    })
    // Every process is back: a client moved to the other process resumes there exactly.
    balancer.cut()
    await burst(100)
    expect(resets).toBe(0)
    for (const each of down) expect(each).toEqual(range(1, 400))
    for (const each of said)
      expect(each.filter((text) => text === 'during the outage')).toHaveLength(1)
  }, 30_000)

  it('a member that was away gets the room messages it missed from the history, or a reset', async () => {
    const redis = fx.add(
      // Small stream nodes, so that `MAXLEN ~ 4` trims the history to a few entries.
      await startRedisServer({ args: ['--stream-node-max-entries', '2'] }),
    )
    const a = await startNode(fx, redis, { historyLength: 4 })
    const b = await startNode(fx, redis, { historyLength: 4 })
    serve(a)
    serve(b)
    const target = { port: a.server.port }
    const away = createClient<Chat>({
      url: () => `ws://127.0.0.1:${target.port}/`,
      socket: { initialDelayMs: 10, maxDelayMs: 50 },
    })
    away.events.on('error', () => undefined)
    fx.add(() => away.close())
    const sender: Client<Chat> = createClient<Chat>({ url: `ws://127.0.0.1:${b.server.port}/` })
    fx.add(() => sender.close())
    const got: string[] = []
    away.on('said', ({ text }) => got.push(text))
    const senderGot: string[] = []
    sender.on('said', ({ text }) => senderGot.push(text))
    away.send('say', { room: 'r', text: 'in' })
    // A join takes effect when Redis has placed the member: at its own message at the latest.
    await waitFor(() => got.includes('in'), { message: 'joined', timeoutMs: 10_000 })
    sender.send('say', { room: 'r', text: 'hello' })
    await waitFor(() => got.includes('hello') && senderGot.includes('hello'), {
      message: 'both in the room',
      timeoutMs: 10_000,
    })

    // `a` goes away with the session (stored); the room goes on without it.
    await a.server.close()
    for (let i = 1; i <= 3; i++) sender.send('say', { room: 'r', text: `missed ${i}` })
    await waitFor(() => senderGot.includes('missed 3'), { message: 'sent', timeoutMs: 10_000 })
    target.port = b.server.port
    await waitFor(() => got.includes('missed 3'), {
      message: 'caught up from the history',
      timeoutMs: 10_000,
    })
    expect(got.filter((text) => text.startsWith('missed'))).toEqual([
      'missed 1',
      'missed 2',
      'missed 3',
    ])

    // Away again, for longer than the history keeps: an explicit reset, then live again.
    target.port = a.server.port // closed: the client retries and waits
    const c = await startNode(fx, redis, { historyLength: 4 })
    serve(c)
    // Its link to `b` is cut by `b`'s close: it comes back to `c` after 20 messages.
    await b.server.close()
    const lateSender = createClient<Chat>({ url: `ws://127.0.0.1:${c.server.port}/` })
    fx.add(() => lateSender.close())
    const lateGot: string[] = []
    lateSender.on('said', ({ text }) => lateGot.push(text))
    // In the room (and `c` subscribed to it) before the burst, which the tiny history trims.
    lateSender.send('say', { room: 'r', text: 'gone 0' })
    await waitFor(() => lateGot.includes('gone 0'), { message: 'in the room', timeoutMs: 10_000 })
    for (let i = 1; i <= 20; i++) lateSender.send('say', { room: 'r', text: `gone ${i}` })
    await waitFor(() => lateGot.includes('gone 20'), { message: 'sent', timeoutMs: 10_000 })
    target.port = c.server.port
    await waitFor(() => got.includes('RESET'), { message: 'a reset', timeoutMs: 10_000 })
    lateSender.send('say', { room: 'r', text: 'after' })
    await waitFor(() => got.includes('after'), { message: 'live again', timeoutMs: 10_000 })
    expect(got.filter((text) => text.startsWith('gone'))).toEqual([])
  })

  it('presence: joins and leaves on every process, and a killed process leaves its rooms', async () => {
    const redis = fx.add(await startRedisServer())
    const watcher = await startNode(fx, redis, { heartbeatMs: 200, processTtlMs: 1_000 })
    const events: PresenceEvent[] = []
    watcher.cluster.on('presence', (event) => events.push(event))
    await watcher.cluster.watch('room-0')
    const log: never[] = []
    const child = await NodeProcess.start(bundle.script, 0, redis.url, 'cluster', log)
    fx.add(() => (child.killed ? undefined : child.kill()))
    const client = createClient<{
      client: { up: { n: number; room?: string } }
      server: { down: { n: number } }
    }>({
      url: `ws://127.0.0.1:${child.port}/`,
      socket: { initialDelayMs: 10, maxDelayMs: 50 },
    })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
    const down: number[] = []
    client.on('down', ({ n }) => down.push(n))
    client.send('up', { n: 1, room: 'room-0' })
    await waitFor(() => events.some((event) => event.joined), {
      message: 'a join',
      timeoutMs: 10_000,
    })
    const peerId = events[0]?.peerId as string
    expect(await watcher.cluster.presence('room-0')).toEqual([peerId])
    await child.kill()
    // The child's heartbeat stops: within its processTtlMs + the watcher's heartbeatMs (1.7 s
    // here) it is reaped; the bound leaves room for a loaded machine.
    await waitFor(() => events.some((event) => !event.joined), {
      message: 'a leave',
      timeoutMs: 10_000,
    })
    expect(events).toEqual([
      { room: 'room-0', peerId, joined: true },
      { room: 'room-0', peerId, joined: false },
    ])
    expect(await watcher.cluster.presence('room-0')).toEqual([])
    await expectNoEvent(watcher.cluster, 'presence', 200)
  }, 20_000)
})
