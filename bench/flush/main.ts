// Flush benchmark: 100,000 ~100-byte messages queued in a ReconnectingWebSocket while closed,
// flushed on open, against raw `ws` sending the same right after open. Each sample is a fresh
// process; variants alternate in rotated order; 5 rounds after a warm-up; medians with min–max
// and the ratio to raw from the same round. Also 10k and 1M queued, to show the growth.
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
  variant: string
  count: number
  ms: number
  maxBlockMs: number
  queuedBytesPerMessage: number
  messageBytesPerMessage: number
}

const sampleScript = fileURLToPath(new URL('./sample.ts', import.meta.url))
const serverScript = fileURLToPath(new URL('../lib/countingServer.ts', import.meta.url))
async function run(variant: string, count: number): Promise<Sample> {
  const server = await startServer(serverScript, [String(count)])
  try {
    return await runSample<Sample>(
      sampleScript,
      [variant, String(server.info.port), String(count)],
      {
        flags: ['--expose-gc'],
        timeoutMs: 180_000,
      },
    )
  } finally {
    await server.stop()
  }
}

const rounds = roundsFrom('FLUSH_ROUNDS', 5)
const fmt = (value: number) => value.toFixed(1)

const results = await runRounds(
  ['raw', 'raw-corked', 'rws'],
  rounds,
  (variant) => run(variant, 100_000),
  {
    label: 'flush',
    warmUp: (variant) => run(variant, 10_000),
  },
)
const raw = results.get('raw') ?? []
const rawCorked = results.get('raw-corked') ?? []
const rws = results.get('rws') ?? []
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
      'raw ws, sent after open with its net socket corked',
      spread(rawCorked.map((s) => s.ms)),
      spread(rawCorked.map((s) => s.maxBlockMs)),
      ratioOf(
        rawCorked.map((s) => s.ms),
        raw.map((s) => s.ms),
      ),
    ],
    [
      'ReconnectingWebSocket flush',
      spread(rws.map((s) => s.ms)),
      spread(rws.map((s) => s.maxBlockMs)),
      ratioOf(
        rws.map((s) => s.ms),
        raw.map((s) => s.ms),
      ),
    ],
  ],
)
const growth: string[][] = []
for (const count of [10_000, 100_000, 1_000_000]) {
  progress(`flush of ${count}`)
  const sample = await run('rws', count)
  growth.push([
    count.toLocaleString('en'),
    fmt(sample.ms),
    fmt((sample.ms * 1000) / count),
    fmt(sample.maxBlockMs),
    fmt(sample.queuedBytesPerMessage),
  ])
}
console.log(
  section(
    'Flush of a queued backlog',
    `100,000 ~100-byte messages queued in a ReconnectingWebSocket while closed and flushed on open, against raw ws sending the same after open, to a counting ws server in another process; fresh process per sample, ${rounds} rounds after a warm-up; then one flush each of 10k, 100k and 1M.`,
    `${main}\n\nqueued heap per message, the queue's own: ${spread(rws.map((s) => s.queuedBytesPerMessage))} bytes, on top of the message strings themselves: ${spread(rws.map((s) => s.messageBytesPerMessage))} bytes\n\n${markdownTable(
      ['queued', 'flush ms', 'µs/message', 'longest block ms', 'heap B/message queued'],
      growth,
    )}`,
  ),
)
