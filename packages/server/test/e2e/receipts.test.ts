import { afterEach, describe, expect, it } from 'vitest'
import { useFixtures, waitFor } from '@lifeline/test-utils'
import { Rig } from './harness.js'

const fx = useFixtures(afterEach)

describe('delivery receipts against a real server', () => {
  it('each resolves once the server has processed its message, across a restart in between', async () => {
    const rig = await new Rig(fx).start()
    const atServer: number[] = []
    rig.onServer((server) =>
      server.on('connection', (peer) => peer.on('up', ({ n }) => atServer.push(n))),
    )
    const client = rig.client()
    // What the server had processed when each receipt resolved.
    const processedWhenDelivered = new Map<number, boolean>()
    const sendWithReceipt = (n: number) =>
      client
        .delivered(client.send('up', { n }))
        .then(() => processedWhenDelivered.set(n, atServer.includes(n)))

    const before = Array.from({ length: 5 }, (_, i) => sendWithReceipt(i + 1))
    await Promise.all(before)

    // The listener restarts (1012) with the same store, and the proxy keeps the client out for
    // a while: sent meanwhile, the receipts wait (no acknowledgement can come), then resolve
    // once the client is let back in and resumes the session.
    rig.proxy.refuse()
    await rig.restart()
    await waitFor(() => client.state.status === 'reconnecting', { message: 'the client is out' })
    const during = Array.from({ length: 5 }, (_, i) => sendWithReceipt(i + 6))
    // Two attempts made and refused after the sends: the client had its turns to flush and to
    // reconnect, and no receipt resolved without an acknowledgement.
    const refusedAtSend = rig.proxy.counters.refused
    await waitFor(() => rig.proxy.counters.refused >= refusedAtSend + 2, {
      message: 'two attempts refused after the sends',
    })
    expect(processedWhenDelivered.size).toBe(5)
    expect(client.unacked).toBe(5)
    rig.proxy.refuse(false)
    await Promise.all(during)

    expect(client.state).toMatchObject({ status: 'open', resumed: true })
    expect(atServer).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect([...processedWhenDelivered.values()]).toEqual(Array(10).fill(true))
    expect(client.unacked).toBe(0)
  })
})
