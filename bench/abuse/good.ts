// The well-behaved side of the abuse benchmark, in its own process: `createClient` instances
// (protocol mode, JSON, over `ws`) that each call `echo` in a loop with 10 ms between calls and
// read everything the server sends. Prints `{ port }` once all are open and, when the parent
// lets it go, every round trip as `[wall-clock ms at the start, ms]`, the failed calls and its
// CPU time (and its time waiting for a CPU) sampled every 250 ms.
//   usage: good.ts <port> <clients>
import { createClient, type RpcMethod } from '@lifeline/core'
import { WebSocket } from 'ws'
import { announce, exitWithParent, runQueueMs, wallClockMs } from '../lib/serverProcess.js'
import { withTimeout } from '../lib/samples.js'

interface Api {
  server: { news: string }
  rpc: { echo: RpcMethod<number, number> }
}

const [portText = '0', clientsText = '10'] = process.argv.slice(2)
const clients = Array.from({ length: Number(clientsText) }, () =>
  createClient<Api>({
    url: `ws://127.0.0.1:${portText}/`,
    socket: { WebSocket },
    requestTimeoutMs: 10_000,
  }),
)
for (const client of clients) client.on('news', () => undefined)
await withTimeout(
  Promise.all(clients.map((client) => client.request('echo', 0))),
  30_000,
  'good clients to open',
)
const trips: number[][] = []
const failures: string[] = []
let stopped = false
const pause = () => new Promise((resolve) => setTimeout(resolve, 10))
const loops = clients.map(async (client) => {
  for (let n = 1; !stopped; n++) {
    const started = wallClockMs()
    try {
      await client.request('echo', n)
      trips.push([started, wallClockMs() - started])
    } catch (error) {
      failures.push((error as { code?: string }).code ?? String(error))
    }
    await pause()
  }
})
// `[wall-clock ms, CPU µs, ms the main thread waited for a CPU]` of this process every 250 ms:
// the share of a core it took per phase, and the time the machine kept it waiting (Linux
// schedstat; NaN elsewhere).
const cpu: number[][] = []
const cpuTimer = setInterval(() => {
  const { user, system } = process.cpuUsage()
  cpu.push([wallClockMs(), user + system, runQueueMs()])
}, 250)
announce({ port: Number(portText) })
setTimeout(() => process.exit(1), 300_000).unref()
exitWithParent(() => {
  stopped = true
  void loops
  for (const client of clients) client.close()
  clearInterval(cpuTimer)
  return { trips, failures, cpu }
})
