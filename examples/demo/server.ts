import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'

/**
 * A plain ws server that can be stopped (clients get 1012, "service restart") and started again
 * on the same port, recording every text message it receives.
 */
export async function embeddedServer() {
  const received: string[] = []
  const wss = new WebSocketServer({ noServer: true })
  wss.on('connection', (socket) => socket.on('message', (data) => received.push(String(data))))
  let http = createServer()
  let port = 0

  const start = async () => {
    http = createServer()
    http.on('upgrade', (request, socket, head) =>
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request)),
    )
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve))
    port = (http.address() as AddressInfo).port
  }

  const stop = async () => {
    const closing = [...wss.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.once('close', () => resolve())
          client.close(1012, 'restarting')
        }),
    )
    await Promise.all(closing)
    await new Promise<void>((resolve) => http.close(() => resolve()))
  }

  await start()
  return {
    get url() {
      return `ws://127.0.0.1:${port}/`
    },
    received,
    start,
    stop,
  }
}
