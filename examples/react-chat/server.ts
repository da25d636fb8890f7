import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createMemorySessionStore, createServer } from '@lifeline/server'
import type { LifelineServer, ServerStats } from '@lifeline/server'
import { createServer as createViteServer } from 'vite'
import { chatLimits, cut } from './src/limits.js'
import type { ChatSchema, Said } from './src/schema.js'

/**
 * Bounds of the history, which lives in this process's memory: any client names the rooms and
 * the ids it says things with, so the number of rooms kept and the length of a name are bounded
 * as well as the messages of a room (those two, the page's too, in `src/limits.ts`).
 */
const historyLimits = { messagesPerRoom: 100, rooms: 1_000, ...chatLimits }
/**
 * A field of what a client sent. The data is the client's, whatever the schema says: any client
 * may send none at all (`null`), which a destructuring handler threw on, reported once a message.
 */
function fieldOf(data: unknown, key: string): unknown {
  return typeof data === 'object' && data !== null
    ? (data as Record<string, unknown>)[key]
    : undefined
}

/**
 * A room or a message id as the chat keeps it: a string within `nameLength`, and not the one
 * name the server refuses as a room ('\u0000', which `join` and `to` throw on).
 */
function nameIn(data: unknown, key: string): string | undefined {
  const name = fieldOf(data, key)
  return typeof name === 'string' && name.length <= historyLimits.nameLength && name !== '\u0000'
    ? name
    : undefined
}

/** Rooms a page may be in at once: it joins them on its own word. */
const roomsPerSession = 20

export interface ChatServer {
  /** The page's URL. */
  url: string
  /** Stops the chat (clients are told 1012 and retry); the page's HTTP server stays up. */
  stopChat(): Promise<void>
  /** Starts the chat again, with the same sessions (they resume) and history. */
  startChat(): void
  /** The rooms of each session connected now, sorted: what the pages joined and did not leave. */
  rooms(): string[][]
  /** The running chat's counters (sessions created and resumed since it started…). */
  stats(): ServerStats | undefined
  close(): Promise<void>
}

/**
 * The page (served by Vite) and the Lifeline chat on one port: the chat on `/chat`, Vite's own
 * socket (hot reload) beside it. Sessions and history live in this process, so a restart of the
 * chat resumes every session.
 */
export async function startChatServer(
  port = 0,
  hotReload = true,
  /** How long a page's session waits for it after its link closed (the server's own default). */
  sessionTtlMs?: number,
): Promise<ChatServer> {
  const http = createHttpServer()
  const vite = await createViteServer({
    root: fileURLToPath(new URL('.', import.meta.url)),
    configFile: false,
    logLevel: 'warn',
    appType: 'spa',
    // Off, no WebSocket server at all: with `hmr: false` alone Vite still opened its own, on its
    // fixed port (24678), which a second chat (or anything else there) had it log as in use.
    server: { middlewareMode: true, ...(hotReload ? { hmr: { server: http } } : { ws: false }) },
  })
  http.on('request', vite.middlewares)
  const store = createMemorySessionStore()
  const history = new Map<string, Said[]>()
  let chat: LifelineServer<ChatSchema> | undefined
  // The page's own origins, known once the port is: another site's page open in the same
  // browser must not talk to the chat as its visitor.
  const ownOrigins = new Set<string>()
  // While the chat is stopped, its connections are refused at once (the page retries).
  http.on('upgrade', (request, socket) => {
    if (!chat && request.url?.startsWith('/chat')) socket.destroy()
  })

  const startChat = () => {
    const server = createServer<ChatSchema>({
      server: http,
      path: '/chat',
      store,
      allowedOrigins: (origin) => ownOrigins.has(origin),
      maxRoomsPerSession: roomsPerSession,
      ...(sessionTtlMs === undefined ? {} : { sessionTtlMs }),
    })
    server.on('connection', (peer) => {
      // A client's word: a name the chat does not keep, or a room past the page's share, is
      // ignored (`join` would throw, and each throw be reported).
      peer.on('join', (data) => {
        const room = nameIn(data, 'room')
        if (room !== undefined && peer.rooms.length < roomsPerSession) peer.join(room)
      })
      peer.on('leave', (data) => {
        const room = nameIn(data, 'room')
        if (room !== undefined) peer.leave(room)
      })
      // The sender's name is its ids' prefix, all before their time and count (`ann-lz3k9a-1`,
      // `jean-luc-lz3k9a-2`): an example without accounts. An application takes it from the
      // user its `authenticate` returns (`peer.user`), never from the client's data.
      peer.on('say', (data) => {
        const room = nameIn(data, 'room')
        const id = nameIn(data, 'id')
        const text = fieldOf(data, 'text')
        if (room === undefined || id === undefined || typeof text !== 'string') return
        const from = /^(.*)-[^-]*-[^-]*$/.exec(id)?.[1] ?? ''
        const said: Said = { room, id, text: cut(text, historyLimits.textLength), from }
        // A new array, never the one kept: `history` returns that one, and an answer is kept for
        // replay as the value returned, so a page that resumed got the messages said after it.
        const messages = [...(history.get(room) ?? []), said]
        // Moved to the end: the room said in least recently is the first one dropped.
        history.delete(room)
        history.set(room, messages.slice(-historyLimits.messagesPerRoom))
        if (history.size > historyLimits.rooms) history.delete(history.keys().next().value!)
        server.to(room).send('said', said)
      })
    })
    server.handle('history', (data) => {
      const room = nameIn(data, 'room')
      return (room === undefined ? undefined : history.get(room)) ?? []
    })
    chat = server
  }
  // A port in use rejects (EADDRINUSE), with Vite closed, rather than throwing from the HTTP
  // server's 'error' event and leaving this promise pending. The chat starts once the port is
  // held: started before, its server reported the failed listen too, stack and all, above the
  // caller's word for it.
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject)
      http.listen(port, '127.0.0.1', () => {
        http.off('error', reject)
        resolve()
      })
    })
  } catch (error) {
    await vite.close()
    throw error
  }
  startChat()
  const listening = (http.address() as AddressInfo).port
  ownOrigins.add(`http://127.0.0.1:${listening}`).add(`http://localhost:${listening}`)
  return {
    url: `http://127.0.0.1:${listening}/`,
    async stopChat() {
      const stopping = chat
      chat = undefined
      await stopping?.close()
    },
    startChat,
    rooms: () => [...(chat?.peers.values() ?? [])].map((peer) => [...peer.rooms].sort()),
    stats: () => chat?.stats,
    async close() {
      await chat?.close()
      await vite.close()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}
