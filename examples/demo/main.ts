// The Lifeline demo: an embedded Lifeline server on 127.0.0.1 and a typed client that keeps
// sending messages and calling an RPC while the server's listener is stopped and started again
// (sessions kept). Every state change is printed, and at the end the tally: every message sent
// was processed once, in order, in both directions; every request was answered.
import { createClient } from '@lifeline/core'
import type { RpcMethod } from '@lifeline/core'
import { createMemorySessionStore, createServer } from '@lifeline/server'
import type { LifelineServer } from '@lifeline/server'

/** One type for both sides: a wrong message type or payload does not compile. */
interface Demo {
  client: { reading: { seq: number; celsius: number } }
  server: { notice: { seq: number; text: string } }
  rpc: { average: RpcMethod<{ last: number }, { average: number; count: number }> }
}

const phaseMs = 1_000
const sendEveryMs = 10
const started = performance.now()
const log = (line: string) =>
  console.log(`[${(performance.now() - started).toFixed(0).padStart(5)} ms] ${line}`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// --- the server -------------------------------------------------------------------------------
const store = createMemorySessionStore() // kept across the restart, as a shared store would be
const readings: number[] = []
let serverNotices = 0

async function startServer(port: number): Promise<LifelineServer<Demo>> {
  const server = createServer<Demo>({ port, store })
  server.on('connection', (peer, { restored }) => {
    log(`server: session ${peer.id} ${restored ? 'restored from the store' : 'opened'}`)
    peer.on('reading', ({ seq, celsius }) => {
      readings.push(seq)
      if (seq % 50 === 0)
        peer.send('notice', { seq: ++serverNotices, text: `${celsius.toFixed(1)} °C at #${seq}` })
    })
  })
  server.handle('average', ({ last }) => {
    const window = readings.slice(-last)
    return {
      average: window.reduce((sum, n) => sum + n, 0) / Math.max(1, window.length),
      count: window.length,
    }
  })
  await server.ready
  return server
}

let server = await startServer(0)
const port = server.port
log(`server listening on ws://127.0.0.1:${port}/`)

// --- the client -------------------------------------------------------------------------------
const client = createClient<Demo>({
  url: `ws://127.0.0.1:${port}/`,
  socket: { initialDelayMs: 200, maxDelayMs: 1_000 },
})
client.events.on('statechange', (state) => {
  const detail =
    state.status === 'reconnecting'
      ? ` (link lost: code ${state.closeCode}; attempt ${state.attempt} in ${state.delayMs} ms)`
      : state.status === 'open'
        ? ` (session ${state.resumed ? 'resumed' : 'new'})`
        : state.status === 'connecting'
          ? ` (attempt ${state.attempt})`
          : ''
  log(`client ${state.status}${detail}`)
})
client.events.on('reset', (event) =>
  log(`client: session reset, ${event.resent} messages sent again`),
)
const notices: number[] = []
client.on('notice', ({ seq }) => notices.push(seq))

let sent = 0
let requests = 0
let answered = 0
const sender = setInterval(() => {
  client.send('reading', { seq: ++sent, celsius: 20 + Math.sin(sent / 20) * 5 })
  if (sent % 25 === 0) {
    requests++
    client.request('average', { last: 25 }, { timeoutMs: 10_000 }).then(
      () => answered++,
      (error: Error) => log(`request failed: ${error.message}`),
    )
  }
}, sendEveryMs)

await sleep(phaseMs)
log(`restarting the server's listener (clients are told 1012) after ${sent} messages`)
await server.close()
await sleep(phaseMs)
log(`listening again; ${client.unacked} messages wait unacknowledged in the client`)
server = await startServer(port)
await sleep(phaseMs)
clearInterval(sender)
log(`stopped sending after ${sent} messages and ${requests} requests`)

const deadline = performance.now() + 10_000
while (
  (readings.length < sent || answered < requests || client.unacked > 0) &&
  performance.now() < deadline
) {
  await sleep(20)
}
client.close()
await server.close()

const inOrder = readings.every((seq, i) => seq === i + 1)
const duplicates = readings.length - new Set(readings).size
const noticesInOrder = notices.every((seq, i) => seq === i + 1)
console.log('')
console.log(`messages sent:       ${sent}`)
console.log(`messages received:   ${readings.length}`)
console.log(`duplicates:          ${duplicates}`)
console.log(`in order:            ${inOrder ? 'yes' : 'NO'}`)
console.log(`requests answered:   ${answered}/${requests}`)
console.log(
  `notices (server->client): ${notices.length}/${serverNotices}, in order: ${noticesInOrder ? 'yes' : 'NO'}`,
)
const ok =
  readings.length === sent &&
  duplicates === 0 &&
  inOrder &&
  answered === requests &&
  notices.length === serverNotices &&
  noticesInOrder
console.log(
  ok
    ? '\nEvery message was processed once, in order, both ways.'
    : '\nSomething was lost or reordered.',
)
process.exitCode = ok ? 0 : 1
