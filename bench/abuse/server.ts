// The server side of the abuse benchmark, in its own process: `@lifeline/server` with the bounds
// the parent passes, a method `big` that answers 64 KiB (a fresh string each time, as real data
// would be: nothing shared between replay buffers), `echo` for the well-behaved clients, and a
// 16 KiB reliable broadcast every 100 ms, which a client that does not read cannot stop (the
// slow-consumer limit is what bounds it). Samples its own memory and `stats.unsentBytes` every
// 25 ms; prints `{ port }` once listening and, when the parent lets it go, the samples and the
// counters as its last line.
//   usage: server.ts <outboundHighWaterBytes> <maxOutboundBytes> <replayLimitBytes>
import { writeFileSync } from 'node:fs'
import { Session as InspectorSession } from 'node:inspector'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { createServer } from '@lifeline/server'
import type { RpcMethod } from '@lifeline/core'
import { announce, exitWithParent, wallClockMs } from '../lib/serverProcess.js'

interface Api {
  server: { news: string }
  rpc: { big: RpcMethod<unknown, string>; echo: RpcMethod<number, number> }
}

const [highWaterText = '262144', maxOutboundText = '1048576', replayText = '2097152'] =
  process.argv.slice(2)
const server = createServer<Api>({
  port: 0,
  outboundHighWaterBytes: Number(highWaterText),
  maxOutboundBytes: Number(maxOutboundText),
  replayLimitBytes: Number(replayText),
})
const filler = 'x'.repeat(64 * 1024 - 16)
let answers = 0
server.handle('big', () => `${filler}${String(++answers).padStart(16, '0')}`)
server.handle('echo', (n) => n)
const news = 'n'.repeat(16 * 1024 - 16)
let ticks = 0
setInterval(() => server.broadcast('news', `${news}${String(++ticks).padStart(16, '0')}`), 100)

/**
 * `[wall-clock ms, heapUsed, arrayBuffers, rss, stats.unsentBytes, CPU µs, longest event-loop
 * delay since the last sample in ns, garbage-collection ms in all, longest collection since the
 * last sample in ms]` every 25 ms.
 */
const samples: number[][] = []
const loopDelay = monitorEventLoopDelay({ resolution: 1 })
loopDelay.enable()
let gcMs = 0
let gcLongestMs = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration
    gcLongestMs = Math.max(gcLongestMs, entry.duration)
  }
}).observe({ entryTypes: ['gc'] })
setInterval(() => {
  const memory = process.memoryUsage()
  samples.push([
    wallClockMs(),
    memory.heapUsed,
    memory.arrayBuffers,
    memory.rss,
    server.stats.unsentBytes,
    process.cpuUsage().user + process.cpuUsage().system,
    loopDelay.max,
    gcMs,
    gcLongestMs,
  ])
  loopDelay.reset()
  gcLongestMs = 0
}, 25)

// `ABUSE_PROFILE=prefix`: a CPU profile (`prefix.<pid>.cpuprofile`) of the server for the whole run (open it in DevTools).
const profile = process.env.ABUSE_PROFILE
const inspector = profile === undefined ? undefined : new InspectorSession()
if (inspector !== undefined) {
  inspector.connect()
  inspector.post('Profiler.enable')
  inspector.post('Profiler.start')
}

await server.ready
announce({ port: server.port })
exitWithParent(() => {
  // The in-thread inspector session answers synchronously.
  inspector?.post('Profiler.stop', (error, result) => {
    if (error === null && profile !== undefined)
      writeFileSync(`${profile}.${process.pid}.cpuprofile`, JSON.stringify(result.profile))
  })
  const { readsPaused, slowConsumers, protocolErrors, sessionsCreated, sessions } = server.stats
  return {
    samples,
    answers,
    stats: { readsPaused, slowConsumers, protocolErrors, sessionsCreated, sessions },
  }
})
