// Burst sends in Node: bursts of N messages written with one syscall (the net socket under `ws`
// corked around each burst) against raw `ws` writing one frame per write, for raw `ws` and for
// Lifeline's ReconnectingWebSocket. The receiving server runs in another process. Fresh processes
// per sample, variants in rotated order, a warm-up round, 5 measured rounds; medians with
// min–max and the ratio to raw `ws` (one write per frame) of the same round.
import { fileURLToPath } from 'node:url'
import {
  loadavg,
  medianRatio,
  progress,
  rotated,
  runSample,
  spread,
  startServer,
} from '../lib/processes.js'

interface Sample {
  ms: number
  sendCpuUsPerMessage: number
}

const variants = ['ws', 'ws-corked', 'lifeline', 'lifeline-corked'] as const
const labels: Record<(typeof variants)[number], string> = {
  ws: 'raw ws, one write per frame',
  'ws-corked': 'raw ws, corked per burst',
  lifeline: 'Lifeline, one write per frame',
  'lifeline-corked': 'Lifeline, corked per burst',
}
const bursts = [10, 100, 1_000]
const total = Number(process.env.BURST_MESSAGES ?? 100_000)
const rounds = Number(process.env.BURST_ROUNDS ?? 5)
const sampleScript = fileURLToPath(new URL('./sample.ts', import.meta.url))
const serverScript = fileURLToPath(new URL('./server.ts', import.meta.url))

async function run(variant: string, burst: number): Promise<Sample> {
  const server = await startServer(serverScript, [String(total)])
  try {
    return await runSample<Sample>(sampleScript, [
      variant,
      String(server.info.port),
      String(burst),
      String(total),
    ])
  } finally {
    await server.stop()
  }
}

const load = loadavg()[0] ?? 0
const cases = bursts.flatMap((burst) => variants.map((variant) => ({ variant, burst })))
const key = ({ variant, burst }: { variant: string; burst: number }) => `${variant}/${burst}`
progress('burst: warm-up round')
for (const variant of variants) await run(variant, 100)
const results = new Map<string, Sample[]>(cases.map((c) => [key(c), []]))
for (let round = 0; round < rounds; round++) {
  progress(`burst: round ${round + 1}/${rounds}`)
  for (const c of rotated(cases, round)) results.get(key(c))?.push(await run(c.variant, c.burst))
}

const rate = (sample: Sample) => (total / sample.ms) * 1000
console.log('## Burst sends in Node: one syscall per burst\n')
console.log(
  `${total} ~100 B messages sent in bursts of N (one burst per event-loop turn) to a ws server in ` +
    `another process, until it has them all; ${rounds} rounds, load average ${load.toFixed(1)} at the start.\n`,
)
console.log('| burst | sender | msgs/s, median (min–max) | vs raw ws | send CPU µs/msg |')
console.log('| --- | --- | --- | --- | --- |')
for (const burst of bursts) {
  const baseline = results.get(key({ variant: 'ws', burst })) ?? []
  for (const variant of variants) {
    const samples = results.get(key({ variant, burst })) ?? []
    console.log(
      `| ${burst} | ${labels[variant]} | ${spread(samples.map(rate), 0)} | ${medianRatio(
        samples.map(rate),
        baseline.map(rate),
      ).toFixed(2)}× | ${spread(
        samples.map((s) => s.sendCpuUsPerMessage),
        2,
      )} |`,
    )
  }
}
