import { useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import type { Peer } from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)

describe('handshake', () => {
  it('answers $hello with a new session and fires connection once', async () => {
    const server = await startServer(fx)
    // Recorded, then asserted in the test: the server catches what its listeners throw, so an
    // assertion failing in one would be logged and the test would pass.
    const peers: Peer[] = []
    const restored: boolean[] = []
    server.on('connection', (peer, info) => {
      peers.push(peer)
      restored.push(info.restored)
    })
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server))
    expect(restored).toEqual([false])
    expect(welcome.resumed).toBe(false)
    expect(welcome.a).toBe(0)
    expect(welcome.sid).toMatch(/^[\w-]{22}$/)
    expect(peers).toHaveLength(1)
    expect(peers[0]?.sessionId).toBe(welcome.sid)
    expect(peers[0]?.id).not.toBe(welcome.sid)
    expect(peers[0]?.connected).toBe(true)
    expect(server.stats).toMatchObject({ connections: 1, sessions: 1, sessionsCreated: 1 })
  })

  it.each([
    { outboundHighWaterBytes: undefined, w: 512 * 1024 },
    { outboundHighWaterBytes: 64 * 1024 + 1, w: 32 * 1024 },
    // Never under a control frame's 1 KiB, which a client checks as it does `max`.
    { outboundHighWaterBytes: 1_500, w: 1_024 },
  ])(
    'gives the client a send window of half its outboundHighWaterBytes ($outboundHighWaterBytes): w $w',
    async ({ outboundHighWaterBytes, w }) => {
      const server = await startServer(
        fx,
        outboundHighWaterBytes === undefined ? {} : { outboundHighWaterBytes },
      )
      const { welcome } = await ProtocolClient.connect(fx, urlOf(server))
      expect(welcome.w).toBe(w)
    },
  )

  it('resumes a session and replays what was sent while the client was away, once and in order', async () => {
    const server = await startServer(fx)
    let peer: Peer | undefined
    const resumed: Peer[] = []
    server.on('connection', (p) => (peer = p))
    server.on('resume', (p) => resumed.push(p))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    peer?.send('m', 1)
    await first.client.waitForMessages(1)
    await first.client.drop()
    await waitFor(() => peer?.connected === false, { message: 'the server to see the drop' })
    for (let i = 2; i <= 5; i++) peer?.send('m', i)

    // The client processed s=1 only.
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 1 })
    expect(second.welcome).toEqual({
      sid: first.welcome.sid,
      resumed: true,
      a: 0,
      max: 1_048_576,
      // The send window: half of outboundHighWaterBytes (1 MiB).
      w: 524_288,
    })
    const replayed = await second.client.waitForMessages(4)
    expect(replayed.map((frame) => [frame.s, frame.d])).toEqual([
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ])
    peer?.send('m', 6)
    const all = await second.client.waitForMessages(5)
    expect(all.map((frame) => frame.d)).toEqual([2, 3, 4, 5, 6])
    // The same peer object, resumed once.
    expect(resumed).toEqual([peer])
    expect(server.stats).toMatchObject({ sessions: 1, sessionsCreated: 1, sessionsResumed: 1 })
  })

  it('replays what the client had not acknowledged when the link died, and nothing it had', async () => {
    const server = await startServer(fx)
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    for (let i = 1; i <= 3; i++) peer?.send('m', i)
    await first.client.waitForMessages(3)
    first.client.send({ t: '$ack', a: 2 })
    await waitFor(
      () => (peer as unknown as { stream: { unackedCount: number } }).stream.unackedCount === 1,
      {
        message: 'the ack to arrive',
      },
    )
    await first.client.drop()
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 2 })
    expect(second.welcome.resumed).toBe(true)
    const replayed = await second.client.waitForMessages(1)
    expect(replayed.map((frame) => frame.s)).toEqual([3])
  })

  it('gives a new session (resumed: false) for an unknown session id', async () => {
    const server = await startServer(fx)
    const resets: string[] = []
    server.on('session:reset', (_peer, info) => resets.push(info.reason))
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server), { sid: 'nope', a: 3 })
    expect(welcome.resumed).toBe(false)
    expect(welcome.sid).not.toBe('nope')
    expect(resets).toEqual(['unknown'])
  })

  it('fires no session:reset for a session a connection listener already ended', async () => {
    const server = await startServer(fx)
    const events: string[] = []
    server.on('connection', (peer) => peer.close(4000, 'not today'))
    server.on('session:end', (_peer, info) => events.push(`end ${info.reason}`))
    server.on('session:reset', (_peer, info) => events.push(`reset ${info.reason}`))
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1, sid: 'gone', a: 0 } })
    expect((await client.waitClose()).code).toBe(4000)
    expect(events).toEqual(['end closed'])
  })

  it('does not resume an expired session', async () => {
    const server = await startServer(fx, { sessionTtlMs: 30 })
    const ends: string[] = []
    server.on('session:end', (_peer, info) => ends.push(info.reason))
    const resets: string[] = []
    server.on('session:reset', (_peer, info) => resets.push(info.reason))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    await first.client.drop()
    await waitFor(() => server.stats.sessions === 0, { message: 'the session to expire' })
    expect(ends).toEqual(['expired'])
    expect(server.stats.sessionsExpired).toBe(1)
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    expect(second.welcome.resumed).toBe(false)
    expect(second.welcome.sid).not.toBe(first.welcome.sid)
    expect(resets).toEqual(['unknown'])
  })

  it('does not resume a session whose replay buffer overflowed (lossy)', async () => {
    const server = await startServer(fx, { replayLimit: 3 })
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const resets: string[] = []
    server.on('session:reset', (_peer, info) => resets.push(info.reason))
    const ends: string[] = []
    server.on('session:end', (_peer, info) => ends.push(info.reason))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    await first.client.drop()
    await waitFor(() => peer?.connected === false, { message: 'the server to see the drop' })
    for (let i = 1; i <= 4; i++) peer?.send('m', i)
    const old = peer
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    expect(second.welcome.resumed).toBe(false)
    expect(second.client.messages()).toEqual([])
    expect(resets).toEqual(['lossy'])
    expect(ends).toEqual(['lossy'])
    expect(old?.closed).toBe(true)
    expect(peer).not.toBe(old)
    expect(server.stats.sessions).toBe(1)
  })

  it('resumes a session whose client was acknowledged what it processed (sa), and resets one that processed less (lossy)', async () => {
    const server = await startServer(fx)
    const got: unknown[] = []
    server.on('connection', (peer) => peer.on('m', (data) => got.push(data)))
    const resets: string[] = []
    server.on('session:reset', (_peer, info) => resets.push(info.reason))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    first.client.send({ t: 'm', d: 1, s: 1 })
    first.client.send({ t: 'm', d: 2, s: 2 })
    await waitFor(() => got.length === 2, { message: 'both processed' })
    await first.client.drop()
    const sid = first.welcome.sid
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid, a: 0, sa: 2 })
    expect(second.welcome).toMatchObject({ sid, resumed: true, a: 2 })
    expect(resets).toEqual([])
    await second.client.drop()
    // Acknowledged 3 when this session processed 2: another process served it and could not
    // store what it did. Resumed, the client would get `a: 2` after 3, a violation.
    const third = await ProtocolClient.connect(fx, urlOf(server), { sid, a: 0, sa: 3 })
    expect(third.welcome).toMatchObject({ resumed: false, a: 0 })
    expect(third.welcome.sid).not.toBe(sid)
    expect(resets).toEqual(['lossy'])
    expect(server.stats.protocolErrors).toBe(0)
  })

  it('closes the connection still attached to a resumed session with 4409', async () => {
    const server = await startServer(fx)
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const disconnects: number[] = []
    server.on('disconnect', (_peer, info) => disconnects.push(info.code))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    expect(second.welcome.resumed).toBe(true)
    expect((await first.client.waitClose()).code).toBe(4409)
    expect((await first.client.next('$error')).d).toMatchObject({ code: 'SESSION_TAKEN_OVER' })
    expect(disconnects).toEqual([4409])
    peer?.send('m', 'after')
    await second.client.waitForMessages(1)
    expect(first.client.messages()).toEqual([])
    expect(server.stats).toMatchObject({ takeovers: 1, sessions: 1 })
  })

  it('gives a new session to a resume whose taken-over session a disconnect listener closed', async () => {
    const server = await startServer(fx)
    server.on('disconnect', (peer) => peer.close())
    const peers: Peer[] = []
    server.on('connection', (peer) => peers.push(peer))
    const resets: string[] = []
    server.on('session:reset', (_peer, info) => resets.push(info.reason))
    server.handle('echo', (data) => data)
    const first = await ProtocolClient.connect(fx, urlOf(server))
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    expect(second.welcome).toMatchObject({ resumed: false, a: 0 })
    expect(second.welcome.sid).not.toBe(first.welcome.sid)
    expect(resets).toEqual(['unknown'])
    expect(peers.map((peer) => peer.closed)).toEqual([true, false])
    expect(server.stats.sessions).toBe(1)
    second.client.send({ t: '$req', d: { id: 1, m: 'echo', d: 'hi' }, s: 1 })
    expect((await second.client.next('$res')).d).toEqual({ id: 1, d: 'hi' })
  })

  it('closes the connection still attached to a session a resume resets (4409)', async () => {
    // The old link is still up (a half-open socket the server has not found dead yet); the
    // resume cannot be served exactly: oversize for its smaller max, lossy for its sa.
    for (const hello of [{ max: 1_100 }, { sa: 5 }]) {
      const server = await startServer(fx)
      const peers: Peer[] = []
      const got: unknown[] = []
      server.on('connection', (peer) => {
        peers.push(peer)
        peer.on('m', (data) => got.push(data))
      })
      const disconnects: number[] = []
      server.on('disconnect', (_peer, info) => disconnects.push(info.code))
      const first = await ProtocolClient.connect(fx, urlOf(server))
      await waitFor(() => peers.length === 1, { message: 'the first session' })
      ;(peers[0] as Peer).send('m', 'x'.repeat(2_000))
      await first.client.waitForMessages(1)
      const second = await ProtocolClient.connect(fx, urlOf(server), {
        sid: first.welcome.sid,
        a: 0,
        ...hello,
      })
      expect(second.welcome.resumed).toBe(false)
      expect((peers[0] as Peer).closed).toBe(true)
      // Left open, it was served by the session that ended: what its client sent went to a
      // peer the server forgot, and nothing ever closed it.
      expect((await first.client.waitClose()).code).toBe(4409)
      expect(disconnects).toEqual([4409])
      first.client.send({ t: 'm', d: 'late', s: 1 })
      second.client.send({ t: 'm', d: 'new', s: 1 })
      await waitFor(() => got.length > 0, { message: 'the new session to get its message' })
      expect(got).toEqual(['new'])
    }
  })

  it('refuses a resume that acknowledges more than was sent (1002)', async () => {
    const server = await startServer(fx)
    const first = await ProtocolClient.connect(fx, urlOf(server))
    await first.client.drop()
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1, sid: first.welcome.sid, a: 5 } })
    expect((await client.waitClose()).code).toBe(1002)
    expect(server.stats.protocolErrors).toBe(1)
  })

  it('refuses a $hello of another protocol version (1002)', async () => {
    const server = await startServer(fx)
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 2 } })
    expect((await client.waitClose()).code).toBe(1002)
  })

  it('processes frames sent right behind $hello after $welcome, with the handlers of connection', async () => {
    const server = await startServer(fx, {
      authenticate: () => new Promise<object>((resolve) => setTimeout(() => resolve({}), 20)),
    })
    const seen: unknown[] = []
    server.on('connection', (peer) => peer.on('m', (data) => seen.push(data)))
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1 } })
    client.send({ t: 'm', d: 'early', s: 1 })
    await client.next('$welcome')
    await waitFor(() => seen.length === 1, { message: 'the early message' })
    expect(seen).toEqual(['early'])
  })

  it('takes a $hello that came in time though the event loop stalled past helloTimeoutMs', async () => {
    // Stalled (a long synchronous job, a collection), Node runs the timers that fell due before
    // it reads the network: the hello timer, run late, closed a client whose `$hello` came in
    // time and waited unread.
    const server = await startServer(fx, { helloTimeoutMs: 100 })
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1 } })
    const stalledUntil = performance.now() + 300
    while (performance.now() < stalledUntil) {
      // The stall: the `$hello` is in the server's socket, unread.
    }
    await client.next('$welcome')
    expect(client.closed).toBeUndefined()
    expect(server.stats.helloTimeouts).toBe(0)
  })
})
