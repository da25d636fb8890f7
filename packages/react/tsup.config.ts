import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  // Every export is a hook or a provider that runs in the browser: the whole entry is a client
  // module for React Server Components. A banner, since bundling drops module directives.
  banner: { js: "'use client'" },
  external: ['react', '@lifeline/core'],
})
