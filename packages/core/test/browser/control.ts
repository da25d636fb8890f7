import { inject } from 'vitest'
import type {
  BrowserTestServers,
  ControlOp,
  ControlReply,
  ControlRequest,
  ControlResults,
} from './servers.js'

/** Every control request gets this long to be answered; each action is bounded well below. */
const requestTimeoutMs = 5_000

export const servers: BrowserTestServers = inject('lifelineServers')

/** `ws://127.0.0.1:<port><path>`. */
export function wsUrl(port: number, path = '/'): string {
  return `ws://127.0.0.1:${port}${path}`
}

/** A path no other test uses, so a server's records can be told apart per test. */
export function uniquePath(name: string): string {
  return `/${name}/${crypto.randomUUID()}`
}

export interface Control {
  request<Op extends ControlOp>(
    request: Extract<ControlRequest, { op: Op }>,
  ): Promise<ControlResults[Op]>
  close(): void
}

/** Opens the control link to the Node side (see `globalSetup.ts`). */
export async function openControl(): Promise<Control> {
  const socket = new WebSocket(wsUrl(servers.controlPort))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('control link did not open')), 5_000)
    socket.onopen = () => {
      clearTimeout(timer)
      resolve()
    }
    socket.onerror = () => {
      clearTimeout(timer)
      reject(new Error('control link failed to open'))
    }
  })
  let nextId = 1
  const pending = new Map<number, (reply: ControlReply) => void>()
  socket.onmessage = (event: MessageEvent<string>) => {
    const reply = JSON.parse(event.data) as ControlReply
    pending.get(reply.id)?.(reply)
  }
  return {
    request(request) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`control '${request.op}' got no reply within ${requestTimeoutMs} ms`))
        }, requestTimeoutMs)
        pending.set(id, (reply) => {
          clearTimeout(timer)
          pending.delete(id)
          if (reply.ok) resolve(reply.result as ControlResults[typeof request.op])
          else reject(new Error(`control '${request.op}' failed: ${reply.error}`))
        })
        socket.send(JSON.stringify({ ...request, id }))
      })
    },
    close() {
      socket.close()
    },
  }
}
