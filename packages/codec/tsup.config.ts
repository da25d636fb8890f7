import { readFile, writeFile } from 'node:fs/promises'
import { dirname, isAbsolute, relative, resolve } from 'node:path'
import { defineConfig } from 'tsup'
import type { Options } from 'tsup'
import { pureMsgpackrForRequire } from './pureMsgpackrForRequire.js'

type Plugin = NonNullable<Options['plugins']>[number]

/**
 * tsup makes split CommonJS from esbuild's ESM chunks, and the map of that step names the
 * CommonJS file it writes by its absolute path, with no text: each `.cjs.map` sent debuggers and
 * source-map loaders to the path of the machine that built it (and made the tarball differ from
 * one clone to the next). Named relative to its map, that source is the file beside it, shipped.
 */
const relativeOwnSources: Plugin = {
  name: 'relative-own-sources',
  async buildEnd({ writtenFiles }) {
    for (const { name } of writtenFiles.filter((file) => file.name.endsWith('.cjs.map'))) {
      const path = resolve(name)
      const map = JSON.parse(await readFile(path, 'utf8')) as { sources: string[] }
      map.sources = map.sources.map((source) =>
        isAbsolute(source) ? relative(dirname(path), source) : source,
      )
      await writeFile(path, JSON.stringify(map))
    }
  },
}

export default defineConfig({
  // msgpack is its own entry so that a bundle importing only `json` never contains msgpackr.
  entry: { index: 'src/index.ts', 'msgpack/index': 'src/msgpack/index.ts' },
  format: ['esm', 'cjs'],
  // Shared code (LifelineError above all) goes to one chunk in both formats: a second copy in
  // the CJS msgpack entry would make `instanceof LifelineError` false across the two entries.
  splitting: true,
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  plugins: [pureMsgpackrForRequire, relativeOwnSources],
})
