// The server under abuse: 100 raw clients that never read while making the server write (they
// flood requests with 64 KiB answers, and the server broadcasts to everyone), beside 10
// well-behaved `createClient`s calling `echo`. Server, abusers and good clients each run in a
// process of their own. Per round: the good clients alone (quiet), then with the abusers;
// reported: the server's memory peak (heap + array buffers) against the bound its options set,
// the good clients' p50/p99 round trip quiet and under abuse, and the server's counters. Then
// one client sending 512 KiB `$ping`s without reading, for the heap growth it causes.
// Bounded: every phase has a fixed length and every wait a timeout; loopback only.
import { writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { percentile } from '../lib/measure.js'
import { markdownTable, progress, roundsFrom, section, spread } from '../lib/samples.js'
import { startServer, wallClockMs, type ServerProcess } from '../lib/serverProcess.js'

const MiB = 1024 * 1024
const bounds = {
  outboundHighWaterBytes: 256 * 1024,
  maxOutboundBytes: 1 * MiB,
  replayLimitBytes: 2 * MiB,
}
const abuserCount = 100
const goodCount = 10
const quietMs = Number(process.env.ABUSE_QUIET_MS ?? 8_000)
const abuseMs = Number(process.env.ABUSE_MS ?? 10_000)
const pingMs = Number(process.env.ABUSE_PING_MS ?? 5_000)
const rounds = roundsFrom('ABUSE_ROUNDS', 3)
const pingOnly = process.env.ABUSE_PING_ONLY === '1'
// `ABUSE_SERVER_FLAGS='--trace-gc-nvp …'`: node flags for the server of each round; the lines it
// prints that are not JSON (V8's traces) go to `ABUSE_SERVER_LOG` (default `abuse-server.log`).
const serverFlags = (process.env.ABUSE_SERVER_FLAGS ?? '').split(' ').filter((flag) => flag !== '')
const serverNode = {
  flags: serverFlags,
  log: serverFlags.length === 0 ? undefined : (process.env.ABUSE_SERVER_LOG ?? 'abuse-server.log'),
}
const script = (name: string) => fileURLToPath(new URL(`./${name}.ts`, import.meta.url))

interface ServerReport {
  samples: number[][]
  answers: number
  stats: Record<string, number>
}
interface GoodReport {
  trips: number[][]
  failures: string[]
  cpu: number[][]
}
interface AbusersReport {
  written: number
  cores: number
}

async function lastLine<T>(process: ServerProcess<{ port: number }>): Promise<T> {
  await process.stop()
  const line = await process.messages.next()
  if (line.done === true) throw new Error('a benchmark process printed no result')
  return line.value as T
}

/** Heap + array buffers of the server between `from` and `to` (wall clock): the peak. */
function peakMemory(report: ServerReport, from: number, to: number): number {
  let peak = 0
  for (const [at = 0, heap = 0, buffers = 0] of report.samples) {
    if (at >= from && at <= to) peak = Math.max(peak, heap + buffers)
  }
  return peak
}

function peakOf(report: ServerReport, column: number, from: number, to: number): number {
  let peak = 0
  for (const sample of report.samples) {
    const at = sample[0] ?? 0
    if (at >= from && at <= to) peak = Math.max(peak, sample[column] ?? 0)
  }
  return peak
}

/** Cores used between `from` and `to` by a process sampled as `[wall-clock ms, CPU µs]`. */
function coresOf(samples: readonly number[][], from: number, to: number): number {
  const inside = samples.filter(([at = 0]) => at >= from && at <= to)
  const first = inside[0]
  const last = inside.at(-1)
  if (first === undefined || last === undefined || last === first) return NaN
  return ((last[1] ?? 0) - (first[1] ?? 0)) / 1000 / ((last[0] ?? 0) - (first[0] ?? 0))
}

/**
 * The share of the wall-clock time between `from` and `to` that the milliseconds counted in
 * `column` of samples `[wall-clock ms, …]` took: the collector's, or the time waiting for a CPU.
 */
function shareOf(samples: readonly number[][], column: number, from: number, to: number): number {
  const inside = samples.filter(([at = 0]) => at >= from && at <= to)
  const first = inside[0]
  const last = inside.at(-1)
  if (first === undefined || last === undefined || last === first) return NaN
  return ((last[column] ?? 0) - (first[column] ?? 0)) / ((last[0] ?? 0) - (first[0] ?? 0))
}

interface Round {
  quietPeak: number
  abusePeak: number
  bound: number
  unsentPeak: number
  quietLoopDelay: number
  abuseLoopDelay: number
  quietGcLongest: number
  abuseGcLongest: number
  quietGcShare: number
  abuseGcShare: number
  /** Shares of the time the server's main thread and the good clients' waited for a CPU. */
  quietServerWait: number
  abuseServerWait: number
  quietGoodWait: number
  abuseGoodWait: number
  quietP50: number
  quietP99: number
  abuseP50: number
  abuseP99: number
  quietCalls: number
  abuseCalls: number
  failures: number
  load: number
  serverCores: number
  goodCores: number
  abuserCores: number
  abuserFramesPerSecond: number
  stats: Record<string, number>
}

async function round(): Promise<Round> {
  const load = loadavg()[0] ?? 0
  const server = await startServer<{ port: number }>(
    script('server'),
    [
      String(bounds.outboundHighWaterBytes),
      String(bounds.maxOutboundBytes),
      String(bounds.replayLimitBytes),
    ],
    undefined,
    serverNode,
  )
  const port = String(server.info.port)
  const good = await startServer<{ port: number }>(script('good'), [port, String(goodCount)])
  await sleep(1_000)
  const t0 = wallClockMs()
  await sleep(quietMs)
  const t1 = wallClockMs()
  const abusers = await startServer<{ port: number }>(
    script('abusers'),
    ['requests', port, String(abuserCount)],
    60_000,
  )
  const t2 = wallClockMs()
  await sleep(abuseMs)
  const t3 = wallClockMs()
  const goodReport = await lastLine<GoodReport>(good)
  const abusersReport = await lastLine<AbusersReport>(abusers)
  const serverReport = await lastLine<ServerReport>(server)
  const latencies = (from: number, to: number) =>
    goodReport.trips.filter(([at = 0]) => at >= from && at <= to).map(([, ms = 0]) => ms)
  const quiet = latencies(t0, t1)
  const abused = latencies(t2, t3)
  const quietPeak = peakMemory(serverReport, t0, t1)
  if (process.env.ABUSE_DUMP !== undefined) {
    // For a closer look: every round trip and memory sample, with the phase boundaries.
    writeFileSync(
      process.env.ABUSE_DUMP,
      JSON.stringify({ t0, t1, t2, t3, good: goodReport, server: serverReport }),
    )
  }
  return {
    quietPeak,
    abusePeak: peakMemory(serverReport, t1, t3),
    bound: quietPeak + abuserCount * (bounds.maxOutboundBytes + bounds.replayLimitBytes),
    unsentPeak: peakOf(serverReport, 4, t1, t3),
    quietLoopDelay: peakOf(serverReport, 6, t0, t1) / 1e6,
    abuseLoopDelay: peakOf(serverReport, 6, t2, t3) / 1e6,
    quietGcLongest: peakOf(serverReport, 8, t0, t1),
    abuseGcLongest: peakOf(serverReport, 8, t2, t3),
    quietGcShare: shareOf(serverReport.samples, 7, t0, t1),
    abuseGcShare: shareOf(serverReport.samples, 7, t2, t3),
    quietServerWait: shareOf(serverReport.samples, 12, t0, t1),
    abuseServerWait: shareOf(serverReport.samples, 12, t2, t3),
    quietGoodWait: shareOf(goodReport.cpu, 2, t0, t1),
    abuseGoodWait: shareOf(goodReport.cpu, 2, t2, t3),
    quietP50: percentile(quiet, 0.5),
    quietP99: percentile(quiet, 0.99),
    abuseP50: percentile(abused, 0.5),
    abuseP99: percentile(abused, 0.99),
    quietCalls: quiet.length,
    abuseCalls: abused.length,
    failures: goodReport.failures.length,
    load,
    serverCores: coresOf(
      serverReport.samples.map(([at = 0, , , , , cpu = 0]) => [at, cpu]),
      t2,
      t3,
    ),
    goodCores: coresOf(goodReport.cpu, t2, t3),
    abuserCores: abusersReport.cores,
    abuserFramesPerSecond: abusersReport.written / ((t3 - t1) / 1000),
    stats: serverReport.stats,
  }
}

/** One client sending 512 KiB `$ping`s without reading: the server's memory growth. */
async function pingFlood(): Promise<{
  growth: number
  peak: number
  stats: Record<string, number>
}> {
  const server = await startServer<{ port: number }>(script('server'), [
    String(bounds.outboundHighWaterBytes),
    String(bounds.maxOutboundBytes),
    String(bounds.replayLimitBytes),
  ])
  await sleep(1_000)
  const t0 = wallClockMs()
  const abuser = await startServer<{ port: number }>(script('abusers'), [
    'ping',
    String(server.info.port),
    '1',
  ])
  await sleep(pingMs)
  const t1 = wallClockMs()
  await lastLine(abuser)
  const report = await lastLine<ServerReport>(server)
  const before = peakMemory(report, t0 - 1_000, t0)
  const peak = peakMemory(report, t0, t1)
  return { growth: peak - before, peak, stats: report.stats }
}

const load = loadavg()[0] ?? 0
const mb = (bytes: number) => (bytes / MiB).toFixed(1)
if (!pingOnly) {
  const results: Round[] = []
  for (let i = 0; i < rounds; i++) {
    progress(`abuse: round ${i + 1}/${rounds}`)
    results.push(await round())
  }
  const column = (pick: (round: Round) => number, digits = 1) => spread(results.map(pick), digits)
  console.log(
    section(
      'Server under abuse: 100 clients that never read, 10 that do',
      `${abuserCount} raw clients flood \`$req\`s answered with 64 KiB and never read, while the server broadcasts 16 KiB every 100 ms to all; ${goodCount} \`createClient\`s call \`echo\` every 10 ms. Bounds: outboundHighWaterBytes ${bounds.outboundHighWaterBytes / 1024} KiB, maxOutboundBytes ${mb(bounds.maxOutboundBytes)} MiB, replayLimitBytes ${mb(bounds.replayLimitBytes)} MiB; memory bound = quiet peak + ${abuserCount} × (maxOutboundBytes + replayLimitBytes). ${quietMs / 1000} s quiet, then ${abuseMs / 1000} s of abuse; ${rounds} rounds, median (min–max); load average ${load.toFixed(1)} at the start.`,
      markdownTable(
        ['figure', 'quiet', 'under abuse', 'target'],
        [
          [
            'server heap + array buffers, peak (MiB)',
            column((r) => r.quietPeak / MiB),
            column((r) => r.abusePeak / MiB),
            `≤ 1.2 × bound (${column((r) => (1.2 * r.bound) / MiB, 0)})`,
          ],
          ['peak / bound', '—', column((r) => r.abusePeak / r.bound, 2), '≤ 1.20'],
          [
            'unsent output, all connections, peak (MiB)',
            '—',
            column((r) => r.unsentPeak / MiB),
            `≤ ${mb(abuserCount * bounds.maxOutboundBytes)}`,
          ],
          [
            'good clients p50 (ms)',
            column((r) => r.quietP50, 2),
            column((r) => r.abuseP50, 2),
            '—',
          ],
          [
            'good clients p99 (ms)',
            column((r) => r.quietP99, 2),
            column((r) => r.abuseP99, 2),
            '≤ 2 × quiet',
          ],
          ['p99 under abuse / quiet', '—', column((r) => r.abuseP99 / r.quietP99, 2), '≤ 2.00'],
          [
            'good clients: calls completed',
            column((r) => r.quietCalls, 0),
            column((r) => r.abuseCalls, 0),
            '—',
          ],
          ['good clients: calls failed (whole run)', '—', column((r) => r.failures, 0), '0'],
          [
            'server event-loop delay, longest (ms)',
            column((r) => r.quietLoopDelay),
            column((r) => r.abuseLoopDelay),
            '—',
          ],
          [
            'server garbage collection, longest pause (ms)',
            column((r) => r.quietGcLongest),
            column((r) => r.abuseGcLongest),
            '—',
          ],
          [
            'server garbage collection, share of the time (%)',
            column((r) => 100 * r.quietGcShare, 0),
            column((r) => 100 * r.abuseGcShare, 0),
            '—',
          ],
          [
            'waiting for a CPU, share of the time (%): server main thread / good clients',
            `${column((r) => 100 * r.quietServerWait, 1)} / ${column((r) => 100 * r.quietGoodWait, 1)}`,
            `${column((r) => 100 * r.abuseServerWait, 1)} / ${column((r) => 100 * r.abuseGoodWait, 1)}`,
            '—',
          ],
          ['server: reads paused', '—', column((r) => r.stats.readsPaused ?? 0, 0), '—'],
          ['load average at the start of the round', column((r) => r.load), '—', '—'],
          [
            'CPU (cores): server / good clients / abusers',
            '—',
            `${column((r) => r.serverCores, 2)} / ${column((r) => r.goodCores, 2)} / ${column((r) => r.abuserCores, 2)}`,
            '—',
          ],
          [
            'abusers: frames written per second',
            '—',
            column((r) => r.abuserFramesPerSecond, 0),
            '—',
          ],
          [
            'server: slow consumers closed (4429)',
            '—',
            column((r) => r.stats.slowConsumers ?? 0, 0),
            '—',
          ],
        ],
      ),
    ),
  )
}
progress('abuse: $ping flood')
const ping = await pingFlood()
console.log(
  section(
    'One client sending 512 KiB `$ping`s without reading',
    `One raw client writes \`$ping\` frames with a 512 KiB payload for ${pingMs / 1000} s and never reads; growth of the server's heap + array buffers over its level before, load average ${load.toFixed(1)}.`,
    markdownTable(
      ['server memory growth (MiB)', 'peak (MiB)', 'closed for protocol errors'],
      [[mb(ping.growth), mb(ping.peak), String(ping.stats.protocolErrors ?? 0)]],
    ),
  ),
)
