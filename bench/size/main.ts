// Bundle sizes: what a browser app pays for each entry point, minified by esbuild and gzipped
// (level 9), against ceilings that guard against regressions. Entry points import through the packages' exports, so
// `sideEffects: false` and tree-shaking apply as in an application's build.
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, version as esbuildVersion } from 'esbuild'

/**
 * Ceilings are guards against regressions, not goals (the goals, 2.5 kB and 5 kB, are in
 * bench/README.md with why they are missed): each is the size measured when it was last set,
 * its reference, plus this headroom, so a bundler update or a small fix does not fail the test
 * command while a real regression does.
 */
const headroom = 0.05

interface Entry {
  name: string
  source: string
  /**
   * Bytes (min+gzip) measured with the pinned esbuild when the ceiling was last set; the
   * ceiling is this plus `headroom`. Undefined when the entry is only measured.
   */
  reference?: number
  /** Left out of the bundle: peer dependencies the application brings (React). */
  external?: string[]
  /**
   * Gated on what it adds to the entry of this name (measured before it), not on its own size:
   * at most `maxAddedBytes`, a goal of the package, with no headroom.
   */
  over?: string
  maxAddedBytes?: number
}

const entries: Entry[] = [
  {
    name: '`ReconnectingWebSocket`',
    source: "export { ReconnectingWebSocket } from '@lifeline/core'",
    // 6,933 B, plus the 70 B of the client's frame sink and the message-listener flag, which take
    // a dispatch off every frame a client gets, and the 14 B past the ceiling of a Blob of another
    // realm and what an implementation leaves out of protocol and extensions, and the 28 B past
    // it of a signal's abort listener let go with its listener, and the 18 B past it of close()
    // leaving alone a link a closing listener made, and the 17 B past it of a statechange
    // listener's close or reconnect having the last word, and the 44 B past it of deadlines
    // that ran late confirmed a turn later and a ping out before a sleep not counted, and the
    // 20 B past it of those deadlines' timers made by one helper shared with the client and the
    // server, and the 5 B past it of a queue setting given as undefined taking its default, and
    // the 1 B past it of the names esbuild gave when the client's build was split otherwise,
    // and the 9 B past it of a listener's throw that cannot be printed said to be so
    // (bench/README).
    reference: 7_541,
  },
  {
    name: 'typed client + JSON codec',
    source: "export { createClient } from '@lifeline/core'\nexport { json } from '@lifeline/codec'",
    // 13,329 B, plus the 565 B that room messages numbered by their room added, the 287 B of
    // the send window, the 107 B of acknowledgements by bytes and the check of `$resend`, and
    // the 240 B of a cheaper receive path, the 95 B of the bound on what `$resend`s write
    // again, the 64 B of measuring a sent frame once and faster, and the 219 B of the fixes to
    // re-entrant close and reconnect, the checks of a `$welcome` before it is taken, a server
    // that picks no Lifeline subprotocol, answers kept while closed, the timer's range and error
    // answers bounded past the outbox, and the 16 B of the JSON walk's overflow refused and a
    // server's `$error` read as strings only, and the 199 B past the ceiling of the JSON codec's
    // bound on the containers a frame builds, timeouts on a monotonic clock, `this` in
    // listeners and URLs relative to the page, and the 10 B past it of the document's base URL
    // (`<base href>`) for a relative URL, and the 57 B past it of the heartbeat noticing a
    // machine that slept, and the 9 B past it of a Blob of another realm and what an
    // implementation leaves out of protocol and extensions, and the 12 B past it of a signal's
    // abort listener let go with its listener, and the 41 B past it of a control frame's `s`
    // checked, and the 49 B past it of a requestTimeoutMs of 0 refused and of close() and a
    // handshake's bound under listeners that connect again, and the 18 B past it of close()
    // and reconnect() under statechange listeners, and the 43 B past it of a heartbeat period of
    // 0 and a codec's maxBytes under 1,024 refused, and the 1 B past it of acknowledgements
    // checked against what was written, a 1012 that comes again retried through the backoff and
    // a `$ping` left unanswered while output waits, and the 14 B past it of a URL provider's
    // rejection handled when the protocols provider throws, and the 81 B past it of each kept
    // message encoded once at `$welcome`, one the codec now refuses (the application changed
    // it) dropped and reported rather than failing every link, and the 48 B past it of the
    // JSON codec preparing a value it leaves out (a broadcast without data) and checking what a
    // BigInt's or a function's toJSON writes, and the 114 B past it of deadlines that ran late
    // (a stalled event loop) confirmed a turn later, after what came in time is read, and a ping
    // out before a sleep not counted on waking, and the 2 B past it of a queue setting given as
    // undefined taking its default, and the 134 B past it of a request given up before any link
    // carried it taken back from the outbox, and an event type let go with its last listener,
    // and the 5 B past it of the frames a refusal at `$welcome` renumbered written with the `a`
    // they were checked with, and the 32 B past it of a request an earlier link wrote never
    // taken back, and the 8 B past it of a listener's throw that cannot be printed said to be
    // so (bench/README).
    reference: 16_534,
  },
  {
    name: '`@lifeline/react` on top of the client',
    source:
      "export { createClient } from '@lifeline/core'\nexport { json } from '@lifeline/codec'\n" +
      "export * from '@lifeline/react'",
    external: ['react'],
    over: 'typed client + JSON codec',
    maxAddedBytes: 1_500,
  },
  {
    name: '`@lifeline/browser` `ReconnectingWebSocket`',
    source: "export { ReconnectingWebSocket } from '@lifeline/browser'",
    over: '`ReconnectingWebSocket`',
    maxAddedBytes: 500,
  },
  {
    name: '`@lifeline/browser` client + JSON codec',
    source:
      "export { createClient } from '@lifeline/browser'\nexport { json } from '@lifeline/codec'",
    over: 'typed client + JSON codec',
    maxAddedBytes: 500,
  },
  { name: 'JSON codec alone', source: "export { json } from '@lifeline/codec'" },
  { name: 'msgpack codec', source: "export { msgpack } from '@lifeline/codec/msgpack'" },
  { name: 'peer: partysocket', source: "export { WebSocket } from 'partysocket'" },
  {
    name: 'peer: reconnecting-websocket',
    source: "export { default } from 'reconnecting-websocket'",
  },
  { name: 'peer: socket.io-client', source: "export { io } from 'socket.io-client'" },
]

/** Sizes in kB of 1,000 bytes, as the goals are written (size-limit counts the same way). */
const kB = (bytes: number, digits: number) => `${(bytes / 1000).toFixed(digits)} kB`
const bytes = (count: number) => `${count.toLocaleString('en-US')} B`

// Resolve the packages from bench's own node_modules, as an application would.
const here = dirname(fileURLToPath(import.meta.url))

// Sizes move with the bundler's version, so the gate measures with the esbuild pinned exactly in
// bench/package.json (not the workspace's, which follows its range), and says which.
const benchPackage = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>
}
const pinnedEsbuild = benchPackage.devDependencies.esbuild
if (esbuildVersion !== pinnedEsbuild) {
  console.error(`esbuild ${esbuildVersion} is not the pinned ${pinnedEsbuild}: run pnpm install`)
  process.exit(1)
}
const ceilingOf = (entry: Entry) =>
  entry.reference === undefined ? undefined : Math.round(entry.reference * (1 + headroom))
const rows: string[] = []
const measured = new Map<string, number>()
let over = 0
for (const entry of entries) {
  const file = join(here, `.entry-${entries.indexOf(entry)}.js`)
  writeFileSync(file, entry.source)
  try {
    const result = await build({
      entryPoints: [file],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'error',
      external: entry.external ?? [],
    })
    const code = result.outputFiles[0]?.contents ?? new Uint8Array()
    const gzipped = gzipSync(code, { level: 9 }).length
    measured.set(entry.name, gzipped)
    const base = entry.over === undefined ? undefined : measured.get(entry.over)
    const added = base === undefined ? undefined : gzipped - base
    const ceiling = ceilingOf(entry)
    const verdict =
      added !== undefined && entry.maxAddedBytes !== undefined
        ? added <= entry.maxAddedBytes
          ? 'within'
          : 'OVER'
        : ceiling === undefined
          ? '—'
          : gzipped <= ceiling
            ? 'within'
            : 'OVER'
    if (verdict === 'OVER') over++
    const guard =
      added !== undefined
        ? `adds ${bytes(added)} | adds at most ${bytes(entry.maxAddedBytes ?? NaN)}`
        : entry.reference === undefined || ceiling === undefined
          ? 'measured only | —'
          : `${bytes(entry.reference)} | ${bytes(ceiling)}`
    rows.push(
      `| ${entry.name} | ${kB(code.length, 1)} | ${bytes(gzipped)} | ${guard} | ${verdict} |`,
    )
  } finally {
    rmSync(file, { force: true })
  }
}

console.log('## Bundle sizes\n')
console.log(
  `Browser bundles by esbuild ${esbuildVersion} (pinned in bench/package.json; minified, ESM), ` +
    `gzip level 9. Ceiling: the reference size plus ${headroom * 100} % headroom, a guard ` +
    'against regressions; the goals are in bench/README.md.\n',
)
console.log('| entry | minified | min+gzip | reference | ceiling | |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const row of rows) console.log(row)
if (process.argv.includes('--check') && over > 0) {
  console.error(`${over} bundle(s) over their ceiling`)
  process.exitCode = 1
}
