// Protocol-mode overhead: the same one-way traffic through raw `ws`, the Lifeline client in raw
// mode, and in protocol mode (reliable, sequence numbers, batched acks) against @lifeline/server.
// Fresh process per sample, variants in rotated order, a warm-up round, 5 measured rounds;
// medians with min–max and the ratio to raw `ws` from the same round.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { median } from '../lib/measure.js'
import { markdownTable, progress, section, spread } from '../lib/samples.js'

interface Sample {
  variant: string
  ms: number
  sendCpuUsPerMessage: number
}

const variants = ['raw-ws', 'client-raw', 'client-proto'] as const
const count = 50_000
const rounds = 5
const script = fileURLToPath(new URL('./sample.ts', import.meta.url))
const run = (variant: string): Sample =>
  JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', script, variant, String(count)], {
      encoding: 'utf8',
      timeout: 120_000,
    }).trim(),
  ) as Sample

for (const variant of variants) {
  progress(`protocol warm-up ${variant}`)
  run(variant)
}
const results = new Map<string, Sample[]>(variants.map((variant) => [variant, []]))
for (let round = 0; round < rounds; round++) {
  const order = variants.map((_, i) => variants[(i + round) % variants.length] as string)
  for (const variant of order) {
    progress(`protocol round ${round + 1}/${rounds} ${variant}`)
    results.get(variant)?.push(run(variant))
  }
}
const fmt = (value: number, digits = 1) => value.toFixed(digits)
const baseline = results.get('raw-ws') ?? []
const rows = variants.map((variant) => {
  const samples = results.get(variant) ?? []
  const rates = samples.map((sample) => (count / sample.ms) * 1000)
  const ratios = samples.map((sample, i) => (baseline[i]?.ms ?? NaN) / sample.ms)
  return [
    variant,
    spread(rates, 0),
    spread(
      samples.map((s) => s.sendCpuUsPerMessage),
      2,
    ),
    `${fmt(median(ratios), 2)}×`,
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
