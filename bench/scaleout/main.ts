// Scale-out on Redis: Lifeline against socket.io with its two Redis adapters (pub/sub, and
// streams with connection-state recovery), every server kind as two server processes on one
// `redis-server` (started here on a free port), the clients in a load process of their own.
// Four scenarios: fan-out to 1,000 members of one room, a chat load of 100 rooms × 10 members,
// a resume after 10,000 room messages missed, and sessions per GiB of Redis memory. One run:
// fresh server processes and an emptied Redis per scenario, kind and round (fan-out and chat
// run in rounds, every kind in each); ratios against socket.io, of the same round.
//
// Run: pnpm --filter @lifeline/bench scaleout
//   SCALEOUT_KINDS=socketio-pubsub,lifeline-local narrows the kinds, SCALEOUT_SCENARIOS=fanout,chat
//   the scenarios; see scenarioSizes() in schema.ts for the sizes.
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { startRedisServer } from '@lifeline/test-utils'
import { formatRate } from '../lib/format.js'
import {
  markdownTable,
  progress,
  ratioSpread,
  runRounds,
  runSample,
  section,
  withTimeout,
} from '../lib/samples.js'
import { startServer } from '../lib/serverProcess.js'
import type { ServerProcess } from '../lib/serverProcess.js'
import { lifelineRedisAvailable } from './lifelineRedis.js'
import type { ResumeResult } from './resume.js'
import { medianRound, perRound } from './rounds.js'
import { scenarioSizes, serverKinds, serverLabels } from './schema.js'
import type { ServerKind, ServerReport } from './schema.js'
import type { SessionsResult } from './sessions.js'
import type { CpuSnapshot } from './stats.js'
import type { TrafficResult } from './traffic.js'

const serverScript = fileURLToPath(new URL('./server.ts', import.meta.url))
const loadScript = fileURLToPath(new URL('./load.ts', import.meta.url))

const defaultKinds: ServerKind[] = [
  'socketio-pubsub',
  'socketio-streams',
  lifelineRedisAvailable ? 'lifeline-redis' : 'lifeline-local',
]
const kinds = (process.env.SCALEOUT_KINDS?.split(',') ?? defaultKinds).map((kind) => {
  if (!(serverKinds as readonly string[]).includes(kind)) throw new Error(`unknown kind ${kind}`)
  return kind as ServerKind
})
const allScenarios = ['fanout', 'chat', 'resume', 'sessions'] as const
type Scenario = (typeof allScenarios)[number]
const scenarios = (process.env.SCALEOUT_SCENARIOS?.split(',') ?? allScenarios).map((scenario) => {
  if (!(allScenarios as readonly string[]).includes(scenario)) {
    throw new Error(`unknown scenario ${scenario}`)
  }
  return scenario as Scenario
})
interface Outcome<T> {
  result: T
  /** CPU µs the server processes spent, together. */
  serverCpuUs: number
}

const load = loadavg()[0] ?? 0
// BENCH_CPU_PROF=<dir>: the load process writes a V8 CPU profile there too, as the servers do.
const cpuProfiles = process.env.BENCH_CPU_PROF
const loadFlags = cpuProfiles === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfiles}`]
const redis = await startRedisServer()
const redisVersion = /redis_version:(\S+)/.exec(String(await redis.command('INFO', 'server')))?.[1]

/** Runs one scenario against fresh servers of `kind` on an emptied Redis. */
async function run<T>(scenario: Scenario, kind: ServerKind): Promise<Outcome<T>> {
  await redis.command('FLUSHALL')
  const count = kind === 'lifeline-local' ? 1 : 2
  const servers: ServerProcess<{ port: number; pid: number }>[] = []
  try {
    for (let i = 0; i < count; i++) servers.push(await startServer(serverScript, [kind, redis.url]))
    const ports = servers.map((server) => String(server.info.port))
    const result = await runSample<T>(
      loadScript,
      [
        scenario,
        kind,
        String(redis.port),
        ports[0] ?? '',
        ports.at(-1) ?? '',
        servers.map((server) => server.info.pid).join(','),
      ],
      { timeoutMs: 300_000, flags: loadFlags },
    )
    return { result, serverCpuUs: await stopAll(servers) }
  } finally {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')))
  }
}

/** Lets every server go and adds up the CPU they report. */
async function stopAll(
  servers: readonly ServerProcess<{ port: number; pid: number }>[],
): Promise<number> {
  let cpuUs = 0
  for (const server of servers) {
    await server.stop()
    const last = await withTimeout(server.messages.next(), 5_000, 'the server CPU figure')
    cpuUs += last.done === true ? NaN : (last.value as ServerReport).cpuUs
  }
  return cpuUs
}

const outcomes = new Map<string, Outcome<unknown>>()
/** Traffic scenarios' rounds by kind, in round order: `undefined` for a round that failed. */
const trafficRounds = new Map<string, (Outcome<TrafficResult> | undefined)[]>()
const { rounds } = scenarioSizes()
try {
  for (const scenario of scenarios) {
    if (scenario === 'fanout' || scenario === 'chat') {
      // Every kind in each round, the order rotated: a slow spell of the machine hits all alike.
      // A round that fails is reported and counted out; the others still make the table.
      const byKind = await runRounds(
        kinds,
        rounds,
        (kind) =>
          run<TrafficResult>(scenario, kind).catch((error: unknown) => {
            progress(`scaleout: ${scenario} ${kind} failed: ${String(error)}`)
            return undefined
          }),
        { label: `scaleout: ${scenario}`, warmUp: false },
      )
      for (const [kind, results] of byKind) trafficRounds.set(`${scenario} ${kind}`, results)
      continue
    }
    for (const kind of kinds) {
      progress(`scaleout: ${scenario} ${kind}`)
      outcomes.set(`${scenario} ${kind}`, await run(scenario, kind))
    }
  }
} finally {
  await redis.close()
}

const outcome = <T>(scenario: Scenario, kind: ServerKind) =>
  outcomes.get(`${scenario} ${kind}`) as Outcome<T> | undefined
const roundsFor = (scenario: 'fanout' | 'chat', kind: ServerKind) =>
  trafficRounds.get(`${scenario} ${kind}`) ?? []
/** Each round's pair: `pick` of `kind` over `pick` of `base`, as `median× (min–max)`. */
const roundRatio = (
  scenario: 'fanout' | 'chat',
  kind: ServerKind,
  base: ServerKind,
  pick: (result: TrafficResult) => number,
) => {
  const ratio = ratioSpread(
    perRound(roundsFor(scenario, kind), pick),
    perRound(roundsFor(scenario, base), pick),
  )
  return ratio === 'n/a' ? '—' : ratio
}
/** What every round of `kind` saw amiss, the median round's own figures aside. */
function amiss(scenario: 'fanout' | 'chat', kind: ServerKind): string {
  const all = roundsFor(scenario, kind)
  const done = all.filter((found) => found !== undefined)
  const sum = (pick: (result: TrafficResult) => number) =>
    done.reduce((total, found) => total + pick(found.result), 0)
  const timedOut = done.filter((found) => found.result.timedOut).length
  const warmUpAmiss = done.filter(({ result: { warmUp } }) => {
    return warmUp.timedOut || warmUp.duplicates > 0 || warmUp.outOfOrder > 0
  }).length
  return [
    `${done.length - timedOut}/${all.length} rounds completed`,
    `in all of them ${sum((result) => result.duplicates)} dup., ${sum((result) => result.outOfOrder)} out of order`,
    ...(timedOut > 0 ? [`${timedOut} timed out`] : []),
    ...(warmUpAmiss > 0
      ? [`${warmUpAmiss} with a warm-up amiss (timed out, dup. or out of order)`]
      : []),
  ].join('; ')
}
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : 'n/a')
const cpuSplit = ({ servers, load, redis }: CpuSnapshot) =>
  `${servers.toFixed(1)} + ${load.toFixed(1)} + ${redis.toFixed(1)} = ${(servers + load + redis).toFixed(1)}`

function trafficTable(scenario: 'fanout' | 'chat'): string {
  const rows = kinds.map((kind) => {
    const found = medianRound(roundsFor(scenario, kind))
    if (found === undefined) return [serverLabels[kind], 'failed in every round']
    const { result, serverCpuUs } = found
    const complete = `${result.delivered}/${result.expected}${result.timedOut ? ' (timed out)' : ''}`
    return [
      serverLabels[kind],
      formatRate(result.deliveriesPerSecond),
      roundRatio(scenario, kind, 'socketio-pubsub', (each) => each.deliveriesPerSecond),
      roundRatio(scenario, kind, 'socketio-streams', (each) => each.deliveriesPerSecond),
      ms(result.p50Ms),
      ms(result.p99Ms),
      roundRatio(scenario, kind, 'socketio-pubsub', (each) => each.p99Ms),
      // The servers' CPU from listening to the end covers the warm-up round's deliveries too.
      (serverCpuUs / (result.delivered + result.warmUp.delivered)).toFixed(1),
      cpuSplit(result.cpuUsPerDelivery),
      result.cpuUsPerDelivery.serverWrites.toFixed(2),
      `${result.redisCommandsPerMessage.toFixed(1)}, ${result.redisScriptsPerMessage.toFixed(1)} scripts (${result.topCommands
        .map(([command, calls]) => `${command} ${calls.toFixed(1)}`)
        .join(', ')})`,
      `${complete}; ${amiss(scenario, kind)}`,
    ]
  })
  return markdownTable(
    [
      'server',
      'deliveries/s',
      'vs socket.io pub/sub',
      'vs socket.io streams',
      'p50 ms',
      'p99 ms',
      'p99 vs pub/sub',
      'server CPU µs/delivery',
      'CPU µs/delivery while sending: servers + load + Redis',
      'server writes/delivery',
      'Redis commands/message (in scripts too)',
      'delivered (median round); every round',
    ],
    rows,
  )
}

function resumeTable(): string {
  const rows = kinds.map((kind) => {
    const found = outcome<ResumeResult>('resume', kind)
    if (found === undefined) return [serverLabels[kind], 'failed']
    const { result } = found
    return [
      serverLabels[kind],
      result.recovered ? 'yes' : 'no',
      `${result.received}/${result.history}`,
      ms(result.ms),
      `${result.redisCommands}, ${result.redisScripts} scripts`,
      result.topCommands.map(([command, calls]) => `${command} ${calls}`).join(', ') || '—',
    ]
  })
  return markdownTable(
    [
      'server',
      'recovered',
      'missed messages got',
      'ms',
      'Redis commands (in scripts too)',
      'most called',
    ],
    rows,
  )
}

function sessionsTable(): string {
  const rows = kinds.map((kind) => {
    const found = outcome<SessionsResult>('sessions', kind)
    if (found === undefined) return [serverLabels[kind], 'failed']
    const { result } = found
    const perGiB = 2 ** 30 / result.awayBytesPerSession
    return [
      serverLabels[kind],
      result.connectedBytesPerSession.toFixed(0),
      result.awayBytesPerSession.toFixed(0),
      result.keysPerSession.toFixed(2),
      result.keysPerSession > 0 ? formatRate(perGiB) : '— (keeps no session in Redis)',
    ]
  })
  return markdownTable(
    [
      'server',
      'Redis bytes/session, connected',
      'Redis bytes/session, away',
      'keys/session, away',
      'sessions per GiB (away)',
    ],
    rows,
  )
}

const {
  fanOutMembers,
  fanOutMessages,
  fanOutWindow,
  chatMessages,
  history,
  sessionCount,
  warmUpShare,
} = scenarioSizes()
const sizes = `fan-out: ${fanOutMembers} members, ${fanOutMessages} messages, ${fanOutWindow} in flight; chat: 100 rooms × 10 members, ${chatMessages} messages each; resume: ${history} missed; sessions: ${sessionCount}; fan-out and chat measured after a warm-up round of ${warmUpShare} × their messages, in ${rounds} rounds (every kind in each, the order rotated): a kind's round of median deliveries/s is shown (of an even count, the lower middle one), and each ratio is the median of the rounds' pairs (their range in brackets)`
const lifelineNote = kinds.includes('lifeline-local')
  ? ' **Lifeline runs as ONE process without Redis here: a check of the harness, not a scale-out figure.**'
  : ''
console.log(
  section(
    'Scale-out on Redis',
    `Two server processes per kind on one redis-server ${redisVersion} (persistence off), clients in a load process; one run, load average ${load.toFixed(1)} at the start; ${sizes}. Latency: receiver's clock minus the sender's timestamp in the message. Server CPU: both server processes, from listening to the end.${lifelineNote}`,
    [
      ...(scenarios.includes('fanout')
        ? [
            `### Fan-out: one message to ${fanOutMembers} room members over 2 processes`,
            trafficTable('fanout'),
          ]
        : []),
      ...(scenarios.includes('chat')
        ? ['### Chat: 100 rooms × 10 members, everyone sending', trafficTable('chat')]
        : []),
      ...(scenarios.includes('resume')
        ? [`### Resume after ${history} missed room messages`, resumeTable()]
        : []),
      ...(scenarios.includes('sessions')
        ? ['### Sessions per GiB of Redis memory', sessionsTable()]
        : []),
    ].join('\n\n'),
  ),
)
