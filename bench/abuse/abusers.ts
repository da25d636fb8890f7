// The hostile side of the abuse benchmark, in its own process: raw `ws` clients on the
// `lifeline.v1.json` subprotocol that never read (their sockets are paused right after
// `$welcome`). `requests` mode: each keeps writing `$req` frames for `big` (64 KiB answers)
// while its own socket buffer holds under 64 KiB, and on a close reconnects and resumes its
// session (or starts a new one) to go on. `ping` mode: each writes `$ping` frames with a
// 512 KiB payload (the server echoes the `d` of a `$ping` in `$pong`, or refuses it).
// Prints `{ port }` once every client has been welcomed, and the frames written (and the share of
// a core it took meanwhile) when the parent lets it go.
//   usage: abusers.ts <requests|ping> <port> <clients>
import { setPriority } from 'node:os'
import { WebSocket } from 'ws'
import { announce, exitWithParent, wallClockMs } from '../lib/serverProcess.js'
import { withTimeout } from '../lib/samples.js'

const [mode = 'requests', portText = '0', clientsText = '100'] = process.argv.slice(2)
// `ABUSE_ABUSERS_PRIORITY=19`: the abusers take only the CPU the server and the good clients leave
// (as on machines of their own), to tell the machine's share of a p99 from the server's.
if (process.env.ABUSE_ABUSERS_PRIORITY !== undefined) {
  setPriority(Number(process.env.ABUSE_ABUSERS_PRIORITY))
}
const url = `ws://127.0.0.1:${portText}/`
const ownBufferBytes = 64 * 1024
const pad = 'p'.repeat(512 * 1024)
let written = 0
let connections = 0

interface Abuser {
  socket: WebSocket | undefined
  sid: string | undefined
  nextSeq: number
}

function connect(abuser: Abuser): Promise<void> {
  return new Promise((resolve) => {
    connections++
    const socket = new WebSocket(url, ['lifeline.v1.json'])
    socket.on('error', () => undefined)
    socket.once('message', (data) => {
      const welcome = JSON.parse(String(data)) as {
        d: { sid: string; resumed: boolean; a: number }
      }
      // Resumed: go on after what the server processed; new session: from 1.
      abuser.nextSeq = welcome.d.resumed ? welcome.d.a + 1 : 1
      abuser.sid = welcome.d.sid
      abuser.socket = socket
      socket.pause()
      resolve()
    })
    socket.once('open', () => {
      const hello = abuser.sid === undefined ? { v: 1 } : { v: 1, sid: abuser.sid, a: 0 }
      socket.send(JSON.stringify({ t: '$hello', d: hello }))
    })
    socket.once('close', () => {
      abuser.socket = undefined
      if (!stopped) setTimeout(() => void connect(abuser), 100)
      resolve()
    })
  })
}

function flood(abuser: Abuser): void {
  const socket = abuser.socket
  if (socket === undefined || socket.readyState !== WebSocket.OPEN) return
  for (let k = 0; k < 200 && socket.bufferedAmount < ownBufferBytes; k++) {
    const s = abuser.nextSeq++
    socket.send(
      mode === 'ping'
        ? `{"t":"$ping","d":{"ts":${s},"pad":"${pad}"}}`
        : `{"t":"$req","s":${s},"d":{"id":${s},"m":"big"}}`,
    )
    written++
  }
}

let stopped = false
const abusers: Abuser[] = Array.from({ length: Number(clientsText) }, () => ({
  socket: undefined,
  sid: undefined,
  nextSeq: 1,
}))
await withTimeout(Promise.all(abusers.map(connect)), 30_000, 'abusers to be welcomed')
announce({ port: Number(portText) })
const cpuAtStart = process.cpuUsage()
const startedAt = wallClockMs()
const timer = setInterval(() => abusers.forEach(flood), 5)
// A bound of its own, should the parent not end it.
setTimeout(() => process.exit(1), 300_000).unref()
exitWithParent(() => {
  stopped = true
  clearInterval(timer)
  const { user, system } = process.cpuUsage(cpuAtStart)
  // The share of a core this process took while it flooded.
  return { written, connections, cores: (user + system) / 1000 / (wallClockMs() - startedAt) }
})
