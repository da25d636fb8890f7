// Connection attempts per second from a client facing a server that breaks the protocol on every
// connection, against the backoff's schedule; and the same count for two honest peers whose
// limits differ (a reliable message over the client's maxBytes, under the server's). Each sample
// is a fresh process (`sample.ts`) with the server in it; 3 rounds; medians with min–max.
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { computeBackoffDelay, backoffDefaults } from '@lifeline/core'
import { median } from '../lib/measure.js'
import { markdownTable, roundsFrom, runRounds, runSample, section, spread } from '../lib/samples.js'

interface Sample {
  connections: number[]
  state: string
  closeCode: number | undefined
  errors: Record<string, number>
  serverErrors: number
}

interface Variant {
  label: string
  args: string[]
}

const variants: Variant[] = [
  {
    label: 'one bad frame per connection, defaults (maxViolations 5)',
    args: ['bad-frame', '30000'],
  },
  {
    label: 'one bad frame per connection, maxViolations Infinity (the backoff alone)',
    args: ['bad-frame', '30000', 'Infinity'],
  },
  {
    label: 'honest peers: a 1.5 MiB message, server max 2 MiB, client max 1 MiB',
    args: ['oversize', '5000'],
  },
]
const rounds = roundsFrom('VIOLATIONS_ROUNDS', 3)
const script = fileURLToPath(new URL('./sample.ts', import.meta.url))

/**
 * Attempts the backoff alone allows in `windowMs` when every attempt fails at once (no connect
 * time): the mean over many draws of the default full-jitter schedule.
 */
function scheduled(windowMs: number, cap = Infinity, draws = 20_000): number {
  let total = 0
  for (let draw = 0; draw < draws; draw++) {
    let at = 0
    let attempts = 0
    while (at <= windowMs && attempts < cap) {
      attempts++
      at += computeBackoffDelay(attempts - 1, backoffDefaults, Math.random)
    }
    total += attempts
  }
  return total / draws
}

const load = loadavg()[0] ?? 0
const results = await runRounds(
  variants,
  rounds,
  (variant) => runSample<Sample>(script, variant.args, { timeoutMs: 120_000 }),
  { label: 'violations:', warmUp: false, name: (variant) => variant.args.join(' ') },
)
const within = (sample: Sample, ms: number) => sample.connections.filter((t) => t <= ms).length
const rows = variants.map((variant) => {
  const samples = results.get(variant) ?? []
  const long = variant.args[1] === '30000'
  const endings = [
    ...new Set(samples.map((s) => `${s.state}${s.closeCode ? ` ${s.closeCode}` : ''}`)),
  ]
  return [
    variant.label,
    spread(
      samples.map((s) => within(s, 5_000)),
      0,
    ),
    long
      ? spread(
          samples.map((s) => within(s, 30_000)),
          0,
        )
      : '—',
    endings.join(', '),
    String(median(samples.map((s) => Object.values(s.errors).reduce((a, b) => a + b, 0)))),
    String(median(samples.map((s) => s.serverErrors))),
  ]
})
const schedule = markdownTable(
  ['backoff schedule (defaults, every attempt failing at once)', 'attempts in 5 s', 'in 30 s'],
  [
    ['no cap', scheduled(5_000).toFixed(1), scheduled(30_000).toFixed(1)],
    ['maxViolations 5', scheduled(5_000, 5).toFixed(1), scheduled(30_000, 5).toFixed(1)],
  ],
)
console.log(
  section(
    'Connection attempts against a server that violates the protocol',
    `Connections a client with default options makes to a server that sends one bad frame per connection (an unknown \`$\` type after \`$welcome\`), and to an honest server that holds a message the client can never accept; ${rounds} rounds, a fresh process each; load average ${load.toFixed(1)} at the start.`,
    `${markdownTable(
      [
        'server',
        'connections in 5 s, median (min–max)',
        'in 30 s',
        'client state at the end',
        'client errors',
        'server refusals',
      ],
      rows,
    )}\n\n${schedule}`,
  ),
)
