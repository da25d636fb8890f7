// Protocol-mode overhead: the same one-way traffic through raw `ws`, the Lifeline client in raw
// mode, and in protocol mode (reliable, sequence numbers, batched acks) against @lifeline/server.
// Fresh process per sample, variants in rotated order, a warm-up round, 5 measured rounds;
// medians with min–max and the ratio to raw `ws` from the same round.
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

interface Sample {
  variant: string
  ms: number
  sendCpuUsPerMessage: number
}

const variants = ['raw-ws', 'client-raw', 'client-proto'] as const
const count = 50_000
const rounds = roundsFrom('PROTOCOL_ROUNDS', 5)
const script = fileURLToPath(new URL('./sample.ts', import.meta.url))

const results = await runRounds(
  variants,
  rounds,
  (variant) => runSample<Sample>(script, [variant, String(count)], { timeoutMs: 120_000 }),
  { label: 'protocol' },
)
const rate = (samples: readonly Sample[]) => samples.map((sample) => (count / sample.ms) * 1000)
const baseline = rate(results.get('raw-ws') ?? [])
const rows = variants.map((variant) => {
  const samples = results.get(variant) ?? []
  return [
    variant,
    spread(rate(samples), 0),
    spread(
      samples.map((s) => s.sendCpuUsPerMessage),
      2,
    ),
    ratioOf(rate(samples), baseline),
  ]
})
console.log(
  section(
    'Protocol-mode overhead',
    `${count.toLocaleString('en')} ~100-byte JSON messages one way through raw ws, the client in raw mode and in protocol mode (reliable, acks) against @lifeline/server, server in the same process; fresh process per sample, ${rounds} rounds after a warm-up.`,
    markdownTable(
      ['variant', 'msgs/s, median (min–max)', 'send CPU µs/msg', 'throughput vs raw ws'],
      rows,
    ),
  ),
)
