// One sample, in a fresh process: sends N distinct ~100-byte JSON messages to a counting `ws`
// server in another process — either with raw `ws` right after open, or by queueing them in a
// ReconnectingWebSocket while it is closed and letting it flush them on open — timed until the
// server says it has them all. `raw-corked` corks the net socket under `ws` around the sends.
// Prints what it measured as one JSON line.
//   usage: sample.ts <variant> <port> <count>
import type { Socket } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { WebSocket } from 'ws'
import { ReconnectingWebSocket } from '@lifeline/node'
import { withTimeout } from '../lib/samples.js'

/** The net socket under a `ws` WebSocket: `ws` keeps it as `_socket`. */
const netSocketOf = (socket: WebSocket): Socket =>
  (socket as unknown as { _socket: Socket })._socket

const [variant = 'raw', portText = '0', countText = '100000'] = process.argv.slice(2)
const count = Number(countText)
const url = `ws://127.0.0.1:${portText}/`
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined)
/**
 * Heap in use once settled. `heapUsed` right after a collection still counts garbage that the
 * concurrent sweeper has not reached: collect, let the sweeper finish, collect again.
 */
const heap = async () => {
  gc()
  await new Promise((resolve) => setTimeout(resolve, 50))
  gc()
  return process.memoryUsage().heapUsed
}

// Flat strings, built before either clock starts. Copied to exact size: a string from
// JSON.stringify leaves a trimmed tail in the heap that a later compaction frees, which would
// show up as a negative cost of queueing.
const heapBefore = await heap()
const text = 'x'.repeat(80)
const messages = Array.from({ length: count }, (_, seq) =>
  Buffer.from(JSON.stringify({ seq, text })).toString('latin1'),
)
// What the messages themselves hold, so the queue's own cost can be told apart.
const messageBytesPerMessage = ((await heap()) - heapBefore) / count

// The monitor measures the gap between its own ticks, and a block before its first tick goes
// unseen (as after `reset()`): it is enabled a few ticks before the timed part begins.
const loop = monitorEventLoopDelay({ resolution: 1 })
let started = 0
let queuedBytesPerMessage = 0
let done: Promise<unknown>
let close: () => void
const corked = variant === 'raw-corked'
if (variant.startsWith('raw')) {
  const socket = new WebSocket(url)
  close = () => socket.close()
  done = new Promise((resolve) => socket.once('message', resolve))
  await withTimeout(new Promise((resolve) => socket.once('open', resolve)), 10_000, 'open')
  const stream = corked ? netSocketOf(socket) : undefined
  loop.enable()
  await new Promise((resolve) => setTimeout(resolve, 5))
  started = performance.now()
  stream?.cork()
  for (const message of messages) socket.send(message)
  stream?.uncork()
} else {
  const socket = new ReconnectingWebSocket(url, undefined, {
    startClosed: true,
    queue: { maxMessages: count, maxBytes: count * 200 },
  })
  close = () => socket.close()
  done = new Promise((resolve) => socket.addEventListener('message', resolve, { once: true }))
  // A first link, as raw ws has before its clock starts: the block measured is the flush's,
  // not the cold start of Node's HTTP client.
  const first = new WebSocket(url)
  await withTimeout(new Promise((resolve) => first.once('open', resolve)), 10_000, 'open')
  first.close()
  const beforeQueue = await heap()
  for (const message of messages) socket.send(message)
  queuedBytesPerMessage = ((await heap()) - beforeQueue) / count
  socket.addEventListener('statechange', ({ state }) => {
    if (state.status === 'open') {
      started = performance.now()
    }
  })
  // Connecting takes more than a few ticks: the handshake, then the flush, on open.
  loop.enable()
  socket.reconnect()
}
await withTimeout(done, 120_000, 'the server to receive everything')
const ms = performance.now() - started
loop.disable()
close()
console.log(
  JSON.stringify({
    variant,
    count,
    ms,
    maxBlockMs: loop.max / 1e6,
    queuedBytesPerMessage,
    messageBytesPerMessage,
    // Read here so `messages` stays alive to the end: were it collected once queued, its
    // strings' cost would seem to vanish from the queue's.
    sent: messages.length,
  }),
)
process.exit(0)
