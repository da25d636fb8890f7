import { json } from '@lifeline/codec'
import { msgpack } from '@lifeline/codec/msgpack'
import { once, useFixtures, waitFor, withTimeout } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Peer } from '../src/index.js'
import { startServer, urlOf } from './helpers.js'

// A client written from PROTOCOL.md alone, against the real server: raw `ws` frames and
// JSON.stringify / JSON.parse, nothing of Lifeline's codec or client. What another language's
// implementation would do from the document, section by section.

const fx = useFixtures(afterEach)

interface Envelope {
  t: string
  d?: unknown
  s?: number
  a?: number
  r?: [string, string]
}

class SpecClient {
  readonly got: Envelope[] = []
  closed: { code: number; reason: string } | undefined
  /** The last server `s` processed (5), and the highest `a` the server sent (4.1, `sa`). */
  last = 0
  highestAck = 0
  private readonly closing: Promise<{ code: number; reason: string }>

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      // Section 1: the JSON codec speaks in text frames.
      expect(isBinary).toBe(false)
      const envelope = JSON.parse(data.toString()) as Envelope
      if (envelope.a !== undefined) this.highestAck = Math.max(this.highestAck, envelope.a)
      if (envelope.s !== undefined) {
        if (envelope.s <= this.last) return
        expect(envelope.s).toBe(this.last + 1)
        this.last = envelope.s
      }
      this.got.push(envelope)
    })
    socket.on('error', () => undefined)
    this.closing = new Promise((resolve) => {
      socket.once('close', (code: number, reason: Buffer) => {
        this.closed = { code, reason: reason.toString() }
        resolve(this.closed)
      })
    })
  }

  static async open(url: string): Promise<SpecClient> {
    const client = new SpecClient(fx.add(new WebSocket(url, ['lifeline.v1.json'])))
    await once(client.socket, 'open')
    expect(client.socket.protocol).toBe('lifeline.v1.json')
    return client
  }

  send(envelope: Envelope): void {
    this.socket.send(JSON.stringify(envelope))
  }

  async next(t: string, from = 0): Promise<Envelope> {
    return waitFor(() => this.got.slice(from).find((envelope) => envelope.t === t), {
      message: () => `a ${t} (got ${this.got.map((e) => e.t).join(', ')})`,
    })
  }

  waitClose(): Promise<{ code: number; reason: string }> {
    return withTimeout(this.closing, 5_000, 'the server to close')
  }
}

interface Welcome {
  sid: string
  resumed: boolean
  a: number
  max?: number
  w?: number
}

async function hello(url: string, d: Record<string, unknown> = {}) {
  const client = await SpecClient.open(url)
  client.send({ t: '$hello', d: { v: 1, ...d } })
  const welcome = (await client.next('$welcome')).d as Welcome
  return { client, welcome }
}

async function echoServer() {
  const server = await startServer(fx)
  const peers: Peer[] = []
  server.on('connection', (peer) => {
    peers.push(peer)
    peer.on('say', (data) => peer.send('echo', data))
  })
  server.handle('add', (data) => (data as number) + 1)
  return { server, peers }
}

describe('a client written from PROTOCOL.md alone', () => {
  it('does the handshake, numbers and acknowledges, pings, calls both ways, and resumes with a and sa', async () => {
    const { server, peers } = await echoServer()
    const { client, welcome } = await hello(urlOf(server))
    // Section 3, 4 and 9: the session, a new one, and both limits, integers of at least 1,024.
    expect(welcome).toMatchObject({ resumed: false, a: 0 })
    expect(typeof welcome.sid).toBe('string')
    expect(Number.isInteger(welcome.max) && (welcome.max as number) >= 1024).toBe(true)
    expect(Number.isInteger(welcome.w) && (welcome.w as number) >= 1024).toBe(true)

    // Section 5: numbered from 1, each carrying `a`; the answers are numbered the same way.
    client.send({ t: 'say', d: 'one', s: 1, a: 0 })
    client.send({ t: 'say', d: 'two', s: 2, a: 0 })
    await waitFor(() => client.last === 2, { message: 'two echoes' })
    expect(client.got.slice(1)).toEqual([
      { t: 'echo', d: 'one', s: 1, a: 1 },
      { t: 'echo', d: 'two', s: 2, a: 2 },
    ])
    client.send({ t: '$ack', a: 2 })

    // Section 7: a `$ping` is answered with the same `ts` and nothing else.
    client.send({ t: '$ping', d: { ts: 42 } })
    expect(await client.next('$pong')).toEqual({ t: '$pong', d: { ts: 42 } })

    // Section 8: a call to the server, and one from it (answered with a reliable `$res`).
    client.send({ t: '$req', d: { id: 'q1', m: 'add', d: 1 }, s: 3, a: 2 })
    expect((await client.next('$res')).d).toEqual({ id: 'q1', d: 2 })
    const asked = peers[0]?.request('sum', [1, 2])
    const request = await client.next('$req')
    expect(request).toMatchObject({ d: { m: 'sum', d: [1, 2] }, s: 4 })
    const { id } = request.d as { id: number | string }
    client.send({ t: '$res', d: { id, d: 3 }, s: 4, a: client.last })
    expect(await asked).toBe(3)

    // Sections 4 and 5: the link goes; the server sends meanwhile; the client resumes with the
    // last `s` it processed and the highest `a` it got, and resends what it holds after `a`.
    client.socket.terminate()
    await waitFor(() => peers[0]?.connected === false, { message: 'the drop' })
    peers[0]?.send('away', 'meanwhile')
    const back = await SpecClient.open(urlOf(server))
    back.last = client.last
    back.send({
      t: '$hello',
      d: { v: 1, sid: welcome.sid, a: client.last, sa: client.highestAck },
    })
    expect((await back.next('$welcome')).d).toMatchObject({ sid: welcome.sid, resumed: true, a: 4 })
    expect((await back.next('away')).s).toBe(client.last + 1)
    // A resent envelope already processed is a duplicate: dropped, and acknowledged again.
    back.send({ t: 'say', d: 'two', s: 2, a: back.last })
    back.send({ t: 'say', d: 'five', s: 5, a: back.last })
    expect((await back.next('echo')).d).toBe('five')
    expect(back.got.filter((envelope) => envelope.t === 'echo')).toHaveLength(1)
    expect(back.closed).toBeUndefined()
  })

  it("agrees on the first of the server's codecs that the client offers, whatever the client's order", async () => {
    for (const [codecs, agreed] of [
      [[json(), msgpack()], 'lifeline.v1.json'],
      [[msgpack(), json()], 'lifeline.v1.msgpack'],
    ] as const) {
      const server = await startServer(fx, { codecs })
      for (const offered of [
        ['lifeline.v1.json', 'lifeline.v1.msgpack'],
        ['lifeline.v1.msgpack', 'lifeline.v1.json'],
      ]) {
        const socket = fx.add(new WebSocket(urlOf(server), offered))
        await once(socket, 'open')
        expect(socket.protocol).toBe(agreed)
      }
    }
    // Section 1: a connection that offered none is opened, then closed with 1002.
    const server = await startServer(fx)
    const bare = fx.add(new WebSocket(urlOf(server)))
    const [code] = (await once(bare, 'close')) as [number]
    expect(code).toBe(1002)
  })

  it('resumes a session from the start when the $hello names it without a: a is 0', async () => {
    const { server, peers } = await echoServer()
    const { client, welcome } = await hello(urlOf(server))
    client.send({ t: 'say', d: 'one', s: 1 })
    await client.next('echo')
    client.socket.terminate()
    await waitFor(() => peers[0]?.connected === false, { message: 'the drop' })
    const back = await hello(urlOf(server), { sid: welcome.sid })
    expect(back.welcome).toMatchObject({ sid: welcome.sid, resumed: true, a: 1 })
    expect(await back.client.next('echo')).toEqual({ t: 'echo', d: 'one', s: 1, a: 1 })
  })

  it('closes with 1002 a resume of a session this server holds whose a is above what it sent', async () => {
    const { server, peers } = await echoServer()
    const { client, welcome } = await hello(urlOf(server))
    client.socket.terminate()
    await waitFor(() => peers[0]?.connected === false, { message: 'the drop' })
    const back = await SpecClient.open(urlOf(server))
    back.send({ t: '$hello', d: { v: 1, sid: welcome.sid, a: 1 } })
    expect((await back.waitClose()).code).toBe(1002)
    expect(back.got).toEqual([
      { t: '$error', d: { code: 'PROTOCOL_ERROR', message: expect.any(String) as unknown } },
    ])
    // The session is left as it was: a resume that acknowledges nothing it did not send goes on.
    const again = await hello(urlOf(server), { sid: welcome.sid, a: 0 })
    expect(again.welcome).toMatchObject({ sid: welcome.sid, resumed: true })
  })

  it('ignores unknown fields in a payload, and $ping fields besides ts, but not in the envelope', async () => {
    const { server } = await echoServer()
    const { client } = await hello(urlOf(server), { future: { x: 1 } })
    client.send({ t: '$ping', d: { ts: 7, future: 1 } })
    expect(await client.next('$pong')).toEqual({ t: '$pong', d: { ts: 7 } })
    client.send({ t: 'say', d: 1, s: 1, future: 1 } as Envelope)
    expect((await client.waitClose()).code).toBe(1002)
  })

  it('takes any sid of at most 128 characters (an unknown one gets a new session), and no other', async () => {
    const { server } = await echoServer()
    const unknown = await hello(urlOf(server), { sid: 'x'.repeat(128), a: 0 })
    expect(unknown.welcome).toMatchObject({ resumed: false, a: 0 })
    for (const sid of ['', 'x'.repeat(129), 5]) {
      const client = await SpecClient.open(urlOf(server))
      client.send({ t: '$hello', d: { v: 1, sid, a: 0 } })
      expect((await client.waitClose()).code).toBe(1002)
    }
  })

  it.each(['__proto__', 'constructor', 'prototype'])(
    'closes with 1007 a frame with a %s key, in the payload too',
    async (key) => {
      const { server } = await echoServer()
      const { client } = await hello(urlOf(server))
      client.socket.send(`{"t":"say","d":{"${key}":"Bob"},"s":1}`)
      expect((await client.waitClose()).code).toBe(1007)
    },
  )

  it.each([
    ['a payload that is no object', 5],
    ['an id neither an integer nor a string', { id: 1.5, m: 'add', d: 1 }],
    ['an id that is an object', { id: {}, m: 'add', d: 1 }],
    ['no method name', { id: 1, d: 1 }],
    ['a method that is no string', { id: 1, m: 5, d: 1 }],
  ])('closes with 1002 a $req with %s', async (_, d) => {
    const { server } = await echoServer()
    const { client } = await hello(urlOf(server))
    client.send({ t: '$req', d, s: 1 })
    expect((await client.waitClose()).code).toBe(1002)
  })

  it.each([
    ['an e that is no { code, message } of strings', { id: 'none', e: { code: 5 } }],
    ['no id', { d: 1 }],
  ])('closes with 1002 a $res with %s, and ignores one for no request', async (_, d) => {
    const { server } = await echoServer()
    const { client } = await hello(urlOf(server))
    client.send({ t: '$res', d: { id: 'none', d: 1 }, s: 1 })
    expect(await client.next('$ack')).toEqual({ t: '$ack', a: 1 })
    client.send({ t: '$res', d, s: 2 })
    expect((await client.waitClose()).code).toBe(1002)
  })
})

describe('values PROTOCOL.md refuses that a careless implementer would send', () => {
  it.each([
    ['an empty t', { t: '', s: 1 }],
    ['an s of 0', { t: 'say', s: 0 }],
    ['an s of null', { t: 'say', s: null }],
    ['an a of null', { t: 'say', a: null }],
    ['an r of null', { t: 'say', r: null }],
  ])('closes with 1002 an envelope with %s (section 2)', async (_, envelope) => {
    const { server } = await echoServer()
    const { client } = await hello(urlOf(server))
    client.send(envelope as unknown as Envelope)
    expect((await client.waitClose()).code).toBe(1002)
  })

  it.each(['sid', 'a', 'sa', 'max', 'r', 'rs'])(
    'closes with 1002 a $hello whose %s is null: null is not absence (section 2)',
    async (field) => {
      const { server } = await echoServer()
      const client = await SpecClient.open(urlOf(server))
      client.send({ t: '$hello', d: { v: 1, [field]: null } })
      expect((await client.waitClose()).code).toBe(1002)
      expect(client.got).toEqual([
        { t: '$error', d: { code: 'PROTOCOL_ERROR', message: expect.any(String) as unknown } },
      ])
    },
  )

  it.each([
    ['a client that did not say r', {}],
    ['a server without a shared store, to a client that said r', { r: 1 }],
  ])('closes with 1002 room cursors, an empty list too, sent to %s (5.1)', async (_, d) => {
    const { server } = await echoServer()
    const { client } = await hello(urlOf(server), d)
    client.send({ t: '$ack', d: { r: [] } })
    expect((await client.waitClose()).code).toBe(1002)
  })

  it('calls a $req without d with undefined; takes a $res with e as a failure, its d aside (8)', async () => {
    const { server, peers } = await echoServer()
    const calls: unknown[] = []
    server.handle('none', (data) => {
      calls.push(data)
      return 'done'
    })
    const { client } = await hello(urlOf(server))
    client.send({ t: '$req', d: { id: 1, m: 'none' }, s: 1 })
    expect((await client.next('$res')).d).toEqual({ id: 1, d: 'done' })
    expect(calls).toEqual([undefined])
    const asked = peers[0]?.request('sum', [1, 2])
    const request = await client.next('$req')
    const { id } = request.d as { id: number }
    // A field of `e` besides code and message is ignored, and so is a d beside e.
    const e = { code: 'NOPE', message: 'no', extra: 1 }
    client.send({ t: '$res', d: { id, d: 3, e }, s: 2, a: client.last })
    await expect(asked).rejects.toMatchObject({ code: 'REMOTE_ERROR', remoteCode: 'NOPE' })
    expect(client.closed).toBeUndefined()
  })
})
