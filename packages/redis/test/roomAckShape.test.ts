import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { RawClient, startNode } from './harness.js'

const fx = useFixtures(afterEach)

describe('an $ack with room cursors', () => {
  it('is { r } and nothing else: another field in its d is a violation (1002)', async () => {
    const redis = fx.add(await startRedisServer())
    const node = await startNode(fx, redis)
    node.server.on('connection', (peer) => {
      peer.on('say', ({ text, room }) => {
        peer.join(room)
        node.server.to(room).send('said', { text, from: peer.id })
      })
    })
    const { client } = await RawClient.connect(fx, node.server.port, { r: 1 })
    client.send({ t: 'say', d: { text: 'one', room: 'red' }, s: 1 })
    const said = await waitFor(() => client.received.find((frame) => frame.r !== undefined), {
      message: 'a room message',
    })
    client.send({ t: '$ack', d: { r: [said.r] } })
    client.send({ t: '$ack', d: { r: [said.r], future: 1 } })
    await waitFor(() => client.closeCode !== undefined, { message: 'the close' })
    expect(client.closeCode).toBe(1002)
    expect(client.received.at(-1)).toMatchObject({ t: '$error', d: { code: 'PROTOCOL_ERROR' } })
  })
})
