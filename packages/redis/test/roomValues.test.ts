import { json } from '@lifeline/codec'
import { createClient } from '@lifeline/core'
import type { Client } from '@lifeline/core'
import type { Peer } from '@lifeline/server'
import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode, type Chat } from './harness.js'

const fx = useFixtures(afterEach)

describe('a room send across processes, on JSON clients', () => {
  it('delivers what the JSON codec makes of the data, as peer.send does', async () => {
    const redis = fx.add(await startRedisServer())
    const codecs = [json()]
    const a = await startNode(fx, redis, {}, { codecs })
    const b = await startNode(fx, redis, {}, { codecs })
    const connect = (port: number): Client<Chat> => {
      const client = createClient<Chat>({ url: `ws://127.0.0.1:${port}/`, codecs })
      client.events.on('error', () => undefined)
      fx.add(() => client.close())
      return client
    }
    for (const node of [a, b]) {
      node.server.on('connection', (peer: Peer<Chat>) => {
        peer.on('say', ({ room }) => {
          peer.join(room)
          peer.send('said', { text: 'joined', from: '' })
        })
      })
    }
    const here = connect(a.server.port)
    const there = connect(b.server.port)
    const got: Record<string, unknown[]> = { here: [], there: [] }
    here.on('said', (data) => got.here!.push(data))
    there.on('said', (data) => got.there!.push(data))
    here.send('say', { room: 'r', text: '' })
    there.send('say', { room: 'r', text: '' })
    await waitFor(() => got.here!.length === 1 && got.there!.length === 1, {
      message: 'both joined',
      timeoutMs: 10_000,
    })

    class Money {
      constructor(readonly cents: number) {}
      toJSON(): string {
        return `${this.cents / 100} EUR`
      }
    }
    const data = {
      text: 'values',
      from: 'x',
      price: new Money(150),
      tags: new Map([['k', 1]]),
      samples: new Float32Array([1.5, 2.5]),
      failure: new Error('e'),
    }
    // What a JSON client is given by `peer.send`, and by a room send without a cluster.
    const expected = JSON.parse(JSON.stringify(data)) as unknown
    a.server.to('r').send('said', data as never)
    await waitFor(() => got.here!.length === 2 && got.there!.length === 2, {
      message: 'both got it',
      timeoutMs: 10_000,
    })
    expect({ here: got.here![1], there: got.there![1] }).toEqual({
      here: expected,
      there: expected,
    })
  })

  it('refuses, as ENCODE_FAILED, data msgpack cannot hold that JSON sends', async () => {
    const redis = fx.add(await startRedisServer())
    const a = await startNode(fx, redis, {}, { codecs: [json()] })
    let thrown: unknown
    try {
      a.server.to('r').send('said', { text: 'x', from: 'y', tag: Symbol('s') } as never)
    } catch (error) {
      thrown = error
    }
    // JSON leaves a symbol-valued property out: the send is either taken or refused as a
    // LifelineError, not msgpackr's own error.
    if (thrown !== undefined) expect(thrown).toMatchObject({ code: 'ENCODE_FAILED' })
  })
})
