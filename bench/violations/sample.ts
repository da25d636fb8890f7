// One sample, in a fresh process: a client with default options against a server that breaks
// the protocol on every connection, for `durationMs`. Prints one JSON line: the times (ms from
// the client's creation) at which the server saw each connection, and how the client ended.
//   usage: sample.ts <scenario> <durationMs> [maxViolations]
// Scenarios:
//   bad-frame  a raw `ws` server that answers `$hello` with `$welcome`, then an unknown `$` type
//              (what an older client sees from a newer server)
//   oversize   two honest peers: `@lifeline/server` with `maxMessageSize` 2 MiB sends each new
//              session one reliable 1.5 MiB message; the client's codec accepts 1 MiB
import { WebSocketServer, type WebSocket } from 'ws'
import { json } from '@lifeline/codec'
import { createClient } from '@lifeline/core'
import { createServer } from '@lifeline/server'

const [scenario = 'bad-frame', durationText = '5000', maxViolationsText] = process.argv.slice(2)
const durationMs = Number(durationText)
const socket = maxViolationsText === undefined ? {} : { maxViolations: Number(maxViolationsText) }

interface Result {
  connections: number[]
  state: string
  closeCode: number | undefined
  errors: Record<string, number>
  serverErrors: number
}

const started = performance.now()
const connections: number[] = []
const errors: Record<string, number> = {}
let serverErrors = 0
let port: number
let stop: () => Promise<void>

if (scenario === 'bad-frame') {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handleProtocols: (protocols) =>
      protocols.has('lifeline.v1.json') ? 'lifeline.v1.json' : false,
  })
  await new Promise<void>((resolve) => wss.once('listening', resolve))
  wss.on('connection', (socket: WebSocket) => {
    connections.push(performance.now() - started)
    socket.on('message', () => {
      socket.send(JSON.stringify({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } }))
      socket.send(JSON.stringify({ t: '$newer-control-frame', d: {} }))
    })
  })
  port = (wss.address() as { port: number }).port
  stop = () =>
    new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate()
      wss.close(() => resolve())
    })
} else {
  const big = 'x'.repeat(1.5 * 1024 * 1024)
  const server = createServer({ port: 0, host: '127.0.0.1', maxMessageSize: 2 * 1024 * 1024 })
  server.on('error', () => serverErrors++)
  const seen = () => connections.push(performance.now() - started)
  server.on('connection', (peer) => {
    seen()
    try {
      peer.send('big', big)
    } catch {
      // Refused where it is produced: the client announced a smaller limit.
      serverErrors++
    }
  })
  server.on('resume', seen)
  await server.ready
  port = server.port
  stop = () => server.close()
}

const client = createClient({ url: `ws://127.0.0.1:${port}`, codecs: [json()], socket })
client.events.on('error', (error) => (errors[error.code] = (errors[error.code] ?? 0) + 1))
await new Promise((resolve) => setTimeout(resolve, durationMs))
const { state } = client
client.close()
await stop()
const result: Result = {
  connections,
  state: state.status,
  closeCode: 'closeCode' in state ? state.closeCode : undefined,
  errors,
  serverErrors,
}
console.log(JSON.stringify(result))
process.exit(0)
