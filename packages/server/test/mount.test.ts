import { errorMonitor } from 'node:events'
import { createServer as createHttpServer, type Server } from 'node:http'
import { connect } from 'node:net'
import { expectNoEvent, once, useFixtures, waitFor, withTimeout } from '@lifeline/test-utils'
import express from 'express'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { createServer, type LifelineServer } from '../src/index.js'
import { jsonProtocol, ProtocolClient, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)

/** The HTTP status an upgrade on `url` is refused with. */
async function refusal(url: string): Promise<number | undefined> {
  const socket = fx.add(new WebSocket(url, [jsonProtocol]))
  socket.on('error', () => undefined)
  const [, response] = (await once(socket, 'unexpected-response')) as [
    unknown,
    { statusCode?: number },
  ]
  return response.statusCode
}

async function get(server: { port: number }, path: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.port}${path}`)
  return `${response.status} ${await response.text()}`
}

/**
 * Both frameworks: the application's HTTP routes answer beside the WebSocket path, a client
 * connects on the path and is served, another path is refused, and a graceful close of Lifeline
 * leaves the application's server serving (and closable by the application).
 */
async function checkMounted(server: LifelineServer, http: Server): Promise<void> {
  await server.ready
  server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
  expect(await get(server, '/health')).toBe('200 ok')
  const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server, '/ws?token=x'))
  expect(welcome.resumed).toBe(false)
  client.send({ t: 'up', d: 1, s: 1 })
  expect(await client.next('down')).toMatchObject({ d: 1, s: 1 })
  expect(await get(server, '/health')).toBe('200 ok')
  expect(await refusal(urlOf(server, '/other'))).toBe(400)

  await server.close()
  expect(await client.waitClose()).toMatchObject({ code: 1012 })
  expect(http.listening).toBe(true)
  expect(await get(server, '/health')).toBe('200 ok')
  // The path is the application's again: nobody upgrades it.
  expect(http.listenerCount('upgrade')).toBe(0)
}

/** A raw TCP connection to `port`, keeping what the server writes back. */
async function rawConnection(port: number) {
  const socket = connect(port, '127.0.0.1')
  fx.add(() => socket.destroy())
  socket.on('error', () => undefined)
  await once(socket, 'connect')
  let text = ''
  socket.on('data', (data: Buffer) => (text += data.toString()))
  return {
    socket,
    answer: () => text,
    clear: () => {
      text = ''
    },
  }
}

/** An Express application answering `GET /health` with `ok`, listening on a free port. */
function expressApp(): Server {
  const app = express()
  app.get('/health', (_request, response) => {
    response.send('ok')
  })
  const http = app.listen(0, '127.0.0.1')
  fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
  return http
}

describe('mounted on an application server', () => {
  it('Express: createServer({ server: app.listen(…), path })', async () => {
    const http = expressApp()
    const server = createServer({ server: http, path: '/ws' })
    fx.add(() => server.close())
    await checkMounted(server, http)
    await new Promise<void>((resolve, reject) =>
      http.close((error) => (error ? reject(error) : resolve())),
    )
  })

  it('refuses an application in place of its server, which would never listen', () => {
    // An Express application is an event emitter too: the listeners went on it, never on the
    // server `app.listen` made, so `ready` never settled and every upgrade was the app's 404.
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown
    const app = express()
    const fastify = Fastify()
    fx.add(() => fastify.close())
    for (const server of [app, fastify, {}]) {
      expect(() => {
        const mounted = createServer({ server: server as unknown as Server, path: '/ws' })
        fx.add(() => mounted.close())
      }).toThrow(invalid)
    }
  })

  it('Fastify: createServer({ server: fastify.server, path }) after listen', async () => {
    const app = Fastify()
    app.get('/health', async () => 'ok')
    fx.add(() => app.close())
    await app.listen({ port: 0, host: '127.0.0.1' })
    const server = createServer({ server: app.server, path: '/ws' })
    fx.add(() => server.close())
    await checkMounted(server, app.server)
    await app.close()
    expect(app.server.listening).toBe(false)
  })
})

describe('beside other upgrade listeners', () => {
  it('a path none of them answers is refused within upgradeTimeoutMs, not held open', async () => {
    const http = createHttpServer()
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    // Two services on one application server, each on its path: each leaves the other's (and
    // every other path) to the server's other listeners.
    const chat = createServer({ server: http, path: '/chat', upgradeTimeoutMs: 200 })
    const admin = createServer({ server: http, path: '/admin', upgradeTimeoutMs: 200 })
    fx.add(() => chat.close())
    fx.add(() => admin.close())
    await Promise.all([chat.ready, admin.ready])
    const port = (http.address() as { port: number }).port
    for (const path of ['/chat', '/admin']) {
      const { welcome } = await ProtocolClient.connect(fx, `ws://127.0.0.1:${port}${path}`)
      expect(welcome.resumed).toBe(false)
    }

    const { socket, answer } = await rawConnection(port)
    socket.write(
      'GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    )
    // Nobody else would ever answer or close it: the socket was held for as long as the client
    // kept it, and past that too (an HTTP server's sockets are half-open on the client's end).
    await once(socket, 'close', 3_000)
    expect(answer()).toMatch(/^HTTP\/1\.1 400 /)
  })
})

describe('a second server on a path another one serves', () => {
  it('is refused with INVALID_ARGUMENT: the first answers every upgrade there', async () => {
    const http = createHttpServer()
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    const first = createServer({ server: http, path: '/ws' })
    fx.add(() => first.close())
    await first.ready
    const listeners = http.listenerCount('upgrade')
    // Mounted again by mistake (a setup run twice, a reload that did not close the first): the
    // second's handlers never ran, its clients were the first's.
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown
    expect(() => {
      const second = createServer({ server: http, path: '/ws' })
      fx.add(() => second.close())
    }).toThrow(invalid)
    expect(http.listenerCount('upgrade')).toBe(listeners)
    // Another path, or once the first is closing, is free.
    const other = createServer({ server: http, path: '/other' })
    fx.add(() => other.close())
    const closing = first.close()
    const next = createServer({ server: http, path: '/ws' })
    fx.add(() => next.close())
    await closing
    const { welcome } = await ProtocolClient.connect(fx, urlOf(next, '/ws'))
    expect(welcome.resumed).toBe(false)
  })

  it('is refused on a path under one that serves every path and hears its upgrades first', async () => {
    const http = createHttpServer()
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    const every = createServer({ server: http })
    fx.add(() => every.close())
    await every.ready
    // The one without a path took every upgrade, on '/ws' too: the second never had a client.
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown
    expect(() => {
      const second = createServer({ server: http, path: '/ws' })
      fx.add(() => second.close())
    }).toThrow(invalid)
  })
})

describe('ready, mounted', () => {
  it('rejects when the application server cannot listen, and reports it', async () => {
    const taken = createHttpServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    fx.add(() => new Promise<void>((resolve) => taken.close(() => resolve())))
    const http = createHttpServer()
    http.on('error', () => undefined)
    const server = createServer({ server: http, path: '/ws' })
    fx.add(() => server.close())
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    http.listen((taken.address() as { port: number }).port, '127.0.0.1')
    await expect(withTimeout(server.ready, 2_000, 'ready to settle')).rejects.toMatchObject({
      code: 'EADDRINUSE',
    })
    expect(errors).toMatchObject([{ code: 'EADDRINUSE' }])
  })
})

describe('mounted and closed before the application server listens', () => {
  it('leaves none of its listeners on that server, however often it is done', async () => {
    const http = createHttpServer()
    const counts = () =>
      ['upgrade', 'listening', errorMonitor].map((event) => http.listeners(event).length)
    const before = counts()
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    fx.add(() => void process.off('warning', onWarning))
    // A development server that mounts the service anew on each reload, before it listens.
    let ready: Promise<void> = Promise.resolve()
    for (let i = 0; i < 1_000; i++) {
      const server = createServer({ server: http, path: '/ws' })
      await server.close()
      ready = server.ready
    }
    expect(counts()).toEqual(before)
    expect(warnings.filter(({ name }) => name === 'MaxListenersExceededWarning')).toEqual([])
    // Its `ready` settles: it will never listen, and whoever awaits it is not left waiting.
    await expect(withTimeout(ready, 2_000, 'ready to settle')).rejects.toMatchObject({
      code: 'CLOSED',
    })
  })
})

describe('closing, mounted', () => {
  it('an upgrade on the path while the close runs gets HTTP 503, as on its own listener', async () => {
    const server = createServer({ server: expressApp(), path: '/ws', closeTimeoutMs: 5_000 })
    fx.add(() => server.close())
    await server.ready
    // A running handler holds the close (it may take closeTimeoutMs to finish).
    let finish: (() => void) | undefined
    server.handle('slow', () => new Promise<void>((resolve) => (finish = resolve)))
    const { client } = await ProtocolClient.connect(fx, urlOf(server, '/ws'))
    client.send({ t: '$req', d: { id: 1, m: 'slow' }, s: 1 })
    await waitFor(() => finish !== undefined, { message: 'the handler to run' })
    const closed = server.close()
    try {
      expect(await refusal(urlOf(server, '/ws'))).toBe(503)
    } finally {
      finish?.()
      await closed
    }
  })
})

describe('closing, mounted, with a successor on its path', () => {
  it('leaves the upgrades on its path to the successor: they are not refused with 503', async () => {
    const http = expressApp()
    const first = createServer({ server: http, path: '/ws', closeTimeoutMs: 5_000 })
    fx.add(() => first.close())
    await first.ready
    // A running handler holds the close (it may take closeTimeoutMs to finish).
    let finish: (() => void) | undefined
    first.handle('slow', () => new Promise<void>((resolve) => (finish = resolve)))
    const { client } = await ProtocolClient.connect(fx, urlOf(first, '/ws'))
    client.send({ t: '$req', d: { id: 1, m: 'slow' }, s: 1 })
    await waitFor(() => finish !== undefined, { message: 'the handler to run' })
    const closed = first.close()
    // A reload that mounts the service anew as soon as the old one's close begins.
    const next = createServer({ server: http, path: '/ws' })
    fx.add(() => next.close())
    try {
      // The first heard it before its successor and refused it: the clients it had just closed
      // with 1012 came back to a 503, and backed off, for as long as its close ran.
      const { welcome } = await ProtocolClient.connect(fx, urlOf(next, '/ws'))
      expect(welcome.resumed).toBe(false)
      expect(next.stats.sessions).toBe(1)
    } finally {
      finish?.()
      await closed
    }
  })
})

describe('beside another upgrade listener', () => {
  it('leaves an upgrade that listener answered first to it, without a path of its own', async () => {
    const http = createHttpServer()
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    // The application's own WebSocket endpoint, registered first.
    const other = new WebSocketServer({ noServer: true })
    fx.add(() => new Promise<void>((resolve) => other.close(() => resolve())))
    http.on('upgrade', (request, socket, head) => {
      if (request.url !== '/other') return
      other.handleUpgrade(request, socket, head, (ws) => {
        fx.add(ws)
        ws.send('other')
      })
    })
    const server = createServer({ server: http })
    fx.add(() => server.close())
    await server.ready
    const port = (http.address() as { port: number }).port
    // Taken twice, the socket made `ws` throw from the server's 'upgrade' event: the process died.
    const socket = fx.add(new WebSocket(`ws://127.0.0.1:${port}/other`))
    const [message] = (await once(socket, 'message')) as [Buffer]
    expect(message.toString()).toBe('other')
    const { welcome } = await ProtocolClient.connect(fx, `ws://127.0.0.1:${port}/`)
    expect(welcome.resumed).toBe(false)
  })
})

describe('beside a ws server of the application on another path', () => {
  it('serves its path and leaves the other to it, as the README shows', async () => {
    const http = createHttpServer()
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    const server = createServer({ server: http, path: '/ws', upgradeTimeoutMs: 200 })
    fx.add(() => server.close())
    const legacy = new WebSocketServer({ noServer: true })
    fx.add(() => new Promise<void>((resolve) => legacy.close(() => resolve())))
    http.on('upgrade', (request, socket, head) => {
      if (request.url?.split('?')[0] !== '/legacy') return
      legacy.handleUpgrade(request, socket, head, (ws) => {
        fx.add(ws)
        ws.send('legacy')
      })
    })
    await server.ready
    const port = (http.address() as { port: number }).port
    const socket = fx.add(new WebSocket(`ws://127.0.0.1:${port}/legacy?v=1`))
    const [message] = (await once(socket, 'message')) as [Buffer]
    expect(message.toString()).toBe('legacy')
    const { welcome } = await ProtocolClient.connect(fx, `ws://127.0.0.1:${port}/ws?v=1`)
    expect(welcome.resumed).toBe(false)
    // Neither listener's: refused once the other had its `upgradeTimeoutMs` to take it.
    expect(await refusal(`ws://127.0.0.1:${port}/ws/`)).toBe(400)
  })
})

describe('beside an upgrade listener added before it since', () => {
  it('leaves alone a WebSocket that listener took at once, however long it stays quiet', async () => {
    const http = createHttpServer()
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    const server = createServer({ server: http, path: '/ws', upgradeTimeoutMs: 200 })
    fx.add(() => server.close())
    await server.ready
    // Put ahead of Lifeline's own listeners: its 101 is written before Lifeline sees the
    // request, so what the socket had written then is no sign that nobody answered it.
    const other = new WebSocketServer({ noServer: true })
    fx.add(() => new Promise<void>((resolve) => other.close(() => resolve())))
    http.prependListener('upgrade', (request, socket, head) => {
      if (request.url !== '/other') return
      other.handleUpgrade(request, socket, head, (ws) => {
        fx.add(ws)
        ws.on('message', (data: Buffer) => ws.send(data.toString()))
      })
    })
    const port = (http.address() as { port: number }).port
    const socket = fx.add(new WebSocket(`ws://127.0.0.1:${port}/other`))
    socket.on('error', () => undefined)
    await once(socket, 'open')
    // Quiet past upgradeTimeoutMs: an HTTP 400 written into it ended it (a bad frame, 1006).
    await expectNoEvent(socket, 'close', 400)
    socket.send('still here')
    const [message] = (await once(socket, 'message')) as [Buffer]
    expect(message.toString()).toBe('still here')
  })
})

describe('on a server whose connections something else reads as well', () => {
  it('answers an upgrade on its path though the socket has a data listener of the application', async () => {
    // A byte count (metrics, a quota) listens to every connection's 'data' from its start, and
    // Node leaves that listener on the socket it hands to 'upgrade': no sign that another
    // listener took the upgrade.
    const http = createHttpServer((_, response) => response.end('ok'))
    let bytesIn = 0
    http.on('connection', (socket) =>
      socket.on('data', (chunk: Buffer) => (bytesIn += chunk.length)),
    )
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    const server = createServer({ server: http, path: '/ws', upgradeTimeoutMs: 200 })
    fx.add(() => server.close())
    await server.ready
    const { welcome } = await withTimeout(
      ProtocolClient.connect(fx, urlOf(server, '/ws')),
      5_000,
      'the upgrade answered',
    )
    expect(welcome.resumed).toBe(false)
    expect(bytesIn).toBeGreaterThan(0)
    // Another path, which a listener beside it leaves: still refused once that wait is over.
    http.on('upgrade', () => undefined)
    expect(await refusal(urlOf(server, '/other'))).toBe(400)
  })
})

describe('on a keep-alive connection', () => {
  it.each([{ path: '/ws' }, { path: undefined }])(
    'answers an upgrade that comes after ordinary responses on the same connection (path $path)',
    async ({ path }) => {
      // A proxy's pooled connection to the application: a page, then the WebSocket upgrade.
      const http = createHttpServer((_, response) => response.end('ok'))
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
      fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
      http.on('upgrade', (request) => {
        // The application's other endpoint, which leaves what is not its own.
        if (request.url === '/other') throw new Error('not reached')
      })
      const server = createServer({ server: http, ...(path === undefined ? {} : { path }) })
      fx.add(() => server.close())
      await server.ready
      const port = (http.address() as { port: number }).port
      const { socket, answer, clear } = await rawConnection(port)
      socket.write('GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
      await waitFor(() => answer().includes('ok'), { message: 'the page' })
      clear()
      socket.write(
        `GET ${path ?? '/'} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
          'Sec-WebSocket-Protocol: lifeline.v1.json\r\n\r\n',
      )
      await waitFor(() => answer().startsWith('HTTP/1.1 101 '), {
        message: () => `a 101 (got ${JSON.stringify(answer().slice(0, 40))})`,
      })
    },
  )
})

describe('a request that asks for another protocol than WebSocket', () => {
  /** `GET path` asking to upgrade to HTTP/2 over cleartext, as `curl --http2` does. */
  const h2cRequest = (path: string) =>
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n` +
    `Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`

  /** Lifeline on `path` of `http`, an application's plain server, listening on a free port. */
  async function mountedOn(http: Server, path = '/ws'): Promise<LifelineServer> {
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const server = createServer({ server: http, path })
    fx.add(() => server.close())
    await server.ready
    return server
  }

  it("is the application's ordinary request on its routes, as it is with no WebSocket mounted", async () => {
    const server = createServer({ server: expressApp(), path: '/ws' })
    fx.add(() => server.close())
    await server.ready
    const raw = await rawConnection(server.port)
    raw.socket.write(h2cRequest('/health'))
    await waitFor(() => raw.answer().endsWith('ok'), { message: "the application's answer" })
    expect(raw.answer()).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    // The connection closes after the answer: the upgrade took it from Node's parser.
    await waitFor(() => raw.socket.readableEnded || raw.socket.destroyed, {
      message: 'the connection to close',
    })
    // The WebSocket path is still Lifeline's.
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server, '/ws'))
    expect(welcome.resumed).toBe(false)
  })

  it("is the application's request beside a server without a path, which takes WebSockets only", async () => {
    // Every WebSocket is Lifeline's, not every request: `curl --http2` on a route got a 400.
    const http = createHttpServer((request, response) => response.end(`app ${request.url}`))
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    // Without a path.
    const server = createServer({ server: http })
    fx.add(() => server.close())
    await server.ready
    const raw = await rawConnection(server.port)
    raw.socket.write(h2cRequest('/health'))
    await waitFor(() => raw.answer().endsWith('app /health'), {
      message: "the application's answer",
    })
    expect(raw.answer()).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server, '/anywhere'))
    expect(welcome.resumed).toBe(false)
  })

  it("is the application's request beside another Lifeline server on its own path", async () => {
    // Two services of one application, each on its path: neither is an upgrade listener the
    // other must leave an ordinary request to. Each left it to the other: a 400, and only once
    // upgradeTimeoutMs (10 s) had passed.
    let requests = 0
    // An answer that takes a moment (a database): nothing is written when the next listener runs.
    const http = createHttpServer((_request, response) => {
      requests++
      setTimeout(() => response.end('ok'), 10)
    })
    const chat = await mountedOn(http, '/chat')
    const admin = createServer({ server: http, path: '/admin' })
    fx.add(() => admin.close())
    await admin.ready
    const raw = await rawConnection(chat.port)
    raw.socket.write(h2cRequest('/health'))
    await waitFor(() => raw.answer().endsWith('ok'), { message: "the application's answer" })
    expect(raw.answer()).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    await waitFor(() => raw.socket.readableEnded || raw.socket.destroyed, {
      message: 'the connection to close',
    })
    // Served once, by one of them, not by each.
    expect(requests).toBe(1)
    // A WebSocket on a path neither serves is refused at once: no other listener may take it.
    expect(await refusal(urlOf(chat, '/elsewhere'))).toBe(400)
    for (const path of ['/chat', '/admin']) {
      const { welcome } = await ProtocolClient.connect(fx, urlOf(chat, path))
      expect(welcome.resumed).toBe(false)
    }
  })

  it("tells the application's request and response their close, and of a client gone mid-answer", async () => {
    const closed: string[] = []
    // A long-lived answer (a stream of events) ends its work when its client goes.
    const http = createHttpServer((request, response) => {
      request.on('close', () => closed.push(`${request.url} request`))
      response.on('close', () => closed.push(`${request.url} response`))
      if (request.url === '/events') response.writeHead(200).write('event\n')
      else response.end('app')
    })
    const server = await mountedOn(http)
    const plain = await rawConnection(server.port)
    plain.socket.write(h2cRequest('/other'))
    await waitFor(() => closed.length === 2, { message: "the answer's close" })
    expect(plain.answer()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*app$/)
    expect(closed.sort()).toEqual(['/other request', '/other response'])
    closed.length = 0
    const events = await rawConnection(server.port)
    events.socket.write(h2cRequest('/events'))
    await waitFor(() => events.answer().includes('event\n'), { message: 'the first event' })
    events.socket.end()
    await waitFor(() => closed.length === 2, {
      message: 'the close of a request whose client left',
    })
    expect(closed.sort()).toEqual(['/events request', '/events response'])
  })

  it('ends for a reader of its body; one with a body, or on the WebSocket path, gets 400', async () => {
    // The application reads every request to its end before it answers.
    const http = createHttpServer((request, response) => {
      request.resume()
      request.on('end', () => response.end('app'))
    })
    const server = await mountedOn(http)
    const plain = await rawConnection(server.port)
    plain.socket.write(h2cRequest('/other'))
    await waitFor(() => plain.answer().endsWith('app'), { message: "the application's answer" })
    expect(plain.answer()).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    const withBody = await rawConnection(server.port)
    withBody.socket.write(
      h2cRequest('/other').replace('\r\n\r\n', '\r\nContent-Length: 2\r\n\r\nhi'),
    )
    await waitFor(() => withBody.answer().includes('\r\n\r\n'), { message: 'an answer' })
    expect(withBody.answer()).toMatch(/^HTTP\/1\.1 400 /)
    const onPath = await rawConnection(server.port)
    onPath.socket.write(h2cRequest('/ws'))
    await waitFor(() => onPath.answer().includes('\r\n\r\n'), { message: 'an answer' })
    expect(onPath.answer()).toMatch(/^HTTP\/1\.1 400 /)
  })
})
