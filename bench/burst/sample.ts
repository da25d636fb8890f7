// One sample, in a fresh process: `total` ~100-byte messages sent in bursts of N (one burst per
// event-loop turn) to a server in another process, timed from the first send until the server
// says it has them all. Variants:
//   ws               raw `ws`, one frame per write (one syscall per message)
//   ws-corked        raw `ws`, the underlying net socket corked around each burst
//   lifeline         @lifeline/node's ReconnectingWebSocket as it is: it holds the sends of a turn
//                    together itself
//   build:<path>     the ReconnectingWebSocket exported by another build (BURST_COMPARE in main.ts)
// Prints one JSON line: elapsed ms, the sender's CPU µs per message over the whole run (the event
// loop's turns and the wait for the server's answer included), and with BURST_CPU_EVERY its CPU
// µs per message while sending (a burst and the write that sends it).
//   usage: sample.ts <variant> <port> <burst> <total>
import type { Socket } from 'node:net'
import { pathToFileURL } from 'node:url'
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
  const Lifeline = variant.startsWith('build:')
    ? (
        (await import(pathToFileURL(variant.slice('build:'.length)).href)) as {
          ReconnectingWebSocket: typeof ReconnectingWebSocket
        }
      ).ReconnectingWebSocket
    : ReconnectingWebSocket
  const socket = new Lifeline(url)
  await withTimeout(
    new Promise((resolve) => socket.addEventListener('open', resolve, { once: true })),
    10_000,
    'open',
  )
  send = (data) => socket.send(data)
  done = new Promise((resolve) => socket.addEventListener('message', resolve, { once: true }))
  close = () => socket.close()
}

// BURST_CPU_EVERY=N times the CPU of one burst in N (1: every burst, as this benchmark did
// before); 0 (the default) times none, so the loop makes no getrusage call at all, and only the
// run's CPU is taken. See bench/README: timing costs every sender alike per turn, and a window
// of one burst counts other threads' CPU in lumps.
const cpuEvery = Number(process.env.BURST_CPU_EVERY ?? 0)
if (!(Number.isInteger(cpuEvery) && cpuEvery >= 0))
  throw new Error('BURST_CPU_EVERY must be an integer ≥ 0')
let cpuUs = 0
let timed = 0
const cpuAtStart = process.cpuUsage()
const started = performance.now()
for (let sent = 0, turn = 0; sent < total; turn++) {
  const first = sent
  const cpuBefore = cpuEvery > 0 && turn % cpuEvery === 0 ? process.cpuUsage() : undefined
  net?.cork()
  for (let i = 0; i < burst && sent < total; i++, sent++) send(payload)
  net?.uncork()
  // Lifeline writes what a turn held once the turn's code is done: counted here too, as the
  // hand-corked variant's write is (before, Lifeline's send CPU left its write out).
  await undefined
  if (cpuBefore !== undefined) {
    const cpu = process.cpuUsage(cpuBefore)
    cpuUs += cpu.user + cpu.system
    timed += sent - first
  }
  await new Promise((resolve) => setImmediate(resolve))
}
await withTimeout(done, 60_000, 'the server to receive everything')
const ms = performance.now() - started
const cpu = process.cpuUsage(cpuAtStart)
close()
console.log(
  JSON.stringify({
    variant,
    burst,
    ms,
    sendCpuUsPerMessage: timed > 0 ? cpuUs / timed : null,
    senderCpuUsPerMessage: (cpu.user + cpu.system) / total,
  }),
)
process.exit(0)
