import type { ClientRequest, IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { json, type Codec } from '@lifeline/codec'
import { msgpack } from '@lifeline/codec/msgpack'
import { once, useFixtures, waitFor } from '@lifeline/test-utils'
import { createClient, LifelineError } from '@lifeline/core'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  authUnavailable,
  createServer,
  forbidden,
  unauthenticated,
  type LifelineServer,
  type ServerOptions,
  type ServerStats,
} from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)

type Counter = keyof ServerStats
const errorCounters: Counter[] = [
  'decodeErrors',
  'protocolErrors',
  'oversize',
  'authFailures',
  'forbidden',
  'authUnavailable',
  'originRejected',
  'helloTimeouts',
]

/** Resolves with the HTTP status of a refused upgrade. */
async function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  const socket = fx.add(new WebSocket(url, [json().name], { headers }))
  const [request, response] = (await once(socket, 'unexpected-response')) as [
    ClientRequest,
    IncomingMessage,
  ]
  response.resume()
  request.destroy()
  return response.statusCode ?? 0
}

/** What a client does wrong, and what it must get for it. */
interface BadCase {
  name: string
  options?: Omit<ServerOptions, 'port' | 'server'>
  /** Misbehaves and resolves with the close code (or HTTP status) it got. */
  act(server: LifelineServer): Promise<number>
  expected: number
  counter: Counter
  /** The `$error` code sent before the close, if the server can send one. */
  errorCode?: string
}

async function afterHello(
  server: LifelineServer,
  frame: string | Buffer,
  binary: boolean,
  codec: Codec = json(),
) {
  const { client } = await ProtocolClient.connect(fx, urlOf(server), {}, { codec })
  client.socket.send(frame, { binary })
  return { client, close: await client.waitClose() }
}

async function asFirstFrame(server: LifelineServer, frame: unknown) {
  const client = await ProtocolClient.open(fx, urlOf(server), {
    headers: { authorization: 'secret-abc123' },
  })
  client.send(frame)
  return (await client.waitClose()).code
}

/** The client of the latest case that got past the handshake, to read its `$error`. */
const last: { client?: ProtocolClient } = {}
const current = (): ProtocolClient | undefined => last.client

async function closeCodeAfterHello(
  server: LifelineServer,
  frame: string | Buffer,
  binary: boolean,
  codec?: Codec,
) {
  const { client, close } = await afterHello(server, frame, binary, codec)
  last.client = client
  return close.code
}

const cases: BadCase[] = [
  {
    name: 'an undecodable frame',
    act: (server) => closeCodeAfterHello(server, '{"t":', false),
    expected: 1007,
    counter: 'decodeErrors',
    errorCode: 'DECODE_FAILED',
  },
  {
    name: 'invalid UTF-8 in a text frame',
    act: (server) => closeCodeAfterHello(server, Buffer.from([0x7b, 0xff, 0x7d]), false),
    expected: 1007,
    counter: 'decodeErrors',
  },
  {
    // 262,146 arrays and objects in 786 KB: parsed, some 16 MiB of heap.
    name: 'a JSON frame of more arrays and objects than maxContainers',
    act: (server) =>
      closeCodeAfterHello(server, `{"t":"m","d":[${'{},'.repeat(262_144)}{}]}`, false),
    expected: 1007,
    counter: 'decodeErrors',
    errorCode: 'DECODE_FAILED',
  },
  {
    // { t: 'm', d: [262,144 empty maps] }, a byte each: decoded, 16 MiB of heap.
    name: 'a msgpack frame of more arrays and maps than maxContainers',
    options: { codecs: [msgpack(), json()] },
    act: (server) =>
      closeCodeAfterHello(
        server,
        Buffer.concat([
          Buffer.from('82a174a16da164dd00040000', 'hex'),
          Buffer.alloc(262_144, 0x80),
        ]),
        true,
        msgpack(),
      ),
    expected: 1007,
    counter: 'decodeErrors',
    errorCode: 'DECODE_FAILED',
  },
  {
    // { t: 'm', d: [524,282 empty binaries] }: decoded, a Uint8Array and an ArrayBuffer each,
    // 100 MiB of heap and 450 ms of the event loop for one 1 MiB frame.
    name: 'a msgpack frame of more binaries than maxContainers',
    options: { codecs: [msgpack(), json()] },
    act: (server) =>
      closeCodeAfterHello(
        server,
        Buffer.concat([
          Buffer.from('82a174a16da164dd0007fffa', 'hex'),
          Buffer.alloc(524_282 * 2, Buffer.from([0xc4, 0x00])),
        ]),
        true,
        msgpack(),
      ),
    expected: 1007,
    counter: 'decodeErrors',
    errorCode: 'DECODE_FAILED',
  },
  {
    name: 'a binary frame on the JSON codec',
    act: (server) => closeCodeAfterHello(server, Buffer.from('{"t":"m"}'), true),
    expected: 1003,
    counter: 'decodeErrors',
    errorCode: 'DECODE_FAILED',
  },
  {
    name: 'an unknown control frame',
    act: (server) => closeCodeAfterHello(server, '{"t":"$nope"}', false),
    expected: 1002,
    counter: 'protocolErrors',
    errorCode: 'PROTOCOL_ERROR',
  },
  {
    name: 'an envelope that is an array',
    act: (server) => closeCodeAfterHello(server, '[1,2]', false),
    expected: 1002,
    counter: 'protocolErrors',
    errorCode: 'PROTOCOL_ERROR',
  },
  {
    name: 'an envelope without t',
    act: (server) => closeCodeAfterHello(server, '{"d":1}', false),
    expected: 1002,
    counter: 'protocolErrors',
    errorCode: 'PROTOCOL_ERROR',
  },
  {
    name: 'an envelope with s = 0',
    act: (server) => closeCodeAfterHello(server, '{"t":"m","s":0}', false),
    expected: 1002,
    counter: 'protocolErrors',
    errorCode: 'PROTOCOL_ERROR',
  },
  {
    name: 'an envelope with another field',
    act: (server) => closeCodeAfterHello(server, '{"t":"m","x":1}', false),
    expected: 1002,
    counter: 'protocolErrors',
    errorCode: 'PROTOCOL_ERROR',
  },
  {
    name: 'a room message (r) from a client',
    act: (server) => closeCodeAfterHello(server, '{"t":"m","d":1,"r":["a","1-0"]}', false),
    expected: 1002,
    counter: 'protocolErrors',
    errorCode: 'PROTOCOL_ERROR',
  },
  {
    name: 'room cursors in $ack without a cluster',
    act: (server) => closeCodeAfterHello(server, '{"t":"$ack","d":{"r":[["a","1-0"]]}}', false),
    expected: 1002,
    counter: 'protocolErrors',
    errorCode: 'PROTOCOL_ERROR',
  },
  {
    name: '$hello with an r other than 1',
    act: (server) => asFirstFrame(server, { t: '$hello', d: { v: 1, r: 2 } }),
    expected: 1002,
    counter: 'protocolErrors',
  },
  ...[-1, 1.5, '2', null].map((sa) => ({
    name: `$hello with an sa of ${JSON.stringify(sa)}`,
    act: (server: LifelineServer) =>
      asFirstFrame(server, { t: '$hello', d: { v: 1, sid: 'S1', a: 0, sa } }),
    expected: 1002,
    counter: 'protocolErrors' as const,
  })),
  {
    name: 'an ack of what was never sent',
    act: (server) => closeCodeAfterHello(server, '{"t":"$ack","a":3}', false),
    expected: 1002,
    counter: 'protocolErrors',
    errorCode: 'PROTOCOL_ERROR',
  },
  {
    name: 'a frame over maxMessageSize (ws maxPayload)',
    options: { maxMessageSize: 1024 },
    act: (server) =>
      closeCodeAfterHello(server, JSON.stringify({ t: 'm', d: 'x'.repeat(2000) }), false),
    expected: 1009,
    counter: 'oversize',
  },
  {
    // A control frame's payload over 125 bytes breaks the framing: ws closes with 1002. Its code
    // ends in `_LENGTH`, as those of frames over maxPayload do, and was counted as oversize.
    name: 'a ping with a payload over 125 bytes',
    act: async (server) => {
      const { client } = await ProtocolClient.connect(fx, urlOf(server))
      last.client = client
      const transport = (client.socket as unknown as { _socket: Socket })._socket
      // FIN + ping, masked, a 16-bit length of 126, a zero mask: the payload as it is.
      transport.write(
        Buffer.concat([Buffer.from([0x89, 0xfe, 0, 126, 0, 0, 0, 0]), Buffer.alloc(126)]),
      )
      return (await client.waitClose()).code
    },
    expected: 1002,
    counter: 'protocolErrors',
  },
  {
    // Each fragment `ws` keeps is a Buffer of its own: a message of a megabyte in one-byte
    // fragments would hold far more than maxMessageSize, so `ws` refuses past 16,384 of them.
    name: 'a message in over 16,384 fragments (ws maxFragments)',
    act: async (server) => {
      const { client } = await ProtocolClient.connect(fx, urlOf(server))
      last.client = client
      const transport = (client.socket as unknown as { _socket: Socket })._socket
      // Masked with a zero mask, one byte each: a text frame, then continuations, none final.
      const fragment = (opcode: number) => Buffer.from([opcode, 0x81, 0, 0, 0, 0, 0x78])
      transport.write(
        Buffer.concat([fragment(0x01), ...Array.from({ length: 16_384 }, () => fragment(0))]),
      )
      return (await client.waitClose()).code
    },
    expected: 1008,
    counter: 'protocolErrors',
  },
  {
    name: "a frame over the codec's maxBytes",
    options: { maxMessageSize: 4096, codecs: [json({ maxBytes: 1024 })] },
    act: (server) =>
      closeCodeAfterHello(server, JSON.stringify({ t: 'm', d: 'x'.repeat(2000) }), false),
    expected: 1009,
    counter: 'oversize',
    errorCode: 'MESSAGE_TOO_LARGE',
  },
  {
    name: 'a first frame that is not $hello',
    act: (server) => asFirstFrame(server, { t: 'm', d: 1, s: 1 }),
    expected: 1002,
    counter: 'protocolErrors',
  },
  {
    name: 'no $hello in time',
    options: { helloTimeoutMs: 50 },
    act: async (server) => (await (await ProtocolClient.open(fx, urlOf(server))).waitClose()).code,
    expected: 4408,
    counter: 'helloTimeouts',
  },
  {
    name: 'credentials authenticate refuses (false)',
    options: { authenticate: (request) => request.headers.authorization === 'good' && {} },
    act: (server) => asFirstFrame(server, { t: '$hello', d: { v: 1 } }),
    expected: 4401,
    counter: 'authFailures',
  },
  {
    // A lookup that finds no user and falls through without a `return`: closed, not open.
    name: 'credentials authenticate finds no user for (undefined)',
    options: {
      authenticate: async (request) => {
        if (request.headers.authorization === 'good') return {}
        return undefined
      },
    },
    act: (server) => asFirstFrame(server, { t: '$hello', d: { v: 1 } }),
    expected: 4401,
    counter: 'authFailures',
  },
  {
    name: 'credentials authenticate finds no user for (null)',
    options: { authenticate: (request) => (request.headers.authorization === 'good' ? {} : null) },
    act: (server) => asFirstFrame(server, { t: '$hello', d: { v: 1 } }),
    expected: 4401,
    counter: 'authFailures',
  },
  {
    // `token && lookup(token)` with a token the client sent empty answers the empty string.
    name: 'credentials authenticate finds no user for (an empty string)',
    options: { authenticate: (request) => (request.headers.authorization === 'good' ? {} : '') },
    act: (server) => asFirstFrame(server, { t: '$hello', d: { v: 1 } }),
    expected: 4401,
    counter: 'authFailures',
  },
  {
    name: 'credentials authenticate refuses (throws)',
    options: {
      authenticate: (request) => {
        if (request.headers.authorization === 'good') return {}
        throw new Error(`token ${request.headers.authorization} is invalid`)
      },
    },
    act: (server) => asFirstFrame(server, { t: '$hello', d: { v: 1 } }),
    expected: 4401,
    counter: 'authFailures',
  },
  {
    name: 'credentials authenticate refuses (throws what throws when read)',
    options: {
      authenticate: (request) => {
        if (request.headers.authorization === 'good') return {}
        const revocable = Proxy.revocable({}, {})
        revocable.revoke()
        throw revocable.proxy
      },
    },
    act: (server) => asFirstFrame(server, { t: '$hello', d: { v: 1 } }),
    expected: 4401,
    counter: 'authFailures',
  },
  {
    name: 'credentials authenticate cannot check now (authUnavailable)',
    options: {
      authenticate: (request) => {
        if (request.headers.authorization === 'good') return {}
        throw authUnavailable()
      },
    },
    act: (server) => asFirstFrame(server, { t: '$hello', d: { v: 1 } }),
    expected: 1013,
    counter: 'authUnavailable',
  },
  {
    name: 'a user authenticate forbids',
    options: {
      authenticate: async (request) => {
        if (request.headers.authorization === 'good') return {}
        throw forbidden('banned')
      },
    },
    act: (server) => asFirstFrame(server, { t: '$hello', d: { v: 1 } }),
    expected: 4403,
    counter: 'forbidden',
  },
  {
    name: 'a disallowed Origin',
    options: { allowedOrigins: ['https://app.example'] },
    act: (server) => upgradeStatus(urlOf(server), { Origin: 'https://evil.example' }),
    expected: 403,
    counter: 'originRejected',
  },
  {
    name: 'no Origin when requireOrigin is set',
    options: { requireOrigin: true },
    act: (server) => upgradeStatus(urlOf(server), {}),
    expected: 403,
    counter: 'originRejected',
  },
  {
    // An empty Origin names no page, as no Origin does.
    name: 'an empty Origin when requireOrigin is set',
    options: { requireOrigin: true },
    act: (server) => upgradeStatus(urlOf(server), { Origin: '' }),
    expected: 403,
    counter: 'originRejected',
  },
  {
    // A client that offered subprotocols fails the handshake itself when none is chosen (ws
    // and browsers alike): it sees 1006. The server has refused it all the same.
    name: 'only other subprotocols',
    act: async (server) => {
      const socket = fx.add(new WebSocket(urlOf(server), ['chat']))
      socket.on('error', () => undefined)
      const [code] = (await once(socket, 'close')) as [number]
      return code
    },
    expected: 1006,
    counter: 'protocolErrors',
  },
  {
    name: 'no subprotocol at all',
    act: async (server) => {
      const client = await ProtocolClient.open(fx, urlOf(server), { protocols: [] })
      return (await client.waitClose()).code
    },
    expected: 1002,
    counter: 'protocolErrors',
  },
]

describe('bad input never crashes the server', () => {
  it.each(cases)('$name → $expected, counted and logged once', async (badCase) => {
    delete last.client
    const warnings: unknown[] = []
    const logged: string[] = []
    const server = await startServer(fx, {
      ...badCase.options,
      logger: {
        warn: (message, details) => {
          warnings.push(details)
          logged.push(message)
        },
        error: (message) => logged.push(`error: ${message}`),
      },
    })
    expect(await badCase.act(server)).toBe(badCase.expected)
    const stats = server.stats
    for (const counter of errorCounters) {
      expect(stats[counter], counter).toBe(counter === badCase.counter ? 1 : 0)
    }
    expect(warnings).toHaveLength(1)
    // The close code the client got is in the line, for a refusal that `ws` made too (1006:
    // the client saw no close frame, refused in its handshake).
    if (badCase.expected >= 1000 && badCase.expected !== 1006) {
      expect(warnings[0]).toMatchObject({ closeCode: badCase.expected })
    }
    // Nothing the client sent, nor a token, reaches the log.
    expect(JSON.stringify([logged, warnings])).not.toMatch(/secret-abc123|xxxx/)
    if (badCase.errorCode !== undefined) {
      expect((await (current() as ProtocolClient).next('$error')).d).toMatchObject({
        code: badCase.errorCode,
      })
    }

    // And the server goes on serving.
    const good = await ProtocolClient.connect(
      fx,
      urlOf(server),
      {},
      { headers: { Origin: 'https://app.example', authorization: 'good' } },
    )
    expect(good.welcome.resumed).toBe(false)
    good.client.send({ t: '$ping', d: { ts: 1 } })
    expect((await good.client.next('$pong')).d).toEqual({ ts: 1 })
  })

  it('sends $error with the reason before closing for authentication', async () => {
    const server = await startServer(fx, {
      authenticate: () => Promise.reject(forbidden('banned')),
    })
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1 } })
    expect(await client.waitClose()).toEqual({ code: 4403, reason: 'banned' })
    expect((await client.next('$error')).d).toEqual({ code: 'FORBIDDEN', message: 'banned' })
  })

  it('shows the client no message of a LifelineError of another code that authenticate lets through', async () => {
    // An authenticate that asks a service over a Lifeline client and lets its error through:
    // that error's message names the service, which is none of an unauthenticated client's
    // business. The refusals' own messages (unauthenticated(), forbidden(), authUnavailable())
    // are written to be shown.
    const server = await startServer(fx, {
      authenticate: () => {
        throw new LifelineError('CONNECTION_ERROR', 'no connection to auth.internal:9000')
      },
    })
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1 } })
    expect(await client.waitClose()).toEqual({ code: 4401, reason: 'unauthenticated' })
    expect((await client.next('$error')).d).toEqual({
      code: 'UNAUTHENTICATED',
      message: 'unauthenticated',
    })
  })

  it('has a client retry through its backoff while authenticate cannot check credentials', async () => {
    // The credentials' store down for the first two attempts: a refusal (4401) would have ended
    // the client for good; 1013 has it come back once the store does.
    let calls = 0
    const server = await startServer(fx, {
      authenticate: () => {
        calls++
        if (calls <= 2) throw authUnavailable('the user database is down')
        return { name: 'ada' }
      },
    })
    const client = createClient({ url: urlOf(server), socket: { delayMs: () => 5 } })
    fx.add(() => client.close())
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    await waitFor(() => client.state.status === 'open', { message: 'the client in' })
    expect(calls).toBe(3)
    expect(server.stats.authUnavailable).toBe(2)
    expect(errors[0]).toMatchObject({ code: 'REMOTE_ERROR', remoteCode: 'AUTH_UNAVAILABLE' })
  })

  it('refuses every user that is falsy: 0 and NaN are no user either', async () => {
    for (const user of [0, Number.NaN]) {
      const server = await startServer(fx, { authenticate: () => user })
      const client = await ProtocolClient.open(fx, urlOf(server))
      client.send({ t: '$hello', d: { v: 1 } })
      expect(await client.waitClose()).toEqual({ code: 4401, reason: 'unauthenticated' })
      expect(server.stats.sessionsCreated).toBe(0)
    }
  })

  it('refuses with its fixed reason a throw shaped as a LifelineError whose message is no string', async () => {
    // Its message went to the close reason, cut as a string: the cut threw, the rejection went
    // unhandled (which ends a Node process) and the socket was left open.
    const server = await startServer(fx, {
      authenticate: () => {
        throw { name: 'LifelineError', code: 'FORBIDDEN', message: 42 }
      },
    })
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1 } })
    expect(await client.waitClose()).toEqual({ code: 4403, reason: 'forbidden' })
    expect((await client.next('$error')).d).toEqual({ code: 'FORBIDDEN', message: 'forbidden' })
  })

  it('closes at once for a long refusal message, the reason cut to 123 bytes', async () => {
    // A message may quote what the client sent (a name, a token). Cut a character at a time,
    // measured again after each, 256 Ki characters held the event loop for seconds.
    const message = 'é'.repeat(256 * 1024)
    const server = await startServer(fx, {
      authenticate: () => {
        throw unauthenticated(message)
      },
    })
    const started = performance.now()
    const client = await ProtocolClient.open(fx, urlOf(server))
    // 'é' is two bytes in UTF-8: 61 of them fit.
    expect(await client.waitClose()).toEqual({ code: 4401, reason: 'é'.repeat(61) })
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('never cuts a close reason inside a character', async () => {
    // 120 bytes, then an emoji of two UTF-16 units and four bytes: cut after its first unit, a
    // lone surrogate, which encodes as U+FFFD (three bytes), the reason fit and ended garbled.
    const message = 'a'.repeat(120) + '😀'
    const server = await startServer(fx, {
      authenticate: () => {
        throw unauthenticated(message)
      },
    })
    const client = await ProtocolClient.open(fx, urlOf(server))
    expect(await client.waitClose()).toEqual({ code: 4401, reason: 'a'.repeat(120) })
  })

  it('lets an allowed Origin, a predicate-approved one, and a client without Origin in', async () => {
    const server = await startServer(fx, {
      allowedOrigins: (origin) => origin.endsWith('.example'),
    })
    const browser = await ProtocolClient.connect(
      fx,
      urlOf(server),
      {},
      {
        headers: { Origin: 'https://app.example' },
      },
    )
    expect(browser.welcome.resumed).toBe(false)
    const service = await ProtocolClient.connect(fx, urlOf(server))
    expect(service.welcome.resumed).toBe(false)
    expect(await upgradeStatus(urlOf(server), { Origin: 'https://evil.test' })).toBe(403)
  })

  it('matches allowedOrigins written otherwise than a browser sends Origin', async () => {
    // Upper case, the default port, a trailing slash: none of these ever matched, since a
    // browser sends `https://app.example`.
    const server = await startServer(fx, { allowedOrigins: ['HTTPS://App.Example:443/'] })
    const browser = await ProtocolClient.connect(
      fx,
      urlOf(server),
      {},
      { headers: { Origin: 'https://app.example' } },
    )
    expect(browser.welcome.resumed).toBe(false)
    expect(await upgradeStatus(urlOf(server), { Origin: 'https://app.example:8443' })).toBe(403)
    expect(await upgradeStatus(urlOf(server), { Origin: 'http://app.example' })).toBe(403)
  })

  it('refuses at creation allowedOrigins that is neither a list of origins nor a predicate', () => {
    // A string (from JavaScript, or an environment variable) was searched as one: the origin of
    // another site, `https://app.example.co`, is in `https://app.example.com`. A Set had no
    // `includes`: its TypeError, thrown from the `upgrade` event, ended the process.
    const lists = ['https://app.example.com', new Set(['https://app.example.com']), [42], 7]
    for (const allowedOrigins of lists) {
      expect(() => {
        const server = createServer({
          port: 0,
          allowedOrigins: allowedOrigins as unknown as string[],
        })
        fx.add(() => server.close())
      }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
  })

  it('refuses at creation an allowedOrigins entry that no browser sends as its Origin', () => {
    // A pattern, a host without its scheme, a port without a host: each matched nobody, so
    // every browser got 403, and with warnings dropped by default not a word said why.
    for (const entry of ['https://*.example.com', '*', 'app.example.com', 'localhost:3000']) {
      expect(() => {
        const server = createServer({ port: 0, allowedOrigins: ['https://app.example', entry] })
        fx.add(() => server.close())
      }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
    // What browsers do send: an origin of any scheme with a host, `file://` (Electron's pages)
    // and `null` (a sandboxed frame).
    const server = createServer({
      port: 0,
      allowedOrigins: ['http://localhost:3000', 'chrome-extension://abcdef', 'file://', 'null'],
    })
    fx.add(() => server.close())
  })

  it('refuses every Origin when the predicate answers with a promise (it is no answer)', async () => {
    // An async predicate (JavaScript, or a cast) returns a promise, pending and truthy.
    const predicate = async (origin: string): Promise<boolean> => origin === 'https://app.example'
    const server = await startServer(fx, {
      allowedOrigins: predicate as unknown as (origin: string) => boolean,
    })
    expect(await upgradeStatus(urlOf(server), { Origin: 'https://evil.test' })).toBe(403)
    expect(server.stats.originRejected).toBe(1)
  })

  it('refuses an Origin whose predicate answers what throws when read, and goes on serving', async () => {
    // A revoked proxy: reading its `then` (is it a promise?) threw from the `upgrade` event.
    const revocable = Proxy.revocable({}, {})
    revocable.revoke()
    const server = await startServer(fx, {
      allowedOrigins: (() => revocable.proxy) as unknown as (origin: string) => boolean,
    })
    expect(await upgradeStatus(urlOf(server), { Origin: 'https://evil.test' })).toBe(403)
    expect(server.stats.originRejected).toBe(1)
    const service = await ProtocolClient.connect(fx, urlOf(server))
    expect(service.welcome.resumed).toBe(false)
  })

  it('authenticates before the handshake and gives peer.user what authenticate returned', async () => {
    const server = await startServer<{ client: object }, { name: string }>(fx, {
      authenticate: async (request) => {
        const token = request.headers.authorization
        return token === 'Bearer good' ? { name: 'ada' } : false
      },
    })
    const users: string[] = []
    server.on('connection', (peer) => users.push(peer.user.name))
    const refused = await ProtocolClient.open(fx, urlOf(server))
    refused.send({ t: '$hello', d: { v: 1 } })
    expect((await refused.waitClose()).code).toBe(4401)
    await ProtocolClient.connect(
      fx,
      urlOf(server),
      {},
      { headers: { authorization: 'Bearer good' } },
    )
    expect(users).toEqual(['ada'])
  })

  it('accepts only its path', async () => {
    const server = await startServer(fx, { path: '/live' })
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server, '/live?token=x'))
    expect(welcome.resumed).toBe(false)
    expect(await upgradeStatus(urlOf(server, '/other'), {})).toBe(400)
  })

  it('refuses at creation a timeout longer than a timer can wait', async () => {
    // Node fires a timer set past 2^31 - 1 ms (24.8 days) after 1 ms: a 30-day sessionTtlMs
    // expired each session as its client left, and a long helloTimeoutMs closed every
    // connection (4408) at once.
    const tooLong = 30 * 24 * 60 * 60 * 1000
    const options = [
      'helloTimeoutMs',
      'upgradeTimeoutMs',
      'sessionTtlMs',
      'closeTimeoutMs',
      'ackDelayMs',
    ] as const
    for (const option of options) {
      expect(() => {
        const server = createServer({ port: 0, [option]: tooLong })
        fx.add(() => server.close())
      }, option).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
    for (const heartbeat of [{ intervalMs: tooLong }, { timeoutMs: tooLong }]) {
      expect(() => {
        const server = createServer({ port: 0, heartbeat })
        fx.add(() => server.close())
      }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
    // The longest a timer can wait is taken, and waited.
    const server = await startServer(fx, { helloTimeoutMs: 2 ** 31 - 1 })
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server))
    expect(welcome.resumed).toBe(false)
    expect(server.stats.helloTimeouts).toBe(0)
  })

  it('refuses at creation a message limit under a control frame, which no client accepts', async () => {
    // Announced as the $welcome's max, which a client refuses under 1,024 bytes (PROTOCOL.md,
    // section 9): every connection failed its handshake and came back, for ever.
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown
    for (const options of [{ maxMessageSize: 1000 }, { codecs: [json({ maxBytes: 512 })] }]) {
      expect(() => {
        const server = createServer({ port: 0, ...options })
        fx.add(() => server.close())
      }).toThrow(invalid)
    }
    const server = await startServer(fx, { maxMessageSize: 1024 })
    const client = createClient({ url: urlOf(server) })
    fx.add(() => client.close())
    await waitFor(() => client.state.status === 'open', { message: 'the client to open' })
  })

  it('refuses at creation a path no request can have', () => {
    // Compared with the request's path, query left out: each of these refused every upgrade
    // with HTTP 400, the mistake seen only in the clients.
    for (const path of ['live', '', '/live?v=1', '/live#top', 42]) {
      expect(() => {
        const server = createServer({ port: 0, path: path as string })
        fx.add(() => server.close())
      }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
  })

  it('refuses at creation a path clients send otherwise, and serves it written as they send it', async () => {
    // Clients (browsers, ws) percent-encode a URL's path and drop its dot segments: each of these
    // arrived as another path (`/caf%C3%A9`, `/live%20chat`, `/live`) and was refused, HTTP 400.
    // Chromium also encodes `|` and `^` (`/a%7Cb`), which the URL parser and `ws` keep.
    for (const path of ['/café', '/live chat', '/a/../live', '/./live', '/a|b', '/a^b']) {
      expect(() => {
        const server = createServer({ port: 0, path })
        fx.add(() => server.close())
      }, path).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
    const server = await startServer(fx, { path: '/caf%C3%A9' })
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server, '/café?token=x'))
    expect(welcome.resumed).toBe(false)
  })

  it('serves a path written with %7C and %5E to clients that send | and ^ as they are', async () => {
    // Chromium sends `/a|b^c` as `/a%7Cb%5Ec`, but `ws` (Node's URL parser) keeps `|` and `^`:
    // the path must be written encoded, and such a client given `/a|b^c` was refused, HTTP 400.
    const server = await startServer(fx, { path: '/a%7Cb%5Ec' })
    for (const path of ['/a%7Cb%5Ec', '/a|b^c', '/a%7Cb^c']) {
      const { welcome } = await ProtocolClient.connect(fx, urlOf(server, path))
      expect(welcome.resumed, path).toBe(false)
    }
  })
})
