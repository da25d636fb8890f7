// Flush benchmark: 100,000 ~100-byte messages queued in a ReconnectingWebSocket while closed,
// flushed on open, against raw `ws` sending the same right after open. Each sample is a fresh
// process; variants alternate in rotated order; 5 rounds after a warm-up; medians with min–max
// and the ratio to raw from the same round. Also 10k and 1M queued, to show the growth.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { median } from '../lib/measure.js'
import { markdownTable, progress, section, spread } from '../lib/samples.js'

interface Sample {
  variant: string
  count: number
  ms: number
  maxBlockMs: number
  queuedBytesPerMessage: number
}

const sampleScript = fileURLToPath(new URL('./sample.ts', import.meta.url))
const run = (variant: string, count: number): Sample =>
  JSON.parse(
    execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', sampleScript, variant, String(count)],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    ).trim(),
  ) as Sample

const rounds = 5
const fmt = (value: number) => value.toFixed(1)

progress('flush warm-up')
run('raw', 10_000)
run('rws', 10_000)
const raw: Sample[] = []
const rws: Sample[] = []
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['raw', 'rws'] : ['rws', 'raw']
  for (const variant of order) {
    progress(`flush round ${round + 1}/${rounds} ${variant}`)
    ;(variant === 'raw' ? raw : rws).push(run(variant, 100_000))
  }
}
const ratios = rws.map((sample, i) => sample.ms / (raw[i]?.ms ?? NaN))
const main = markdownTable(
  [
    '100,000 queued messages',
    'time ms, median (min–max)',
    'longest event-loop block ms',
    'time vs raw',
  ],
  [
    [
      'raw ws, sent after open',
      spread(raw.map((s) => s.ms)),
      spread(raw.map((s) => s.maxBlockMs)),
      '1.00×',
    ],
    [
      'ReconnectingWebSocket flush',
      spread(rws.map((s) => s.ms)),
      spread(rws.map((s) => s.maxBlockMs)),
      `${median(ratios).toFixed(2)}×`,
    ],
  ],
)
const growth = [10_000, 100_000, 1_000_000].map((count) => {
  progress(`flush of ${count}`)
  const sample = run('rws', count)
  return [
    count.toLocaleString('en'),
    fmt(sample.ms),
    fmt((sample.ms * 1000) / count),
    fmt(sample.maxBlockMs),
    fmt(sample.queuedBytesPerMessage),
  ]
})
console.log(
  section(
    'Flush of a queued backlog',
    `100,000 ~100-byte messages queued in a ReconnectingWebSocket while closed and flushed on open, against raw ws sending the same after open (server in the same process); fresh process per sample, ${rounds} rounds after a warm-up; then one flush each of 10k, 100k and 1M.`,
    `${main}\n\nqueued heap per message: ${spread(rws.map((s) => s.queuedBytesPerMessage))} bytes\n\n${markdownTable(
      ['queued', 'flush ms', 'µs/message', 'longest block ms', 'heap B/message queued'],
      growth,
    )}`,
  ),
)
