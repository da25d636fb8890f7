// The clients of the scale-out benchmark behind one interface: socket.io-client (websocket
// transport only) against the socket.io kinds, `createClient` of `@lifeline/core` in protocol
// mode against the Lifeline kinds. Both retry every 10 ms after a lost link, so a resume is
// timed from the moment the server is reachable again, not from a backoff.
import { WebSocket } from 'ws'
import * as core from '@lifeline/core'
import { io } from 'socket.io-client'
import type { ChatSchema, Say, ServerKind } from './schema.js'

export interface ChatClient {
  /** Resolves once the server has this client in `room`. */
  join(room: string): Promise<void>
  say(body: Say): void
  /** Resolves on the next (re)connection; for socket.io, with whether the state was recovered. */
  nextConnect(): Promise<{ recovered: boolean }>
  close(): void
}

const retryMs = 10

// For an A/B of the client: `SCALEOUT_CLIENT_CORE=<a core dist folder>` (a build copied aside)
// has the load process's Lifeline clients come from there; the servers keep the workspace's.
const clientCore = process.env.SCALEOUT_CLIENT_CORE
const { createClient } = clientCore
  ? ((await import(`${clientCore}/index.js`)) as typeof core)
  : core

/** Opens a client of the family of `kind` to `port`; resolves once it is connected. */
export async function openChatClient(
  kind: ServerKind,
  port: number,
  onMessage: (body: Say) => void,
): Promise<ChatClient> {
  if (kind.startsWith('socketio')) {
    const socket = io(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      reconnectionDelay: retryMs,
      reconnectionDelayMax: retryMs,
      randomizationFactor: 0,
    })
    socket.on('msg', onMessage)
    const nextConnect = () =>
      new Promise<{ recovered: boolean }>((resolve) =>
        socket.once('connect', () => resolve({ recovered: socket.recovered })),
      )
    await nextConnect()
    return {
      join: async (room) => {
        await socket.emitWithAck('join', room)
      },
      say: (body) => socket.emit('say', body),
      nextConnect,
      close: () => socket.close(),
    }
  }
  const client = createClient<ChatSchema>({
    url: `ws://127.0.0.1:${port}/`,
    heartbeat: false,
    maxUnacked: 100_000,
    maxUnackedBytes: 64 * 2 ** 20,
    socket: { WebSocket, delayMs: () => retryMs },
  })
  client.on('msg', onMessage)
  const nextConnect = () =>
    new Promise<{ recovered: boolean }>((resolve) => {
      const off = client.subscribe(() => {
        if (client.state.status === 'open') {
          off()
          resolve({ recovered: true })
        }
      })
    })
  await nextConnect()
  return {
    join: async (room) => {
      await client.request('join', { room })
    },
    say: (body) => client.send('say', body),
    nextConnect,
    close: () => client.close(),
  }
}
