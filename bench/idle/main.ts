// Idle clients: heap and RSS per open, idle client (5,000 in one process) and the rate at which
// they open, for Lifeline's ReconnectingWebSocket with its heartbeat on (and off), raw `ws` and
// the peers. Each sample is a fresh client process against a fresh server process; variants in
// rotated order; a warm-up round; medians with min–max and the ratio to raw `ws` of the same
// round.
import { execFileSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import {
  markdownTable,
  ratioOf,
  roundsFrom,
  runRounds,
  runSample,
  section,
  spread,
} from '../lib/samples.js'
import { startServer } from '../lib/serverProcess.js'

interface Sample {
  variant: string
  heapPerClient: number
  rssPerClient: number
  opensPerSecond: number
}

const variants = [
  'ws',
  'lifeline',
  'lifeline-no-heartbeat',
  'partysocket',
  'reconnecting-websocket',
  'socket.io',
] as const
const labels: Record<(typeof variants)[number], string> = {
  ws: 'raw ws',
  lifeline: 'Lifeline ReconnectingWebSocket, heartbeat on',
  'lifeline-no-heartbeat': 'Lifeline ReconnectingWebSocket, heartbeat off',
  partysocket: 'partysocket',
  'reconnecting-websocket': 'reconnecting-websocket',
  'socket.io': 'socket.io-client (websocket transport)',
}
const count = Number(process.env.IDLE_CLIENTS ?? 5_000)
const rounds = roundsFrom('IDLE_ROUNDS', 5)
const sampleScript = fileURLToPath(new URL('./sample.ts', import.meta.url))
const serverScript = fileURLToPath(new URL('../lib/peerServer.ts', import.meta.url))

// Each client holds one descriptor and the server one per client: check before starting.
const fdLimit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim())
if (fdLimit < count + 500) {
  throw new Error(
    `ulimit -n is ${fdLimit}; ${count} clients need at least ${count + 500} per process`,
  )
}

async function run(variant: string): Promise<Sample> {
  const server = await startServer(serverScript, [variant === 'socket.io' ? 'socket.io' : 'ws'])
  try {
    return await runSample<Sample>(
      sampleScript,
      [variant, String(server.info.port), String(count)],
      {
        flags: ['--expose-gc'],
      },
    )
  } finally {
    await server.stop()
  }
}

const load = loadavg()[0] ?? 0
const results = await runRounds(variants, rounds, run, { label: `idle (${count} clients):` })

const kb = (bytes: number) => bytes / 1024
const baseline = results.get('ws') ?? []
const rows = variants.map((variant) => {
  const samples = results.get(variant) ?? []
  return [
    labels[variant],
    spread(
      samples.map((s) => kb(s.heapPerClient)),
      2,
    ),
    ratioOf(
      samples.map((s) => s.heapPerClient),
      baseline.map((s) => s.heapPerClient),
    ),
    spread(
      samples.map((s) => kb(s.rssPerClient)),
      1,
    ),
    spread(
      samples.map((s) => s.opensPerSecond),
      0,
    ),
    ratioOf(
      samples.map((s) => s.opensPerSecond),
      baseline.map((s) => s.opensPerSecond),
    ),
  ]
})
console.log(
  section(
    'Idle clients: memory and connection rate',
    `${count} idle clients in one process against a server in another, heap measured after GC before and after opening them; ${rounds} rounds, fresh processes, load average ${load.toFixed(1)} at the start.`,
    markdownTable(
      [
        'client',
        'heap KB/client, median (min–max)',
        'heap vs raw ws',
        'RSS KB/client',
        'opened/s',
        'opened/s vs raw ws',
      ],
      rows,
    ),
  ),
)
