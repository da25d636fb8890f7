// Burst sends in Node: bursts of N messages written with one syscall against raw `ws` writing
// one frame per write: raw `ws` with its net socket corked around each burst by hand, and
// Lifeline's ReconnectingWebSocket from @lifeline/node, which holds each turn's sends together by itself. The
// receiving server runs in another process. Fresh processes per sample, variants in rotated
// order, a warm-up round, 5 measured rounds; medians with min–max and the ratio to raw `ws`
// (one write per frame) of the same round, the sender's CPU per message, and how much of a core
// the sender and the receiver used (the one near 100 % sets the pace).
import { loadavg } from 'node:os'
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
  withTimeout,
} from '../lib/samples.js'
import { median } from '../lib/measure.js'
import { startServer } from '../lib/serverProcess.js'

interface Sample {
  ms: number
  /** Timed on some bursts, with BURST_CPU_EVERY only. */
  sendCpuUsPerMessage: number | null
  senderCpuUsPerMessage: number
  /** The receiving server's CPU µs and the ms from its first frame to its last. */
  receiver: { cpuUs?: number; ms?: number }
}

/**
 * BURST_COMPARE=`name=path,…`: each is another build's ReconnectingWebSocket (the `dist/index.js`
 * of `@lifeline/node`, or of `@lifeline/core` before the Node preset existed), run interleaved as
 * one more variant, so a change is judged against the code before it in the same run.
 */
const compared = (process.env.BURST_COMPARE ?? '')
  .split(',')
  .filter((entry) => entry !== '')
  .map((entry) => {
    const [name = '', path = ''] = entry.split('=')
    if (name === '' || path === '') throw new Error('BURST_COMPARE takes name=path,…')
    return { variant: `build:${path}`, label: `Lifeline ReconnectingWebSocket, ${name}` }
  })
const variants = ['ws', 'ws-corked', 'lifeline', ...compared.map((c) => c.variant)]
const labels: Record<string, string> = {
  ws: 'raw ws, one write per frame',
  'ws-corked': 'raw ws, corked per burst by hand',
  lifeline: 'Lifeline ReconnectingWebSocket (@lifeline/node), as it is',
  ...Object.fromEntries(compared.map((c) => [c.variant, c.label])),
}
const bursts = [10, 100, 1_000]
const total = Number(process.env.BURST_MESSAGES ?? 100_000)
const rounds = roundsFrom('BURST_ROUNDS', 5)
const cpuEvery = Number(process.env.BURST_CPU_EVERY ?? 0)
const sampleScript = fileURLToPath(new URL('./sample.ts', import.meta.url))
const serverScript = fileURLToPath(new URL('../lib/countingServer.ts', import.meta.url))

interface Case {
  variant: string
  burst: number
}

async function run({ variant, burst }: Case): Promise<Sample> {
  const server = await startServer(serverScript, [String(total)])
  let sample: Omit<Sample, 'receiver'>
  try {
    sample = await runSample<Omit<Sample, 'receiver'>>(sampleScript, [
      variant,
      String(server.info.port),
      String(burst),
      String(total),
    ])
  } finally {
    await server.stop()
  }
  const last = await withTimeout(server.messages.next(), 5_000, 'the receiver CPU figure')
  return { ...sample, receiver: last.done === true ? {} : (last.value as Sample['receiver']) }
}

const load = loadavg()[0] ?? 0
const cases: Case[] = bursts.flatMap((burst) => variants.map((variant) => ({ variant, burst })))
// One warm-up per variant (at bursts of 100), not one per case.
for (const variant of variants) {
  progress(`burst warm-up ${variant}`)
  await run({ variant, burst: 100 })
}
const results = await runRounds(cases, rounds, run, {
  label: 'burst',
  name: (c) => `${c.variant}/${c.burst}`,
  warmUp: false,
})

const rate = (samples: readonly Sample[]) => samples.map((sample) => (total / sample.ms) * 1000)
const samplesOf = (variant: string, burst: number) =>
  results.get(cases.find((c) => c.variant === variant && c.burst === burst) as Case) ?? []
/** Share of one core a process used, in %: near 100, it sets the pace. */
const busy = (cpuUs: number, ms: number) => cpuUs / 10 / ms
const rows = bursts.flatMap((burst) => {
  const baseline = rate(samplesOf('ws', burst))
  return variants.map((variant) => {
    const samples = samplesOf(variant, burst)
    const senderBusy = samples.map((s) => busy(s.senderCpuUsPerMessage * total, s.ms))
    const receiverBusy = samples.map((s) => busy(s.receiver.cpuUs ?? NaN, s.receiver.ms ?? NaN))
    return [
      String(burst),
      labels[variant] ?? variant,
      spread(rate(samples), 0),
      ratioOf(rate(samples), baseline),
      ...(cpuEvery > 0
        ? [
            spread(
              samples.map((s) => s.sendCpuUsPerMessage ?? NaN),
              2,
            ),
          ]
        : []),
      spread(
        samples.map((s) => s.senderCpuUsPerMessage),
        2,
      ),
      `${median(senderBusy).toFixed(0)} / ${median(receiverBusy).toFixed(0)}`,
    ]
  })
})
console.log(
  section(
    'Burst sends in Node: one syscall per burst',
    `${total} ~100 B messages sent in bursts of N (one burst per event-loop turn) to a ws server in another process, until it has them all; ${rounds} rounds, load average ${load.toFixed(1)} at the start.`,
    markdownTable(
      [
        'burst',
        'sender',
        'msgs/s, median (min–max)',
        'vs raw ws',
        ...(cpuEvery > 0 ? [`send CPU µs/msg, 1 burst in ${cpuEvery}`] : []),
        'sender CPU µs/msg, whole run',
        '% of a core, sender / receiver',
      ],
      rows,
    ),
  ),
)
