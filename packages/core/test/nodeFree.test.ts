import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { expect, it } from 'vitest'

// Core runs on every platform and carries none's own code: Node's write batching (through `ws`'s
// private `_socket`) and `setImmediate` yields are `@lifeline/node`'s.
it('bundles for the browser with no Node-only code in any entry point', async () => {
  const entries = ['index', 'protocol/index'].map((name) =>
    fileURLToPath(new URL(`../src/${name}.ts`, import.meta.url)),
  )
  const result = await build({
    entryPoints: entries,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outdir: 'unused',
    write: false,
    logLevel: 'error',
  })
  for (const file of result.outputFiles) {
    expect(file.text).not.toMatch(/setImmediate|_socket\b|\.cork\(|\bprocess\./)
  }
})
