/**
 * Proves that msgpackr stays out of bundles that use only the JSON codec: both entry points are
 * bundled from source for the browser, minified, and inspected. Sizes (minified and gzipped)
 * are attached to the tests; `--reporter=verbose` prints them.
 */
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'

const sourceDir = fileURLToPath(new URL('.', import.meta.url))

/** String literals of msgpackr's source that minification leaves intact. */
const msgpackrMarkers = ['MessagePack 0xC1', 'Data read, but end of buffer not reached']

interface Bundle {
  readonly code: string
  readonly inputs: readonly string[]
  readonly minifiedBytes: number
  readonly gzippedBytes: number
}

async function bundle(entry: string): Promise<Bundle> {
  const result = await build({
    stdin: { contents: entry, resolveDir: sourceDir, sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  const code = result.outputFiles[0]?.text ?? ''
  return {
    code,
    inputs: Object.keys(result.metafile.inputs),
    minifiedBytes: Buffer.byteLength(code),
    gzippedBytes: gzipSync(code, { level: 9 }).byteLength,
  }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
const describeSize = (name: string, result: Bundle) =>
  `${name}: ${kb(result.minifiedBytes)} minified, ${kb(result.gzippedBytes)} min+gzip`

describe('browser bundles', () => {
  it('of the JSON codec alone contain no msgpackr code', async ({ annotate }) => {
    const result = await bundle("import { json } from './index.js'\nexport const codec = json()\n")
    expect(result.inputs.some((input) => input.includes('msgpackr'))).toBe(false)
    expect(result.inputs.some((input) => input.includes('src/msgpack/'))).toBe(false)
    for (const marker of msgpackrMarkers) expect(result.code).not.toContain(marker)
    // The JSON codec is a few functions: a jump here means something heavy crept in.
    expect(result.gzippedBytes).toBeLessThan(4 * 1024)
    await annotate(describeSize('@lifeline/codec (json)', result))
  })

  it('of the msgpack subpath contain msgpackr (so the check above can fail)', async ({
    annotate,
  }) => {
    const result = await bundle(
      "import { msgpack } from './msgpack/index.js'\nexport const codec = msgpack()\n",
    )
    expect(result.inputs.some((input) => input.includes('msgpackr'))).toBe(true)
    for (const marker of msgpackrMarkers) expect(result.code).toContain(marker)
    await annotate(describeSize('@lifeline/codec/msgpack', result))
  })

  it('of both codecs and negotiation, for reference', async ({ annotate }) => {
    const result = await bundle(
      [
        "import { json, selectCodec } from './index.js'",
        "import { msgpack } from './msgpack/index.js'",
        'export const pick = (p: string) => selectCodec(p, [msgpack(), json()])',
      ].join('\n'),
    )
    expect(result.code).toContain('lifeline.v1.msgpack')
    await annotate(describeSize('json + msgpack + selectCodec', result))
  })
})
