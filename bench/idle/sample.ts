// One sample, in a fresh process (run with --expose-gc): opens N idle clients of one library to a
// server in another process, at most `window` handshakes in flight, then measures heap (after GC)
// and RSS per client against the same process before the first client, and the opening rate.
// Prints one JSON line.
//   usage: sample.ts <variant> <port> <count>
import { WebSocket } from 'ws'
import { ReconnectingWebSocket } from '@lifeline/core'
import type { ReconnectingWebSocketOptions } from '@lifeline/core'
import PartySocket from 'partysocket/ws'
import { PeerReconnectingWebSocket } from '../lib/reconnectingWebSocketPeer.js'
import { io } from 'socket.io-client'
import { withTimeout } from '../lib/samples.js'

const [variant = 'ws', portText = '0', countText = '5000'] = process.argv.slice(2)
const count = Number(countText)
const url = `ws://127.0.0.1:${portText}/`
const window = 100
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

// One options object for all clients, as an application configuring them in one place would.
const withHeartbeat: ReconnectingWebSocketOptions = {
  heartbeat: { ping: 'ping', isPong: (data) => data === 'pong' },
}
const withoutHeartbeat: ReconnectingWebSocketOptions = { heartbeat: false }

interface Idle {
  close(): void
}

/** Opens one client and calls `onOpen` once it is open. */
function open(onOpen: () => void): Idle {
  switch (variant) {
    case 'ws': {
      const socket = new WebSocket(url)
      socket.once('open', onOpen)
      return socket
    }
    case 'lifeline':
    case 'lifeline-no-heartbeat': {
      const socket = new ReconnectingWebSocket(
        url,
        undefined,
        variant === 'lifeline' ? withHeartbeat : withoutHeartbeat,
      )
      socket.addEventListener('open', onOpen, { once: true })
      return socket
    }
    case 'partysocket': {
      const socket = new PartySocket(url, undefined, { WebSocket })
      socket.addEventListener('open', onOpen, { once: true })
      return socket
    }
    case 'reconnecting-websocket': {
      const socket = new PeerReconnectingWebSocket(url, [], { WebSocket })
      let seen = false
      socket.addEventListener('open', () => {
        if (!seen) onOpen()
        seen = true
      })
      return socket
    }
    case 'socket.io': {
      const socket = io(`http://127.0.0.1:${portText}`, {
        transports: ['websocket'],
        forceNew: true,
      })
      socket.once('connect', onOpen)
      return { close: () => socket.close() }
    }
    default:
      throw new Error(`unknown variant ${variant}`)
  }
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
async function collect(): Promise<{ heap: number; rss: number }> {
  for (let i = 0; i < 3; i++) {
    gc?.()
    await settle(20)
  }
  const { heapUsed, rss } = process.memoryUsage()
  return { heap: heapUsed, rss }
}

const before = await collect()
const clients: Idle[] = []
const started = performance.now()
await withTimeout(
  new Promise<void>((resolve) => {
    let opened = 0
    const next = () => {
      if (clients.length < count) clients.push(open(onOpen))
    }
    const onOpen = () => {
      if (++opened === count) resolve()
      else next()
    }
    for (let i = 0; i < window; i++) next()
  }),
  120_000,
  `${count} ${variant} clients to open`,
)
const openMs = performance.now() - started
// Let handshakes' leftovers (buffers, promises, first heartbeat timers) settle before measuring.
await settle(500)
const after = await collect()
for (const client of clients) client.close()
console.log(
  JSON.stringify({
    variant,
    count,
    heapPerClient: (after.heap - before.heap) / count,
    rssPerClient: (after.rss - before.rss) / count,
    opensPerSecond: (count / openMs) * 1000,
  }),
)
process.exit(0)
