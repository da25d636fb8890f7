import { defineConfig } from 'tsup'
import { pureMsgpackrForRequire } from '../codec/pureMsgpackrForRequire.js'

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  // Sessions and room messages are packed with msgpackr: its pure-JS code under `require` too.
  plugins: [pureMsgpackrForRequire],
})
