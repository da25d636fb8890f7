// The receiving side of the burst benchmark, in its own process: a plain `ws` server that counts
// the frames of each connection and answers `done` once it has `total` of them. Prints `{ port }`
// once listening and runs until it is signalled.
//   usage: server.ts <total>
import { WebSocketServer } from 'ws'

const total = Number(process.argv[2] ?? 100_000)
const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
await new Promise<void>((resolve) => server.once('listening', () => resolve()))
server.on('connection', (socket) => {
  let received = 0
  socket.on('message', () => {
    if (++received === total) socket.send('done')
  })
})
process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`)
process.on('SIGTERM', () => process.exit(0))
