// Per-message overhead of a reconnecting socket over the bare socket, in one process, over an
// in-memory socket (no I/O): the ns that ReconnectingWebSocket (and partysocket, measured the
// same way) add to `send` and to delivering a received message to a listener, against calling
// the in-memory socket directly. Runs on lib/measure.ts: warm-up, 7 interleaved rounds; the
// added ns is taken within each round and reported as median (min–max).
import { ReconnectingWebSocket, createClient } from '@lifeline/core'
import { WebSocket as PartySocket } from 'partysocket'
import { measure, median, type Variant } from '../lib/measure.js'
import { markdownTable, progress, section } from '../lib/samples.js'

type Listener = (event: unknown) => void

/**
 * The smallest socket both libraries accept: open at once when told, `send` keeps the last
 * frame, events go to the `on<type>` property and to `addEventListener` listeners.
 */
class MemorySocket {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3
  static latest: MemorySocket | undefined

  readyState = 0
  protocol = ''
  extensions = ''
  bufferedAmount = 0
  binaryType = 'blob'
  onopen: Listener | null = null
  onmessage: Listener | null = null
  onclose: Listener | null = null
  onerror: Listener | null = null
  sent = 0
  lastSent: unknown
  private readonly listeners = new Map<string, Listener[]>()

  constructor(readonly url: string) {
    MemorySocket.latest = this
  }

  send(data: unknown): void {
    this.sent++
    this.lastSent = data
  }

  close(): void {
    if (this.readyState === 3) return
    this.readyState = 3
    this.emit('close', { type: 'close', code: 1000, reason: '', wasClean: true })
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }

  removeEventListener(type: string, listener: Listener): void {
    this.listeners.set(
      type,
      (this.listeners.get(type) ?? []).filter((existing) => existing !== listener),
    )
  }

  open(): void {
    this.readyState = 1
    this.emit('open', { type: 'open' })
  }

  /** As the standard dispatches: handlers and listeners are called with the socket as `this`. */
  emit(type: 'open' | 'message' | 'close', event: unknown): void {
    const handler =
      type === 'open' ? this.onopen : type === 'message' ? this.onmessage : this.onclose
    handler?.call(this, event)
    const listeners = this.listeners.get(type)
    if (listeners !== undefined) for (const listener of listeners) listener.call(this, event)
  }
}

function latestSocket(): MemorySocket {
  const socket = MemorySocket.latest
  if (socket === undefined) throw new Error('no socket was created')
  MemorySocket.latest = undefined
  return socket
}

const payload = JSON.stringify({ t: 'm', d: { n: 12345, text: 'x'.repeat(50), at: 1 } })
let received: unknown
const onMessage = (event: { data: unknown }) => {
  received = event.data
}

const bare = new MemorySocket('ws://memory/')
bare.open()
bare.addEventListener('message', onMessage as Listener)

const lifeline = new ReconnectingWebSocket('ws://memory/', undefined, { WebSocket: MemorySocket })
const lifelineSocket = latestSocket()
lifelineSocket.open()
lifeline.addEventListener('message', onMessage)

const party = new PartySocket('ws://memory/', undefined, { WebSocket: MemorySocket })
// partysocket creates its socket after a promise resolves.
await new Promise((resolve) => setTimeout(resolve, 10))
const partySocket = latestSocket()
partySocket.open()
party.addEventListener('message', onMessage)

if (lifeline.readyState !== 1 || party.readyState !== 1) throw new Error('sockets did not open')

// The typed Client over the same in-memory socket, in raw mode and in protocol mode (welcomed,
// acknowledged by a fake server every 1,000 messages so the outbox stays small).
const message = { n: 12345, text: 'x'.repeat(50), at: 1 }
let clientReceived: unknown
const rawClient = createClient<{ client: { m: typeof message }; server: { m: typeof message } }>({
  url: 'ws://memory/',
  mode: 'raw',
  socket: { WebSocket: MemorySocket },
})
const rawClientSocket = latestSocket()
rawClientSocket.open()
rawClient.on('m', (data) => (clientReceived = data))

/** A protocol-mode client over an in-memory socket, welcomed by a fake server. */
function welcomedClient() {
  const client = createClient<{ client: { m: typeof message }; server: { m: typeof message } }>({
    url: 'ws://memory/',
    heartbeat: false,
    socket: { WebSocket: MemorySocket },
  })
  const socket = latestSocket()
  socket.protocol = 'lifeline.v1.json'
  socket.open()
  socket.emit('message', {
    data: JSON.stringify({ t: '$welcome', d: { sid: 'bench', resumed: false, a: 0 } }),
  })
  if (client.state.status !== 'open') throw new Error('the protocol client was not welcomed')
  return { client, socket }
}

const { client: protoClient, socket: protoSocket } = welcomedClient()
protoClient.on('m', (data) => (clientReceived = data))
let protoSent = 0
let protoReceived = 0
const protoSend = () => {
  protoClient.send('m', message)
  if (++protoSent % 1_000 === 0) {
    protoSocket.emit('message', { data: JSON.stringify({ t: '$ack', a: protoSent }) })
  }
}
// The same with a delivery receipt asked for every message, which the acknowledgements resolve:
// what the fire-and-forget path does not pay.
const { client: receiptClient, socket: receiptSocket } = welcomedClient()
let receiptSent = 0
const acknowledgeReceipts = () =>
  receiptSocket.emit('message', { data: JSON.stringify({ t: '$ack', a: receiptSent }) })
const receiptSend = () => {
  const delivered = receiptClient.delivered(receiptClient.send('m', message))
  if (++receiptSent % 1_000 === 0) acknowledgeReceipts()
  return delivered
}
const protoReceive = () =>
  protoSocket.emit('message', { data: JSON.stringify({ t: 'm', d: message, s: ++protoReceived }) })

const operations: { name: string; variants: Variant[] }[] = [
  {
    name: 'send',
    variants: [
      { name: 'bare', run: () => bare.send(payload) },
      { name: 'lifeline', run: () => lifeline.send(payload) },
      { name: 'partysocket', run: () => party.send(payload) },
    ],
  },
  {
    name: 'receive',
    variants: [
      { name: 'bare', run: () => bare.emit('message', { data: payload }) },
      { name: 'lifeline', run: () => lifelineSocket.emit('message', { data: payload }) },
      { name: 'partysocket', run: () => partySocket.emit('message', { data: payload }) },
    ],
  },
]

operations.push(
  {
    name: 'encode + send',
    variants: [
      { name: 'bare', run: () => bare.send(JSON.stringify({ t: 'm', d: message })) },
      { name: 'client-raw', run: () => rawClient.send('m', message) },
      { name: 'client-proto', run: protoSend },
      { name: 'client-proto-receipt', run: receiptSend },
    ],
  },
  {
    name: 'receive + decode',
    variants: [
      {
        name: 'bare',
        run: () => {
          const data = JSON.stringify({ t: 'm', d: message })
          bare.emit('message', { data })
          clientReceived = JSON.parse(data)
        },
      },
      {
        name: 'client-raw',
        run: () =>
          rawClientSocket.emit('message', { data: JSON.stringify({ t: 'm', d: message }) }),
      },
      { name: 'client-proto', run: protoReceive },
    ],
  },
)

const labels: Record<string, string> = {
  lifeline: 'Lifeline ReconnectingWebSocket',
  partysocket: 'partysocket',
  'client-raw': 'Lifeline Client, raw mode',
  'client-proto': 'Lifeline Client, protocol mode',
  'client-proto-receipt': 'Lifeline Client, protocol mode, `delivered()` asked',
}
const targets: Record<string, number> = { send: 25, receive: 35 }
const rows: string[][] = []
for (const operation of operations) {
  progress(`overhead ${operation.name}`)
  const results = measure(operation.variants)
  const nsPerOp = (samples: readonly number[]) => samples.map((opsPerSecond) => 1e9 / opsPerSecond)
  const baseline = nsPerOp(results[0]?.samples ?? [])
  const fmt = (value: number) => value.toFixed(1)
  const bareLabel = operation.name.includes('+')
    ? 'JSON + bare in-memory socket'
    : 'bare in-memory socket'
  rows.push([operation.name, bareLabel, fmt(median(baseline)), '—', '—'])
  for (const result of results.slice(1)) {
    const own = nsPerOp(result.samples)
    const added = own.map((ns, i) => ns - (baseline[i] ?? NaN))
    rows.push([
      operation.name,
      labels[result.name] ?? result.name,
      fmt(median(own)),
      `${fmt(median(added))} (${fmt(Math.min(...added))}–${fmt(Math.max(...added))})`,
      result.name === 'lifeline' ? `≤ +${targets[operation.name] ?? NaN}` : '',
    ])
  }
}
if (
  lifelineSocket.sent === 0 ||
  partySocket.sent === 0 ||
  received !== payload ||
  rawClientSocket.sent === 0 ||
  protoSocket.sent === 0 ||
  receiptSocket.sent === 0 ||
  clientReceived === undefined
) {
  throw new Error('a variant did not reach its socket or its listener')
}
lifeline.close()
party.close()
rawClient.close()
protoClient.close()
// Every receipt resolves before the close, which would reject the unacknowledged ones.
acknowledgeReceipts()
receiptClient.close()
console.log(
  section(
    'Per-message overhead',
    'ns per message that a reconnecting socket adds over calling an in-memory socket directly (no I/O): `send`, and delivery of a received frame to a listener; then the typed Client (encode + send, and receive + decode, of a ~100-byte JSON message; every receive variant also pays one `JSON.stringify` to make the frame) against `JSON.stringify`/`JSON.parse` on the bare socket. One process, warm-up then 7 interleaved rounds, added ns taken within each round.',
    markdownTable(
      ['operation', 'socket', 'ns/msg, median', 'added ns/msg, median (min–max)', 'target'],
      rows,
    ),
  ),
)
process.exit(0)
