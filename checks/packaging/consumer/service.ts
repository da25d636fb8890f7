// A Node service compiled as CommonJS, as many are: the packaging checks compile it against the
// packed packages under node10, node16 and bundler resolution, without the DOM's lib and with
// `skipLibCheck` off. Every entry point is imported, and each `@ts-expect-error` below is a
// misuse that must stay an error: were a declaration to resolve to nothing (as
// `@lifeline/core/protocol` did under node10), the misuse would compile and the unused directive
// would fail the check.
import { json } from '@lifeline/codec'
import { msgpack } from '@lifeline/codec/msgpack'
import { createClient, ReconnectingWebSocket } from '@lifeline/core'
import type { RpcMethod } from '@lifeline/core'
import { isControlType } from '@lifeline/core/protocol'
import { FakeWebSocket, ManualClock } from '@lifeline/core/testing'
import { createClient as createNodeClient } from '@lifeline/node'
import { createServer } from '@lifeline/server'

interface Chat {
  client: { say: { text: string } }
  server: { said: { text: string } }
  rpc: { history: RpcMethod<{ limit: number }, string[]> }
}

const server = createServer<Chat>({ port: 0, codecs: [msgpack(), json()] })
server.on('connection', (peer) => {
  peer.on('say', ({ text }) => peer.send('said', { text }))
  // @ts-expect-error a payload of the wrong type
  peer.send('said', { text: 1 })
  // @ts-expect-error a message type the schema does not have
  peer.on('nosuch', () => undefined)
})
server.handle('history', ({ limit }) => [String(limit)])
// @ts-expect-error a method the schema does not have
server.handle('nosuch', () => [])

const client = createClient<Chat>({
  url: 'ws://127.0.0.1:1',
  socket: { WebSocket: FakeWebSocket, clock: new ManualClock() },
})
// @ts-expect-error a payload of the wrong type
client.send('say', { text: 1 })
const service = createNodeClient<Chat>({
  url: 'ws://127.0.0.1:1',
  socket: { headers: async () => ({ Authorization: 'Bearer t' }) },
})
service.send('say', { text: 'hi' })
// @ts-expect-error headers are strings
createNodeClient({ url: 'ws://127.0.0.1:1', socket: { headers: { 'X-Count': 1 } } })
// @ts-expect-error compression options of `ws`: a threshold is a number of bytes
createNodeClient({ url: 'ws://127.0.0.1:1', socket: { perMessageDeflate: { threshold: 'big' } } })
const socket = new ReconnectingWebSocket('ws://127.0.0.1:1', undefined, { startClosed: true })
// @ts-expect-error a binary type is 'blob' or 'arraybuffer'
socket.binaryType = 'buffer'
// @ts-expect-error msgpack takes options, not a number
msgpack(1)
// @ts-expect-error isControlType takes a message type
isControlType(1)
export const names: string[] = [json().name, msgpack().name]
