import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { root } from '../readme/compile.js'

const examples = readdirSync(join(root, 'examples'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .filter((name) => readdirSync(join(root, 'examples', name)).includes('README.md'))

// An example's README is read by someone who has just cloned the repository: its command builds
// the packages, which needs their dependencies installed first (`tsup: not found` otherwise).
it.each(examples)("examples/%s: the README's command installs before it builds", (name) => {
  const readme = readFileSync(join(root, 'examples', name, 'README.md'), 'utf8')
  const commands = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) =>
    match[1]!.replace(/\\\n\s*/g, ''),
  )
  const builds = commands.filter((command) => / build\b/.test(command))
  expect(builds.length).toBeGreaterThan(0)
  for (const command of builds) {
    expect(command).toMatch(/install --frozen-lockfile && .* build\b/)
  }
})
