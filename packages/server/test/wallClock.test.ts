import { createClient } from '@lifeline/core'
import { steppingWallClock, useFixtures, waitFor, withTimeout } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { createMemorySessionStore, type Peer, type SessionRecord } from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)
const hourMs = 60 * 60 * 1_000

describe('a step of the wall clock', () => {
  it("does not postpone a server request's timeout when the clock goes back", async () => {
    const wall = steppingWallClock(fx)
    const server = await startServer(fx)
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => peer !== undefined, { message: 'the peer' })

    const startedAt = performance.now()
    const answer = (peer as Peer).request('never', null, { timeoutMs: 200 })
    await client.next('$req')
    wall.step(-hourMs)
    // On the wall clock, the deadline was an hour away when the timer fired.
    await expect(withTimeout(answer, 3_000, 'the request to time out')).rejects.toMatchObject({
      code: 'REQUEST_TIMEOUT',
    })
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(200 - 2)
  })

  it("does not postpone a client request's timeout when the clock goes back", async () => {
    const wall = steppingWallClock(fx)
    const server = await startServer(fx)
    const called = new Promise<void>((resolve) =>
      server.handle('never', () => {
        resolve()
        return new Promise(() => {})
      }),
    )
    const client = createClient({ url: urlOf(server) })
    fx.add(() => client.close())

    const startedAt = performance.now()
    const answer = client.request('never', null, { timeoutMs: 200 })
    await called
    wall.step(-hourMs)
    await expect(withTimeout(answer, 3_000, 'the request to time out')).rejects.toMatchObject({
      code: 'REQUEST_TIMEOUT',
    })
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(200 - 2)
  })

  it("stamps a stored session's expiresAt with wall time, which another process can compare", async () => {
    const inner = createMemorySessionStore()
    const stored: SessionRecord[] = []
    const store = {
      ...inner,
      set: (record: SessionRecord) => (stored.push(record), inner.set(record)),
    }
    const sessionTtlMs = 60_000
    const first = await startServer(fx, { store, sessionTtlMs })
    const dropped = await ProtocolClient.connect(fx, urlOf(first))
    await dropped.client.drop()
    await waitFor(() => stored.length === 1, { message: 'the dropped session stored' })
    await ProtocolClient.connect(fx, urlOf(first))
    await first.close()
    // The close writes both sessions again: the one waiting for its client, and the live one.
    expect(stored).toHaveLength(3)
    // The session's own deadline is on the monotonic clock; the records carry the wall time.
    for (const record of stored) {
      expect(record.expiresAt).toBeGreaterThan(Date.now() + sessionTtlMs - 5_000)
      expect(record.expiresAt).toBeLessThanOrEqual(Date.now() + sessionTtlMs)
    }
  })
})
