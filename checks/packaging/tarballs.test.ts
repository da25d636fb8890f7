import { execFile } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const repository = 'https://github.com/lifeline-ws/lifeline'

/** The published packages: every package under `packages/` that is not private. */
const published = readdirSync(join(root, 'packages')).filter(
  (name) => !JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).private,
)

interface Tarball {
  name: string
  /** Paths inside the tarball, without the leading `package/`. */
  files: string[]
  /** Where it was extracted. */
  dir: string
}

let work: string
const tarballs = new Map<string, Tarball>()

// One `pnpm pack` per published package (what `pnpm publish` would upload: `workspace:`
// versions replaced), listed and extracted. The packages are built by the test command first.
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lifeline-pack-'))
  const pnpm = process.env.npm_execpath
  const [command, prefix] = pnpm?.endsWith('.cjs') ? [process.execPath, [pnpm]] : ['pnpm', []]
  for (const name of published) {
    const packDir = join(work, 'packs', name)
    await run(command, [...prefix, 'pack', '--pack-destination', packDir], {
      cwd: join(root, 'packages', name),
    })
    const [file] = readdirSync(packDir)
    const tgz = join(packDir, file ?? '')
    const { stdout } = await run('tar', ['-tzf', tgz])
    const dir = join(work, 'node_modules', '@lifeline', name)
    mkdirSync(dir, { recursive: true })
    await run('tar', ['-xzf', tgz, '-C', dir, '--strip-components=1'])
    tarballs.set(name, {
      name,
      dir,
      files: stdout
        .split('\n')
        .filter(Boolean)
        .map((path) => path.replace(/^package\//, '')),
    })
  }
}, 120_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

describe.each(published)('the tarball of @lifeline/%s', (name) => {
  const tarball = () => tarballs.get(name)!
  const manifest = () =>
    JSON.parse(readFileSync(join(tarball().dir, 'package.json'), 'utf8')) as Record<string, never>

  it('ships LICENSE (the repository’s), README, CHANGELOG and the built code', () => {
    const { files, dir } = tarball()
    expect(files).toEqual(
      expect.arrayContaining(['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json']),
    )
    expect(files.some((file) => file.startsWith('dist/'))).toBe(true)
    expect(
      files.filter(
        (file) => !/^(dist\/|LICENSE$|README\.md$|CHANGELOG\.md$|package\.json$)/.test(file),
      ),
    ).toEqual([])
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(
      readFileSync(join(root, 'LICENSE'), 'utf8'),
    )
  })

  it('names its licence, repository, homepage, issues, keywords and tested Node versions', () => {
    const pkg = manifest()
    expect(pkg).toMatchObject({
      name: `@lifeline/${name}`,
      license: 'MIT',
      repository: { type: 'git', url: `git+${repository}.git`, directory: `packages/${name}` },
      homepage: `${repository}/tree/main/packages/${name}#readme`,
      bugs: { url: `${repository}/issues` },
      engines: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines,
    })
    expect(pkg.keywords).toEqual(expect.arrayContaining(['websocket']))
    expect(JSON.stringify(pkg.dependencies ?? {})).not.toContain('workspace:')
  })

  // A module the declarations import that the manifest does not declare resolves only inside
  // the workspace; a dependency without types of its own (`ws`) needs its `@types/` package
  // declared too, or a consumer's `skipLibCheck: false` fails on it and, with `skipLibCheck` on,
  // every type taken from it is silently `any`.
  it('declares every module its declarations import, with its types', () => {
    const pkg = manifest() as Record<string, Record<string, string> | undefined>
    const declared = { ...pkg.dependencies, ...pkg.peerDependencies }
    const imported = new Set<string>()
    for (const file of tarball().files.filter((path) => /\.d\.c?ts$/.test(path))) {
      const text = readFileSync(join(tarball().dir, file), 'utf8')
      for (const [, specifier = ''] of text.matchAll(
        /^(?:import|export)\b[^'"]*['"]([^'"]+)['"]/gm,
      )) {
        if (specifier.startsWith('.') || specifier.startsWith('node:')) continue
        imported.add(/^(@[^/]+\/)?[^/]+/.exec(specifier)?.[0] ?? specifier)
      }
    }
    const missing: string[] = []
    for (const dependency of imported) {
      if (dependency === `@lifeline/${name}`) continue
      if (!(dependency in declared)) {
        missing.push(dependency)
        continue
      }
      const own = createRequire(join(root, 'packages', name, 'package.json'))
      const target = JSON.parse(
        readFileSync(own.resolve(`${dependency}/package.json`), 'utf8'),
      ) as Record<string, unknown>
      const typed =
        target.types !== undefined ||
        target.typings !== undefined ||
        JSON.stringify(target.exports ?? {}).includes('"types"')
      const types = `@types/${dependency.replace(/^@([^/]+)\//, '$1__')}`
      // A peer's types are the consumer's to install, with the peer (`@types/react`).
      const peer = dependency in (pkg.peerDependencies ?? {})
      if (!typed && !peer && !(types in declared)) missing.push(types)
    }
    expect(missing).toEqual([])
  })

  // A map's sources are read from the map itself (`sourcesContent`) or from beside it: the
  // TypeScript sources are not in the tarball, so their text must be in the map, or a debugger,
  // `--enable-source-maps` or a bundler's source-map loader finds nothing. A path of the machine
  // that built it is looked for on the user's disk, where it is not.
  it('has source maps whose every source is in the map or in the tarball', () => {
    const { dir, files } = tarball()
    const lacking: string[] = []
    for (const file of files.filter((path) => path.endsWith('.map'))) {
      const map = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        sources: string[]
        sourcesContent?: (string | null)[]
      }
      map.sources.forEach((source, i) => {
        const shipped = !isAbsolute(source) && files.includes(join(dirname(file), source))
        if (typeof map.sourcesContent?.[i] !== 'string' && !shipped)
          lacking.push(`${file}: ${source}`)
      })
    }
    expect(lacking).toEqual([])
  })

  it('has a README whose links work on the registry page (no relative links)', () => {
    const readme = readFileSync(join(tarball().dir, 'README.md'), 'utf8')
    const relative = [...readme.matchAll(/\]\(([^)]+)\)/g)]
      .map((match) => match[1] ?? '')
      .filter((target) => !/^(https?:|mailto:|#)/.test(target))
    expect(relative).toEqual([])
  })
})

// A CommonJS Node service (`consumer/service.ts`) against the extracted tarballs, under each
// module resolution, without the DOM's lib and with the declarations checked: every entry point
// resolves and keeps its types, so the misuses marked `@ts-expect-error` there stay errors.
describe('a TypeScript consumer of the packed packages', () => {
  beforeAll(() => {
    // The packages' own dependencies, from the workspace (no registry), beside them.
    const resolveFrom = (pkg: string, dependency: string) =>
      realpathSync(join(root, 'packages', pkg, 'node_modules', dependency))
    const links: Record<string, string> = {
      ws: resolveFrom('server', 'ws'),
      eventemitter3: resolveFrom('server', 'eventemitter3'),
      'isomorphic-ws': resolveFrom('core', 'isomorphic-ws'),
      msgpackr: resolveFrom('codec', 'msgpackr'),
      '@types/ws': realpathSync(join(root, 'node_modules', '@types', 'ws')),
      '@types/node': realpathSync(join(root, 'node_modules', '@types', 'node')),
    }
    for (const [name, target] of Object.entries(links)) {
      mkdirSync(dirname(join(work, 'node_modules', name)), { recursive: true })
      symlinkSync(target, join(work, 'node_modules', name), 'dir')
    }
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'service', private: true }))
    writeFileSync(
      join(work, 'service.ts'),
      readFileSync(join(here, 'consumer', 'service.ts'), 'utf8'),
    )
  })

  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  it.each([
    ['node10', 'commonjs'],
    ['node16', 'node16'],
    ['bundler', 'esnext'],
  ])('compiles under moduleResolution %s (module %s)', async (moduleResolution, module) => {
    const config = join(work, `tsconfig.${moduleResolution}.json`)
    writeFileSync(
      config,
      JSON.stringify({
        compilerOptions: {
          module,
          moduleResolution,
          target: 'es2022',
          lib: ['es2022'],
          types: ['node'],
          strict: true,
          // Checked: a declaration naming what only the DOM's lib has (a Node service has no
          // `dom`) or a module without types fails here, where `skipLibCheck` would make it `any`.
          skipLibCheck: false,
          noEmit: true,
        },
        files: ['service.ts'],
      }),
    )
    const output = await run(process.execPath, [tsc, '-p', config, '--pretty', 'false'], {
      cwd: work,
    }).then(
      () => '',
      (error: { stdout?: string; message: string }) => error.stdout || error.message,
    )
    expect(output.trim().split('\n').filter(Boolean)).toEqual([])
  })
})
