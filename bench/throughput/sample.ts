// One sample, in a fresh process: N ~100-byte JSON messages from one client variant to a server
// in its own child process on 127.0.0.1, either one way (timed until the server reports it has
// handled the last) or echoed (timed until the client has received the last reply). Prints one
// JSON line: elapsed ms, the client process's CPU µs per message over the same span, and the
// server process's CPU µs per message over its whole life (connection and handshake included).
import { openClient, serverKindOf, type ClientVariant } from '../lib/clients.js'
import { benchText, type ServerMode } from '../lib/schema.js'
import { spawnBenchServer } from '../lib/serverProcess.js'

const [variantText = 'raw-ws', modeText = 'oneway', countText = '50000'] = process.argv.slice(2)
const variant = variantText as ClientVariant
const mode: ServerMode = modeText === 'echo' ? 'echo' : 'sink'
const count = Number(countText)
const timeoutMs = 60_000

const server = await spawnBenchServer(serverKindOf(variant), mode, count)
let received = 0
let resolveDone: (at: number) => void = () => undefined
const done = new Promise<number>((resolve) => (resolveDone = resolve))
const client = await openClient(
  variant,
  server.port,
  (type) => {
    if (mode === 'echo' ? type === 'm' && ++received === count : type === 'done')
      resolveDone(performance.now())
  },
  count,
)

const timer = setTimeout(() => {
  process.stderr.write(`${variant} ${modeText}: no end within ${timeoutMs} ms\n`)
  process.exit(1)
}, timeoutMs)
const cpuBefore = process.cpuUsage()
const started = performance.now()
// Sent in slices, as an application producing messages would, letting replies and I/O through.
for (let n = 0; n < count;) {
  for (let i = 0; i < 500 && n < count; i++) client.send({ n: ++n, text: benchText, at: started })
  await new Promise((resolve) => setImmediate(resolve))
}
const finished = await done
const cpu = process.cpuUsage(cpuBefore)
clearTimeout(timer)
client.close()
const serverCpuUs = await server.stop()
console.log(
  JSON.stringify({
    variant,
    mode: modeText,
    count,
    ms: finished - started,
    cpuUsPerMessage: (cpu.user + cpu.system) / count,
    serverCpuUsPerMessage: serverCpuUs / count,
  }),
)
process.exit(0)
