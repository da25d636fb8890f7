import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

// The size gate (`pnpm size`, bench/size/main.ts) must not move with a dependency update: it
// measures with an esbuild pinned to one exact version, which it names in its output.
it('measures bundle sizes with an exactly pinned esbuild', () => {
  const bench = JSON.parse(readFileSync(join(root, 'bench', 'package.json'), 'utf8'))
  const pinned: unknown = bench.devDependencies?.esbuild
  expect(pinned).toMatch(/^\d+\.\d+\.\d+$/)
  const readme = readFileSync(join(root, 'bench', 'README.md'), 'utf8')
  expect(readme).toContain(`esbuild ${String(pinned)}`)
  const gate = readFileSync(join(root, 'bench', 'size', 'main.ts'), 'utf8')
  expect(gate).toContain('esbuildVersion !== pinnedEsbuild')
})
