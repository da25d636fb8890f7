/**
 * The clients the network benchmarks compare, behind one small interface: each opens a link to
 * a server from `benchServer.ts` on loopback, sends `m` messages as ~100-byte JSON frames,
 * decodes every frame it receives (as an application would) and hands `m` and `done` messages
 * to `onMessage`.
 */
import { WebSocket } from 'ws'
// Node's preset: core on `ws`, with the writes of a turn sent together and `setImmediate` yields.
import { ReconnectingWebSocket, createClient } from '@lifeline/node'
import { WebSocket as PartySocket } from 'partysocket'
import ReconnectingWebSocketModule from 'reconnecting-websocket'
import { io } from 'socket.io-client'
import type { BenchMessage, BenchSchema, ServerKind } from './schema.js'

// The package's types declare an ES default export; its CommonJS build exports the class itself.
const ReconnectingWebSocketLib = ((ReconnectingWebSocketModule as unknown as { default?: unknown })
  .default ?? ReconnectingWebSocketModule) as unknown as typeof ReconnectingWebSocketModule.default

export const clientVariants = [
  'raw-ws',
  'rws',
  'client-raw',
  'client-proto',
  'partysocket',
  'reconnecting-websocket',
  'socket.io',
] as const
export type ClientVariant = (typeof clientVariants)[number]

/** What each variant is called in the tables. */
export const variantLabels: Record<ClientVariant, string> = {
  'raw-ws': 'raw ws',
  rws: 'Lifeline ReconnectingWebSocket',
  'client-raw': 'Lifeline Client, raw mode',
  'client-proto': 'Lifeline Client, protocol mode (acks)',
  partysocket: 'partysocket',
  'reconnecting-websocket': 'reconnecting-websocket',
  'socket.io': 'socket.io-client (websocket only)',
}

export function serverKindOf(variant: ClientVariant): ServerKind {
  if (variant === 'client-proto') return 'lifeline'
  if (variant === 'socket.io') return 'socketio'
  return 'ws'
}

export type OnMessage = (type: 'm' | 'done', data: unknown) => void

export interface BenchClient {
  send(message: BenchMessage): void
  /** Protocol mode only: `client.request('echo', message)`. */
  request?(message: BenchMessage): Promise<BenchMessage>
  /**
   * raw `ws` and the typed client: the bytes sent and not yet taken (the socket's
   * `bufferedAmount`, and the client's messages not yet acknowledged, of `messageBytes` each),
   * which a stream of large messages waits on.
   */
  backlogBytes?(messageBytes: number): number
  /**
   * Protocol mode: the connections opened (1 unless the link dropped) and, when `openClient`
   * was asked to count them, the `$ack` frames the client wrote.
   */
  protocolStats?(): { connections: number; acks: number }
  close(): void
}

interface Frame {
  t: 'm' | 'done'
  d: unknown
}

const encode = (message: BenchMessage) => JSON.stringify({ t: 'm', d: message })
const decode = (text: string) => JSON.parse(text) as Frame

/** Minimal event surface shared by the WebSocket-shaped clients. */
interface EventSocket {
  addEventListener(type: 'open', listener: () => void): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  send(data: string): void
  close(): void
}

function whenOpen(socket: EventSocket): Promise<void> {
  return new Promise((resolve) => socket.addEventListener('open', () => resolve()))
}

async function eventSocketClient(socket: EventSocket, onMessage: OnMessage): Promise<BenchClient> {
  socket.addEventListener('message', (event) => {
    const frame = decode(String(event.data))
    onMessage(frame.t, frame.d)
  })
  await whenOpen(socket)
  return { send: (message) => socket.send(encode(message)), close: () => socket.close() }
}

/**
 * Opens a client of `variant`; resolves once it can send (for protocol mode: welcomed).
 * `countAcks`: protocol mode counts the `$ack` frames it writes (a check of every frame sent).
 */
export async function openClient(
  variant: ClientVariant,
  port: number,
  onMessage: OnMessage,
  maxMessages = 100_000,
  countAcks = false,
): Promise<BenchClient> {
  const url = `ws://127.0.0.1:${port}/`
  switch (variant) {
    case 'raw-ws': {
      const socket = new WebSocket(url)
      socket.on('message', (data: Buffer) => {
        const frame = decode(String(data))
        onMessage(frame.t, frame.d)
      })
      await new Promise((resolve) => socket.once('open', resolve))
      return {
        send: (message) => socket.send(encode(message)),
        backlogBytes: () => socket.bufferedAmount,
        close: () => socket.close(),
      }
    }
    case 'rws':
      return eventSocketClient(
        new ReconnectingWebSocket(url, undefined, {
          queue: { maxMessages, maxBytes: maxMessages * 200 },
        }),
        onMessage,
      )
    case 'partysocket':
      return eventSocketClient(
        new PartySocket(url, undefined, { WebSocket, maxEnqueuedMessages: maxMessages }),
        onMessage,
      )
    case 'reconnecting-websocket':
      return eventSocketClient(
        new ReconnectingWebSocketLib(url, undefined, {
          WebSocket,
          maxEnqueuedMessages: maxMessages,
        }) as unknown as EventSocket,
        onMessage,
      )
    case 'socket.io': {
      const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'] })
      socket.on('m', (data: unknown) => onMessage('m', data))
      socket.on('done', (data: unknown) => onMessage('done', data))
      await new Promise((resolve) => socket.once('connect', () => resolve(undefined)))
      return { send: (message) => socket.emit('m', message), close: () => socket.close() }
    }
    case 'client-raw':
    case 'client-proto': {
      const client = createClient<BenchSchema>({
        url,
        mode: variant === 'client-raw' ? 'raw' : 'protocol',
        maxUnacked: maxMessages,
        socket: { queue: { maxMessages, maxBytes: maxMessages * 200 } },
      })
      client.on('m', (data) => onMessage('m', data))
      client.on('done', (data) => onMessage('done', data))
      let connections = 0
      let acks = 0
      client.socket.addEventListener('open', () => connections++)
      if (countAcks) {
        const socket = client.socket
        const send = socket.send.bind(socket)
        socket.send = (data) => {
          if (typeof data === 'string' && data.startsWith('{"t":"$ack"')) acks++
          send(data)
        }
      }
      await new Promise<void>((resolve) => {
        const off = client.subscribe(() => {
          if (client.state.status === 'open') {
            off()
            resolve()
          }
        })
      })
      return {
        send: (message) => client.send('m', message),
        request: (message) => client.request('echo', message),
        backlogBytes: (size) => client.socket.bufferedAmount + client.unacked * size,
        protocolStats: () => ({ connections, acks }),
        close: () => client.close(),
      }
    }
  }
}
