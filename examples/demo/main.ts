// The Lifeline demo: an embedded ws server on 127.0.0.1 and a ReconnectingWebSocket that keeps
// sending while the server is stopped and started again. Every state change is printed, and at
// the end the tally: every message sent arrived once, in order, including those queued while the
// server was away.
import { ReconnectingWebSocket } from '@lifeline/core'
import { embeddedServer } from './server.js'

const sendEveryMs = 10
const phaseMs = 1_000

const started = performance.now()
const log = (line: string) =>
  console.log(`[${(performance.now() - started).toFixed(0).padStart(5)} ms] ${line}`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const server = await embeddedServer()
log(`server listening on ${server.url}`)

const socket = new ReconnectingWebSocket(server.url, undefined, {
  initialDelayMs: 200,
  maxDelayMs: 1_000,
})
socket.addEventListener('statechange', ({ state }) => {
  const detail =
    state.status === 'reconnecting'
      ? ` (link lost: code ${state.cause.code}; attempt ${state.attempt} in ${state.delayMs} ms)`
      : state.status === 'connecting' || state.status === 'open'
        ? ` (attempt ${state.attempt})`
        : ''
  log(`client ${state.status}${detail}`)
})
socket.addEventListener('error', ({ error }) => log(`client error ${error.code}: ${error.message}`))

let sent = 0
let queuedWhileDown = 0
const sender = setInterval(() => {
  socket.send(`message ${++sent}`)
  if (socket.readyState !== socket.OPEN) queuedWhileDown++
}, sendEveryMs)

await sleep(phaseMs)
log(`stopping the server (clients are told 1012: service restart) after ${sent} messages`)
await server.stop()
await sleep(phaseMs)
log(
  `starting the server again; ${socket.queuedMessages} messages are waiting in the client's queue`,
)
await server.start()
await sleep(phaseMs)
clearInterval(sender)
log(`stopped sending after ${sent} messages`)

const deadline = performance.now() + 10_000
while (server.received.length < sent && performance.now() < deadline) await sleep(20)
socket.close(1000, 'demo done')
await server.stop()

const inOrder = server.received.every((text, i) => text === `message ${i + 1}`)
const duplicates = server.received.length - new Set(server.received).size
console.log('')
console.log(`sent:               ${sent}`)
console.log(`received:           ${server.received.length}`)
console.log(`queued while down:  ${queuedWhileDown}`)
console.log(`duplicates:         ${duplicates}`)
console.log(`in order:           ${inOrder ? 'yes' : 'NO'}`)
const ok = server.received.length === sent && duplicates === 0 && inOrder && queuedWhileDown > 0
console.log(ok ? '\nEvery message arrived once, in order.' : '\nMessages were lost or reordered.')
process.exitCode = ok ? 0 : 1
