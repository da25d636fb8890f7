import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface Manifest {
  name: string
  version: string
  private?: boolean
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}

const manifests = new Map<string, Manifest>(
  readdirSync(join(root, 'packages')).map((dir) => {
    const manifest = JSON.parse(
      readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'),
    ) as Manifest
    return [dir, manifest]
  }),
)

/**
 * The packages of this repository an app must install beside `dir` while none is on the
 * registry: its own, and every `@lifeline/` dependency and peer dependency, transitively. A
 * tarball whose `@lifeline/` dependency is not installed beside it has npm ask the registry for
 * it, which finds nothing.
 */
function needed(dir: string, into = new Set<string>()): Set<string> {
  const manifest = manifests.get(dir)!
  into.add(manifest.name)
  for (const name of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) {
    const next = name.startsWith('@lifeline/') ? name.slice('@lifeline/'.length) : undefined
    if (next !== undefined && !into.has(name)) needed(next, into)
  }
  return into
}

const published = [...manifests].filter(([, manifest]) => !manifest.private).map(([dir]) => dir)

describe('the install sections of the package READMEs', () => {
  it.each(published)('@lifeline/%s names every tarball an app needs beside it', (dir) => {
    const readme = readFileSync(join(root, 'packages', dir, 'README.md'), 'utf8')
    const install = /## Install\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? ''
    const expected = [...needed(dir)].sort()

    // The sentence, when there is one: "the tarballs of `@lifeline/a`, `@lifeline/b` and ...".
    const sentence = /tarballs? of ((?:`@lifeline\/[a-z-]+`(?:,|\s|and)*)+)/.exec(install)?.[1]
    if (sentence !== undefined) {
      const named = [...sentence.matchAll(/`(@lifeline\/[a-z-]+)`/g)].map((match) => match[1])
      expect(named.sort()).toEqual(expected)
    }
    // The command, when there is one: each tarball as `pnpm pack` names it.
    const command = /npm install [^\n]*\.tgz[^\n]*/.exec(install)?.[0]
    if (command !== undefined) {
      const files = [...command.matchAll(/lifeline-([a-z-]+)-(\d+\.\d+\.\d+)\.tgz/g)].map(
        (match) => `@lifeline/${match[1]}@${match[2]}`,
      )
      const versions = expected.map(
        (name) => `${name}@${manifests.get(name.slice('@lifeline/'.length))!.version}`,
      )
      expect(files.sort()).toEqual(versions)
    }
    expect(sentence !== undefined || command !== undefined).toBe(true)
  })

  // What the README's code imports of this repository is what its install puts in the app's
  // package.json: a package only a dependency brings is there for npm's hoisted node_modules,
  // not for pnpm's or Yarn's, where the import does not resolve.
  it.each(published)('@lifeline/%s installs every @lifeline package its README imports', (dir) => {
    const readme = readFileSync(join(root, 'packages', dir, 'README.md'), 'utf8')
    const install = /## Install\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? ''
    const installed = new Set<string>()
    for (const [line] of install.matchAll(/npm install [^\n]*/g)) {
      for (const [, name] of line.matchAll(/(?:^|\s)(@lifeline\/[a-z-]+)/g)) installed.add(name!)
      for (const [, name] of line.matchAll(/lifeline-([a-z-]+)-\d+\.\d+\.\d+\.tgz/g))
        installed.add(`@lifeline/${name}`)
    }
    const imported = new Set(
      [
        ...readme.matchAll(
          /^\s*(?:import|export)\b[^'"\n]*(?:\n[^'"\n]*)*?from '(@lifeline\/[a-z-]+)/gm,
        ),
      ].map((match) => match[1]!),
    )
    expect([...imported].filter((name) => !installed.has(name))).toEqual([])
  })
})
