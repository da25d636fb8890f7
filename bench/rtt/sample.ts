// One sample, in a fresh process, against an echo server in a child process on 127.0.0.1:
// the time from constructing the client to being able to send (first connect of the process,
// then the median of further connects), then a warm-up and N sequential round trips of a
// ~100-byte JSON message (send, wait for the echo, send the next). Variant `rpc` is the
// protocol-mode client's `request('echo', …)`. Prints one JSON line: connect times in ms,
// round-trip p50/p99 in µs and client CPU µs per round trip.
import { openClient, serverKindOf, type BenchClient, type ClientVariant } from '../lib/clients.js'
import { median, percentile } from '../lib/measure.js'
import { benchText, type BenchMessage } from '../lib/schema.js'
import { spawnBenchServer } from '../lib/serverProcess.js'

const [variantText = 'raw-ws', countText = '10000'] = process.argv.slice(2)
const rpc = variantText === 'rpc'
const variant: ClientVariant = rpc ? 'client-proto' : (variantText as ClientVariant)
const count = Number(countText)
const warmUp = 500
const reconnects = 10
const timeoutMs = 120_000

const timer = setTimeout(() => {
  process.stderr.write(`${variantText}: no end within ${timeoutMs} ms\n`)
  process.exit(1)
}, timeoutMs)
const server = await spawnBenchServer(serverKindOf(variant), 'echo')

let onReply: () => void = () => undefined
const connect = async (): Promise<{ client: BenchClient; ms: number }> => {
  const started = performance.now()
  const client = await openClient(variant, server.port, (type) => {
    if (type === 'm') onReply()
  })
  return { client, ms: performance.now() - started }
}

const first = await connect()
const laterConnects: number[] = []
for (let i = 0; i < reconnects; i++) {
  const next = await connect()
  laterConnects.push(next.ms)
  next.client.close()
}
const { client } = first
const message = (n: number): BenchMessage => ({ n, text: benchText, at: 1732500000000 })
const roundTrip = (n: number): Promise<unknown> => {
  if (rpc && client.request !== undefined) return client.request(message(n))
  return new Promise<void>((resolve) => {
    onReply = resolve
    client.send(message(n))
  })
}

for (let n = 0; n < warmUp; n++) await roundTrip(n)
const times = new Float64Array(count)
const cpuBefore = process.cpuUsage()
for (let n = 0; n < count; n++) {
  const started = performance.now()
  await roundTrip(n)
  times[n] = performance.now() - started
}
const cpu = process.cpuUsage(cpuBefore)
clearTimeout(timer)
client.close()
await server.stop()
console.log(
  JSON.stringify({
    variant: variantText,
    count,
    firstConnectMs: first.ms,
    connectMs: median(laterConnects),
    p50Us: percentile(times, 0.5) * 1000,
    p99Us: percentile(times, 0.99) * 1000,
    cpuUsPerRoundTrip: (cpu.user + cpu.system) / count,
  }),
)
process.exit(0)
