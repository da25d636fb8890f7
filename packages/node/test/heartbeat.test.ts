import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '@lifeline/core/testing'
import type { BlackholeDirection } from '@lifeline/test-utils'
import { createFaultProxy, startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { ReconnectingWebSocket, nodeSocketDefaults } from '../src/index.js'
import { nextEvent, quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)
const heartbeat = { intervalMs: 1_000, timeoutMs: 500 }

/** A socket through a fault proxy to a plain `ws` server, which answers pings by itself. */
async function proxiedSocket(clock?: ManualClock) {
  const server = fx.add(await startWsServer())
  const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
  const options = { ...quickRetry, heartbeat, ...(clock && { clock }) }
  const socket = fx.add(new ReconnectingWebSocket(proxy.url('/'), null, options))
  await nextEvent(socket, 'open')
  const first = await server.waitForConnection()
  const pings: number[] = []
  first.socket.on('ping', () => pings.push(pings.length))
  return { server, proxy, socket, pings }
}

describe('the protocol-level ping heartbeat', () => {
  it('pings a quiet link; a plain ws server answers, and the link is kept', async () => {
    const clock = new ManualClock()
    const { proxy, socket, pings } = await proxiedSocket(clock)
    const messages: unknown[] = []
    socket.addEventListener('message', (event) => messages.push(event.data))
    const bytesBack = proxy.counters.bytesToClient
    clock.advance(heartbeat.intervalMs)
    await waitFor(() => pings.length === 1, { message: 'the server to get a ping' })
    await waitFor(() => proxy.counters.bytesToClient > bytesBack, { message: 'the pong' })
    // The pong is in the client's receive buffer: the next poll phase reads it.
    await new Promise((resolve) => setImmediate(() => setImmediate(resolve)))
    clock.advance(heartbeat.timeoutMs + heartbeat.intervalMs - 1)
    expect(socket.state.status).toBe('open')
    // The pong is life for the heartbeat, and no message.
    expect(messages).toEqual([])
  })

  it.each<BlackholeDirection>(['both', 'toTarget', 'toClient'])(
    'closes a link black-holed %s with 4000 within intervalMs + timeoutMs, and reconnects',
    async (direction) => {
      const clock = new ManualClock()
      const { proxy, socket } = await proxiedSocket(clock)
      proxy.blackhole(true, direction)
      const errors: string[] = []
      socket.addEventListener('error', (event) => errors.push(event.error.code))
      const closed = nextEvent(socket, 'close')
      const reconnecting = nextEvent(socket, 'reconnecting')
      // The ticker steps a tenth of the shorter period: detection lands within one step of it.
      clock.advance(heartbeat.intervalMs + heartbeat.timeoutMs - 50)
      expect(socket.state.status).toBe('open')
      clock.advance(100)
      const event = await closed
      expect([event.code, event.reason]).toEqual([4000, 'heartbeat timeout'])
      expect(errors).toEqual(['HEARTBEAT_TIMEOUT'])
      expect((await reconnecting).cause.code).toBe(4000)
    },
  )

  it('detects a black-holed link on the real clock, and a new link opens past the proxy', async () => {
    const fast = { intervalMs: 100, timeoutMs: 100 }
    const server = fx.add(await startWsServer())
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    const socket = fx.add(
      new ReconnectingWebSocket(proxy.url('/'), null, { ...quickRetry, heartbeat: fast }),
    )
    await nextEvent(socket, 'open')
    proxy.blackhole(true)
    const started = performance.now()
    const closed = await nextEvent(socket, 'close')
    const detectedMs = performance.now() - started
    expect(closed.code).toBe(4000)
    // At least the quiet time (less one tick); the upper bound only guards against a hang on a
    // loaded machine, the exact figure is the manual-clock test's.
    expect(detectedMs).toBeGreaterThanOrEqual(fast.intervalMs + fast.timeoutMs - 20)
    expect(detectedMs).toBeLessThan(5_000)
    proxy.setTarget(server.port)
    proxy.blackhole(false)
    await nextEvent(socket, 'open')
  })

  it('is off with heartbeat: false: a black-holed link stays open', async () => {
    const clock = new ManualClock()
    const server = fx.add(await startWsServer())
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    const socket = fx.add(
      new ReconnectingWebSocket(proxy.url('/'), null, { clock, heartbeat: false }),
    )
    await nextEvent(socket, 'open')
    proxy.blackhole(true)
    clock.advance(60_000)
    expect(socket.state.status).toBe('open')
  })

  it('takes a period left undefined as its default, as core does', async () => {
    const clock = new ManualClock()
    const server = fx.add(await startWsServer())
    // As a caller without exactOptionalPropertyTypes may write it, from a config without it.
    const beat = { intervalMs: undefined as unknown as number, timeoutMs: 500 }
    const options = { ...quickRetry, clock, heartbeat: beat }
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, options))
    await nextEvent(socket, 'open')
    const pings: number[] = []
    ;(await server.waitForConnection()).socket.on('ping', () => pings.push(pings.length))
    clock.advance(nodeSocketDefaults.heartbeat.intervalMs / 2)
    clock.advance(nodeSocketDefaults.heartbeat.intervalMs)
    await waitFor(() => pings.length === 1, { message: 'a ping after the default interval' })
  })

  it('checkNow() pings an open link at once', async () => {
    const { socket, pings } = await proxiedSocket(new ManualClock())
    socket.checkNow()
    await waitFor(() => pings.length === 1, { message: 'a ping' })
  })
})
