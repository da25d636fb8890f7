// One sample, in a fresh process: N JSON messages (~100 bytes, or of the size given) between one
// client variant and a server in its own child process on 127.0.0.1: one way (timed until the
// server reports it has handled the last), echoed (timed until the client has received the last
// reply), or pushed by the server (`push`: timed from the client's first message until it has
// received the last). Prints one JSON line: elapsed ms, the client process's CPU µs per message
// over the same span, and the server process's CPU µs per message over its whole life
// (connection and handshake included); for protocol mode, the client's connections and the
// `$ack` frames it sent.
//   usage: sample.ts <variant> <oneway|echo|push> <count> [bytes]
// Messages of more than 100 bytes (raw ws and the typed client only) are sent a slice of about
// 512 KiB per event-loop turn, while what was sent and not yet taken is under 4 MiB (the
// client's outbox holds 8 MiB at most).
import { openClient, serverKindOf, type ClientVariant } from '../lib/clients.js'
import { benchMessage, sliceOf, type ServerMode } from '../lib/schema.js'
import { spawnBenchServer } from '../lib/serverProcess.js'

const [variantText = 'raw-ws', modeText = 'oneway', countText = '50000', bytesText = '100'] =
  process.argv.slice(2)
const variant = variantText as ClientVariant
const mode: ServerMode = modeText === 'echo' || modeText === 'push' ? modeText : 'sink'
const count = Number(countText)
const bytes = Number(bytesText)
const timeoutMs = 60_000
const maxBacklogBytes = 4 * 1024 * 1024

const server = await spawnBenchServer(serverKindOf(variant), mode, count, bytes)
let received = 0
let resolveDone: (at: number) => void = () => undefined
const done = new Promise<number>((resolve) => (resolveDone = resolve))
const client = await openClient(
  variant,
  server.port,
  (type) => {
    if (mode === 'sink' ? type === 'done' : type === 'm' && ++received === count)
      resolveDone(performance.now())
  },
  count,
  // Its acknowledgements are what a stream pushed to it is about; elsewhere, no check per frame.
  mode === 'push',
)

const timer = setTimeout(() => {
  process.stderr.write(`${variant} ${modeText}: no end within ${timeoutMs} ms\n`)
  process.exit(1)
}, timeoutMs)
const cpuBefore = process.cpuUsage()
const started = performance.now()
const slice = mode === 'push' ? 1 : sliceOf(bytes)
const total = mode === 'push' ? 1 : count
// Sent in slices, as an application producing messages would, letting replies and I/O through.
for (let n = 0; n < total;) {
  if (bytes > 100) {
    while ((client.backlogBytes?.(bytes) ?? 0) > maxBacklogBytes) {
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  for (let i = 0; i < slice && n < total; i++) client.send(benchMessage(++n, bytes, started))
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
    bytes,
    ms: finished - started,
    cpuUsPerMessage: (cpu.user + cpu.system) / count,
    serverCpuUsPerMessage: serverCpuUs / count,
    ...client.protocolStats?.(),
  }),
)
process.exit(0)
