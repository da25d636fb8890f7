import { Agent } from 'node:http'
import type { ClientRequestArgs } from 'node:http'
import type { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { json } from '@lifeline/codec'
import {
  expectNoEvent,
  runScript,
  startWsServer,
  thrownBy,
  useFixtures,
  waitFor,
} from '@lifeline/test-utils'
import { ReconnectingWebSocket, createClient } from '../src/index.js'
import type { NodeReconnectingWebSocketOptions } from '../src/index.js'
import { nextEvent, quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)
const refusedFrameExit = fileURLToPath(new URL('./fixtures/refusedFrameExit.ts', import.meta.url))
const authorizationOf = (
  index: number,
  server: { connections: readonly { request: { headers: Record<string, unknown> } }[] },
) => server.connections[index]?.request.headers.authorization

describe('headers', () => {
  it('sends a fixed value with every attempt', async () => {
    const server = fx.add(await startWsServer())
    const headers = { Authorization: 'Bearer fixed' }
    const socket = fx.add(
      new ReconnectingWebSocket(server.url('/'), null, { ...quickRetry, headers }),
    )
    await nextEvent(socket, 'open')
    socket.reconnect()
    await nextEvent(socket, 'open')
    expect([0, 1].map((index) => authorizationOf(index, server))).toEqual([
      'Bearer fixed',
      'Bearer fixed',
    ])
  })

  it.each([
    ['sync', (token: string) => ({ Authorization: token })],
    ['async', async (token: string) => ({ Authorization: token })],
  ] as const)(
    'calls a %s function before every attempt: the server sees the new value after a reconnect',
    async (_, make) => {
      const server = fx.add(await startWsServer())
      let calls = 0
      const headers = () => make(`Bearer token-${++calls}`)
      const socket = fx.add(
        new ReconnectingWebSocket(server.url('/'), null, { ...quickRetry, headers }),
      )
      await nextEvent(socket, 'open')
      // The server drops the link: the next attempt asks for headers again.
      ;(await server.waitForConnection()).socket.terminate()
      await nextEvent(socket, 'open')
      expect([0, 1].map((index) => authorizationOf(index, server))).toEqual([
        'Bearer token-1',
        'Bearer token-2',
      ])
    },
  )

  it("evaluates the client's headers per attempt too, with its URL provider", async () => {
    const server = fx.add(await startWsServer())
    let calls = 0
    const client = createClient({
      url: async () => server.url(`/?attempt=${calls}`),
      mode: 'raw',
      socket: { ...quickRetry, headers: async () => ({ Authorization: `Bearer ${++calls}` }) },
    })
    fx.add(() => client.close())
    await server.waitForConnection()
    server.connections[0]?.socket.terminate()
    await server.waitForConnection()
    expect([0, 1].map((index) => authorizationOf(index, server))).toEqual(['Bearer 1', 'Bearer 2'])
    expect(server.connections[1]?.request.url).toBe('/?attempt=2')
  })

  it('takes a promise of another realm, or any thenable, as a promise of the headers', async () => {
    const server = fx.add(await startWsServer())
    // What a function gives in a `vm` context, or under a test runner that runs code in one.
    const foreign = () =>
      runInNewContext('Promise.resolve({ Authorization: "Bearer foreign" })') as Promise<
        Record<string, string>
      >
    const thenable = () =>
      ({
        then: (resolve: (value: Record<string, string>) => void) =>
          resolve({ Authorization: 'Bearer thenable' }),
      }) as unknown as Promise<Record<string, string>>
    for (const headers of [foreign, thenable]) {
      const socket = fx.add(
        new ReconnectingWebSocket(server.url('/'), null, { ...quickRetry, headers }),
      )
      await nextEvent(socket, 'open')
      socket.close()
    }
    expect([0, 1].map((index) => authorizationOf(index, server))).toEqual([
      'Bearer foreign',
      'Bearer thenable',
    ])
  })

  it('fails the attempt, with no unhandled rejection, when the URL provider throws as the headers reject', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    fx.add(() => process.off('unhandledRejection', onUnhandled))
    const url = () => {
      throw new Error('no endpoint known')
    }
    const headers = () => Promise.reject(new Error('token service down'))
    const socket = fx.add(new ReconnectingWebSocket(url, null, { ...quickRetry, headers }))
    const errors: string[] = []
    socket.addEventListener('error', (event) => errors.push(event.error.code))
    await waitFor(() => errors.length >= 2, { message: 'two failed attempts' })
    // A rejection with no handler is reported once the microtasks of its turn are done.
    await new Promise((resolve) => setImmediate(resolve))
    expect(errors.slice(0, 2)).toEqual(['CONNECTION_ERROR', 'CONNECTION_ERROR'])
    expect(unhandled).toEqual([])
  })

  it('fails an attempt whose headers function gives no plain object, which ws would mangle or drop', async () => {
    const server = fx.add(await startWsServer())
    // A string would go as one header per character; a `Headers` or a `Map` as no header at all.
    for (const given of ['Bearer x', new Headers({ Authorization: 'Bearer x' })]) {
      const headers = (() => given) as unknown as () => Record<string, string>
      const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, { headers }))
      const { error } = await nextEvent(socket, 'error')
      expect(error).toMatchObject({
        code: 'CONNECTION_ERROR',
        message: expect.stringContaining('headers must be a plain object'),
      })
      socket.close()
    }
    expect(server.connections).toHaveLength(0)
    // Nothing is none, as it always was.
    const none = (() => null) as unknown as () => Record<string, string>
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, { headers: none }))
    await nextEvent(socket, 'open')
  })
})

describe('maxPayload', () => {
  /** A server that sends `bytes` at every connection. */
  async function sender(bytes: number) {
    return fx.add(
      await startWsServer({ onConnection: ({ socket }) => socket.send('x'.repeat(bytes)) }),
    )
  }

  it('ends the socket with MESSAGE_TOO_LARGE (1009) over 1 MiB, without reconnecting', async () => {
    const server = await sender(1024 * 1024 + 1)
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, quickRetry))
    const errors: unknown[] = []
    socket.addEventListener('error', (event) => errors.push(event.error))
    const closed = await nextEvent(socket, 'close')
    expect([closed.code, closed.wasClean]).toEqual([1009, false])
    expect(socket.state.status).toBe('closed')
    expect(errors).toMatchObject([{ code: 'MESSAGE_TOO_LARGE', closeCode: 1009 }])
    // The server would send the same message again: no second attempt is made.
    await expectNoEvent(server.wss, 'connection', 200)
    expect(server.connections).toHaveLength(1)
  })

  it("takes a message of exactly maxPayload, and a client takes its codecs' largest maxBytes", async () => {
    const server = await sender(2048)
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, { maxPayload: 2048 }))
    expect(String((await nextEvent(socket, 'message')).data)).toHaveLength(2048)
    const client = createClient({
      url: server.url('/'),
      mode: 'raw',
      codecs: [json({ maxBytes: 1024 })],
    })
    fx.add(() => client.close())
    await waitFor(() => client.state.status === 'closed', { message: 'the client to end' })
    expect(client.state).toMatchObject({
      closeCode: 1009,
      lastError: { code: 'MESSAGE_TOO_LARGE' },
    })
  })
})

describe('frames ws refuses', () => {
  /** A text message of `count` one-byte fragments. */
  function fragments(count: number): number[] {
    const middle = Array.from({ length: count - 2 }, () => [0x00, 0x01, 0x61]).flat()
    return [0x01, 0x01, 0x61, ...middle, 0x80, 0x01, 0x61]
  }

  /** A server that writes `bytes` as they are, a frame of its own, at every connection. */
  async function writer(bytes: number[]) {
    return fx.add(
      await startWsServer({
        onConnection: ({ socket }) =>
          (socket as unknown as { _socket: Duplex })._socket.write(Buffer.from(bytes)),
      }),
    )
  }

  it.each([
    ['invalid UTF-8 in a text message', [0x81, 0x02, 0x61, 0xff], 1007, 'DECODE_FAILED'],
    ['a frame with RSV2 set', [0xa1, 0x01, 0x61], 1002, 'PROTOCOL_ERROR'],
    ['a masked frame from a server', [0x81, 0x81, 1, 2, 3, 4, 0x60], 1002, 'PROTOCOL_ERROR'],
    ['a message in more than 16,384 fragments', fragments(16_385), 1008, 'POLICY_VIOLATION'],
  ])(
    'ends the socket on %s with the code ws sent, without reconnecting',
    async (_, bytes, code, errorCode) => {
      // The server would send the same frame again after a reconnect: as for a message too large.
      const server = await writer(bytes)
      const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, quickRetry))
      const errors: unknown[] = []
      socket.addEventListener('error', (event) => errors.push(event.error))
      const closed = await nextEvent(socket, 'close')
      expect([closed.code, closed.wasClean]).toEqual([code, false])
      expect(socket.state.status).toBe('closed')
      expect(errors).toMatchObject([{ code: errorCode, closeCode: code }])
      await expectNoEvent(server.wss, 'connection', 200)
      expect(server.connections).toHaveLength(1)
    },
  )

  it('lets the link go at once, with a server that does not answer the close frame', async () => {
    // ws waits 30 s for the server's close frame, reading nothing meanwhile: its socket and timer
    // kept the process alive that long after the socket had ended for good.
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => {
          socket.send('x'.repeat(2048))
          ;(socket as unknown as { _socket: Duplex })._socket.pause()
        },
      }),
    )
    const { code, out } = await runScript(refusedFrameExit, [server.url('/')], 8_000)
    expect(code).toBe(0)
    expect(out).toBe('closed 1009 closed\nMESSAGE_TOO_LARGE\n')
  }, 12_000)

  it('reconnects after a close frame ws refuses: a reason cut within a character', async () => {
    // 1012 with the first two of the three bytes of '€': what the peer meant is not known.
    const server = await writer([0x88, 0x04, 0x03, 0xf4, 0xe2, 0x82])
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, quickRetry))
    expect((await nextEvent(socket, 'close')).code).toBe(1006)
    await server.waitForConnection()
    await server.waitForConnection()
  })
})

describe('what is passed to ws', () => {
  it('uses the given agent and passes TLS options through to the request', async () => {
    const server = fx.add(await startWsServer())
    const seen: ClientRequestArgs[] = []
    class Recording extends Agent {
      override createConnection(
        options: ClientRequestArgs,
        callback?: (error: Error | null, stream: Duplex) => void,
      ) {
        seen.push(options)
        return super.createConnection(options, callback)
      }
    }
    const socket = fx.add(
      new ReconnectingWebSocket(server.url('/'), null, {
        agent: new Recording(),
        tls: { rejectUnauthorized: false, ca: 'test-ca' },
      }),
    )
    await nextEvent(socket, 'open')
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ rejectUnauthorized: false, ca: 'test-ca' })
  })

  it('offers no permessage-deflate unless asked', async () => {
    const server = fx.add(await startWsServer({ perMessageDeflate: true }))
    const plain = fx.add(new ReconnectingWebSocket(server.url('/'), null))
    await nextEvent(plain, 'open')
    expect(plain.extensions).toBe('')
    expect(server.connections[0]?.request.headers['sec-websocket-extensions']).toBeUndefined()
    const deflating = fx.add(
      new ReconnectingWebSocket(server.url('/'), null, { perMessageDeflate: true }),
    )
    await nextEvent(deflating, 'open')
    expect(deflating.extensions).toContain('permessage-deflate')
  })

  it('runs on ws, with no global WebSocket (as on Node 20)', async () => {
    vi.stubGlobal('WebSocket', undefined)
    fx.add(() => vi.unstubAllGlobals())
    const server = fx.add(await startWsServer())
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null))
    await nextEvent(socket, 'open')
    socket.send('hello')
    expect((await server.waitForMessages(1))[0]?.text).toBe('hello')
  })

  // As a project without `exactOptionalPropertyTypes` passes its own unset settings on.
  it('takes an option given as undefined as not given: no deflate, 1 MiB maxPayload', async () => {
    const server = fx.add(
      await startWsServer({
        perMessageDeflate: true,
        onConnection: ({ socket }) => socket.send('x'.repeat(1024 * 1024 + 1)),
      }),
    )
    const loose = {
      headers: undefined,
      agent: undefined,
      tls: undefined,
      maxPayload: undefined,
      perMessageDeflate: undefined,
      heartbeat: undefined,
      clock: undefined,
    }
    const options: NodeReconnectingWebSocketOptions = { ...quickRetry, ...loose }
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, options))
    const closed = nextEvent(socket, 'close')
    await nextEvent(socket, 'open')
    expect(socket.extensions).toBe('')
    expect((await closed).code).toBe(1009)
    const client = createClient({
      url: server.url('/'),
      mode: 'raw',
      codecs: undefined,
      socket: options,
    })
    fx.add(() => client.close())
    await waitFor(() => client.state.status === 'closed', { message: 'the client to end' })
    expect(client.state).toMatchObject({ closeCode: 1009 })
  })

  it('refuses bad options with INVALID_ARGUMENT or INVALID_URL, at the call', () => {
    const make =
      (options: object, url = 'ws://127.0.0.1:1/') =>
      () =>
        new ReconnectingWebSocket(url, null, { startClosed: true, ...options })
    expect(thrownBy(make({ headers: 'Bearer x' }))).toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(thrownBy(make({ headers: new Headers({ Authorization: 'Bearer x' }) }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    expect(thrownBy(make({ maxPayload: -1 }))).toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(thrownBy(make({ maxPayload: 0 }))).toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(thrownBy(make({ heartbeat: { intervalMs: 0 } }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    expect(thrownBy(make({ heartbeat: { intervalMs: 'soon' } }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    expect(thrownBy(make({ unknown: 1 }))).toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(thrownBy(make({ headers: () => ({}) }, 'ftp://x/'))).toMatchObject({
      code: 'INVALID_URL',
    })
  })

  it('refuses an unknown heartbeat key in every mode, the protocol mode that pings with $ping too', () => {
    const heartbeat = { intervalMS: 5_000 } as { intervalMs?: number }
    const url = 'ws://127.0.0.1:1/'
    const makers = [
      () => new ReconnectingWebSocket(url, null, { startClosed: true, heartbeat }),
      () => createClient({ url, mode: 'raw', startClosed: true, socket: { heartbeat } }),
      () => createClient({ url, startClosed: true, socket: { heartbeat } }),
    ]
    for (const make of makers) {
      expect(thrownBy(make)).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^unknown option '(socket\.)?heartbeat\.intervalMS'$/),
      })
    }
  })
})
