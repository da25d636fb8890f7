import { afterEach, describe, expect, it } from 'vitest'
import { useFixtures, waitFor } from '@lifeline/test-utils'
import { Rig } from './harness.js'

const fx = useFixtures(afterEach)

describe('a client a real server refused for good', () => {
  it('rejects a request made meanwhile with UNAUTHENTICATED at once, and never sends it', async () => {
    let allowed = false
    const rig = await new Rig(fx, { authenticate: () => allowed && { id: 'u' } }).start()
    const echoed: number[] = []
    rig.onServer((server) =>
      server.handle('echo', ({ n }) => {
        echoed.push(n)
        return { n }
      }),
    )
    const client = rig.client()
    await waitFor(() => client.state.status === 'closed', { message: 'refused with 4401' })
    expect(client.state).toMatchObject({ closeCode: 4401 })

    const outcome = await client.request('echo', { n: 1 }, { timeoutMs: Infinity }).then(
      () => 'resolved',
      (error: { code: string }) => error.code,
    )
    expect(outcome).toBe('UNAUTHENTICATED')

    // Let in again, it asks and is answered; the request its caller saw fail never runs.
    allowed = true
    client.connect()
    await expect(client.request('echo', { n: 2 })).resolves.toEqual({ n: 2 })
    expect(echoed).toEqual([2])
  })
})
