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

// The core README cites the references of the socket's and the client's ceilings: they moved
// with the gate while the README kept the sizes of months before.
it('cites the size references of the gate in the core README', () => {
  const gate = readFileSync(join(root, 'bench', 'size', 'main.ts'), 'utf8')
  const [socket, client] = [...gate.matchAll(/reference: ([\d_]+)/g)].map((match) =>
    (Number(match[1]!.replace(/_/g, '')) / 1000).toFixed(2),
  )
  const readme = readFileSync(join(root, 'packages', 'core', 'README.md'), 'utf8')
  expect(readme.replace(/\s+/g, ' ')).toContain(`reference sizes, ${socket} and ${client} kB`)
})
