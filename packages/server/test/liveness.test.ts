import { ManualClock } from '@lifeline/core/testing'
import { createFaultProxy, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { createMemorySessionStore, type Peer } from '../src/index.js'
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

  it('resumes a session until the last moment', async () => {
    const clock = new ManualClock()
    const server = await startServer(fx, { clock, sessionTtlMs: 1_000, heartbeat: false })
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    await first.client.drop()
    await waitFor(() => peer?.connected === false, { message: 'the drop' })
    clock.advance(999)
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    expect(second.welcome.resumed).toBe(true)
    clock.advance(10_000)
    expect(peer?.closed).toBe(false)
  })
})
