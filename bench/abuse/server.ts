// The server side of the abuse benchmark, in its own process: `@lifeline/server` with the bounds
// the parent passes, a method `big` that answers 64 KiB (a fresh string each time, as real data
// would be: nothing shared between replay buffers), `echo` for the well-behaved clients, and a
// 16 KiB reliable broadcast every 100 ms, which a client that does not read cannot stop (the
// slow-consumer limit is what bounds it). Samples its own memory and `stats.unsentBytes` every
// 25 ms; prints `{ port }` once listening and, when the parent lets it go, the samples and the
// counters as its last line.
//   usage: server.ts <outboundHighWaterBytes> <maxOutboundBytes> <replayLimitBytes>
import { readFileSync, writeFileSync } from 'node:fs'
import { createHook } from 'node:async_hooks'
import { Session as InspectorSession } from 'node:inspector'
import { writeHeapSnapshot } from 'node:v8'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { createServer } from '@lifeline/server'
import type { RpcMethod } from '@lifeline/core'
import { announce, exitWithParent, runQueueMs, wallClockMs } from '../lib/serverProcess.js'

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
setInterval(() => {
  const started = performance.now()
  const cpu = process.cpuUsage()
  server.broadcast('news', `${news}${String(++ticks).padStart(16, '0')}`)
  // With a trace (below), each broadcast of 1 ms or more, told apart from the other timers.
  const ms = performance.now() - started
  if (traceFile !== undefined && ms >= 1) {
    const { user, system } = process.cpuUsage(cpu)
    trace.push([performance.timeOrigin + started, ms, (user + system) / 1000, 'broadcast'])
  }
}, 100)

/**
 * `[wall-clock ms, heapUsed, arrayBuffers, rss, stats.unsentBytes, CPU µs, longest event-loop
 * delay since the last sample in ns, garbage-collection ms in all, longest collection since the
 * last sample in ms, connections, slow consumers closed, sessions created, ms the main thread
 * waited for a CPU in all]` every 25 ms.
 */
const samples: number[][] = []
const loopDelay = monitorEventLoopDelay({ resolution: 1 })
loopDelay.enable()
// `ABUSE_TRACE=prefix`: every callback the event loop ran for 1 ms or more (its start on the wall
// clock, its length, the CPU time the process took meanwhile, the kind of resource: `TCPWRAP` a socket's read, `Timeout`, `Immediate`,
// `PROMISE`…), written to `prefix.<pid>.json` at the end, to find what runs in the server's long turns.
const traceFile = process.env.ABUSE_TRACE
// `ABUSE_TRACE_MS`: the shortest callback traced (default 1 ms).
const traceMs = Number(process.env.ABUSE_TRACE_MS ?? 1)
const trace: Array<[number, number, number, string]> = []
let gcMs = 0
let gcLongestMs = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration
    gcLongestMs = Math.max(gcLongestMs, entry.duration)
    // With a trace, every collection of 1 ms or more, by kind (`gc:1` minor, `gc:2` major…).
    if (entry.duration >= 1 && traceFile !== undefined) {
      const kind = (entry.detail as { kind?: number } | null)?.kind
      trace.push([performance.timeOrigin + entry.startTime, entry.duration, -1, `gc:${kind}`])
    }
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
    server.stats.connections,
    server.stats.slowConsumers,
    server.stats.sessionsCreated,
    runQueueMs(),
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

if (traceFile !== undefined) {
  const cpuMs = () => {
    const { user, system } = process.cpuUsage()
    return (user + system) / 1000
  }
  // The main thread's own CPU time (Linux schedstat; NaN elsewhere): an iteration's, without the
  // time it waited for a CPU or the collector's helper threads took.
  const threadCpuMs = () => {
    try {
      return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6
    } catch {
      return NaN
    }
  }
  const kinds = new Map<number, string>()
  let depth = 0
  let started = 0
  let startedCpu = 0
  let kind = ''
  // An event-loop iteration: the callbacks between one wait for I/O (a gap of over 0.2 ms) or one
  // return to the timers (a timer or a socket's callback after a `setImmediate`'s, or a timer's
  // after a socket's) and the next, which a frame arriving meanwhile waits behind, however short
  // each callback. Those of 2 ms or more are traced as `iteration:<callbacks>` with, per kind,
  // the number and the milliseconds of its callbacks.
  const phaseOf = (name: string) =>
    name === 'Timeout' || name === '?' ? 0 : name === 'Immediate' ? 2 : 1
  let phase = 0
  let busyStart = 0
  let busyEnd = -1
  let busyCpu = 0
  let busyCount = 0
  let busyKinds = new Map<string, [number, number]>()
  const endBusy = () => {
    const ms = busyEnd - busyStart
    if (ms >= 2) {
      const detail = [...busyKinds].map(
        ([name, [n, kindMs]]) => `${name}=${n}/${kindMs.toFixed(1)}`,
      )
      trace.push([
        performance.timeOrigin + busyStart,
        ms,
        threadCpuMs() - busyCpu,
        `iteration:${busyCount} ${detail.join(' ')}`,
      ])
    }
    busyKinds = new Map()
    busyCount = 0
  }
  createHook({
    init(id, type) {
      kinds.set(id, type)
    },
    destroy(id) {
      kinds.delete(id)
    },
    before(id) {
      if (depth++ > 0) return
      started = performance.now()
      kind = kinds.get(id) ?? '?'
      // Microtasks and `nextTick`s run after each callback, in its phase.
      const next = kind === 'PROMISE' || kind === 'TickObject' ? phase : phaseOf(kind)
      const newIteration = started - busyEnd > 0.2 || next < phase
      phase = next
      if (newIteration) {
        endBusy()
        busyStart = started
        busyCpu = threadCpuMs()
      }
      startedCpu = cpuMs()
    },
    after() {
      if (--depth > 0) return
      const now = performance.now()
      const ms = now - started
      busyEnd = now
      busyCount++
      const counted = busyKinds.get(kind)
      if (counted === undefined) busyKinds.set(kind, [1, ms])
      else {
        counted[0]++
        counted[1] += ms
      }
      if (ms >= traceMs)
        trace.push([performance.timeOrigin + started, ms, cpuMs() - startedCpu, kind])
    },
  }).enable()
}

// `ABUSE_SNAPSHOT=prefix`: a heap snapshot (`prefix.<pid>.heapsnapshot`) 1 s after the 50th
// connection (1 s into the abuse), to see what the minor collections copy: what lives then.
const snapshot = process.env.ABUSE_SNAPSHOT
if (snapshot !== undefined) {
  const poll = setInterval(() => {
    if (server.stats.connections < 50) return
    clearInterval(poll)
    setTimeout(() => writeHeapSnapshot(`${snapshot}.${process.pid}.heapsnapshot`), 1_000)
  }, 10)
  poll.unref()
}

await server.ready
announce({ port: server.port })
exitWithParent(() => {
  // The in-thread inspector session answers synchronously.
  inspector?.post('Profiler.stop', (error, result) => {
    if (error === null && profile !== undefined)
      writeFileSync(`${profile}.${process.pid}.cpuprofile`, JSON.stringify(result.profile))
  })
  if (traceFile !== undefined)
    writeFileSync(`${traceFile}.${process.pid}.json`, JSON.stringify(trace))
  const { readsPaused, slowConsumers, protocolErrors, sessionsCreated, sessions } = server.stats
  return {
    samples,
    answers,
    stats: { readsPaused, slowConsumers, protocolErrors, sessionsCreated, sessions },
  }
})
