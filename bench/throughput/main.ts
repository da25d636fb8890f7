// Throughput benchmark: one-way and echo traffic of ~100-byte JSON messages through raw `ws`,
// Lifeline's ReconnectingWebSocket, the typed Client (raw mode, and protocol mode with acks
// against @lifeline/server), partysocket, reconnecting-websocket and socket.io-client (websocket
// transport). Each sample is a fresh client process with its server in a child process of its
// own; one warm-up per variant, then 5 rounds in rotated order; medians with min–max, client CPU
// per message, and the ratio to raw `ws` from the same round.
import { fileURLToPath } from 'node:url'
import { clientVariants, variantLabels } from '../lib/clients.js'
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
  ms: number
  cpuUsPerMessage: number
  serverCpuUsPerMessage: number
}

const rounds = roundsFrom('THROUGHPUT_ROUNDS', 5)
const counts = { oneway: 50_000, echo: 20_000 } as const
const script = fileURLToPath(new URL('./sample.ts', import.meta.url))

const targets = {
  oneway:
    'targets: ReconnectingWebSocket ≥ 0.97× raw ws; protocol mode ≥ 0.90× and ahead of socket.io',
  echo: 'targets: ReconnectingWebSocket ≥ 0.97× raw ws; protocol mode ≥ 0.85× and ahead of socket.io',
}

for (const mode of ['oneway', 'echo'] as const) {
  const count = counts[mode]
  const results = await runRounds(
    clientVariants,
    rounds,
    (variant) => runSample<Sample>(script, [variant, mode, String(count)]),
    { label: `throughput ${mode}` },
  )
  const rate = (samples: readonly Sample[]) => samples.map((sample) => (count / sample.ms) * 1000)
  const baseline = rate(results.get('raw-ws') ?? [])
  const rows = clientVariants.map((variant) => {
    const samples = results.get(variant) ?? []
    return [
      variantLabels[variant],
      spread(rate(samples), 0),
      spread(
        samples.map((sample) => sample.cpuUsPerMessage),
        2,
      ),
      spread(
        samples.map((sample) => sample.serverCpuUsPerMessage),
        2,
      ),
      ratioOf(rate(samples), baseline),
    ]
  })
  const title = mode === 'oneway' ? 'Throughput, one way' : 'Throughput, echo'
  const description =
    mode === 'oneway'
      ? `${count.toLocaleString('en')} ~100-byte JSON messages client → server on loopback, timed until the server has handled the last; fresh processes per sample, server in its own process, ${rounds} rounds after a warm-up.`
      : `${count.toLocaleString('en')} ~100-byte JSON messages sent and echoed back on loopback, timed until the client has decoded the last reply; fresh processes per sample, server in its own process, ${rounds} rounds after a warm-up.`
  console.log(
    section(
      title,
      description,
      `${markdownTable(
        [
          'client',
          'msgs/s, median (min–max)',
          'client CPU µs/msg, median (min–max)',
          'server CPU µs/msg',
          'throughput vs raw ws',
        ],
        rows,
      )}\n\n${targets[mode]}`,
    ),
  )
}
