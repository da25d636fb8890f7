// One sample, in a fresh process: N ~100-byte JSON messages one way, client to server on
// 127.0.0.1, timed from the first send until the server has handled the last. Variants:
//   raw-ws        plain `ws` client -> plain `ws` server that JSON-decodes each frame
//   client-raw    Lifeline client in raw mode -> the same plain server
//   client-proto  Lifeline client in protocol mode (reliable, acks) -> @lifeline/server
// Prints one JSON line: elapsed ms and client CPU µs per message.
import { WebSocket, WebSocketServer } from 'ws'
import { createClient } from '@lifeline/node'
import { createServer } from '@lifeline/server'

const [variant = 'raw-ws', countText = '50000'] = process.argv.slice(2)
const count = Number(countText)
const body = { text: 'x'.repeat(60), at: 1732500000000 }

let received = 0
let resolveDone: (at: number) => void = () => undefined
const done = new Promise<number>((resolve) => (resolveDone = resolve))
const onMessage = () => {
  if (++received === count) resolveDone(performance.now())
}

let url: string
let closeServer: () => Promise<void>
if (variant === 'client-proto') {
  const server = createServer<{ client: { m: typeof body & { n: number } } }>({ port: 0 })
  server.on('connection', (peer) => peer.on('m', onMessage))
  await server.ready
  url = `ws://127.0.0.1:${server.port}/`
  closeServer = () => server.close()
} else {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  server.on('connection', (socket) =>
    socket.on('message', (data) => {
      JSON.parse(String(data))
      onMessage()
    }),
  )
  url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/`
  closeServer = async () => {
    for (const socket of server.clients) socket.terminate()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

let send: (n: number) => void
let closeClient: () => void
if (variant === 'raw-ws') {
  const socket = new WebSocket(url)
  await new Promise((resolve) => socket.once('open', resolve))
  send = (n) => socket.send(JSON.stringify({ t: 'm', d: { ...body, n } }))
  closeClient = () => socket.close()
} else {
  const client = createClient<{ client: { m: typeof body & { n: number } } }>({
    url,
    mode: variant === 'client-raw' ? 'raw' : 'protocol',
    maxUnacked: count,
    socket: { queue: { maxMessages: count, maxBytes: count * 200 } },
  })
  await new Promise<void>((resolve) => {
    const off = client.subscribe(() => {
      if (client.state.status === 'open') {
        off()
        resolve()
      }
    })
  })
  send = (n) => client.send('m', { ...body, n })
  closeClient = () => client.close()
}

const cpuBefore = process.cpuUsage()
const started = performance.now()
// Sent in slices, as an application producing messages would, letting acks and I/O through.
for (let n = 0; n < count;) {
  for (let i = 0; i < 500 && n < count; i++) send(++n)
  await new Promise((resolve) => setImmediate(resolve))
}
const cpu = process.cpuUsage(cpuBefore)
const finished = await done
closeClient()
await closeServer()
console.log(
  JSON.stringify({
    variant,
    count,
    ms: finished - started,
    sendCpuUsPerMessage: (cpu.user + cpu.system) / count,
  }),
)
process.exit(0)
