import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startScriptedServer, steppingWallClock, useFixtures, waitFor } from '@lifeline/test-utils'
import { createClient } from '../src/index.js'

const fx = useFixtures(afterEach)

describe('a step of the wall clock', () => {
  it("does not cut a connection attempt's wait for $welcome short when the clock goes forward", async () => {
    const wall = steppingWallClock(fx)
    // A slow server: the `$welcome` comes 300 ms after the `$hello`, well within the timeout.
    const server = fx.add(
      await startScriptedServer((link) => {
        const timer = setTimeout(
          () => link.send({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } }),
          300,
        )
        link.socket.on('close', () => clearTimeout(timer))
      }),
    )
    const client = fx.add(
      createClient({
        url: server.url('/'),
        startClosed: true,
        socket: { WebSocket, connectionTimeoutMs: 5_000 },
      }),
    )
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    // After the client's own listener, which took the attempt's start from the clock.
    client.socket.addEventListener('connecting', () => wall.step(60 * 60 * 1_000))

    client.connect()
    await waitFor(() => client.state.status === 'open' || errors.length > 0, {
      message: 'connected, or an error',
    })
    expect(errors).toEqual([])
    expect(client.state.status).toBe('open')
  })
})
