// Protocol-mode overhead: the same one-way traffic through raw `ws`, the Lifeline client in raw
// mode, and in protocol mode (reliable, sequence numbers, batched acks) against @lifeline/server.
// Fresh process per sample, variants in rotated order, a warm-up round, 5 measured rounds;
// medians with min–max and the ratio to raw `ws` from the same round.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { median } from '../lib/measure.js'

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

for (const variant of variants) run(variant)
const results = new Map<string, Sample[]>(variants.map((variant) => [variant, []]))
for (let round = 0; round < rounds; round++) {
  const order = variants.map((_, i) => variants[(i + round) % variants.length] as string)
  for (const variant of order) results.get(variant)?.push(run(variant))
}
const fmt = (value: number, digits = 1) => value.toFixed(digits)
const spread = (values: number[], digits = 1) =>
  `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`
const baseline = results.get('raw-ws') ?? []
console.log(`${count} messages of ~100 B, one way, ${rounds} rounds\n`)
console.log('| variant | msgs/s, median (min–max) | send CPU µs/msg | throughput vs raw ws |')
console.log('| --- | --- | --- | --- |')
for (const variant of variants) {
  const samples = results.get(variant) ?? []
  const rates = samples.map((sample) => (count / sample.ms) * 1000)
  const ratios = samples.map((sample, i) => (baseline[i]?.ms ?? NaN) / sample.ms)
  console.log(
    `| ${variant} | ${spread(rates, 0)} | ${spread(
      samples.map((s) => s.sendCpuUsPerMessage),
      2,
    )} | ${fmt(median(ratios), 2)}× |`,
  )
}
