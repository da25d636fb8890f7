// The receive benchmark's runner: variants in rotated order, a fresh process per sample, the
// median of each variant's client CPU µs per delivery.
//   usage: compare.ts rounds M N W name=<raw | core dist folder>...
import { execFileSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

const [roundsText = '5', members = '500', messages = '200', window = '4', ...specs] =
  process.argv.slice(2)
const sample = fileURLToPath(new URL('./sample.ts', import.meta.url))
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ')
const results = new Map<string, number[]>()
console.log(`load average ${load()}`)
for (let round = 0; round < Number(roundsText); round++) {
  for (let i = 0; i < specs.length; i++) {
    const [name, variant] = specs[(i + round) % specs.length]!.split('=') as [string, string]
    const output = execFileSync(
      'node',
      ['--import', 'tsx', sample, variant, members, messages, window],
      { encoding: 'utf8', timeout: 120_000 },
    )
    const { usPerDelivery } = JSON.parse(output.trim().split('\n').at(-1)!) as {
      usPerDelivery: number
    }
    results.set(name, [...(results.get(name) ?? []), usPerDelivery])
  }
}
for (const [name, values] of results) {
  const sorted = [...values].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]!
  const all = values.map((value) => value.toFixed(2)).join(' ')
  console.log(`${name.padEnd(12)} ${median.toFixed(2)} µs/delivery (median; ${all})`)
}
console.log(`load average ${load()}`)
