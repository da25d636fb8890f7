import { json } from '@lifeline/codec'
import { createClient } from '@lifeline/core'
import type { Client } from '@lifeline/core'
import type { Peer } from '@lifeline/server'
import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode, type Chat } from './harness.js'

const fx = useFixtures(afterEach)

describe('a room send across processes and maxContainers', () => {
  it('is refused where it is sent, or reaches the members: its frame holds r as well', async () => {
    const redis = fx.add(await startRedisServer())
    const codecs = [json({ maxContainers: 10 })]
    const node = await startNode(fx, redis, {}, { codecs })
    node.server.on('connection', (peer: Peer<Chat>) => {
      peer.on('say', ({ room }) => {
        peer.join(room)
        node.server.to(room).send('said', { text: 'in', from: peer.id })
      })
    })
    const client: Client<Chat> = createClient<Chat>({
      url: `ws://127.0.0.1:${node.server.port}/`,
      codecs,
    })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
    const seen: string[] = []
    client.on('said', ({ text }) => seen.push(text))
    client.send('say', { room: 'r', text: '' })
    await waitFor(() => seen.includes('in'), { message: 'joined', timeoutMs: 10_000 })

    // `{ t, d, r: [room, id] }` holds 1 + 1 + 2 + k arrays and objects: 10 for k = 6, the most
    // the codec takes, and 11 for k = 7, which `{ t, d }` alone would still fit.
    const extra = (k: number) => Array.from({ length: k }, () => [])
    node.server.to('r').send('said', { text: 'fits', from: 'b', extra: extra(6) } as never)
    let refused = false
    try {
      node.server.to('r').send('said', { text: 'over', from: 'b', extra: extra(7) } as never)
    } catch {
      refused = true
    }
    node.server.to('r').send('said', { text: 'after', from: 'b' })
    await waitFor(() => seen.includes('after'), { message: 'the next one', timeoutMs: 10_000 })
    // Refused where it was sent, or given to the member: not accepted, then dropped on the way.
    expect({ refused, seen }).toEqual({ refused: true, seen: ['in', 'fits', 'after'] })
  })
})
