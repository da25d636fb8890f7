// Server throughput: messages per second handled by `@lifeline/server` in protocol mode against a
// plain `ws` server doing the same work per frame (decode JSON, dispatch on the type). 100 raw
// `ws` clients writing hand-made protocol frames run in one process, the server in another.
// Fresh processes per sample, variants in rotated order, a warm-up round, 5 measured rounds;
// medians with min–max and the ratio to the raw `ws` server of the same round.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import {
  loadavg,
  medianRatio,
  progress,
  rotated,
  spread,
  startServer,
  withTimeout,
} from '../lib/processes.js'

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
const rounds = Number(process.env.SERVER_ROUNDS ?? 5)
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
progress('server: warm-up round')
for (const variant of variants) await run(variant)
const results = new Map<string, Result[]>(variants.map((variant) => [variant, []]))
for (let round = 0; round < rounds; round++) {
  progress(`server: round ${round + 1}/${rounds}`)
  for (const variant of rotated(variants, round)) results.get(variant)?.push(await run(variant))
}

const rate = (result: Result) => (total / result.ms) * 1000
const baseline = results.get('ws') ?? []
console.log('## Server throughput, 100 clients\n')
console.log(
  `${clients} raw ws clients (one process) each send ${perClient} ~100 B JSON messages to a server in ` +
    `another process; messages handled per second, from the first to the last; ${rounds} rounds, load average ${load.toFixed(1)} at the start.\n`,
)
console.log(
  '| server | msgs/s, median (min–max) | msgs/s vs raw ws | server CPU µs/msg | CPU/msg vs raw ws |',
)
console.log('| --- | --- | --- | --- | --- |')
for (const variant of variants) {
  const samples = results.get(variant) ?? []
  const cpu = samples.map((s) => s.cpuUsPerMessage)
  const cpuRatio = medianRatio(
    cpu,
    baseline.map((s) => s.cpuUsPerMessage),
  )
  console.log(
    `| ${labels[variant]} | ${spread(samples.map(rate), 0)} | ${medianRatio(
      samples.map(rate),
      baseline.map(rate),
    ).toFixed(2)}× | ${spread(cpu, 2)} | ${cpuRatio.toFixed(2)}× |`,
  )
}
