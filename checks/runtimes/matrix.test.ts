import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createFaultProxy, startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import type { Peer } from '@lifeline/server'
import type { FaultProxy } from '@lifeline/test-utils'
import { Agent } from './agent.js'
import { LifelineRig } from './rig.js'
import type { Counted } from './rig.js'
import { runtimes } from './runtimes.js'

const fx = useFixtures(afterEach)

/** Fast retries: the backoff rules are unit-tested in core. */
const quickRetry = { initialDelayMs: 20, maxDelayMs: 100 }

/**
 * Black-holes the links the proxy has now, for good, and lets the next ones through: the
 * client's next attempt must not depend on how soon this process hears of the detection.
 */
function stallCurrentLinks(proxy: FaultProxy): void {
  proxy.blackhole()
  proxy.blackhole(false)
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i)

// One agent process per runtime runs every scenario of its row, one after the other.
describe.each(runtimes)('$name', (runtime) => {
  let agent: Agent

  beforeAll(async () => {
    agent = await Agent.start(runtime)
    console.info(
      `${runtime.name}: ${agent.info.runtime}, ${agent.info.webSocket === 'ws' ? 'ws' : 'its global'} WebSocket`,
    )
  })

  afterAll(async () => {
    // Leaves no process behind even when a scenario failed; `exits by itself` checks the exit.
    await agent?.stop().catch(() => {})
  })

  it('runs the client on the WebSocket the matrix names', () => {
    expect(agent.info.webSocket).toBe(runtime.webSocket)
    // Where the matrix uses `ws`, it is because the runtime has no WebSocket of its own.
    expect(agent.info.hasGlobalWebSocket).toBe(runtime.webSocket === 'global')
  })

  it('server killed and restarted: close 1006, reconnect, messages sent meanwhile delivered once, in order', async () => {
    const server = fx.add(await startWsServer())
    // A refused attempt must end at once (Node 22's global WebSocket once fired `error` and no
    // `close`, and the attempt waited for this timeout): the reconnection below must come well
    // before it.
    const h = await agent.call<number>('socket', {
      url: server.url('/feed'),
      options: { ...quickRetry, connectionTimeoutMs: 10_000 },
    })
    await agent.next(h, 'open')
    await agent.call('sendMany', { h, prefix: 'm', from: 1, count: 100 })
    await server.waitForMessages(100)

    await server.stop({ terminate: true })
    expect((await agent.next(h, 'close')).code).toBe(1006)
    await agent.next(h, 'state', { match: (event) => event.status === 'reconnecting' })
    await agent.call('sendMany', { h, prefix: 'm', from: 101, count: 100 })
    expect(await agent.call('inspect', { h })).toMatchObject({ queued: 100 })
    // Attempts against the stopped server are refused, and retried.
    await waitFor(() => agent.of(h, 'state').filter((e) => e.status === 'connecting').length >= 3, {
      message: 'three refused attempts',
    })

    const restarting = agent.events.length
    const back = Date.now()
    await server.restart()
    const reopened = await agent.next(h, 'open', { after: restarting })
    const reconnectMs = reopened.t - back
    expect(reconnectMs).toBeLessThan(3_000)
    console.info(`${runtime.name}: reopened ${reconnectMs} ms after the server came back`)
    await agent.call('sendMany', { h, prefix: 'm', from: 201, count: 50 })

    const received = await server.waitForMessages(250, 10_000)
    expect(received.map((message) => message.text)).toEqual(range(1, 250).map((n) => `m${n}`))
    expect(await agent.call('inspect', { h })).toMatchObject({ queued: 0, readyState: 1 })
    const closing = agent.events.length
    await agent.call('close', { h, code: 1000, reason: 'done' })
    const closed = await agent.next(h, 'close', { after: closing })
    expect(closed).toMatchObject({ code: 1000, wasClean: true })
  })

  it('binary frames both ways with binaryType arraybuffer: Uint8Array, ArrayBuffer and Blob sends', async () => {
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) =>
          socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
      }),
    )
    const h = await agent.call<number>('socket', {
      url: server.url(),
      options: quickRetry,
      binaryType: 'arraybuffer',
    })
    await agent.call('send', { h, bytes: [1, 2, 3] })
    await agent.call('send', { h, bytes: [4, 5], as: 'arraybuffer' })
    await agent.call('send', { h, bytes: [6], as: 'blob' })
    await agent.call('send', { h, text: 'text stays text' })
    await waitFor(() => agent.of(h, 'message').length === 4, { message: 'four echoes' })
    expect(server.messages.map((message) => message.isBinary)).toEqual([true, true, true, false])
    expect(agent.of(h, 'message').map(({ kind, bytes, text }) => ({ kind, bytes, text }))).toEqual([
      { kind: 'ArrayBuffer', bytes: [1, 2, 3], text: undefined },
      { kind: 'ArrayBuffer', bytes: [4, 5], text: undefined },
      { kind: 'ArrayBuffer', bytes: [6], text: undefined },
      { kind: undefined, bytes: undefined, text: 'text stays text' },
    ])
    await agent.call('close', { h })
  })

  it("a server's close code and reason arrive as sent; a fatal code (1008) ends the socket", async () => {
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => socket.close(1008, 'not welcome here'),
      }),
    )
    const h = await agent.call<number>('socket', { url: server.url(), options: quickRetry })
    expect(await agent.next(h, 'close')).toMatchObject({
      code: 1008,
      reason: 'not welcome here',
      wasClean: true,
    })
    expect(await agent.next(h, 'error')).toMatchObject({ code: 'POLICY_VIOLATION' })
    expect(await agent.call('inspect', { h })).toMatchObject({ status: 'closed', readyState: 3 })
    expect(server.connections).toHaveLength(1)
  })

  it("binaryType 'blob' by default, as the standard says: a binary frame arrives as a Blob", async () => {
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => socket.send(new Uint8Array([7, 8, 9])),
      }),
    )
    const h = await agent.call<number>('socket', { url: server.url(), options: quickRetry })
    expect(await agent.next(h, 'message')).toMatchObject({ kind: 'Blob', size: 3 })
    await agent.call('close', { h })
  })

  it('heartbeat: a black-holed (half-open) link is detected and replaced', async () => {
    const intervalMs = 300
    const timeoutMs = 300
    // The server answers pings and talks on its own, so the link is busy until it stalls.
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => {
          const ticker = setInterval(() => socket.send('tick'), 50)
          socket.on('close', () => clearInterval(ticker))
          socket.on('message', (data) => {
            if (String(data) === 'ping') socket.send('pong')
          })
        },
        recordMessages: false,
      }),
    )
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    const h = await agent.call<number>('socket', {
      url: proxy.url(),
      options: { ...quickRetry, heartbeat: { intervalMs, timeoutMs, ping: 'ping', pong: 'pong' } },
    })
    await agent.next(h, 'message')

    const stalledAt = Date.now()
    const after = agent.events.length
    stallCurrentLinks(proxy)
    const detected = await agent.next(h, 'error', { after })
    expect(detected.code).toBe('HEARTBEAT_TIMEOUT')
    // Not before the window; the upper bound leaves a loaded two-core machine a second (the
    // tight bound is core's own heartbeat test): what matters here is that it comes at all.
    const detectionMs = detected.t - stalledAt
    expect(detectionMs).toBeGreaterThanOrEqual(intervalMs + timeoutMs - 50)
    expect(detectionMs).toBeLessThan(intervalMs + timeoutMs + 1_000)
    console.info(
      `${runtime.name}: half-open link detected in ${detectionMs} ms (window ${intervalMs + timeoutMs} ms)`,
    )
    await agent.next(h, 'open', { after })
    expect(proxy.counters.accepted).toBe(2)
    await agent.call('close', { h })
  })

  describe.each(['json', 'msgpack'] as const)('protocol mode, %s codec', (codec) => {
    it('exactly once both ways across a cut and a server restart, and RPC across a cut', async () => {
      const rig = await new LifelineRig(fx).start()
      const atServer: number[] = []
      let peer: Peer<Counted> | undefined
      rig.onServer((server) => {
        server.on('connection', (connected) => {
          peer = connected
          connected.on('up', ({ n }) => atServer.push(n))
        })
        server.handle('echo', ({ n }) => ({ n }))
      })
      const h = await agent.call<number>('client', {
        url: rig.proxy.url(),
        codec,
        options: { socket: quickRetry, ackDelayMs: 5 },
      })
      await agent.next(h, 'state', { match: (event) => event.status === 'open' })
      let sentDown = 0
      const down = (count: number) => {
        for (let i = 0; i < count; i++) peer?.send('down', { n: ++sentDown })
      }

      await agent.call('up', { h, from: 1, count: 50 })
      down(50)
      await waitFor(() => atServer.length === 50, { message: 'first 50 at the server' })

      // The link is cut (1006); both sides keep sending; the session resumes.
      const cutting = agent.events.length
      rig.proxy.cut()
      await agent.call('up', { h, from: 51, count: 50 })
      down(50)
      expect((await agent.next(h, 'state', { after: cutting })).status).toBe('reconnecting')
      await agent.next(h, 'state', {
        after: cutting,
        match: (event) => event.status === 'open' && event.resumed === true,
      })

      // Requests in flight when the link is cut are answered after the resume.
      const requests = range(1, 10).map((n) =>
        agent.call<{ response?: { n: number }; error?: string }>('request', {
          h,
          method: 'echo',
          data: { n },
          timeoutMs: 10_000,
        }),
      )
      rig.proxy.cut()
      expect(await Promise.all(requests)).toEqual(range(1, 10).map((n) => ({ response: { n } })))

      // The server process goes away and comes back with the same session store.
      const restarting = agent.events.length
      peer = undefined
      await rig.restart()
      await agent.call('up', { h, from: 101, count: 50 })
      await agent.next(h, 'state', {
        after: restarting,
        match: (event) => event.status === 'open' && event.resumed === true,
      })
      await waitFor(() => peer !== undefined, { message: 'the session back on the new server' })
      down(50)

      await waitFor(() => atServer.length >= 150 && agent.of(h, 'down').length >= 150, {
        message: () =>
          `all delivered (server ${atServer.length}/150, client ${agent.of(h, 'down').length}/150)`,
        timeoutMs: 10_000,
      })
      expect(atServer).toEqual(range(1, 150))
      expect(agent.of(h, 'down').map((event) => event.n)).toEqual(range(1, 150))
      expect(agent.of(h, 'reset')).toEqual([])
      expect(agent.of(h, 'drop')).toEqual([])
      await agent.call('close', { h })
    })
  })

  it('protocol heartbeat: a black-holed link is replaced, the session resumes, nothing is lost', async () => {
    const rig = await new LifelineRig(fx).start()
    const atServer: number[] = []
    rig.onServer((server) =>
      server.on('connection', (peer) => peer.on('up', ({ n }) => atServer.push(n))),
    )
    const intervalMs = 200
    const timeoutMs = 200
    const h = await agent.call<number>('client', {
      url: rig.proxy.url(),
      options: { socket: quickRetry, heartbeat: { intervalMs, timeoutMs }, ackDelayMs: 5 },
    })
    await agent.next(h, 'state', { match: (event) => event.status === 'open' })
    await agent.call('up', { h, from: 1, count: 10 })
    await waitFor(() => atServer.length === 10, { message: 'first 10 at the server' })

    const after = agent.events.length
    const stalledAt = Date.now()
    stallCurrentLinks(rig.proxy)
    await agent.call('up', { h, from: 11, count: 10 })
    const detected = await agent.next(h, 'error', { after })
    expect(detected.code).toBe('HEARTBEAT_TIMEOUT')
    // Detection comes within `intervalMs + timeoutMs` of the last frame heard, plus the
    // heartbeat's tick; a second more leaves a loaded two-core machine room.
    expect(detected.t - stalledAt).toBeLessThan(intervalMs + timeoutMs + 1_000)
    await agent.next(h, 'state', {
      after,
      match: (event) => event.status === 'open' && event.resumed === true,
    })
    await waitFor(() => atServer.length >= 20, {
      message: () => `20 at the server (have ${atServer.length})`,
    })
    expect(atServer).toEqual(range(1, 20))
    await agent.call('close', { h })
  })

  it("a listener that throws is reported, and the socket and the runtime's process go on", async () => {
    const server = fx.add(
      await startWsServer({ onConnection: ({ socket }) => socket.send('hello') }),
    )
    const h = await agent.call<number>('socket', {
      url: server.url(),
      options: quickRetry,
      throwIn: 'message',
    })
    // The listeners after the faulty one still hear the frame.
    expect(await agent.next(h, 'message')).toMatchObject({ text: 'hello' })
    await agent.call('send', { h, text: 'still here' })
    expect((await server.waitForMessages(1)).map((message) => message.text)).toEqual(['still here'])
    expect(await agent.call('inspect', { h })).toMatchObject({ status: 'open', readyState: 1 })
    await agent.call('close', { h })
  })

  it('exits by itself once everything is closed: no timer, socket or listener left behind', async () => {
    await agent.stop()
  })
})
