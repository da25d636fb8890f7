import { afterEach, describe, expect, it } from 'vitest'
import { startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { createClient } from '../src/index.js'
import type { LifelineError } from '../src/index.js'
import { quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)

interface Feed {
  server: { tick: number }
}

// Raw mode talks to any server: a frame its codec cannot read breaks no protocol of ours.
describe('raw mode against a plain ws server', () => {
  it('reports a frame its codec cannot read and keeps the link for the frames after it', async () => {
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => {
          socket.send('Welcome!')
          socket.send(JSON.stringify({ t: 'tick', d: 1 }))
          socket.send(JSON.stringify({ t: 'tick', d: 2 }))
        },
      }),
    )
    const client = fx.add(
      createClient<Feed>({ url: server.url('/'), mode: 'raw', socket: quickRetry }),
    )
    const ticks: number[] = []
    const errors: string[] = []
    const states: string[] = []
    client.on('tick', (n) => ticks.push(n))
    client.events.on('error', (error: LifelineError) => errors.push(error.code))
    client.events.on('statechange', (state) => states.push(state.status))
    await waitFor(() => ticks.length >= 2 || client.state.status === 'closed', {
      message: 'two ticks',
    })
    expect(ticks).toEqual([1, 2])
    expect(errors).toEqual(['DECODE_FAILED'])
    expect(states).toEqual(['open'])
    expect(server.connections).toHaveLength(1)
  })
})
