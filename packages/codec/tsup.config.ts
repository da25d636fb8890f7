import { defineConfig } from 'tsup'
import type { Options } from 'tsup'

type Plugin = NonNullable<Options['plugins']>[number]

/**
 * msgpackr's Node entry points load its native addon (msgpackr-extract) when it is installed;
 * the codec is tested and shipped on msgpackr's pure-JS code only (README, "msgpackr's native
 * addon"). The source imports `msgpackr/pack`, which is pure JS for `import` and in browsers,
 * but its `require` target is the build that loads the addon: the CommonJS output requires
 * `msgpackr/index-no-eval` instead, the same pure-JS code (without the `new Function` fast path
 * for msgpackr records, which this codec turns off and refuses anyway).
 */
const pureMsgpackrForRequire: Plugin = {
  name: 'pure-msgpackr-for-require',
  renderChunk(code) {
    if (this.format !== 'cjs') return
    // The import as esbuild leaves it: tsup turns split ESM chunks into CommonJS afterwards.
    const pure = code.replace(/(['"])msgpackr\/pack\1/g, '$1msgpackr/index-no-eval$1')
    return pure === code ? undefined : { code: pure }
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
  plugins: [pureMsgpackrForRequire],
})
