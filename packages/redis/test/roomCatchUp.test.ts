import { createClient, type Client } from '@lifeline/core'
import type { Peer } from '@lifeline/server'
import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode, type Chat } from './harness.js'

const fx = useFixtures(afterEach)
const KiB = 1024

describe('a member that resumes far behind its room', () => {
  it('is caught up on more than maxOutboundBytes as it takes it, not closed as a slow consumer', async () => {
    const redis = fx.add(await startRedisServer())
    const node = await startNode(
      fx,
      redis,
      {},
      { outboundHighWaterBytes: 16 * KiB, maxOutboundBytes: 64 * KiB },
    )
    node.server.on('connection', (peer: Peer<Chat>) => {
      peer.on('say', ({ room }) => {
        peer.join(room)
        node.server.to(room).send('said', { text: 'in', from: peer.id })
      })
    })
    const client: Client<Chat> = createClient<Chat>({
      url: `ws://127.0.0.1:${node.server.port}/`,
      socket: { initialDelayMs: 10, maxDelayMs: 50 },
    })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
    const seen: string[] = []
    client.on('said', ({ text }) => seen.push(text))
    client.send('say', { room: 'r', text: '' })
    await waitFor(() => seen.includes('in'), { message: 'joined', timeoutMs: 10_000 })
    client.close()
    await waitFor(() => client.state.status === 'closed', { message: 'closed' })
    // Four times what the member may leave unsent, in the room's history while it is away.
    const texts = Array.from({ length: 128 }, (_, i) => `${i} ${'x'.repeat(2 * KiB)}`)
    for (const text of texts) node.server.to('r').send('said', { text, from: 'b' })
    client.connect()
    await waitFor(() => seen.length === 1 + texts.length, {
      message: () => `caught up (got ${seen.length - 1}; ${JSON.stringify(node.server.stats)})`,
      timeoutMs: 10_000,
    })
    expect(seen).toEqual(['in', ...texts])
    expect(node.server.stats.slowConsumers).toBe(0)
  })
})
