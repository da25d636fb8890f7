// The receiving side of the burst and flush benchmarks, in its own process: a plain `ws` server
// that counts the frames of each connection and answers `done` once it has `total` of them.
// Prints `{ port }` once listening and runs until its parent lets it go (`serverProcess.ts`).
//   usage: countingServer.ts <total>
import { WebSocketServer } from 'ws'
import { announce, exitWithParent } from '../lib/serverProcess.js'

const total = Number(process.argv[2] ?? 100_000)
const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
await new Promise<void>((resolve) => server.once('listening', () => resolve()))
server.on('connection', (socket) => {
  let received = 0
  socket.on('message', () => {
    if (++received === total) socket.send('done')
  })
})
announce({ port: (server.address() as { port: number }).port })
exitWithParent()
