import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { extractBlocks, readmePaths } from './blocks.js'
import { compileBlocks, root } from './compile.js'

// Every ```ts block of every README compiles as written, against the built packages (the test
// command builds them first): what a reader pastes is what the compiler checked.
it('compiles every TypeScript block of every README', async () => {
  const blocks = readmePaths(root).flatMap((path) =>
    extractBlocks(path, readFileSync(join(root, path), 'utf8')),
  )
  const errors = await compileBlocks(blocks)
  const perReadme = new Map<string, number>()
  for (const { readme } of blocks) perReadme.set(readme, (perReadme.get(readme) ?? 0) + 1)
  const counts = [...perReadme].map(([readme, count]) => `${readme} ${count}`).join(', ')
  console.log(`README blocks compiled: ${blocks.length} (${counts})`)
  expect(errors.map(({ where, message }) => `${where}: ${message}`)).toEqual([])
  expect(blocks.length).toBeGreaterThan(10)
})
