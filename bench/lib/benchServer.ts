// The server side of the throughput and round-trip benchmarks, in a process of its own (started
// with `spawnBenchServer` of `serverProcess.ts`): prints `{ port }` once listening and, when its
// parent closes its stdin (or dies), `{ cpuUs }`: the CPU time (user + system, µs) this process
// spent since it started listening.
//   usage: benchServer.ts <ws|lifeline|socketio> <sink|echo|push> <count> [bytes]
// Kinds and modes: see `schema.ts` (`push`: ws and lifeline only, messages of about `bytes`
// bytes, 100 by default). The Lifeline server also implements the RPC method `echo`.
import { createServer as createHttpServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { Server as SocketIoServer } from 'socket.io'
import { createServer } from '@lifeline/server'
import { benchMessage, sliceOf } from './schema.js'
import type { BenchMessage, BenchSchema, ServerKind, ServerMode } from './schema.js'
import { announce, exitWithParent } from './serverProcess.js'

/**
 * Output not yet taken above which a `push` server waits: half the Lifeline server's
 * `maxOutboundBytes`, past which it closes a client as a slow consumer.
 */
const pushHighWaterBytes = 2 * 1024 * 1024

/**
 * `push`: `count` messages of about `bytes` bytes through `send`, a slice (about 512 KiB) per
 * event-loop turn while the output not yet taken (`backlog`) is under 2 MiB, as a server
 * streaming to a client would.
 */
async function push(
  send: (message: BenchMessage) => void,
  backlog: () => number,
  count: number,
  bytes: number,
) {
  const slice = sliceOf(bytes)
  const at = Date.now()
  for (let n = 0; n < count;) {
    if (backlog() <= pushHighWaterBytes) {
      for (let i = 0; i < slice && n < count; i++) send(benchMessage(++n, bytes, at))
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
}

async function serve(
  kind: ServerKind,
  mode: ServerMode,
  count: number,
  bytes: number,
): Promise<number> {
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
        if (mode === 'push') {
          const send = (message: BenchMessage) => peer.send('m', message)
          // What the client has not acknowledged, which includes what is unsent: the server
          // offers no public figure of it yet, and without watching it a server that writes
          // faster than its client reads has it closed as a slow consumer (the kernel's
          // buffers take megabytes the client has not read).
          const stream = (peer as unknown as { stream: { unackedBytes: number } }).stream
          if (++received === 1) void push(send, () => stream.unackedBytes, count, bytes)
        } else if (mode === 'echo') peer.send('m', data)
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
      if (mode === 'push') {
        const send = (message: BenchMessage) => socket.send(JSON.stringify({ t: 'm', d: message }))
        if (++received === 1) void push(send, () => socket.bufferedAmount, count, bytes)
        return
      }
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

const [kind = 'ws', mode = 'sink', countText = '0', bytesText = '100'] = process.argv.slice(2)
const port = await serve(
  kind as ServerKind,
  mode as ServerMode,
  Number(countText),
  Number(bytesText),
)
const cpuBefore = process.cpuUsage()
announce({ port })
exitWithParent(() => {
  const cpu = process.cpuUsage(cpuBefore)
  return { cpuUs: cpu.user + cpu.system }
})
