// A server for client benchmarks, run in its own process so its work does not count against the
// clients: a plain `ws` server (answers the text frame `ping` with `pong`) or a socket.io server
// (websocket transport only, its own default heartbeat). Listens on 127.0.0.1 at the given port
// (0: any), prints `{ port, listenAt }` once listening, and runs until its parent lets it go
// (`serverProcess.ts`).
//   usage: peerServer.ts <ws|socket.io> [port]
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { Server as SocketIoServer } from 'socket.io'
import { announce, exitWithParent, wallClockMs } from './serverProcess.js'

const [kind = 'ws', portText = '0'] = process.argv.slice(2)
const backlog = 4096
const http = createServer()

if (kind === 'socket.io') {
  const io = new SocketIoServer(http, { transports: ['websocket'], serveClient: false })
  io.on('connection', (socket) => socket.on('ping', () => socket.emit('pong')))
} else {
  const wss = new WebSocketServer({ server: http })
  wss.on('connection', (socket) =>
    socket.on('message', (data, isBinary) => {
      if (!isBinary && String(data) === 'ping') socket.send('pong')
    }),
  )
}

http.listen({ host: '127.0.0.1', port: Number(portText), backlog }, () => {
  const { port } = http.address() as { port: number }
  announce({ port, listenAt: wallClockMs() })
})
exitWithParent()
