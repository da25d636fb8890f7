// The server side of the throughput and round-trip benchmarks, in a process of its own (started
// with `spawnBenchServer` of `serverProcess.ts`): prints `{ port }` once listening and, when its
// parent closes its stdin (or dies), `{ cpuUs }`: the CPU time (user + system, µs) this process
// spent since it started listening.
//   usage: benchServer.ts <ws|lifeline|socketio> <sink|echo> <count>
// Kinds and modes: see `schema.ts`. The Lifeline server also implements the RPC method `echo`.
import { createServer as createHttpServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { Server as SocketIoServer } from 'socket.io'
import { createServer } from '@lifeline/server'
import type { BenchMessage, BenchSchema, ServerKind, ServerMode } from './schema.js'
import { announce, exitWithParent } from './serverProcess.js'

async function serve(kind: ServerKind, mode: ServerMode, count: number): Promise<number> {
  if (kind === 'lifeline') {
    const server = createServer<BenchSchema>({
      port: 0,
      host: '127.0.0.1',
      replayLimit: Math.max(10_000, count),
    })
    server.handle('echo', (data) => data)
    server.on('connection', (peer) => {
      let received = 0
      peer.on('m', (data) => {
        if (mode === 'echo') peer.send('m', data)
        else if (++received === count) peer.send('done', { n: received })
      })
    })
    await server.ready
    return server.port
  }
  if (kind === 'socketio') {
    const http = createHttpServer()
    const io = new SocketIoServer(http, { transports: ['websocket'], serveClient: false })
    io.on('connection', (socket) => {
      let received = 0
      socket.on('m', (data: BenchMessage) => {
        if (mode === 'echo') socket.emit('m', data)
        else if (++received === count) socket.emit('done', { n: received })
      })
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()))
    return (http.address() as { port: number }).port
  }
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  server.on('connection', (socket) => {
    let received = 0
    socket.on('message', (data, isBinary) => {
      // The work an application server does with a frame: decode it (and, to echo, encode it).
      const frame = JSON.parse(String(data)) as unknown
      if (mode === 'echo') {
        socket.send(JSON.stringify(frame), { binary: isBinary })
        return
      }
      if (++received === count) socket.send(JSON.stringify({ t: 'done', d: { n: received } }))
    })
  })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  return (server.address() as { port: number }).port
}

const [kind = 'ws', mode = 'sink', countText = '0'] = process.argv.slice(2)
const port = await serve(kind as ServerKind, mode as ServerMode, Number(countText))
const cpuBefore = process.cpuUsage()
announce({ port })
exitWithParent(() => {
  const cpu = process.cpuUsage(cpuBefore)
  return { cpuUs: cpu.user + cpu.system }
})
