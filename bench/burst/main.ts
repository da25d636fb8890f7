// Burst sends in Node: bursts of N messages written with one syscall against raw `ws` writing
// one frame per write: raw `ws` with its net socket corked around each burst by hand, and
// Lifeline's ReconnectingWebSocket from @lifeline/node, which holds each turn's sends together by itself. The
// receiving server runs in another process. Fresh processes per sample, variants in rotated
// order, a warm-up round, 5 measured rounds; medians with min–max and the ratio to raw `ws`
// (one write per frame) of the same round.
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import {
  markdownTable,
  progress,
  ratioOf,
  roundsFrom,
  runRounds,
  runSample,
  section,
  spread,
} from '../lib/samples.js'
import { startServer } from '../lib/serverProcess.js'

interface Sample {
  ms: number
  sendCpuUsPerMessage: number
}

const variants = ['ws', 'ws-corked', 'lifeline'] as const
const labels: Record<(typeof variants)[number], string> = {
  ws: 'raw ws, one write per frame',
  'ws-corked': 'raw ws, corked per burst by hand',
  lifeline: 'Lifeline ReconnectingWebSocket (@lifeline/node), as it is',
}
const bursts = [10, 100, 1_000]
const total = Number(process.env.BURST_MESSAGES ?? 100_000)
const rounds = roundsFrom('BURST_ROUNDS', 5)
const sampleScript = fileURLToPath(new URL('./sample.ts', import.meta.url))
const serverScript = fileURLToPath(new URL('../lib/countingServer.ts', import.meta.url))

interface Case {
  variant: (typeof variants)[number]
  burst: number
}

async function run({ variant, burst }: Case): Promise<Sample> {
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
const cases: Case[] = bursts.flatMap((burst) => variants.map((variant) => ({ variant, burst })))
// One warm-up per variant (at bursts of 100), not one per case.
for (const variant of variants) {
  progress(`burst warm-up ${variant}`)
  await run({ variant, burst: 100 })
}
const results = await runRounds(cases, rounds, run, {
  label: 'burst',
  name: (c) => `${c.variant}/${c.burst}`,
  warmUp: false,
})

const rate = (samples: readonly Sample[]) => samples.map((sample) => (total / sample.ms) * 1000)
const samplesOf = (variant: string, burst: number) =>
  results.get(cases.find((c) => c.variant === variant && c.burst === burst) as Case) ?? []
const rows = bursts.flatMap((burst) => {
  const baseline = rate(samplesOf('ws', burst))
  return variants.map((variant) => {
    const samples = samplesOf(variant, burst)
    return [
      String(burst),
      labels[variant],
      spread(rate(samples), 0),
      ratioOf(rate(samples), baseline),
      spread(
        samples.map((s) => s.sendCpuUsPerMessage),
        2,
      ),
    ]
  })
})
console.log(
  section(
    'Burst sends in Node: one syscall per burst',
    `${total} ~100 B messages sent in bursts of N (one burst per event-loop turn) to a ws server in another process, until it has them all; ${rounds} rounds, load average ${load.toFixed(1)} at the start.`,
    markdownTable(
      ['burst', 'sender', 'msgs/s, median (min–max)', 'vs raw ws', 'send CPU µs/msg'],
      rows,
    ),
  ),
)
