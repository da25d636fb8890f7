// The receiving side of the burst and flush benchmarks, in its own process: a plain `ws` server
// that counts the frames of each connection and answers `done` once it has `total` of them.
// Prints `{ port }` once listening and runs until its parent lets it go (`serverProcess.ts`); then
// prints, for the last connection that got them all, the CPU µs it spent and the ms that passed
// from its first frame to its last (`busy` = CPU / time: near 1, the receiver sets the pace).
//   usage: countingServer.ts <total>
import { WebSocketServer } from 'ws'
import { announce, exitWithParent } from '../lib/serverProcess.js'

const total = Number(process.argv[2] ?? 100_000)
const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
await new Promise<void>((resolve) => server.once('listening', () => resolve()))
let receiver: { cpuUs: number; ms: number } | undefined
server.on('connection', (socket) => {
  let received = 0
  let firstAt = 0
  let cpuAtFirst: NodeJS.CpuUsage | undefined
  socket.on('message', () => {
    if (received++ === 0) {
      firstAt = performance.now()
      cpuAtFirst = process.cpuUsage()
    }
    if (received !== total) return
    const cpu = process.cpuUsage(cpuAtFirst)
    receiver = { cpuUs: cpu.user + cpu.system, ms: performance.now() - firstAt }
    socket.send('done')
  })
})
announce({ port: (server.address() as { port: number }).port })
exitWithParent(() => receiver ?? {})
