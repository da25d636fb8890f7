// Round-trip benchmark: 10,000 sequential echo round trips of a ~100-byte JSON message for each
// client (and `client.request()` RPC), p50/p99, and the connect time from construction to open.
// Fresh client process per sample, echo server in its own child process, one warm-up per
// variant, then 5 rounds in rotated order; medians with min–max and the ratio to raw `ws`.
import { fileURLToPath } from 'node:url'
import { clientVariants, variantLabels } from '../lib/clients.js'
import { median } from '../lib/measure.js'
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
  firstConnectMs: number
  connectMs: number
  p50Us: number
  p99Us: number
  cpuUsPerRoundTrip: number
}

const rounds = roundsFrom('RTT_ROUNDS', 5)
const count = 10_000
const variants: readonly string[] = [...clientVariants, 'rpc']
const labels: Record<string, string> = { ...variantLabels, rpc: 'Lifeline client.request() RPC' }
const script = fileURLToPath(new URL('./sample.ts', import.meta.url))

const results = await runRounds(
  variants,
  rounds,
  (variant) => runSample<Sample>(script, [variant, String(count)]),
  { label: 'rtt' },
)
const pick = (variant: string, key: keyof Sample) =>
  (results.get(variant) ?? []).map((sample) => sample[key])
const baselineP50 = pick('raw-ws', 'p50Us')
const rttRows = variants.map((variant) => [
  labels[variant] ?? variant,
  spread(pick(variant, 'p50Us'), 0),
  spread(pick(variant, 'p99Us'), 0),
  spread(pick(variant, 'cpuUsPerRoundTrip'), 1),
  ratioOf(pick(variant, 'p50Us'), baselineP50),
])
console.log(
  section(
    'Round-trip time',
    `${count.toLocaleString('en')} sequential echo round trips of a ~100-byte JSON message on loopback (after 500 unmeasured), fresh processes per sample, server in its own process, ${rounds} rounds after a warm-up.`,
    markdownTable(
      ['client', 'p50 µs', 'p99 µs', 'client CPU µs/round trip', 'p50 vs raw ws'],
      rttRows,
    ),
  ),
)

const rawFirst = pick('raw-ws', 'firstConnectMs')
const rawLater = pick('raw-ws', 'connectMs')
const difference = (values: readonly number[], baseline: readonly number[]) => {
  const deltas = values.map((value, i) => value - (baseline[i] ?? NaN))
  return `${median(deltas) >= 0 ? '+' : ''}${median(deltas).toFixed(2)}`
}
const connectRows = clientVariants.map((variant) => [
  labels[variant] ?? variant,
  spread(pick(variant, 'firstConnectMs'), 2),
  difference(pick(variant, 'firstConnectMs'), rawFirst),
  spread(pick(variant, 'connectMs'), 2),
  difference(pick(variant, 'connectMs'), rawLater),
])
console.log(
  section(
    'Connect time',
    `Construction to open (protocol mode: to the \`$welcome\`, one more round trip; socket.io: to \`connect\`) for the first connection of a fresh process, and the median of 10 further connections in the same process; ${rounds} rounds.`,
    `${markdownTable(
      [
        'client',
        'first connect ms',
        'vs raw ws, ms',
        'later connects ms (median of 10)',
        'vs raw ws, ms',
      ],
      connectRows,
    )}\n\ntarget: ReconnectingWebSocket ≤ raw ws + 0.2 ms`,
  ),
)
