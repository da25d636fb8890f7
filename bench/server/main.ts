// Server throughput: messages per second handled by `@lifeline/server` in protocol mode against a
// plain `ws` server doing the same work per frame (decode JSON, dispatch on the type). 100 raw
// `ws` clients writing hand-made protocol frames run in one process, the server in another.
// Fresh processes per sample, variants in rotated order, a warm-up round, 5 measured rounds;
// medians with min–max and the ratio to the raw `ws` server of the same round.
import { spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import {
  markdownTable,
  ratioOf,
  roundsFrom,
  runRounds,
  section,
  spread,
  withTimeout,
} from '../lib/samples.js'
import { startServer } from '../lib/serverProcess.js'

interface Result {
  ms: number
  cpuUsPerMessage: number
}

const variants = ['ws', 'lifeline'] as const
const labels = {
  ws: 'raw ws server, JSON decode + dispatch',
  lifeline: '@lifeline/server, protocol mode',
}
const clients = 100
const perClient = Number(process.env.SERVER_MESSAGES_PER_CLIENT ?? 2_000)
const total = clients * perClient
const rounds = roundsFrom('SERVER_ROUNDS', 5)
const serverScript = fileURLToPath(new URL('./server.ts', import.meta.url))
const clientScript = fileURLToPath(new URL('./clients.ts', import.meta.url))

async function run(variant: string): Promise<Result> {
  const server = await startServer(serverScript, [variant, String(total)])
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      clientScript,
      variant,
      String(server.info.port),
      String(clients),
      String(perClient),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    const line = await withTimeout(server.messages.next(), 120_000, `${variant} server to finish`)
    if (line.done === true) throw new Error(`${variant} server exited early`)
    return line.value as Result
  } finally {
    child.kill('SIGTERM')
    await withTimeout(exited, 10_000, 'clients to exit')
    await server.stop()
  }
}

const load = loadavg()[0] ?? 0
const results = await runRounds(variants, rounds, run, { label: 'server:' })

const rate = (samples: readonly Result[]) => samples.map((result) => (total / result.ms) * 1000)
const cpu = (samples: readonly Result[]) => samples.map((result) => result.cpuUsPerMessage)
const baseline = results.get('ws') ?? []
const rows = variants.map((variant) => {
  const samples = results.get(variant) ?? []
  return [
    labels[variant],
    spread(rate(samples), 0),
    ratioOf(rate(samples), rate(baseline)),
    spread(cpu(samples), 2),
    ratioOf(cpu(samples), cpu(baseline)),
  ]
})
console.log(
  section(
    'Server throughput, 100 clients',
    `${clients} raw ws clients (one process) each send ${perClient} ~100 B JSON messages to a server in another process; messages handled per second, from the first to the last; ${rounds} rounds, load average ${load.toFixed(1)} at the start.`,
    markdownTable(
      [
        'server',
        'msgs/s, median (min–max)',
        'msgs/s vs raw ws',
        'server CPU µs/msg',
        'CPU/msg vs raw ws',
      ],
      rows,
    ),
  ),
)
