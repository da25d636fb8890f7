// The fake room server of the receive benchmark: plain `ws` in a child process, speaking just
// enough of the protocol (`$hello` → `$welcome`; a raw client says anything first), and sending
// one pre-encoded room envelope to every connection each time its parent asks (IPC).
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'

const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
const members: WebSocket[] = []
const send = (message: object) => process.send?.(message)
server.on('connection', (socket) => {
  socket.once('message', (data: Buffer) => {
    if (data.toString().startsWith('{"t":"$hello"')) {
      const welcome = { sid: `s${members.length}`, resumed: false, a: 0 }
      socket.send(JSON.stringify({ t: '$welcome', d: welcome }))
    }
    members.push(socket)
    send({ joined: members.length })
  })
})
const pad = 'x'.repeat(48)
const base = Date.now()
process.on('message', ({ n }: { n: number }) => {
  const body = { room: 'fan', from: 0, n, at: Date.now(), pad }
  const frame = JSON.stringify({ t: 'msg', d: body, r: ['fan', `${base}-${n}`] })
  for (const socket of members) socket.send(frame)
})
server.on('listening', () => send({ port: (server.address() as { port: number }).port }))
process.on('disconnect', () => process.exit(0))
