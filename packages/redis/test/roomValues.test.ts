import { json } from '@lifeline/codec'
import { msgpack } from '@lifeline/codec/msgpack'
import { createClient } from '@lifeline/core'
import type { Client } from '@lifeline/core'
import type { Peer } from '@lifeline/server'
import { startRedisServer, thrownBy, useFixtures, waitFor } from '@lifeline/test-utils'
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

describe('a room send or broadcast at the limits of the codecs', () => {
  /**
   * A node whose codec has `limits`, and a member (on msgpack, with the default limits) in room
   * `r` that records what it gets.
   */
  async function memberOf(limits: { maxBytes?: number; maxContainers?: number }) {
    const redis = fx.add(await startRedisServer())
    const node = await startNode(fx, redis, {}, { codecs: [msgpack(limits)] })
    node.server.on('connection', (peer: Peer<Chat>) => {
      peer.on('say', ({ room }) => {
        peer.join(room)
        peer.send('said', { text: 'joined', from: '' })
      })
    })
    const client = createClient<Chat>({
      url: `ws://127.0.0.1:${node.server.port}/`,
      codecs: [msgpack()],
    })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
    const got: string[] = []
    client.on('said', ({ text }) => got.push(text.slice(0, 8)))
    client.send('say', { room: 'r', text: '' })
    await waitFor(() => got.length === 1, { message: 'joined', timeoutMs: 10_000 })
    return { node, got }
  }

  it('refuses, to the caller, a room send whose frame is over maxBytes only with its id', async () => {
    const maxBytes = 4096
    const { node, got } = await memberOf({ maxBytes })
    // The frame the send is checked in, with the id not known yet, is at the limit: the frame
    // a member gets carries the id the history gave it, some 15 bytes more.
    const codec = msgpack()
    const size = (text: string) =>
      codec.encode({ t: 'said', d: { text, from: '' }, r: ['r', ''] }).byteLength
    const long = 'big'.padEnd(maxBytes, '-')
    const text = long.slice(0, long.length - (size(long) - maxBytes))
    expect(size(text)).toBe(maxBytes)
    expect(thrownBy(() => node.server.to('r').send('said', { text, from: '' }))).toMatchObject({
      code: 'MESSAGE_TOO_LARGE',
    })
    node.server.to('r').send('said', { text: 'after', from: '' })
    await waitFor(() => got.length === 2, { message: 'the next send', timeoutMs: 10_000 })
    expect(got).toEqual(['joined', 'after'])
  })

  it('refuses, to the caller, a broadcast over maxContainers only with its r', async () => {
    const { node, got } = await memberOf({ maxContainers: 8 })
    // `{ t, d }` holds 8 arrays and maps; `{ t, d, r }`, what every member gets, 9.
    const data = { text: 'big', from: '', lists: [[], [], [], [], []] }
    expect(thrownBy(() => node.server.broadcast('said', data))).toMatchObject({
      code: 'ENCODE_FAILED',
    })
    node.server.broadcast('said', { text: 'after', from: '' })
    await waitFor(() => got.length === 2, { message: 'the next broadcast', timeoutMs: 10_000 })
    expect(got).toEqual(['joined', 'after'])
  })
})
