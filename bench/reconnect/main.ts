// Reconnect after a server restart: time from the new server's listen to each client's open,
// with each library's defaults and with tuned delays, against raw `ws` with a hand-written retry
// every 100 ms; then a storm: 1,000 clients after a restart, the peak share of them reopening in
// any 100 ms window. Each sample is a fresh client process with the server in a child process of
// its own; variants in rotated order; a warm-up round; medians with min–max.
import { loadavg } from 'node:os'
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
  clients: number
  medianMs: number
  maxMs: number
  peakShare: number
}

const labels: Record<string, string> = {
  ws: 'raw ws, hand-written retry every 100 ms',
  lifeline: 'Lifeline, defaults',
  'lifeline-tuned': 'Lifeline, initialDelayMs 50, maxDelayMs 1000',
  partysocket: 'partysocket, defaults',
  'partysocket-tuned': 'partysocket, min 50 ms, max 1000 ms',
  'reconnecting-websocket': 'reconnecting-websocket, defaults',
  'reconnecting-websocket-tuned': 'reconnecting-websocket, min 50 ms, max 1000 ms',
  'socket.io': 'socket.io-client, defaults',
  'socket.io-tuned': 'socket.io-client, delay 50 ms, max 1000 ms',
}
const timeVariants = Object.keys(labels)
const stormVariants = [
  'ws',
  'lifeline',
  'lifeline-tuned',
  'partysocket',
  'reconnecting-websocket',
  'socket.io',
]
const clients = Number(process.env.RECONNECT_CLIENTS ?? 20)
const stormClients = Number(process.env.RECONNECT_STORM_CLIENTS ?? 1_000)
const rounds = roundsFrom('RECONNECT_ROUNDS', 5)
const stormRounds = roundsFrom('RECONNECT_STORM_ROUNDS', 5)
const downMs = 2_000
const script = fileURLToPath(new URL('./sample.ts', import.meta.url))
const run = (variant: string, count: number) =>
  runSample<Sample>(script, [variant, String(count), String(downMs)], { timeoutMs: 180_000 })

/** A warm-up sample of each variant with at most 20 clients, then the rounds with `count`. */
const measure = (variants: readonly string[], count: number, roundCount: number) =>
  runRounds(variants, roundCount, (variant) => run(variant, count), {
    label: `reconnect (${count} clients):`,
    warmUp: (variant) => run(variant, Math.min(count, 20)),
  })

const load = loadavg()[0] ?? 0
const times = await measure(timeVariants, clients, rounds)
const storm = await measure(stormVariants, stormClients, stormRounds)

const baseline = times.get('ws') ?? []
const timeRows = timeVariants.map((variant) => {
  const samples = times.get(variant) ?? []
  return [
    labels[variant] ?? variant,
    spread(
      samples.map((s) => s.medianMs),
      0,
    ),
    spread(
      samples.map((s) => s.maxMs),
      0,
    ),
    ratioOf(
      samples.map((s) => s.medianMs),
      baseline.map((s) => s.medianMs),
    ),
  ]
})
const stormBaseline = storm.get('ws') ?? []
const stormRows = stormVariants.map((variant) => {
  const samples = storm.get(variant) ?? []
  return [
    labels[variant] ?? variant,
    `${spread(
      samples.map((s) => s.peakShare * 100),
      0,
    )}%`,
    spread(
      samples.map((s) => s.maxMs),
      0,
    ),
    ratioOf(
      samples.map((s) => s.peakShare),
      stormBaseline.map((s) => s.peakShare),
    ),
  ]
})
console.log(
  section(
    'Reconnect after a server restart',
    `The server (another process) is killed, stays down ${downMs} ms and listens again on the same port; time from that listen to each client's open. ${clients} clients per sample, ${rounds} rounds; storm: ${stormClients} clients, ${stormRounds} rounds; load average ${load.toFixed(1)} at the start.`,
    `${markdownTable(
      [
        'client',
        'listen → open ms, median of clients (min–max over rounds)',
        'slowest client ms',
        'vs raw ws',
      ],
      timeRows,
    )}\n\nStorm: ${stormClients} clients, peak reopens in any 100 ms window (target ≤ 20% for Lifeline)\n\n${markdownTable(
      [
        'client',
        'peak share per 100 ms, median (min–max)',
        'all reopened after ms',
        'vs raw ws (peak)',
      ],
      stormRows,
    )}`,
  ),
)
