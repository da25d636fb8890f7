import { afterEach, describe, expect, it } from 'vitest'
import { createFaultProxy, startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { ReconnectingWebSocket, isLifelineError } from '../src/index.js'
import type { SocketErrorEvent, ReconnectingEvent } from '../src/index.js'
import { freePort, nextEvent, quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)

function collect(socket: ReconnectingWebSocket) {
  const errors: SocketErrorEvent<ReconnectingWebSocket>[] = []
  const retries: ReconnectingEvent<ReconnectingWebSocket>[] = []
  socket.addEventListener('error', (event) => errors.push(event))
  socket.addEventListener('reconnecting', (event) => retries.push(event))
  return { errors, retries }
}

describe('clear errors, and retrying per policy', () => {
  it('throws INVALID_URL at once for a malformed URL', () => {
    expect(() => new ReconnectingWebSocket('ws://exa mple.com:99999/')).toThrow(
      expect.objectContaining({ code: 'INVALID_URL' }),
    )
  })

  it('reports a refused port with its cause and keeps retrying with growing delays', async () => {
    const port = await freePort()
    const socket = fx.add(
      new ReconnectingWebSocket(`ws://127.0.0.1:${port}/?token=s3cret`, undefined, {
        initialDelayMs: 10,
        random: () => 1 - Number.EPSILON,
      }),
    )
    const { errors, retries } = collect(socket)
    await waitFor(() => retries.length >= 4, { message: '4 retries', timeoutMs: 5_000 })
    const first = errors[0]?.error
    expect(isLifelineError(first, 'CONNECTION_ERROR')).toBe(true)
    expect(first?.message).toContain('ECONNREFUSED')
    expect(first?.message).not.toContain('s3cret')
    expect((first?.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
    expect(retries.slice(0, 4).map((event) => [event.attempt, event.delayMs])).toEqual([
      [2, 9],
      [3, 19],
      [4, 39],
      [5, 79],
    ])
    expect(retries.every((event) => event.cause.code === 1006)).toBe(true)
  }, 10_000)

  it('waits at most the longest timer for a delay function that asks for longer', async () => {
    const port = await freePort()
    const socket = fx.add(
      new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, undefined, { delayMs: () => 2 ** 32 }),
    )
    const { retries } = collect(socket)
    const attempts: number[] = []
    socket.addEventListener('connecting', ({ attempt }) => attempts.push(attempt))
    // A timer past 2^31 - 1 ms fires at once in Node and browsers: a refused port was tried
    // again and again, without end. Node gives such a timer 1 ms, and runs the timers of one
    // duration in the order they were set: one of 1 ms set once the retry is armed runs after it.
    const overflowedTimerMs = 1
    const pastRetryTimer = new Promise((resolve) => {
      const pastIt = () => setTimeout(resolve, overflowedTimerMs)
      socket.addEventListener('reconnecting', pastIt, { once: true })
    })
    await waitFor(() => retries.length >= 1, { message: 'the first retry' })
    await pastRetryTimer
    expect(attempts).toEqual([])
    expect(retries.map((event) => event.delayMs)).toEqual([2 ** 31 - 1])
  })

  it('connects once the refusing end accepts again', async () => {
    const server = fx.add(await startWsServer())
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    proxy.refuse()
    const socket = fx.add(new ReconnectingWebSocket(proxy.url(), undefined, quickRetry))
    const { errors } = collect(socket)
    await waitFor(() => proxy.counters.refused >= 3, { message: '3 refused attempts' })
    proxy.refuse(false)
    await nextEvent(socket, 'open')
    expect(errors.length).toBeGreaterThanOrEqual(3)
    expect(errors.every((event) => event.error.code === 'CONNECTION_ERROR')).toBe(true)
  })

  it('reports an upgrade refused by the server (wrong path) and retries', async () => {
    const server = fx.add(
      await startWsServer({
        verifyClient: (info: { req: { url?: string | undefined } }) => info.req.url === '/right',
      }),
    )
    const socket = fx.add(
      new ReconnectingWebSocket(server.url('/wrong?key=abc'), undefined, quickRetry),
    )
    const { errors, retries } = collect(socket)
    await waitFor(() => retries.length >= 2, { message: '2 retries' })
    expect(errors[0]?.message).toMatch(/Unexpected server response: 401/)
    expect(errors[0]?.message).toContain('key=[redacted]')
    expect(errors[0]?.message).not.toContain('abc')
  })

  it('abandons a handshake that never completes after connectionTimeoutMs', async () => {
    const server = fx.add(await startWsServer())
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    proxy.blackhole()
    const socket = fx.add(
      new ReconnectingWebSocket(proxy.url(), undefined, {
        ...quickRetry,
        connectionTimeoutMs: 200,
      }),
    )
    const error = await nextEvent(socket, 'error')
    expect(error.error.code).toBe('CONNECT_TIMEOUT')
    proxy.blackhole(false)
    await nextEvent(socket, 'open')
  })

  it('does not reconnect after a fatal close code from the server', async () => {
    const server = fx.add(
      await startWsServer({ onConnection: ({ socket }) => socket.close(4401, 'token expired') }),
    )
    const socket = fx.add(new ReconnectingWebSocket(server.url(), undefined, quickRetry))
    const error = await nextEvent(socket, 'error')
    expect(error.error.code).toBe('UNAUTHENTICATED')
    expect(socket.readyState).toBe(ReconnectingWebSocket.CLOSED)
    expect(server.connections).toHaveLength(1)
  })
})
