// One server process: the same code runs in every process, on one Redis. Sessions, rooms and
// their history live in Redis, so a client may reconnect to any process and resume its session
// there; the process that held it lets go. Prints `listening on <port>` once it listens, and a
// line for each session it opens or takes over.
//   usage: server.ts <name> <redis url>
import { createRedisCluster } from '@lifeline/redis'
import { closeOnSignals, createServer } from '@lifeline/server'
import { Redis } from 'ioredis'
import { room, type Chat } from './schema.js'

const [name = 'server', redisUrl = 'redis://127.0.0.1:6379'] = process.argv.slice(2)

const redis = new Redis(redisUrl)
// Without a listener ioredis prints each failed reconnection; the cluster reports an outage once.
redis.on('error', () => undefined)
const cluster = createRedisCluster({ redis })
cluster.on('error', (error) => console.error(`${name}: Redis: ${String(error)}`))
const server = createServer<Chat>({ port: 0, host: '127.0.0.1', cluster })

server.on('connection', (peer, { restored }) => {
  console.log(`${name}: ${restored ? 'resumed' : 'new'} session ${peer.id}`)
  // A session taken over from the other process keeps its rooms: only a new one joins.
  if (!restored) peer.join(room)
  peer.on('say', (data: unknown, _peer, info) => {
    // What a client sent, whatever the schema says: one with no data or not both fields (any
    // client can send it) is not relayed, where taking it apart threw, logged once a message.
    if (typeof data !== 'object' || data === null) return
    const { from, n } = data as Record<string, unknown>
    if (typeof from !== 'string' || typeof n !== 'number') return
    // `id`: the relay is made once, even if the message comes again after a process died
    // between relaying it and storing that it had.
    server.to(room).send('said', { from, n }, { id: info.id as string })
  })
})

// SIGTERM: stop accepting, close the clients with 1012 (they come back at once, to the other
// process), store the last changes of every session, then exit.
closeOnSignals(server)
await server.ready
console.log(`${name}: listening on ${server.port}`)
