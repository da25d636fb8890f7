// One sample, in a fresh process: N clients of one library connect to a server in a child
// process; the server is killed, stays down for `downMs`, and is started again on the same port.
// Measured per client: time from the new server's listen to the client's open. Prints one JSON
// line with the median and maximum of those times and the peak number of reopens in any 100 ms
// window as a share of the clients.
//   usage: sample.ts <variant> <clients> <downMs>
import { fileURLToPath } from 'node:url'
import { WebSocket } from 'ws'
import { ReconnectingWebSocket } from '@lifeline/core'
import PartySocket from 'partysocket/ws'
import { PeerReconnectingWebSocket } from '../lib/reconnectingWebSocketPeer.js'
import { io } from 'socket.io-client'
import { median } from '../lib/measure.js'
import { withTimeout } from '../lib/samples.js'
import { startServer, wallClockMs } from '../lib/serverProcess.js'

const [variant = 'lifeline', clientsText = '20', downText = '2000'] = process.argv.slice(2)
const clients = Number(clientsText)
const downMs = Number(downText)
const serverScript = fileURLToPath(new URL('../lib/peerServer.ts', import.meta.url))
const kind = variant.startsWith('socket.io') ? 'socket.io' : 'ws'

interface Reconnecting {
  close(): void
}

/** Hand-written reconnect over raw `ws`: a new socket a fixed time after each close. */
function rawWithRetry(url: string, retryMs: number, onOpen: () => void): Reconnecting {
  let socket: WebSocket
  let closed = false
  let timer: NodeJS.Timeout | undefined
  const connect = () => {
    socket = new WebSocket(url)
    socket.on('open', onOpen)
    socket.on('error', () => undefined)
    socket.on('close', () => {
      if (!closed) timer = setTimeout(connect, retryMs)
    })
  }
  connect()
  return {
    close: () => {
      closed = true
      clearTimeout(timer)
      socket.close()
    },
  }
}

/** Creates one client that calls `onOpen` at every open. */
function create(port: number, onOpen: () => void): Reconnecting {
  const url = `ws://127.0.0.1:${port}/`
  const tuned = variant.endsWith('-tuned')
  switch (variant.replace(/-tuned$/, '')) {
    case 'ws':
      return rawWithRetry(url, 100, onOpen)
    case 'lifeline': {
      const socket = new ReconnectingWebSocket(
        url,
        undefined,
        tuned ? { initialDelayMs: 50, maxDelayMs: 1_000 } : {},
      )
      socket.addEventListener('open', onOpen)
      return socket
    }
    case 'partysocket': {
      const socket = new PartySocket(url, undefined, {
        WebSocket,
        ...(tuned ? { minReconnectionDelay: 50, maxReconnectionDelay: 1_000 } : {}),
      })
      socket.addEventListener('open', onOpen)
      return socket
    }
    case 'reconnecting-websocket': {
      const socket = new PeerReconnectingWebSocket(url, [], {
        WebSocket,
        ...(tuned ? { minReconnectionDelay: 50, maxReconnectionDelay: 1_000 } : {}),
      })
      socket.addEventListener('open', onOpen)
      return socket
    }
    case 'socket.io': {
      const socket = io(`http://127.0.0.1:${port}`, {
        transports: ['websocket'],
        forceNew: true,
        ...(tuned ? { reconnectionDelay: 50, reconnectionDelayMax: 1_000 } : {}),
      })
      socket.on('connect', onOpen)
      return { close: () => socket.close() }
    }
    default:
      throw new Error(`unknown variant ${variant}`)
  }
}

let server = await startServer<{ port: number; listenAt: number }>(serverScript, [kind])
const { port } = server.info
let restarted = false
let opened = 0
let reopened = 0
const reopenedAt: number[] = []
let allOpen: () => void = () => undefined
let allReopened: () => void = () => undefined
const firstOpen = new Promise<void>((resolve) => (allOpen = resolve))
const reopen = new Promise<void>((resolve) => (allReopened = resolve))
const sockets: Reconnecting[] = []
for (let i = 0; i < clients; i++) {
  let reopenSeen = false
  sockets.push(
    create(port, () => {
      if (!restarted) {
        if (++opened === clients) allOpen()
      } else if (!reopenSeen) {
        reopenSeen = true
        reopenedAt.push(wallClockMs())
        if (++reopened === clients) allReopened()
      }
    }),
  )
}
try {
  await withTimeout(firstOpen, 60_000, 'clients to open')
  restarted = true
  await server.stop('SIGKILL')
  await new Promise((resolve) => setTimeout(resolve, downMs))
  server = await startServer(serverScript, [kind, String(port)])
  await withTimeout(reopen, 120_000, `${clients} ${variant} clients to reopen`)
} finally {
  for (const socket of sockets) socket.close()
  await server.stop('SIGKILL')
}

const { listenAt } = server.info
const times = reopenedAt.map((at) => at - listenAt)
const windows = new Map<number, number>()
for (const time of times) {
  const window = Math.floor(time / 100)
  windows.set(window, (windows.get(window) ?? 0) + 1)
}
console.log(
  JSON.stringify({
    variant,
    clients,
    medianMs: median(times),
    maxMs: Math.max(...times),
    peakShare: Math.max(...windows.values()) / clients,
  }),
)
process.exit(0)
