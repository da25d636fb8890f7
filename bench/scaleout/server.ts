// One server process of the scale-out benchmark: socket.io with a Redis adapter, or Lifeline
// (on Redis, or alone in its process for the harness check). Every kind runs the same
// application: `join` (acknowledged once the server has the client in the room) and `say`, which
// the server sends to every member of the room, the sender included, as `msg`. Prints `{ port }`
// once listening and `{ cpuUs }` when its parent lets it go (`serverProcess.ts`).
//   usage: server.ts <kind> <redis url>
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdapter as createPubSubAdapter } from '@socket.io/redis-adapter'
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter'
import { Redis } from 'ioredis'
import { Server as SocketIoServer } from 'socket.io'
import { createServer } from '@lifeline/server'
import { announce, exitWithParent } from '../lib/serverProcess.js'
import { lifelineRedisOptions } from './lifelineRedis.js'
import { historyLength } from './schema.js'
import type { ChatSchema, ServerKind, ServerReport, Say } from './schema.js'

const [kind = 'socketio-pubsub', redisUrl = 'redis://127.0.0.1:6379'] = process.argv.slice(2) as [
  ServerKind,
  string,
]

/** How long a session waits for its client, on every kind: longer than any scenario's gap. */
const sessionTtlMs = 120_000

async function startSocketIo(): Promise<number> {
  const http = createHttpServer()
  const redis = new Redis(redisUrl)
  const adapter =
    kind === 'socketio-pubsub'
      ? createPubSubAdapter(redis, redis.duplicate())
      : createStreamsAdapter(redis, { maxLen: historyLength })
  const io = new SocketIoServer(http, {
    transports: ['websocket'],
    adapter,
    // Connection-state recovery is what the streams adapter brings; the pub/sub adapter does not
    // support it (a recovery finds nothing), so it is left off there.
    ...(kind === 'socketio-streams'
      ? { connectionStateRecovery: { maxDisconnectionDuration: sessionTtlMs } }
      : {}),
  })
  io.on('connection', (socket) => {
    socket.on('join', (room: string, ack: () => void) => {
      void Promise.resolve(socket.join(room)).then(() => ack())
    })
    socket.on('say', (body: Say) => {
      io.to(body.room).emit('msg', body)
    })
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  return (http.address() as AddressInfo).port
}

async function startLifeline(): Promise<number> {
  const server = createServer<ChatSchema>({
    port: 0,
    heartbeat: false,
    connectionLimits: false,
    sessionTtlMs,
    // Room history of the resume scenario waits in the replay buffer of the one process.
    replayLimit: 50_000,
    replayLimitBytes: 64 * 2 ** 20,
    maxOutboundBytes: 64 * 2 ** 20,
    ...(kind === 'lifeline-redis' ? await lifelineRedisOptions(redisUrl) : {}),
  })
  server.handle('join', ({ room }, peer) => {
    peer.join(room)
    return null
  })
  server.on('connection', (peer) => {
    peer.on('say', (body) => {
      server.to(body.room).send('msg', body)
    })
  })
  server.on('error', (error) => console.error(`${kind} server:`, error))
  await server.ready
  return server.port
}

const port = kind.startsWith('socketio') ? await startSocketIo() : await startLifeline()
const cpuStart = process.cpuUsage()
announce({ port, pid: process.pid })
exitWithParent((): ServerReport => {
  const cpu = process.cpuUsage(cpuStart)
  return { cpuUs: cpu.user + cpu.system }
})
