// One sample of the receive benchmark, in a fresh process: M clients of one variant, N room
// messages that the fake server (`server.ts`) sends to all of them, W in flight (the next when
// the oldest reached every member, as in the scale-out fan-out). Prints one JSON line with this
// process's CPU µs per delivery from the first message to the last.
//   usage: sample.ts <raw | path of a core dist folder> M N W
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { WebSocket } from 'ws'
import type * as Core from '@lifeline/core'

type CoreModule = typeof Core

const [variant = 'raw', membersText = '500', messagesText = '200', windowText = '4'] =
  process.argv.slice(2)
const members = Number(membersText)
const messages = Number(messagesText)
const window = Number(windowText)

const server = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [], {
  execArgv: ['--import', 'tsx'],
})
const port = await new Promise<number>((resolve) =>
  server.on('message', ({ port }: { port?: number }) => port && resolve(port)),
)
const allJoined = new Promise<void>((resolve) =>
  server.on('message', ({ joined }: { joined?: number }) => joined === members && resolve()),
)
const reached = new Uint32Array(messages)
let sent = 0
let complete = 0
let resolveDone = () => {}
const done = new Promise<void>((resolve) => (resolveDone = resolve))
const sendNext = () => sent < messages && server.send({ n: sent++ })
/** What every variant does with a message: count it, and send the next once all have it. */
const onMessage = ({ n }: { n: number }) => {
  if (++reached[n]! === members) {
    sendNext()
    if (++complete === messages) resolveDone()
  }
}

const closers: Array<() => void> = []
if (variant === 'raw') {
  // The floor: `ws` and `JSON.parse` of every frame, nothing else.
  for (let i = 0; i < members; i++) {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false })
    await new Promise((resolve) => socket.once('open', resolve))
    socket.send('raw')
    socket.on('message', (data: Buffer) => {
      const envelope = JSON.parse(data.toString()) as { t: string; d: { n: number } }
      if (envelope.t === 'msg') onMessage(envelope.d)
    })
    closers.push(() => socket.close())
  }
} else {
  const { createClient } = (await import(`${variant}/index.js`)) as CoreModule
  for (let i = 0; i < members; i++) {
    const client = createClient({
      url: `ws://127.0.0.1:${port}/`,
      heartbeat: false,
      socket: { WebSocket },
    })
    client.on('msg', onMessage as (data: unknown) => void)
    await new Promise<void>((resolve) => {
      const off = client.subscribe(() => {
        if (client.state.status === 'open') {
          off()
          resolve()
        }
      })
    })
    closers.push(() => client.close())
  }
}
await allJoined
const cpuBefore = process.cpuUsage()
for (let i = 0; i < window; i++) sendNext()
await done
const cpu = process.cpuUsage(cpuBefore)
console.log(
  JSON.stringify({ variant, usPerDelivery: (cpu.user + cpu.system) / (members * messages) }),
)
for (const close of closers) close()
server.disconnect()
process.exit(0)
