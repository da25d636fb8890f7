import { connect } from 'node:net'
import { json } from '@lifeline/codec'
import { createClient, type ClientState, type LifelineError } from '@lifeline/core'
import { once, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Peer } from '../src/index.js'
import { ProtocolClient, jsonProtocol, startServer, urlOf, type Frame } from './helpers.js'

const fx = useFixtures(afterEach)

/** A connection's fate: the frames it got and its close code. */
interface Outcome {
  frames: Frame[]
  code: number | undefined
}

/** Opens a socket (optionally as `client`, an address named in a header) and says `$hello`. */
function attempt(url: string, client?: string): Promise<Outcome> {
  const socket = fx.add(
    new WebSocket(url, [jsonProtocol], {
      headers: client === undefined ? {} : { 'x-client': client },
    }),
  )
  const frames: Frame[] = []
  socket.on('error', () => undefined)
  socket.on('open', () => socket.send(JSON.stringify({ t: '$hello', d: { v: 1 } })))
  return new Promise((resolve) => {
    socket.on('message', (data: Buffer) => {
      frames.push(json().decode(data.toString()) as Frame)
      // A `$welcome` is an accepted connection: its outcome is known.
      if (frames.some((frame) => frame.t === '$welcome')) resolve({ frames, code: undefined })
    })
    socket.once('close', (code: number) => resolve({ frames, code }))
  })
}

function refusedWith(outcomes: Outcome[], errorCode: string): Outcome[] {
  return outcomes.filter(
    (outcome) =>
      outcome.code === 1013 &&
      outcome.frames.length === 1 &&
      outcome.frames[0]?.t === '$error' &&
      (outcome.frames[0].d as { code: string }).code === errorCode,
  )
}

const byHeader = (request: { headers: Record<string, string | string[] | undefined> }) =>
  request.headers['x-client'] as string | undefined

describe('connection rate per address', () => {
  it('refuses connections past the burst with 1013 and RATE_LIMITED', async () => {
    // A refill of one connection per 100 s: none comes back during the test.
    const server = await startServer(fx, {
      connectionLimits: { connectionsPerSecond: 0.01, connectionBurst: 5 },
    })
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => attempt(urlOf(server))))
    expect(outcomes.filter((outcome) => outcome.code === undefined)).toHaveLength(5)
    expect(refusedWith(outcomes, 'RATE_LIMITED')).toHaveLength(7)
    expect(server.stats).toMatchObject({ rateLimited: 7, sessionsCreated: 5, sessions: 5 })
  })

  it('limits each address of clientAddress on its own, and falls back to the socket', async () => {
    const server = await startServer(fx, {
      connectionLimits: { connectionsPerSecond: 0.01, connectionBurst: 2 },
      clientAddress: byHeader,
    })
    const url = urlOf(server)
    const a = await Promise.all([attempt(url, '10.0.0.1'), attempt(url, '10.0.0.1')])
    const b = await Promise.all([attempt(url, '10.0.0.2'), attempt(url, '10.0.0.2')])
    expect([...a, ...b].every((outcome) => outcome.code === undefined)).toBe(true)
    expect(refusedWith([await attempt(url, '10.0.0.1')], 'RATE_LIMITED')).toHaveLength(1)
    expect(refusedWith([await attempt(url, '10.0.0.2')], 'RATE_LIMITED')).toHaveLength(1)
    // No header: the socket's address (127.0.0.1), which has its own bucket.
    expect((await attempt(url)).code).toBeUndefined()
    // Two addresses of one IPv6 /64 share a bucket; another /64 has its own.
    await attempt(url, '2001:db8:0:1::a')
    await attempt(url, '2001:db8:0:1::b')
    expect(refusedWith([await attempt(url, '2001:db8:0:1:ffff::1')], 'RATE_LIMITED')).toHaveLength(
      1,
    )
    expect((await attempt(url, '2001:db8:0:2::1')).code).toBeUndefined()
    expect(server.stats.rateLimited).toBe(3)
  })

  it('is retried by the client with a growing backoff, and reported as an error', async () => {
    const server = await startServer(fx, {
      connectionLimits: { connectionsPerSecond: 0.01, connectionBurst: 1 },
    })
    expect((await attempt(urlOf(server))).code).toBeUndefined()
    const retries: number[] = []
    const client = createClient({
      url: urlOf(server),
      socket: {
        delayMs: ({ retry }) => {
          retries.push(retry)
          return 5
        },
      },
    })
    fx.add(() => client.close())
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    const states: ClientState[] = []
    client.events.on('statechange', (state) => states.push(state))
    await waitFor(() => retries.length >= 3, { message: 'three retries' })
    // 1013 is not fatal, and a link that opened only to be refused does not reset the backoff.
    expect(retries.slice(0, 3)).toEqual([0, 1, 2])
    const lost = states.filter((state) => state.status === 'reconnecting').slice(0, 3)
    expect(lost.map((state) => (state as { closeCode: number }).closeCode)).toEqual([
      1013, 1013, 1013,
    ])
    expect(states.some((state) => state.status === 'closed')).toBe(false)
    expect(errors[0]).toMatchObject({ code: 'REMOTE_ERROR', remoteCode: 'RATE_LIMITED' })
  })
})

describe('sessions', () => {
  it('caps live sessions per address, counting those that wait for a resume', async () => {
    const server = await startServer(fx, {
      connectionLimits: { sessionsPerAddress: 2 },
      clientAddress: byHeader,
    })
    const peers: Peer[] = []
    server.on('connection', (peer) => peers.push(peer))
    const url = urlOf(server)
    const headers = { 'x-client': '10.0.0.1' }
    const first = await ProtocolClient.connect(fx, url, {}, { headers })
    await ProtocolClient.connect(fx, url, {}, { headers })
    await first.client.drop()

    const third = await attempt(url, '10.0.0.1')
    expect(refusedWith([third], 'TOO_MANY_SESSIONS')).toHaveLength(1)
    expect(server.stats).toMatchObject({ sessions: 2, sessionsRefused: 1 })
    // Another address has its own quota; a resume creates no session and passes.
    expect((await attempt(url, '10.0.0.2')).code).toBeUndefined()
    const resumed = await ProtocolClient.connect(
      fx,
      url,
      { sid: first.welcome.sid, a: 0 },
      { headers },
    )
    expect(resumed.welcome.resumed).toBe(true)

    // An ended session frees its place.
    peers[0]?.close()
    expect((await attempt(url, '10.0.0.1')).code).toBeUndefined()
    expect(server.stats.sessionsRefused).toBe(1)
  })

  it('caps live sessions in all', async () => {
    const server = await startServer(fx, {
      connectionLimits: { maxSessions: 3 },
      clientAddress: byHeader,
    })
    const url = urlOf(server)
    for (const client of ['a', 'b', 'c']) expect((await attempt(url, client)).code).toBeUndefined()
    expect(refusedWith([await attempt(url, 'd')], 'TOO_MANY_SESSIONS')).toHaveLength(1)
    expect(server.stats).toMatchObject({ sessions: 3, sessionsRefused: 1 })
  })

  it('are not limited with connectionLimits: false', async () => {
    const server = await startServer(fx, { connectionLimits: false })
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => attempt(urlOf(server))))
    expect(outcomes.every((outcome) => outcome.code === undefined)).toBe(true)
  })
})

describe('a peer that never answers a close frame', () => {
  /** Upgrades by hand, then sends `frame` (if any) and never reads nor answers a close frame. */
  async function silentPeer(port: number, frame?: Buffer): Promise<void> {
    const socket = connect(port, '127.0.0.1')
    fx.add(() => socket.destroy())
    socket.on('error', () => undefined)
    await once(socket, 'connect')
    socket.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
        `Sec-WebSocket-Protocol: ${jsonProtocol}\r\n\r\n`,
    )
    await once(socket, 'data')
    if (frame !== undefined) socket.write(frame)
    socket.pause()
  }

  it('is dropped closeTimeoutMs after the server closed its socket, not 30 s later', async () => {
    const server = await startServer(fx, {
      connectionLimits: { connectionsPerSecond: 0.01, connectionBurst: 2 },
      helloTimeoutMs: 100,
      closeTimeoutMs: 100,
      maxMessageSize: 4096,
    })
    // No `$hello` (closed with 4408); a frame header over maxMessageSize (closed by `ws` with
    // 1009); past the rate (refused with 1013). `ws` alone holds each for 30 s.
    await silentPeer(server.port)
    const oversize = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, 1, 2, 3, 4])
    await silentPeer(server.port, oversize)
    await silentPeer(server.port)
    await waitFor(() => server.stats.rateLimited === 1 && server.stats.helloTimeouts === 1, {
      message: 'the refusal and the hello timeout',
    })
    expect(server.stats.oversize).toBe(1)
    await waitFor(() => server.stats.connections === 0, {
      timeoutMs: 3_000,
      message: 'the unanswered sockets to be dropped',
    })
  })
})

describe('upgrade deadline', () => {
  it('drops a socket that does not complete its upgrade request in upgradeTimeoutMs', async () => {
    const server = await startServer(fx, { upgradeTimeoutMs: 200 })
    const socket = connect(server.port, '127.0.0.1')
    fx.add(() => socket.destroy())
    socket.on('error', () => undefined)
    await once(socket, 'connect')
    const startedAt = performance.now()
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upg`)
    let answer = ''
    socket.on('data', (data: Buffer) => (answer += data.toString()))
    await once(socket, 'close', 3_000)
    const elapsedMs = performance.now() - startedAt
    // Node checks its deadlines on a timer: within a tenth of the deadline after it.
    expect(elapsedMs).toBeGreaterThanOrEqual(190)
    expect(answer).toMatch(/^HTTP\/1\.1 408 /)
    expect(server.stats.upgradeTimeouts).toBe(1)
  })
})
