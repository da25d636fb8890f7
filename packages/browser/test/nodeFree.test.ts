import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { expect, it } from 'vitest'

/**
 * What a browser app ships with the preset: its entry point bundled for the browser, with core
 * and the codec as the app would get them (through their package exports). None of it may be
 * Node's: no `setImmediate`, no `ws` internals (`_socket`), no `process`, `Buffer`, `require(`
 * or `node:` module. Identifiers only: `"process"` is a word of the protocol's own.
 */
const nodeOnly = [
  /\bsetImmediate\b/,
  /\b_socket\b/,
  /(?<!["'\w$.])process\b(?!["'])/,
  /(?<![\w$])Buffer\b/,
  /\brequire\(/,
  /["']node:/,
]

it('bundles for the browser with no Node-only code', async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'error',
  })
  const code = result.outputFiles[0]?.text ?? ''
  expect(code.length).toBeGreaterThan(10_000)
  const found = nodeOnly.flatMap((pattern) => code.match(new RegExp(pattern, 'g')) ?? [])
  expect(found).toEqual([])
})
