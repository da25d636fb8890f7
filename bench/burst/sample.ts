// One sample, in a fresh process: `total` ~100-byte messages sent in bursts of N (one burst per
// event-loop turn) to a server in another process, timed from the first send until the server
// says it has them all. Variants:
//   ws               raw `ws`, one frame per write (one syscall per message)
//   ws-corked        raw `ws`, the underlying net socket corked around each burst
//   lifeline         @lifeline/node's ReconnectingWebSocket as it is: it holds the sends of a turn
//                    together itself
// Prints one JSON line: elapsed ms and the sender's CPU µs per message while sending (each burst
// and the write that sends it).
//   usage: sample.ts <variant> <port> <burst> <total>
import type { Socket } from 'node:net'
import { WebSocket } from 'ws'
import { ReconnectingWebSocket } from '@lifeline/node'
import { withTimeout } from '../lib/samples.js'

const [variant = 'ws', portText = '0', burstText = '100', totalText = '100000'] =
  process.argv.slice(2)
const burst = Number(burstText)
const total = Number(totalText)
const url = `ws://127.0.0.1:${portText}/`
const payload = 'x'.repeat(100)

/** The net socket under a `ws` WebSocket: `ws` keeps it as `_socket`. */
const netSocketOf = (socket: WebSocket): Socket =>
  (socket as unknown as { _socket: Socket })._socket

let net: Socket | undefined
let send: (data: string) => void
let done: Promise<unknown>
let close: () => void
if (variant.startsWith('ws')) {
  const socket = new WebSocket(url)
  await withTimeout(new Promise((resolve) => socket.once('open', resolve)), 10_000, 'open')
  net = variant === 'ws-corked' ? netSocketOf(socket) : undefined
  send = (data) => socket.send(data)
  done = new Promise((resolve) => socket.once('message', resolve))
  close = () => socket.close()
} else {
  const socket = new ReconnectingWebSocket(url)
  await withTimeout(
    new Promise((resolve) => socket.addEventListener('open', resolve, { once: true })),
    10_000,
    'open',
  )
  send = (data) => socket.send(data)
  done = new Promise((resolve) => socket.addEventListener('message', resolve, { once: true }))
  close = () => socket.close()
}

let cpuUs = 0
const started = performance.now()
for (let sent = 0; sent < total;) {
  const cpuBefore = process.cpuUsage()
  net?.cork()
  for (let i = 0; i < burst && sent < total; i++, sent++) send(payload)
  net?.uncork()
  // Lifeline writes what a turn held once the turn's code is done: counted here too, as the
  // hand-corked variant's write is (before, Lifeline's send CPU left its write out).
  await undefined
  const cpu = process.cpuUsage(cpuBefore)
  cpuUs += cpu.user + cpu.system
  await new Promise((resolve) => setImmediate(resolve))
}
await withTimeout(done, 60_000, 'the server to receive everything')
const ms = performance.now() - started
close()
console.log(JSON.stringify({ variant, burst, ms, sendCpuUsPerMessage: cpuUs / total }))
process.exit(0)
