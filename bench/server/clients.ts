// The client side of the server benchmark, in its own process: C raw `ws` clients that write
// hand-made protocol frames, so the client side is the same for both servers. Against the
// Lifeline server each client offers the JSON subprotocol, sends `$hello` and waits for
// `$welcome`; then every client sends M reliable messages (`s` from 1) in slices, yielding to the
// event loop between slices and skipping a client whose socket has more than 1 MiB buffered.
// Runs until the parent ends it once the server has handled everything.
//   usage: clients.ts <lifeline|ws> <port> <clients> <perClient>
import { WebSocket } from 'ws'
import { withTimeout } from '../lib/samples.js'

const [variant = 'lifeline', portText = '0', clientsText = '100', perClientText = '2000'] =
  process.argv.slice(2)
const clientCount = Number(clientsText)
const perClient = Number(perClientText)
const url = `ws://127.0.0.1:${portText}/`
const body = JSON.stringify({ text: 'x'.repeat(60), at: 1732500000000 }).slice(0, -1)
const frame = (n: number) => `{"t":"m","s":${n},"d":${body},"n":${n}}}`
const highWaterMark = 1024 * 1024

async function open(): Promise<WebSocket> {
  const socket = new WebSocket(url, variant === 'lifeline' ? ['lifeline.v1.json'] : [], {
    // Zero masks: the client's masking work is not what this benchmark measures.
    generateMask: (mask) => mask.fill(0),
  })
  await new Promise((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('error', reject)
  })
  if (variant === 'lifeline') {
    const welcome = new Promise((resolve) => socket.once('message', resolve))
    socket.send(JSON.stringify({ t: '$hello', d: { v: 1 } }))
    await welcome
  }
  return socket
}

const sockets = await withTimeout(
  Promise.all(Array.from({ length: clientCount }, open)),
  30_000,
  'clients to open',
)
const sent = sockets.map(() => 0)
const deadline = performance.now() + 120_000
for (let remaining = clientCount * perClient; remaining > 0 && performance.now() < deadline;) {
  sockets.forEach((socket, i) => {
    if (socket.bufferedAmount > highWaterMark) return
    for (let k = 0; k < 50 && (sent[i] ?? 0) < perClient; k++) {
      const n = (sent[i] = (sent[i] ?? 0) + 1)
      socket.send(frame(n))
      remaining--
    }
  })
  await new Promise((resolve) => setImmediate(resolve))
}
process.stderr.write(`server bench: ${sent.reduce((a, b) => a + b, 0)} frames written\n`)
// Stay connected until the server has read everything: the parent ends this process then (or
// this timer does, as a bound).
setTimeout(() => process.exit(1), 120_000).unref()
await new Promise((resolve) => setTimeout(resolve, 120_000))
