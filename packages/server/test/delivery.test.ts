import { format } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { json, type Codec } from '@lifeline/codec'
import { useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Peer } from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)

/** A server whose peers record every `m` message they process. */
async function recordingServer(options: Parameters<typeof startServer>[1] = {}) {
  const server = await startServer(fx, options)
  const processed: unknown[] = []
  let peer: Peer | undefined
  server.on('connection', (p) => {
    peer = p
    p.on('m', (data) => {
      processed.push(data)
    })
  })
  return { server, processed, peer: () => peer }
}

describe('reliable delivery, client to server', () => {
  it('processes a duplicate envelope (same s) once', async () => {
    const { server, processed } = await recordingServer()
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'm', d: 'a', s: 1 })
    client.send({ t: 'm', d: 'a', s: 1 })
    client.send({ t: 'm', d: 'b', s: 2 })
    await waitFor(() => processed.length === 2, { message: 'two messages processed' })
    client.send({ t: 'm', d: 'b', s: 2 })
    client.send({ t: 'm', d: 'c', s: 3 })
    await waitFor(() => processed.length === 3, { message: 'three messages processed' })
    expect(processed).toEqual(['a', 'b', 'c'])
    expect(server.stats.messagesReceived).toBe(3)
  })

  it('processes resent envelopes once across a reconnect', async () => {
    const { server, processed } = await recordingServer()
    const first = await ProtocolClient.connect(fx, urlOf(server))
    first.client.send({ t: 'm', d: 1, s: 1 })
    first.client.send({ t: 'm', d: 2, s: 2 })
    await waitFor(() => processed.length === 2, { message: 'two messages processed' })
    await first.client.drop()
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    // The server says what it processed; a client resends from there, but a careless one
    // resending everything must not cause a second processing.
    expect(second.welcome).toMatchObject({ resumed: true, a: 2 })
    second.client.send({ t: 'm', d: 1, s: 1 })
    second.client.send({ t: 'm', d: 2, s: 2 })
    second.client.send({ t: 'm', d: 3, s: 3 })
    await waitFor(() => processed.length === 3, { message: 'the third message' })
    expect(processed).toEqual([1, 2, 3])
  })

  it('closes with 1002 on a sequence gap', async () => {
    const { server, processed } = await recordingServer()
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'm', d: 1, s: 1 })
    client.send({ t: 'm', d: 3, s: 3 })
    expect((await client.waitClose()).code).toBe(1002)
    expect((await client.next('$error')).d).toMatchObject({ code: 'PROTOCOL_ERROR' })
    expect(processed).toEqual([1])
    expect(server.stats.protocolErrors).toBe(1)
  })

  it('acknowledges in batches: after ackEvery envelopes, or ackDelayMs after the first', async () => {
    const { server } = await recordingServer({ ackEvery: 4, ackDelayMs: 30 })
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    for (let s = 1; s <= 4; s++) client.send({ t: 'm', d: s, s })
    expect((await client.next('$ack')).a).toBe(4)
    client.send({ t: 'm', d: 5, s: 5 })
    expect((await client.next('$ack')).a).toBe(5)
    expect(client.received.filter((frame) => frame.t === '$ack')).toHaveLength(2)
  })

  it('piggybacks the ack on what it sends', async () => {
    const { server, peer } = await recordingServer()
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'm', d: 1, s: 1 })
    await waitFor(() => server.stats.messagesReceived === 1, { message: 'the message' })
    peer()?.send('x', 'y')
    expect(await client.next('x')).toEqual({ t: 'x', d: 'y', s: 1, a: 1 })
  })

  it('delivers unreliable envelopes (no s) without numbering them', async () => {
    const { server, processed, peer } = await recordingServer()
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'm', d: 'loose' })
    await waitFor(() => processed.length === 1, { message: 'the message' })
    expect(peer()?.send('x', 1, { reliable: false })).toBe(true)
    expect(await client.next('x')).toEqual({ t: 'x', d: 1 })
    await client.drop()
    await waitFor(() => peer()?.connected === false, { message: 'the drop' })
    expect(peer()?.send('x', 2, { reliable: false })).toBe(false)
  })

  it('answers $ping with $pong carrying the same ts', async () => {
    const { server } = await recordingServer()
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: '$ping', d: { ts: 1234 } })
    expect((await client.next('$pong')).d).toEqual({ ts: 1234 })
  })
})

describe('handlers that fail', () => {
  it('reports a throwing or rejecting handler and keeps processing', async () => {
    const server = await startServer(fx)
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    const processed: unknown[] = []
    server.on('connection', (peer) => {
      peer.on('m', () => {
        throw new Error('sync failure')
      })
      peer.on('m', () => Promise.reject(new Error('async failure')))
      peer.on('m', (data) => {
        processed.push(data)
      })
    })
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'm', d: 1, s: 1 })
    client.send({ t: 'm', d: 2, s: 2 })
    await waitFor(() => processed.length === 2 && errors.length === 4, {
      message: () => `2 processed, 4 errors (have ${processed.length}, ${errors.length})`,
    })
    expect(server.stats.handlerErrors).toBe(4)
    expect(client.closed).toBeUndefined()
  })

  it('keeps the connection when a connection listener throws', async () => {
    const errors: unknown[] = []
    const server = await startServer(fx, {
      logger: { warn: () => undefined, error: (_message, details) => errors.push(details.error) },
    })
    server.on('connection', () => {
      throw new Error('listener failure')
    })
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    expect(welcome.resumed).toBe(false)
    client.send({ t: '$ping', d: { ts: 1 } })
    await client.next('$pong')
    expect(errors).toHaveLength(1)
    expect(server.stats.handlerErrors).toBe(1)
  })

  it('keeps the connection (and the process) when the logger throws too', async () => {
    // A logger that cannot write what it is given, e.g. one that serialises an error with a
    // circular reference. Without an 'error' listener, a handler's failure goes to it.
    const server = await startServer(fx, {
      logger: {
        warn: () => undefined,
        error: () => {
          throw new TypeError('Converting circular structure to JSON')
        },
      },
    })
    const processed: unknown[] = []
    server.on('connection', (peer) => {
      peer.on('m', (data) => {
        processed.push(data)
        if (data === 1) throw new Error('handler failure')
      })
    })
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'm', d: 1, s: 1 })
    client.send({ t: 'm', d: 2, s: 2 })
    await waitFor(() => processed.length === 2, { message: 'both messages processed' })
    expect(server.stats.handlerErrors).toBe(1)
    client.send({ t: '$ping', d: { ts: 1 } })
    await client.next('$pong')
    expect(client.closed).toBeUndefined()
  })

  it("says a handler threw, without the value, when Node's console cannot print it", async () => {
    // The default logger prints the error beside its message, by its `stack`: a getter that
    // throws took the line with it, and the failure went unsaid.
    const printed: string[] = []
    const consoleError = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      printed.push(format(...args))
    })
    fx.add(() => consoleError.mockRestore())
    const stackless = new Error('stackless')
    Object.defineProperty(stackless, 'stack', {
      get() {
        throw stackless
      },
    })
    const { server, processed } = await recordingServer()
    server.on('connection', (peer) => {
      peer.on('m', () => {
        throw stackless
      })
    })
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'm', d: 1, s: 1 })
    await waitFor(() => processed.length === 1, { message: 'the message processed' })
    expect(server.stats.handlerErrors).toBe(1)
    expect(printed).toEqual(['[lifeline] a listener or handler threw'])
  })

  it('stops calling a handler after its unsubscribe', async () => {
    const server = await startServer(fx)
    const seen: unknown[] = []
    let off: (() => void) | undefined
    server.on('connection', (peer) => {
      off = peer.on('m', (data) => {
        seen.push(data)
      })
    })
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'm', d: 1, s: 1 })
    await waitFor(() => seen.length === 1, { message: 'the first message' })
    off?.()
    client.send({ t: 'm', d: 2, s: 2 })
    await waitFor(() => server.stats.messagesReceived === 2, { message: 'the second message' })
    expect(seen).toEqual([1])
  })

  it('refuses data the codec cannot encode, at the call, without touching the stream', async () => {
    const server = await startServer(fx)
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    expect(() => peer?.send('x', 10n)).toThrow(expect.objectContaining({ code: 'ENCODE_FAILED' }))
    expect(() => peer?.send('$x', 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    peer?.send('x', 'fine')
    expect(await client.next('x')).toMatchObject({ d: 'fine', s: 1 })
  })
})

describe('the replay buffer keeps the frames it sent', () => {
  it('resends them as they were on a resume, without encoding them again', async () => {
    const codec = json()
    let encoded = 0
    const counting: Codec = {
      ...codec,
      encode: (value) => {
        encoded++
        return codec.encode(value)
      },
    }
    const server = await startServer(fx, { codecs: [counting] })
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    for (let i = 1; i <= 3; i++) peer?.send('m', { i, text: 'x'.repeat(8 * 1024) })
    const sent = await first.client.waitForMessages(3)
    await first.client.drop()
    await waitFor(() => peer?.connected === false, { message: 'the server to see the drop' })
    const before = encoded
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    expect(second.welcome).toMatchObject({ resumed: true })
    expect(await second.client.waitForMessages(3)).toEqual(sent)
    // The `$welcome` only.
    expect(encoded - before).toBe(1)
  })

  it('holds the payload of a message kept for a resend no longer than its encoding', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const server = await startServer(fx)
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    const kept = ((): WeakRef<object> => {
      const payload = { text: 'x'.repeat(8 * 1024) }
      peer?.send('m', payload)
      return new WeakRef(payload)
    })()
    // Unacknowledged: it is kept for a resend.
    await client.waitForMessages(1)
    expect((peer as unknown as { stream: { unackedCount: number } }).stream.unackedCount).toBe(1)
    gc()
    expect(kept.deref()).toBeUndefined()
  })

  it('sends no `$ack` after the frames resent when the `$welcome` carried the latest', async () => {
    const { server, processed, peer } = await recordingServer()
    const first = await ProtocolClient.connect(fx, urlOf(server))
    // Kept as frames that acknowledge nothing (a = 0), then a message processed (the latest: 1).
    for (let i = 0; i < 3; i++) peer()?.send('blob', 'b'.repeat(16 * 1024))
    await first.client.waitForMessages(3)
    first.client.send({ t: 'm', d: 'hi', s: 1 })
    await waitFor(() => processed.length === 1, { message: 'the message processed' })
    await first.client.drop()
    await waitFor(() => peer()?.connected === false, { message: 'the server to see the drop' })
    const second = await ProtocolClient.connect(fx, urlOf(server), {
      sid: first.welcome.sid,
      a: 0,
    })
    expect(second.welcome).toMatchObject({ resumed: true, a: 1 })
    await second.client.waitForMessages(3)
    // Written after anything the replay would have followed with.
    peer()?.send('after', 1)
    await waitFor(() => second.client.messages().some((m) => m.t === 'after'), {
      message: 'the message after the replay',
    })
    expect(second.client.received.filter((frame) => frame.t === '$ack')).toEqual([])
  })

  it('keeps one payload sent to many sessions in one turn as the value they share', async () => {
    const { server } = await recordingServer()
    const peers: Peer[] = []
    server.on('connection', (p) => void peers.push(p))
    const clients = await Promise.all(
      [1, 2, 3].map(async () => (await ProtocolClient.connect(fx, urlOf(server))).client),
    )
    await waitFor(() => peers.length === 3, { message: 'three peers' })
    const payload = { text: 'x'.repeat(16 * 1024) }
    for (const p of peers) p.send('m', payload)
    for (const client of clients) expect((await client.waitForMessages(1))[0]?.d).toEqual(payload)
    const kept = peers.map(
      (p) =>
        (
          p as unknown as { stream: { snapshot(): { unacked: { d?: unknown }[] } } }
        ).stream.snapshot().unacked[0]?.d,
    )
    // The first keeps the frame's bytes; the others share the payload instead of copies.
    expect(kept.filter((d) => d === payload)).toHaveLength(2)
  })

  it('acknowledges what arrived during a paced replay once the frames resent are out', async () => {
    const server = await startServer(fx, {
      outboundHighWaterBytes: 64 * 1024,
      maxOutboundBytes: 64 * 1024,
      replayLimitBytes: 4096 * 1024,
    })
    let peer: Peer | undefined
    const processed: unknown[] = []
    server.on('connection', (p) => {
      peer = p
      p.on('m', (data) => void processed.push(data))
    })
    const first = await ProtocolClient.connect(fx, urlOf(server))
    await first.client.drop()
    await waitFor(() => peer?.connected === false, { message: 'the server to see the drop' })
    // Kept as frames that acknowledge nothing (a = 0); four times what may go unacknowledged.
    const count = 16
    for (let i = 0; i < count; i++) peer?.send('blob', 'b'.repeat(16 * 1024))
    const { client } = await ProtocolClient.connect(fx, urlOf(server), {
      sid: first.welcome.sid,
      a: 0,
    })
    await waitFor(() => client.messages().length >= 4, { message: 'the first part of the replay' })
    // Processed while the replay waits for the client's acknowledgements.
    client.send({ t: 'm', d: 'hi', s: 1 })
    await waitFor(() => processed.length === 1, { message: 'the message processed' })
    await waitFor(
      () => {
        client.acknowledge()
        return client.messages().length === count
      },
      { message: () => `the whole replay (have ${client.messages().length})` },
    )
    // Its acknowledgement reaches it, whatever the frames resent carried.
    await waitFor(() => client.received.some((frame) => (frame.a ?? 0) >= 1), {
      message: 'an acknowledgement of the message',
    })
  })
})
