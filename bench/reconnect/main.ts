// Reconnect after a server restart: time from the new server's listen to each client's open,
// with each library's defaults and with tuned delays, against raw `ws` with a hand-written retry
// every 100 ms; then a storm: 1,000 clients after a restart, the peak share of them reopening in
// any 100 ms window. Each sample is a fresh client process with the server in a child process of
// its own; variants in rotated order; a warm-up round; medians with min–max.
import { fileURLToPath } from 'node:url'
import { loadavg, medianRatio, progress, rotated, runSample, spread } from '../lib/processes.js'

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
const rounds = Number(process.env.RECONNECT_ROUNDS ?? 5)
const stormRounds = Number(process.env.RECONNECT_STORM_ROUNDS ?? 3)
const downMs = 2_000
const script = fileURLToPath(new URL('./sample.ts', import.meta.url))
const run = (variant: string, count: number) =>
  runSample<Sample>(script, [variant, String(count), String(downMs)], { timeoutMs: 180_000 })

async function measure(variants: readonly string[], count: number, roundCount: number) {
  progress(`reconnect: warm-up round, ${count} clients per sample`)
  for (const variant of variants) await run(variant, Math.min(count, 20))
  const results = new Map<string, Sample[]>(variants.map((variant) => [variant, []]))
  for (let round = 0; round < roundCount; round++) {
    progress(`reconnect: ${count} clients, round ${round + 1}/${roundCount}`)
    for (const variant of rotated(variants, round))
      results.get(variant)?.push(await run(variant, count))
  }
  return results
}

const load = loadavg()[0] ?? 0
const times = await measure(timeVariants, clients, rounds)
const storm = await measure(stormVariants, stormClients, stormRounds)

console.log('## Reconnect after a server restart\n')
console.log(
  `The server (another process) is killed, stays down ${downMs} ms and listens again on the same port; ` +
    `time from that listen to each client's open. ${clients} clients per sample, ${rounds} rounds; ` +
    `storm: ${stormClients} clients, ${stormRounds} rounds; load average ${load.toFixed(1)} at the start.\n`,
)
const baseline = times.get('ws') ?? []
console.log(
  '| client | listen → open ms, median of clients (min–max over rounds) | slowest client ms | vs raw ws |',
)
console.log('| --- | --- | --- | --- |')
for (const variant of timeVariants) {
  const samples = times.get(variant) ?? []
  console.log(
    `| ${labels[variant]} | ${spread(
      samples.map((s) => s.medianMs),
      0,
    )} | ${spread(
      samples.map((s) => s.maxMs),
      0,
    )} | ${medianRatio(
      samples.map((s) => s.medianMs),
      baseline.map((s) => s.medianMs),
    ).toFixed(2)}× |`,
  )
}
console.log(
  `\nStorm: ${stormClients} clients, peak reopens in any 100 ms window (target ≤ 20% for Lifeline)\n`,
)
console.log(
  '| client | peak share per 100 ms, median (min–max) | all reopened after ms | vs raw ws (peak) |',
)
console.log('| --- | --- | --- | --- |')
const stormBaseline = storm.get('ws') ?? []
for (const variant of stormVariants) {
  const samples = storm.get(variant) ?? []
  console.log(
    `| ${labels[variant]} | ${spread(
      samples.map((s) => s.peakShare * 100),
      0,
    )}% | ${spread(
      samples.map((s) => s.maxMs),
      0,
    )} | ${medianRatio(
      samples.map((s) => s.peakShare),
      stormBaseline.map((s) => s.peakShare),
    ).toFixed(2)}× |`,
  )
}
