// One sample, in a fresh process: sends N messages to a ws server on 127.0.0.1 — either with raw
// `ws` right after open, or by queueing them in a ReconnectingWebSocket while it is closed and
// letting it flush them on open — and prints what it measured as one JSON line.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { WebSocket, WebSocketServer } from 'ws'
import { ReconnectingWebSocket } from '@lifeline/core'

const [variant = 'raw', countText = '100000'] = process.argv.slice(2)
const count = Number(countText)
const payload = 'x'.repeat(100)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined)

const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
await new Promise<void>((resolve) => server.once('listening', () => resolve()))
const { port } = server.address() as { port: number }
let received = 0
const allReceived = new Promise<number>((resolve) => {
  server.on('connection', (socket) =>
    socket.on('message', () => {
      if (++received === count) resolve(performance.now())
    }),
  )
})
const url = `ws://127.0.0.1:${port}/`
const loop = monitorEventLoopDelay({ resolution: 1 })

let started = 0
let queuedBytesPerMessage = 0
let client: { close(): void }
if (variant === 'raw') {
  const socket = new WebSocket(url)
  client = socket
  await new Promise((resolve) => socket.once('open', resolve))
  loop.enable()
  started = performance.now()
  for (let i = 0; i < count; i++) socket.send(payload)
} else {
  const socket = new ReconnectingWebSocket(url, undefined, {
    startClosed: true,
    queue: { maxMessages: count, maxBytes: count * 200 },
  })
  client = socket
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < count; i++) socket.send(payload.slice(0, 99) + (i % 10))
  gc()
  queuedBytesPerMessage = (process.memoryUsage().heapUsed - before) / count
  socket.addEventListener('statechange', ({ state }) => {
    if (state.status === 'open') {
      loop.enable()
      started = performance.now()
    }
  })
  socket.reconnect()
}
const finished = await allReceived
loop.disable()
client.close()
server.close()
for (const socket of server.clients) socket.terminate()
console.log(
  JSON.stringify({
    variant,
    count,
    ms: finished - started,
    maxBlockMs: loop.max / 1e6,
    queuedBytesPerMessage,
  }),
)
