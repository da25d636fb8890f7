// Connect time once warm: N connects of raw `ws` and of `ReconnectingWebSocket` alternating in
// one process against a `ws` server in the same process, each closed before the next, with
// the median added time over stretches of them. The round-trip benchmark's 10 later connects
// of a fresh process still include compiling the code a connect runs; this tells that apart.
//   usage: connects.ts [count]
import { WebSocket, WebSocketServer } from 'ws'
import { ReconnectingWebSocket } from '@lifeline/node'

const count = Number(process.argv[2] ?? 400)
const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
await new Promise((resolve) => server.once('listening', resolve))
const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/`

const timeRaw = async (): Promise<number> => {
  const started = performance.now()
  const socket = new WebSocket(url)
  await new Promise((resolve) => socket.once('open', resolve))
  const ms = performance.now() - started
  socket.close()
  return ms
}
const timeLifeline = async (): Promise<number> => {
  const started = performance.now()
  const socket = new ReconnectingWebSocket(url)
  await new Promise((resolve) => socket.addEventListener('open', resolve, { once: true }))
  const ms = performance.now() - started
  socket.close()
  return ms
}

const raw: number[] = []
const lifeline: number[] = []
for (let i = 0; i < count; i++) {
  raw.push(await timeRaw())
  lifeline.push(await timeLifeline())
}
const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[values.length >> 1] ?? NaN
// From the second: the first raw connect also compiles `ws`'s client for both.
for (const [from, to] of [
  [2, 12],
  [12, 51],
  [51, count + 1],
] as const) {
  const a = median(raw.slice(from - 1, to - 1))
  const b = median(lifeline.slice(from - 1, to - 1))
  console.log(
    `connects ${from}–${Math.min(to - 1, count)}: raw ws ${a.toFixed(3)} ms, ReconnectingWebSocket ${b.toFixed(3)} ms, ${b >= a ? '+' : ''}${(b - a).toFixed(3)} ms`,
  )
}
server.close()
process.exit(0)
