import { defineConfig } from 'tsup'
import { pureMsgpackrForRequire } from './pureMsgpackrForRequire.js'

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
