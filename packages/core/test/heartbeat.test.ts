import { afterEach, describe, expect, it } from 'vitest'
import {
  createFaultProxy,
  startWsServer,
  steppingWallClock,
  useFixtures,
  waitFor,
} from '@lifeline/test-utils'
import type { WebSocket } from 'ws'
import { ReconnectingWebSocket } from '../src/index.js'
import { nextEvent, quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)

/** The server's side of the heartbeat: every `ping` answered with a `pong`. */
function answerPings(socket: WebSocket): void {
  socket.on('message', (data) => {
    if (String(data) === 'ping') socket.send('pong')
  })
}

describe('heartbeat over a real link', () => {
  // The exact figure (intervalMs + timeoutMs from the last frame, plus the ticker's step) is
  // proved on a manual clock in src/reconnectingWebSocket.test.ts. Here, on a real TCP link
  // through the fault proxy, the bounds say what a loaded 2-core machine cannot bend: never
  // before the window is over, and within it plus 10 % and 700 ms for a busy event loop. The
  // timeout is long next to the interval, so a heartbeat that waited a timeout twice (2.75 s)
  // is still caught beyond that allowance (2.35 s).
  it('detects a black-holed link after intervalMs + timeoutMs of silence, then reconnects', async () => {
    const intervalMs = 250
    const timeoutMs = 1250
    // The server answers pings and also talks on its own, so the link is busy until it stalls.
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => {
          const ticker = setInterval(() => socket.send('tick'), 20)
          socket.on('close', () => clearInterval(ticker))
          answerPings(socket)
        },
      }),
    )
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    const socket = fx.add(
      new ReconnectingWebSocket(proxy.url(), undefined, {
        ...quickRetry,
        heartbeat: { intervalMs, timeoutMs, ping: 'ping', isPong: (data) => data === 'pong' },
      }),
    )
    // When the client last heard from the server: the window runs from there, however late a
    // loaded event loop let the last tick through.
    let lastHeardAt = 0
    socket.addEventListener('message', () => (lastHeardAt = performance.now()))
    await nextEvent(socket, 'open')
    await nextEvent(socket, 'message')

    const detected = nextEvent(socket, 'error', 3_000)
    proxy.blackhole()
    const error = await detected
    const detectionMs = performance.now() - lastHeardAt
    proxy.blackhole(false)

    expect(error.error.code).toBe('HEARTBEAT_TIMEOUT')
    // Timers never fire early; 2 ms for the rounding of Node's millisecond timers.
    expect(detectionMs).toBeGreaterThanOrEqual(intervalMs + timeoutMs - 2)
    // The design's bound is +10 % (the ticker's step); 700 ms more for a machine whose cores
    // are busy with other work and run the ticker late.
    expect(detectionMs).toBeLessThanOrEqual((intervalMs + timeoutMs) * 1.1 + 700)
    console.info(
      `half-open link detected in ${detectionMs.toFixed(0)} ms (window ${intervalMs + timeoutMs} ms)`,
    )
    await waitFor(
      () => socket.readyState === ReconnectingWebSocket.OPEN && proxy.counters.accepted === 2,
      {
        message: 'reconnected through a fresh link',
      },
    )
  })

  it('keeps a quiet but healthy link open: pongs answer pings', async () => {
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => answerPings(socket),
      }),
    )
    const socket = fx.add(
      new ReconnectingWebSocket(server.url(), undefined, {
        heartbeat: {
          intervalMs: 50,
          timeoutMs: 100,
          ping: 'ping',
          isPong: (data) => data === 'pong',
        },
      }),
    )
    const messages: unknown[] = []
    socket.onmessage = (event) => messages.push(event.data)
    await nextEvent(socket, 'open')
    await waitFor(() => server.messages.length >= 10, { message: '10 pings went out' })
    expect(socket.readyState).toBe(ReconnectingWebSocket.OPEN)
    expect(server.connections).toHaveLength(1)
    expect(messages).toEqual([])
  })

  it('detects a black-holed link in time when the wall clock goes back meanwhile', async () => {
    const wall = steppingWallClock(fx)
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => answerPings(socket),
      }),
    )
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    const socket = fx.add(
      new ReconnectingWebSocket(proxy.url(), undefined, {
        ...quickRetry,
        heartbeat: {
          intervalMs: 100,
          timeoutMs: 200,
          ping: 'ping',
          isPong: (data) => data === 'pong',
        },
      }),
    )
    await nextEvent(socket, 'open')

    const detected = nextEvent(socket, 'error', 3_000)
    proxy.blackhole()
    // An hour back (NTP, a user): on the wall clock, the server was last heard from in the future.
    wall.step(-60 * 60 * 1_000)
    const error = await detected
    proxy.blackhole(false)
    expect(error.error.code).toBe('HEARTBEAT_TIMEOUT')
  })
})
