import { loopbackUrl } from './loopback.js'
import { createServer } from 'node:http'
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import type { RawData, ServerOptions } from 'ws'
import { afterClosePhase, realTime } from './realTime.js'
import { waitDefaults, waitFor } from './wait.js'

/**
 * Options of `ws`'s `WebSocketServer` (`handleProtocols`, `verifyClient`, `maxPayload`, `path`,
 * `perMessageDeflate`, …), except where it listens: that is always 127.0.0.1, port 0.
 */
export interface WsServerFixtureOptions extends Omit<
  ServerOptions,
  'host' | 'port' | 'server' | 'noServer' | 'backlog'
> {
  /** Called for every connection, after the fixture has started recording its messages. */
  onConnection?: ConnectionHandler
  /**
   * Keep every received message in `messages`. Turn off for high-volume tests where holding
   * every buffer would only cost memory.
   * @default true
   */
  recordMessages?: boolean
}

export interface ServerConnection {
  /** 0 for the first connection of the fixture's lifetime, restarts included. */
  readonly index: number
  readonly socket: WebSocket
  /** The upgrade request: URL, headers, offered subprotocols. */
  readonly request: IncomingMessage
}

export type ConnectionHandler = (connection: ServerConnection) => void

export interface ReceivedMessage {
  readonly data: Buffer
  readonly isBinary: boolean
  /** `index` of the connection it arrived on. */
  readonly client: number
  /** `data` decoded as UTF-8. */
  readonly text: string
}

export interface SocketError {
  /** `index` of the connection that failed. */
  readonly client: number
  readonly error: Error
}

export interface StopOptions {
  /**
   * Close code sent to every client. 1012 is "service restart": clients should come back.
   * @default 1012
   */
  code?: number
  /** @default '' */
  reason?: string
  /** Drop the TCP connections without a closing handshake (clients see 1006). @default false */
  terminate?: boolean
  /**
   * How long a client may take to answer the closing handshake before its socket is
   * terminated; keeps `stop()` bounded when a client is unreachable (black-holed).
   * @default 1000
   */
  closeTimeoutMs?: number
}

export const stopDefaults = {
  code: 1012,
  reason: '',
  terminate: false,
  closeTimeoutMs: 1_000,
} satisfies Required<StopOptions>

export interface WsServerFixture {
  /** Stays the same across `stop()` and `restart()`. */
  readonly port: number
  /** `ws://127.0.0.1:<port><path>`. */
  url(path?: string): string
  /** The one `ws` server, kept across restarts (it runs with `noServer`; the fixture listens). */
  readonly wss: WebSocketServer
  readonly listening: boolean
  /** Sockets that are open or closing, in connection order. */
  readonly clients: readonly WebSocket[]
  /** Every connection accepted so far, in order; `connections[i].index === i`. */
  readonly connections: readonly ServerConnection[]
  /** Every message received so far, on any connection, in arrival order. */
  readonly messages: readonly ReceivedMessage[]
  /** Errors raised by server-side sockets (bad frames, `maxPayload` exceeded, …). */
  readonly errors: readonly SocketError[]
  /** Adds a handler for connections from now on; returns a function that removes it. */
  onConnection(handler: ConnectionHandler): () => void
  /**
   * Resolves with the next connection not yet returned by an earlier call: the first call
   * returns `connections[0]`, the second `connections[1]`, … whether or not it has already
   * arrived, so awaiting a client's `open` first cannot make the wait miss the connection.
   */
  waitForConnection(timeoutMs?: number): Promise<ServerConnection>
  /** Resolves with the first `n` messages once at least `n` have arrived. */
  waitForMessages(n: number, timeoutMs?: number): Promise<ReceivedMessage[]>
  /**
   * Closes every client (close frame, or `terminate`), stops listening and resolves when every
   * socket and the listener are closed. The port is free until `restart()`.
   */
  stop(options?: StopOptions): Promise<void>
  /** Listens again on the same port (stopping first if running); resolves when listening. */
  restart(): Promise<void>
  /** Terminates every client and shuts down for good. Idempotent. */
  close(): Promise<void>
}

type State = 'running' | 'stopping' | 'stopped' | 'closed'

/** Starts a real `ws` server on 127.0.0.1, port 0. */
export async function startWsServer(
  options: WsServerFixtureOptions = {},
): Promise<WsServerFixture> {
  const { onConnection, recordMessages = true, ...wsOptions } = options
  // noServer: the fixture owns the HTTP listener, so it can stop and listen again on the same
  // port while `wss`, its listeners and its options stay the same object for the test.
  const wss = new WebSocketServer({ ...wsOptions, noServer: true })
  const handlers = new Set<ConnectionHandler>()
  if (onConnection !== undefined) handlers.add(onConnection)
  const connections: ServerConnection[] = []
  const live = new Set<WebSocket>()
  const messages: ReceivedMessage[] = []
  const errors: SocketError[] = []
  let waitCursor = 0
  let state: State = 'stopped'
  let stopping: Promise<void> | undefined
  let closing: Promise<void> | undefined
  let httpServer: Server | undefined
  const rawSockets = new Set<Socket>()

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const connection: ServerConnection = { index: connections.length, socket, request }
    connections.push(connection)
    live.add(socket)
    socket.once('close', () => live.delete(socket))
    socket.on('error', (error) => errors.push({ client: connection.index, error }))
    if (recordMessages) {
      socket.on('message', (data, isBinary) => {
        messages.push(receivedMessage(toBuffer(data), isBinary, connection.index))
      })
    }
    for (const handler of handlers) handler(connection)
  })

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (state !== 'running' || !wss.shouldHandle(request)) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
      socket.destroy()
      return
    }
    wss.handleUpgrade(request, socket, head, (ws, req) => wss.emit('connection', ws, req))
  }

  const listen = async (port: number): Promise<number> => {
    const server = createServer((_request, response) => {
      response.writeHead(426, { Connection: 'close' }).end('Upgrade Required')
    })
    server.on('upgrade', onUpgrade)
    // Tracked so that stop() can destroy what is not a WebSocket yet: handshakes in progress
    // (a black-holed client never finishes one) and plain HTTP requests.
    server.on('connection', (socket) => {
      rawSockets.add(socket)
      socket.once('close', () => rawSockets.delete(socket))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    httpServer = server
    state = 'running'
    return (server.address() as AddressInfo).port
  }

  const stop = (stopOptions: StopOptions = {}): Promise<void> => {
    if (stopping !== undefined) return stopping
    const server = httpServer
    if (state !== 'running' || server === undefined) return Promise.resolve()
    state = 'stopping'
    const settings = { ...stopDefaults, ...stopOptions }
    stopping = (async () => {
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
      await Promise.all([...live].map((socket) => closeSocket(socket, settings)))
      for (const socket of rawSockets) socket.destroy()
      await serverClosed
      await afterClosePhase()
      httpServer = undefined
      state = 'stopped'
    })().finally(() => {
      stopping = undefined
    })
    return stopping
  }

  const port = await listen(0)

  return {
    port,
    url(path = '/') {
      return loopbackUrl(port, path)
    },
    wss,
    get listening() {
      return state === 'running'
    },
    get clients() {
      return [...live]
    },
    connections,
    messages,
    errors,
    onConnection(handler) {
      // A wrapper, so that adding the same function twice gives two independent registrations.
      const registered: ConnectionHandler = (connection) => handler(connection)
      handlers.add(registered)
      return () => {
        handlers.delete(registered)
      }
    },
    waitForConnection(timeoutMs = waitDefaults.timeoutMs) {
      const index = waitCursor++
      return waitFor(() => connections[index], {
        timeoutMs,
        intervalMs: 5,
        message: () => `server connection #${index} (have ${connections.length})`,
      })
    },
    waitForMessages(n, timeoutMs = waitDefaults.timeoutMs) {
      return waitFor(() => messages.length >= n, {
        timeoutMs,
        intervalMs: 5,
        message: () => `${n} message(s) on the server (have ${messages.length})`,
      }).then(() => messages.slice(0, n))
    },
    stop,
    async restart() {
      if (state === 'closed') throw new Error('restart() after close(): the fixture is gone')
      await stop()
      await listen(port)
    },
    close() {
      closing ??= (async () => {
        await stop({ terminate: true })
        state = 'closed'
        await new Promise<void>((resolve) => wss.close(() => resolve()))
      })()
      return closing
    },
  }
}

function closeSocket(socket: WebSocket, settings: Required<StopOptions>): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = realTime.setTimeout(() => socket.terminate(), settings.closeTimeoutMs)
    socket.once('close', () => {
      realTime.clearTimeout(timer)
      resolve()
    })
    if (settings.terminate) socket.terminate()
    else socket.close(settings.code, settings.reason)
  })
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

function receivedMessage(data: Buffer, isBinary: boolean, client: number): ReceivedMessage {
  return {
    data,
    isBinary,
    client,
    // A getter: decoding every large binary message up front would only waste time.
    get text() {
      return data.toString('utf8')
    },
  }
}
