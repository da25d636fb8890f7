// The server side of the server benchmark, in its own process: `@lifeline/server` in protocol
// mode (JSON codec) or a plain `ws` server doing the same work per frame (decode the JSON
// envelope, dispatch on its type to a handler). Prints `{ port }` once listening, then one line
// `{ ms, cpuUsPerMessage }` once `total` messages have reached the handler: time and this
// process's CPU from the first handled message to the last. Runs until its parent lets it go
// (`serverProcess.ts`).
//   usage: server.ts <lifeline|ws> <total>
import { WebSocketServer } from 'ws'
import { createServer } from '@lifeline/server'
import { announce, exitWithParent } from '../lib/serverProcess.js'

const [variant = 'lifeline', totalText = '200000'] = process.argv.slice(2)
const total = Number(totalText)
interface Body {
  text: string
  at: number
  n: number
}

let handled = 0
let started = 0
let cpuStart = process.cpuUsage()
const handle = (body: Body) => {
  if (handled === 0) {
    started = performance.now()
    cpuStart = process.cpuUsage()
  }
  if (body.n > 0 && ++handled === total) {
    const cpu = process.cpuUsage(cpuStart)
    const ms = performance.now() - started
    process.stdout.write(
      `${JSON.stringify({ ms, cpuUsPerMessage: (cpu.user + cpu.system) / total })}\n`,
    )
  }
}

let port: number
if (variant === 'lifeline') {
  const server = createServer<{ client: { m: Body } }>({ port: 0, heartbeat: false })
  server.on('connection', (peer) => peer.on('m', handle))
  await server.ready
  port = server.port
} else {
  const handlers: Record<string, (data: Body) => void> = { m: handle }
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  server.on('connection', (socket) =>
    socket.on('message', (data) => {
      const envelope = JSON.parse(String(data)) as { t: string; d: Body }
      handlers[envelope.t]?.(envelope.d)
    }),
  )
  port = (server.address() as { port: number }).port
}
announce({ port })
exitWithParent()
