import { createClient, type ClientState } from '@lifeline/core'
import { ManualClock } from '@lifeline/core/testing'
import { createFaultProxy, once, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { createMemorySessionStore, createServer, type Peer } from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)

describe('heartbeat', () => {
  it('terminates a client that stops answering pings, and keeps its session', async () => {
    const server = await startServer(fx, { heartbeat: { intervalMs: 30, timeoutMs: 30 } })
    const disconnects: number[] = []
    server.on('disconnect', (_peer, info) => disconnects.push(info.code))
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    await ProtocolClient.connect(fx, proxy.url())
    proxy.blackhole()
    await waitFor(() => server.stats.heartbeatTimeouts === 1, { message: 'the heartbeat timeout' })
    expect(disconnects).toEqual([1006])
    // The terminated socket's close event comes a moment later.
    await waitFor(() => server.stats.connections === 0, { message: 'the socket to close' })
    expect(server.stats.sessions).toBe(1)
  })

  // Detection within intervalMs + timeoutMs and 10 % (PROTOCOL.md, section 7), plus half a
  // second for timers and sockets on a loaded 2-core machine (1.6 s in all). A heartbeat that
  // waits `intervalMs` after its last check, rather than after the last frame, takes
  // intervalMs + 2 × timeoutMs here (1.9 s): the timeout is large next to the interval so that
  // the two cannot be confused, even with that allowance.
  const intervalMs = 100
  const timeoutMs = 900
  const detectionBoundMs = (intervalMs + timeoutMs) * 1.1 + 500

  it('finds a client it no longer hears within intervalMs + timeoutMs (client to server dead)', async () => {
    const server = await startServer(fx, { heartbeat: { intervalMs, timeoutMs } })
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    let lastHeardAt = 0
    let detectedAt = 0
    server.on('connection', (peer) =>
      peer.on('last words', () => {
        lastHeardAt = performance.now()
        proxy.blackhole(true, 'toTarget')
      }),
    )
    server.on('disconnect', () => (detectedAt = performance.now()))
    const { client } = await ProtocolClient.connect(fx, proxy.url())
    // Right after a ping: the worst moment for a heartbeat that counts from its last check.
    await once(client.socket, 'ping')
    let pingsAfter = 0
    client.socket.on('ping', () => pingsAfter++)
    client.send({ t: 'last words' })
    await waitFor(() => server.stats.heartbeatTimeouts === 1, {
      timeoutMs: 4_000,
      message: 'the heartbeat timeout',
    })
    const detectionMs = detectedAt - lastHeardAt
    expect(detectionMs).toBeGreaterThanOrEqual(intervalMs + timeoutMs - 5)
    expect(detectionMs).toBeLessThan(detectionBoundMs)
    // The server's pings still reached the client, and so does the end of the link; only what
    // the client sent was lost.
    expect(pingsAfter).toBeGreaterThanOrEqual(1)
    expect((await client.waitClose()).code).toBe(1006)
    expect(server.stats.sessions).toBe(1)
  })

  it('leaves a client that it hears but that hears nothing to detect it (server to client dead)', async () => {
    // The server's pings and frames go nowhere, but the client's `$ping`s still arrive: the
    // server keeps the link; the client finds it silent, closes it with 4000 (a close frame the
    // server receives) and resumes on a new link.
    const server = await startServer(fx, { heartbeat: { intervalMs, timeoutMs } })
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    const disconnects: number[] = []
    server.on('disconnect', (_peer, info) => disconnects.push(info.code))
    const client = createClient({
      url: proxy.url(),
      heartbeat: { intervalMs: 100, timeoutMs: 300 },
      socket: { delayMs: () => 0 },
    })
    fx.add(() => client.close())
    const states: ClientState[] = []
    client.events.on('statechange', (state) => states.push(state))
    await waitFor(() => client.state.status === 'open', { message: 'the client to open' })
    const sessionId = (client.state as { sessionId: string }).sessionId

    const blackholedAt = performance.now()
    proxy.blackhole(true, 'toClient')
    // Links from now on forward again: the reconnect gets through.
    proxy.blackhole(false, 'toClient')
    await waitFor(() => states.some((state) => state.status === 'reconnecting'), {
      message: 'the client to find the link dead',
    })
    const clientDetectionMs = performance.now() - blackholedAt
    expect(states.find((state) => state.status === 'reconnecting')).toMatchObject({
      closeCode: 4000,
    })
    expect(clientDetectionMs).toBeLessThan((100 + 300) * 1.1 + 250)
    await waitFor(() => disconnects.length === 1, { message: "the client's close frame" })
    expect(disconnects).toEqual([4000])
    expect(server.stats.heartbeatTimeouts).toBe(0)
    await waitFor(() => client.state.status === 'open', { message: 'the resume' })
    expect(client.state).toMatchObject({ sessionId, resumed: true })
  })

  it('keeps a client that answers pings', async () => {
    const server = await startServer(fx, { heartbeat: { intervalMs: 20, timeoutMs: 20 } })
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    let pings = 0
    client.socket.on('ping', () => pings++)
    await waitFor(() => pings >= 3, { message: 'three pings' })
    expect(client.closed).toBeUndefined()
    expect(server.stats.heartbeatTimeouts).toBe(0)
  })
})

describe('session expiry on an injected clock', () => {
  /** A server on `clock` with sessions of 1 s, and a session whose client went away. */
  async function awayOn(clock: ManualClock) {
    const server = await startServer(fx, { clock, sessionTtlMs: 1_000, heartbeat: false })
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    await first.client.drop()
    await waitFor(() => peer?.connected === false, { message: 'the drop' })
    return { server, first, peer: peer as Peer }
  }

  it('counts a session a resume finds expired before its timer ran', async () => {
    const clock = new ManualClock(5_000)
    const { server, first } = await awayOn(clock)
    // Its time is up, its timer not run yet (a late event loop).
    clock.jump(1_000)
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    expect(second.welcome.resumed).toBe(false)
    expect(server.stats).toMatchObject({ sessions: 1, sessionsExpired: 1 })
    // Its timer, run late, counts it no second time.
    clock.advance(0)
    expect(server.stats.sessionsExpired).toBe(1)
  })

  it('counts a stored session a resume finds expired, left by a server gone since', async () => {
    const clock = new ManualClock(5_000)
    // The store's own clock stays behind: it hands out what the server finds expired.
    const store = createMemorySessionStore({ clock: new ManualClock(5_000) })
    const options = { clock, store, sessionTtlMs: 1_000, heartbeat: false as const }
    const first = await startServer(fx, options)
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(first))
    await first.close()
    await client.waitClose()
    const second = await startServer(fx, options)
    clock.jump(1_000)
    const again = await ProtocolClient.connect(fx, urlOf(second), { sid: welcome.sid, a: 0 })
    expect(again.welcome.resumed).toBe(false)
    expect(second.stats.sessionsExpired).toBe(1)
  })

  it('expires a detached session exactly sessionTtlMs after its connection closed', async () => {
    const clock = new ManualClock(5_000)
    const store = createMemorySessionStore({ clock })
    const server = await startServer(fx, { clock, store, sessionTtlMs: 1_000, heartbeat: false })
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    await first.client.drop()
    await waitFor(() => peer?.connected === false, { message: 'the drop' })
    expect(store.get(first.welcome.sid)?.expiresAt).toBe(6_000)
    clock.advance(999)
    expect(peer?.closed).toBe(false)
    clock.advance(1)
    expect(peer?.closed).toBe(true)
    expect(server.stats).toMatchObject({ sessions: 0, sessionsExpired: 1 })
    await waitFor(() => store.size === 0, { message: 'the store to forget the session' })
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    expect(second.welcome.resumed).toBe(false)
  })

  it('stores a detached session at a close with the time it had left, not sessionTtlMs again', async () => {
    const clock = new ManualClock(5_000)
    const store = createMemorySessionStore({ clock })
    const server = createServer({ port: 0, clock, store, sessionTtlMs: 1_000, heartbeat: false })
    fx.add(() => server.close())
    await server.ready
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const away = await ProtocolClient.connect(fx, urlOf(server))
    await away.client.drop()
    await waitFor(() => peer?.connected === false, { message: 'the drop' })
    const here = await ProtocolClient.connect(fx, urlOf(server))
    clock.advance(900)
    await server.close()
    // Gone 900 ms of its 1,000: a restart must not give it another 1,000.
    expect(store.get(away.welcome.sid)?.expiresAt).toBe(6_000)
    // The one whose connection the close ended waits for its client from now.
    expect(store.get(here.welcome.sid)?.expiresAt).toBe(6_900)
    const next = await startServer(fx, { clock, store, sessionTtlMs: 1_000, heartbeat: false })
    clock.advance(100)
    const back = await ProtocolClient.connect(fx, urlOf(next), { sid: away.welcome.sid, a: 0 })
    expect(back.welcome.resumed).toBe(false)
  })

  it('resumes a session until the last moment', async () => {
    const clock = new ManualClock()
    const { server, first, peer } = await awayOn(clock)
    clock.advance(999)
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    expect(second.welcome.resumed).toBe(true)
    clock.advance(10_000)
    expect(peer?.closed).toBe(false)
  })
})
