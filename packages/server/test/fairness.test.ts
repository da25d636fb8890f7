import { randomBytes } from 'node:crypto'
import { createServer as createHttpServer } from 'node:http'
import { Socket, type AddressInfo } from 'node:net'
import type { RpcMethod } from '@lifeline/core'
import { expectNoEvent, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type Peer } from '../src/index.js'
import WebSocket from 'ws'
import { frameWorkBytes } from '../src/outputBound.js'
import { readSliceBytes } from '../src/readSlices.js'
import { upgradeWorkBytes } from '../src/server.js'
import { turnDefaults } from '../src/turns.js'
import { ProtocolClient, startServer, urlOf, type Frame } from './helpers.js'

const fx = useFixtures(afterEach)

const KiB = 1024

interface Api {
  server: { blob: string }
  rpc: { big: RpcMethod<null, string> }
}

/** Sends `$ack`s for what `client` receives until it has `count` messages. */
async function acknowledgeUntil(client: ProtocolClient, count: number): Promise<Frame[]> {
  let acknowledged = 0
  await waitFor(
    () => {
      const last = client.lastSeq()
      if (last > acknowledged) {
        client.send({ t: '$ack', a: last })
        acknowledged = last
      }
      return client.messages().length >= count
    },
    { message: () => `${count} messages (have ${client.messages().length})` },
  )
  return client.messages()
}

describe('work per event-loop turn shared across connections', () => {
  it.each([
    { writes: 'all at once', window: Infinity },
    // Each read then holds a few: a connection in line must not be answered as it is read.
    { writes: 'a few at a time, as answers come', window: 8 },
  ])(
    'serves connections that flood requests ($writes) a bounded output per turn in all',
    async ({ window }) => {
      const server = await startServer<Api>(fx, {
        // Above all of it: only the work per turn is bounded.
        outboundHighWaterBytes: 64 * 1024 * KiB,
        maxOutboundBytes: 64 * 1024 * KiB,
        replayLimitBytes: 128 * 1024 * KiB,
      })
      const answer = 'a'.repeat(16 * KiB)
      let handled = 0
      // Answers per turn of the event loop, told apart by a chain of `setImmediate`s (one per
      // turn) that runs while requests are answered.
      let turn = 0
      let ticking = false
      const answersPerTurn = new Map<number, number>()
      const tick = () => {
        turn++
        ticking = answersPerTurn.has(turn - 1)
        if (ticking) setImmediate(tick)
      }
      server.handle('big', () => {
        handled++
        answersPerTurn.set(turn, (answersPerTurn.get(turn) ?? 0) + 1)
        if (!ticking) {
          ticking = true
          setImmediate(tick)
        }
        return answer
      })
      const connections = 10
      const requests = 60
      const clients = await Promise.all(
        Array.from({ length: connections }, async () => {
          const { client } = await ProtocolClient.connect(fx, urlOf(server))
          return client
        }),
      )
      const answered = (client: ProtocolClient) =>
        client.received.filter((frame) => frame.t === '$res').length
      for (const client of clients) {
        let sent = 0
        const more = () => {
          while (sent < requests && sent - answered(client) < window) {
            sent++
            client.send({ t: '$req', s: sent, d: { id: sent, m: 'big' } })
          }
        }
        client.socket.on('message', more)
        more()
      }
      const total = connections * requests
      await waitFor(() => handled === total, {
        message: () => `${total} answers (have ${handled})`,
        // 10 MiB to decode on a shared machine.
        timeoutMs: 10_000,
      })
      // Each connection answers its share of a turn (and the answer that crossed it) then waits
      // in line, and so do the frames it sends next; a turn serves the line until its budget
      // is spent, and the connection served last finishes its share. Every connection's first
      // share may come in one turn, as it is read; and a connection that went quiet for a turn
      // leaves the line (one share more, for a machine that is slow to deliver). Without a
      // budget in all, or with frames answered as they are read, every connection with
      // requests answers its share in every turn: `connections * share`.
      const share = Math.floor(turnDefaults.connectionBytes / answer.length) + 1
      const mostPerTurn = Math.ceil(turnDefaults.budgetBytes / answer.length) + 2 * share
      expect(mostPerTurn).toBeLessThan(connections * share)
      const [first = 0, ...rest] = answersPerTurn.values()
      expect(first).toBeLessThanOrEqual(connections * share)
      expect(Math.max(...rest)).toBeLessThanOrEqual(mostPerTurn)
      await waitFor(() => clients.every((client) => answered(client) === requests), {
        message: 'every answer delivered',
        timeoutMs: 10_000,
      })
    },
  )
})

describe('frames read count in a turn as output does', () => {
  it('handles a flood of frames that make no output a share of a turn at a time, answering others meanwhile', async () => {
    const server = await startServer<Api & { client: { note: number } }>(fx, {})
    // Some 400 KB of small frames, read 64 KiB (over a thousand frames) at a time.
    const total = 10_000
    // Messages handled per turn of the event loop, told apart by a chain of `setImmediate`s.
    let turn = 0
    let handled = 0
    const perTurn = new Map<number, number>()
    const tick = () => {
      turn++
      if (handled < total) setImmediate(tick)
    }
    server.on('connection', (peer) =>
      peer.on('note', () => {
        if (handled++ === 0) setImmediate(tick)
        perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1)
      }),
    )
    server.handle('big', () => 'answer')
    const { client: flooder } = await ProtocolClient.connect(fx, urlOf(server))
    const { client: other } = await ProtocolClient.connect(fx, urlOf(server))
    const frame = (s: number) => JSON.stringify({ t: 'note', s, d: s })
    for (let s = 1; s <= total; s++) flooder.socket.send(frame(s))
    other.send({ t: '$req', s: 1, d: { id: 1, m: 'big' } })
    await other.next('$res')
    // The other client's call does not wait for the flood to be handled.
    expect(handled).toBeLessThan(total)
    await waitFor(() => handled === total, { message: () => `${total} handled (${handled})` })
    // Each frame counts its size and `frameWorkBytes` against the connection's share of a turn:
    // a share read as the turn's first frames, another served in its turn. Without that, every
    // frame of a TCP read is handled at once, whatever its number.
    const share = Math.ceil(turnDefaults.connectionBytes / (frame(total).length + frameWorkBytes))
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(2 * (share + 1))
  })
})

describe('a socket read is parsed no further than the connection reads', () => {
  it('leaves the rest of a flood in the socket once the connection waits in line, and handles all of it, in order', async () => {
    const server = await startServer<Api & { client: { note: number } }>(fx, {})
    // Some 400 KB of small frames, read 64 KiB (over a thousand frames) at a time.
    const total = 10_000
    const frame = (s: number) => JSON.stringify({ t: 'note', s, d: s })
    // Frames `ws` parsed on the server (its 'message' events) per turn of the event loop, told
    // apart by a chain of `setImmediate`s, and the order they were handled in.
    let turn = 0
    let parsed = 0
    const perTurn = new Map<number, number>()
    const tick = () => {
      turn++
      if (parsed < total) setImmediate(tick)
    }
    const emit = WebSocket.prototype.emit
    fx.add(() => {
      WebSocket.prototype.emit = emit
    })
    WebSocket.prototype.emit = function (this: WebSocket, event: string, ...args: unknown[]) {
      if (event === 'message' && String(args[0]).startsWith('{"t":"note"')) {
        if (parsed++ === 0) setImmediate(tick)
        perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1)
      }
      return emit.call(this, event, ...args)
    } as typeof emit
    const handled: number[] = []
    server.on('connection', (peer) => peer.on('note', (n) => handled.push(n)))
    const { client: flooder } = await ProtocolClient.connect(fx, urlOf(server))
    for (let s = 1; s <= total; s++) flooder.socket.send(frame(s))
    await waitFor(() => handled.length === total, {
      message: () => `${total} handled (${handled.length})`,
    })
    expect(handled).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    // Per turn, a share of a turn handled and a slice of a read parsed past it, twice (as
    // handled); `ws` parsed a whole TCP read at once (over 1,500 of these frames) before.
    const share = Math.ceil(turnDefaults.connectionBytes / (frame(total).length + frameWorkBytes))
    const slice = Math.ceil(readSliceBytes / frame(1).length)
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(2 * (share + slice + 1))
  })
})

describe('output made for many connections at once', () => {
  it('writes a broadcast to clients that are behind over several turns, each within the budget, and at once to one that keeps up', async () => {
    const server = await startServer<Api>(fx, {
      outboundHighWaterBytes: 64 * KiB,
      // Above all of it: only the work per turn is bounded.
      maxOutboundBytes: 64 * 1024 * KiB,
      replayLimitBytes: 128 * 1024 * KiB,
    })
    const behind = await Promise.all(
      Array.from(
        { length: 20 },
        async () => (await ProtocolClient.connect(fx, urlOf(server))).client,
      ),
    )
    // Each of the twenty has 80 KiB it has not acknowledged: over the high-water mark.
    const backlog = 'b'.repeat(80 * KiB)
    for (const peer of server.peers.values()) peer.send('blob', backlog)
    await Promise.all(behind.map((client) => client.waitForMessages(1)))
    const { client: current } = await ProtocolClient.connect(fx, urlOf(server))
    const serverSide = (socket: Socket) => socket.localPort === server.port

    // Bytes the server's sockets hand to the kernel per turn of the event loop (a chain of
    // `setImmediate`s), and per socket in the broadcast's turn.
    let turn = 0
    const perTurn = new Map<number, number>()
    const firstTurn = new Map<Socket, number>()
    const count = (socket: Socket, bytes: number) => {
      if (!serverSide(socket)) return
      perTurn.set(turn, (perTurn.get(turn) ?? 0) + bytes)
      if (turn === 0) firstTurn.set(socket, (firstTurn.get(socket) ?? 0) + bytes)
    }
    const write = Socket.prototype._write
    const writev = Socket.prototype._writev as NonNullable<Socket['_writev']>
    fx.add(() => {
      Socket.prototype._write = write
      Socket.prototype._writev = writev
    })
    // Large text frames written as strings after the broadcast's turn: from the line.
    let laterStrings = 0
    const countString = (socket: Socket, chunk: unknown) => {
      if (turn > 0 && serverSide(socket) && typeof chunk === 'string' && chunk.length >= 4 * KiB)
        laterStrings++
    }
    Socket.prototype._write = function (this: Socket, chunk, encoding, callback) {
      countString(this, chunk)
      count(this, Buffer.byteLength(chunk as Buffer))
      write.call(this, chunk, encoding, callback)
    }
    Socket.prototype._writev = function (this: Socket, chunks, callback) {
      for (const { chunk } of chunks) countString(this, chunk)
      count(
        this,
        chunks.reduce((sum, { chunk }) => sum + Buffer.byteLength(chunk as Buffer), 0),
      )
      writev.call(this, chunks, callback)
    }
    let done = false
    const tick = () => {
      turn++
      if (!done) setImmediate(tick)
    }
    setImmediate(tick)
    const news = 'n'.repeat(64 * KiB)
    expect(server.broadcast('blob', news)).toBe(21)
    await Promise.all([
      ...behind.map((client) => client.waitForMessages(2)),
      current.waitForMessages(1),
    ])
    done = true

    for (const client of [...behind, current]) {
      expect(client.messages().at(-1)).toMatchObject({ t: 'blob', d: news })
    }
    // The client that keeps up got it in the broadcast's turn: its server-side socket is the
    // one whose remote port is the client's own.
    const currentPort = (current.socket as unknown as { _socket: Socket })._socket.localPort
    const currentBytes = [...firstTurn].find(([socket]) => socket.remotePort === currentPort)
    expect(currentBytes?.[1]).toBeGreaterThan(news.length)
    // A turn writes up to its budget and the frame that crosses it, in the call (the turn's
    // work so far) and again in the line's turn; the twenty 64 KiB frames took several.
    const frame = news.length + KiB
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(
      2 * (turnDefaults.budgetBytes + frame),
    )
    expect(perTurn.size).toBeGreaterThanOrEqual(3)
    // What waited in line waited as its bytes, off the JavaScript heap: as strings, a frame per
    // client that does not read was what every minor collection copied.
    expect(laterStrings).toBe(0)
  })
})

describe('a resume replays at most maxOutboundBytes unacknowledged', () => {
  it('resends the rest as the client acknowledges, in order', async () => {
    const maxOutbound = 256 * KiB
    const server = await startServer<Api>(fx, {
      outboundHighWaterBytes: 64 * KiB,
      maxOutboundBytes: maxOutbound,
      replayLimitBytes: 4096 * KiB,
    })
    const { client: first, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    const peer = [...server.peers.values()][0] as Peer<Api>
    await first.drop()
    await waitFor(() => !peer.connected, { message: 'the server sees the client go' })
    // 1 MiB kept for it: four times what it may have unacknowledged.
    const blob = 'b'.repeat(16 * KiB)
    const count = 64
    for (let i = 0; i < count; i++) peer.send('blob', blob)
    const { client } = await ProtocolClient.connect(fx, urlOf(server), { sid: welcome.sid, a: 0 })
    // It reads everything and acknowledges nothing: the replay stops at the bound.
    await waitFor(() => client.messages().length >= maxOutbound / blob.length, {
      message: 'the first part of the replay',
    })
    await expectNoEvent(client.socket, 'message', 200)
    expect(client.messages().length).toBeLessThanOrEqual(maxOutbound / blob.length + 1)
    expect(server.stats.slowConsumers).toBe(0)
    // Its acknowledgements let the rest come, once and in order.
    const got = await acknowledgeUntil(client, count)
    expect(got.map((frame) => frame.s)).toEqual(Array.from({ length: count }, (_, i) => i + 1))
  })

  it("counts what is answered behind the replay against the connection's share of a turn", async () => {
    const server = await startServer<Api>(fx, {
      outboundHighWaterBytes: 64 * KiB,
      maxOutboundBytes: 256 * KiB,
      replayLimitBytes: 64 * 1024 * KiB,
    })
    const answer = 'a'.repeat(16 * KiB)
    let handled = 0
    let handledInFirstTurn = 0
    server.handle('big', () => {
      if (handled++ === 0) setImmediate(() => (handledInFirstTurn = handled))
      return answer
    })
    const { client: first, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    const peer = [...server.peers.values()][0] as Peer<Api>
    await first.drop()
    await waitFor(() => !peer.connected, { message: 'the server sees the client go' })
    for (let i = 0; i < 32; i++) peer.send('blob', 'b'.repeat(16 * KiB))
    const { client } = await ProtocolClient.connect(fx, urlOf(server), { sid: welcome.sid, a: 0 })
    // It acknowledges nothing: the replay waits, and what it asks for now waits behind it.
    await waitFor(() => client.messages().length >= 16, { message: 'the first part of the replay' })
    const requests = 100
    for (let s = 1; s <= requests; s++) client.send({ t: '$req', s, d: { id: s, m: 'big' } })
    // It acknowledges from now on: past the high-water mark unacknowledged, requests wait.
    await waitFor(
      () => {
        client.acknowledge()
        return handled === requests
      },
      { message: () => `${requests} handled (${handled})` },
    )
    // A share of a turn (64 KiB, and the answer that crossed it), not all it sent at once.
    expect(handledInFirstTurn).toBeGreaterThan(0)
    expect(handledInFirstTurn).toBeLessThanOrEqual(64 / 16 + 1)
  })

  it('closes the link as a slow consumer when what waits behind the replay overflows the buffer', async () => {
    const server = await startServer<Api>(fx, {
      outboundHighWaterBytes: 64 * KiB,
      maxOutboundBytes: 128 * KiB,
      replayLimitBytes: 512 * KiB,
    })
    const { client: first, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    const peer = [...server.peers.values()][0] as Peer<Api>
    await first.drop()
    await waitFor(() => !peer.connected, { message: 'the server sees the client go' })
    const blob = 'b'.repeat(16 * KiB)
    for (let i = 0; i < 16; i++) peer.send('blob', blob)
    const { client } = await ProtocolClient.connect(fx, urlOf(server), { sid: welcome.sid, a: 0 })
    await waitFor(() => client.messages().length >= 8, { message: 'the first part of the replay' })
    // It acknowledges nothing; what is sent now waits behind the replay, until the oldest of
    // what it has not received is dropped.
    for (let i = 0; i < 32 && peer.connected; i++) peer.send('blob', blob)
    expect(await client.waitClose()).toMatchObject({ code: 4429 })
    // No gap reached it; its session cannot be resumed exactly any more.
    const got = client.messages().map((frame) => frame.s)
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i + 1))
    const { welcome: again } = await ProtocolClient.connect(fx, urlOf(server), {
      sid: welcome.sid,
      a: client.lastSeq(),
    })
    expect(again.resumed).toBe(false)
  })
})

describe('a slow consumer closed', () => {
  it('is dropped when its client resumes, not closeTimeoutMs later', async () => {
    const maxOutbound = 256 * KiB
    const server = await startServer<Api>(fx, {
      outboundHighWaterBytes: 64 * KiB,
      maxOutboundBytes: maxOutbound,
      replayLimitBytes: 256 * 1024 * KiB,
      // Longer than the test waits.
      closeTimeoutMs: 30_000,
    })
    const { client: slow, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    slow.socket.pause()
    const peer = [...server.peers.values()][0] as Peer<Api>
    const blob = 'b'.repeat(16 * KiB)
    let sent = 0
    // Far more than the kernel buffers hold; the loop ends when the server lets the client go.
    while (peer.connected && sent < 8000) {
      peer.send('blob', blob)
      sent++
    }
    expect(server.stats.slowConsumers).toBe(1)
    // Its socket waits for the answer to a close frame that the client does not read.
    expect(server.stats.connections).toBe(1)
    const { client } = await ProtocolClient.connect(fx, urlOf(server), {
      sid: welcome.sid,
      a: 0,
    })
    await waitFor(() => server.stats.connections === 1, {
      message: 'the old socket dropped',
      timeoutMs: 5_000,
    })
    // The session lost nothing: its client gets everything it acknowledges.
    const got = await acknowledgeUntil(client, sent)
    expect(got.at(-1)?.s).toBe(sent)
  }, 10_000)
})

describe('handshakes shared across turns', () => {
  it("completes upgrade requests that arrive together a turn's budget at a time", async () => {
    // On a server of the test's own, which tells when it has accepted every connection.
    const http = createHttpServer()
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const server = createServer({ server: http })
    fx.add(() => server.close())
    const port = (http.address() as AddressInfo).port
    const count = 40
    const sockets = Array.from({ length: count }, () => {
      const socket = new Socket()
      fx.add(() => socket.destroy())
      socket.connect(port, '127.0.0.1')
      return socket
    })
    const accepted = () =>
      new Promise<number>((resolve, reject) =>
        http.getConnections((error, n) => (error ? reject(error) : resolve(n))),
      )
    await waitFor(async () => (await accepted()) === count, {
      message: 'every connection accepted',
    })
    const answered = sockets.map(
      (socket) =>
        new Promise<string>((resolve) => socket.once('data', (data) => resolve(String(data)))),
    )
    // Connections set up per turn of the event loop, told apart by a chain of `setImmediate`s.
    const perTurn: number[] = []
    let before = server.stats.connections
    const tick = () => {
      const now = server.stats.connections
      perTurn.push(now - before)
      before = now
      if (now < count) setImmediate(tick)
    }
    // All written in one go: the server reads every request in the same poll of the event loop.
    for (const socket of sockets) {
      const key = randomBytes(16).toString('base64')
      socket.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          `Sec-WebSocket-Protocol: lifeline.v1.json\r\n\r\n`,
      )
    }
    setImmediate(tick)
    for (const answer of await Promise.all(answered)) expect(answer).toMatch(/^HTTP\/1\.1 101 /)
    expect(server.stats.connections).toBe(count)
    // A turn's budget of handshakes where the requests are read, and another in the turn's line.
    const perBudget = turnDefaults.budgetBytes / upgradeWorkBytes
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(2 * perBudget)
  })
})
