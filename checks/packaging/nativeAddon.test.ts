/**
 * No published entry point loads msgpackr's native addon (msgpackr-extract), by `import` or by
 * `require`: the packages run on msgpackr's pure JavaScript, the decoder the checks, the fuzz
 * test and the benchmarks are of (the codec's README, "msgpackr's native addon"). msgpackr's
 * CommonJS entries for Node load the addon whenever it is installed, and npm installs it with
 * msgpackr as an optional dependency, so a built file that requires one of them turns it on for
 * every CommonJS app. Each entry point is loaded in a fresh process, since an addon once loaded
 * stays loaded. Runs against the built packages (`pnpm build` first).
 */
import { execFile } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Every entry point of every published package, as an app names it: `@lifeline/codec/msgpack`. */
const entries = readdirSync(join(root, 'packages')).flatMap((dir) => {
  const manifest = JSON.parse(
    readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'),
  ) as {
    name: string
    private?: boolean
    exports: Record<string, unknown>
  }
  if (manifest.private) return []
  return Object.keys(manifest.exports)
    .filter((path) => path !== './package.json')
    .map((path) => manifest.name + path.slice(1))
})

/** The msgpackr-extract addons a fresh Node process has loaded after loading `entry`. */
async function addonsAfter(
  how: 'import' | 'require',
  entry: string,
  // This package, whose dependencies are the published packages.
  cwd = dirname(fileURLToPath(import.meta.url)),
): Promise<string[]> {
  const load =
    how === 'import'
      ? `await import(${JSON.stringify(entry)})`
      : `require(${JSON.stringify(entry)})`
  const report = `console.log(JSON.stringify(process.report.getReport().sharedObjects.filter((path) => path.includes('msgpackr-extract'))))`
  const { stdout } = await run(
    process.execPath,
    [
      how === 'import' ? '--input-type=module' : '--input-type=commonjs',
      '-e',
      `${load}; ${report}`,
    ],
    // msgpackr's own switch would hide what the entry points do by themselves.
    { cwd, env: { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: '' } },
  )
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as string[]
}

describe('the published entry points load no native addon of msgpackr', () => {
  it.each(entries.flatMap((entry) => [['require', entry] as const, ['import', entry] as const]))(
    '%s(%s)',
    async (how, entry) => {
      expect(await addonsAfter(how, entry)).toEqual([])
    },
  )

  it('control: msgpackr’s CommonJS entry for Node loads it here, so the cases above can fail', async () => {
    const codec = join(root, 'packages', 'codec')
    expect(await addonsAfter('require', 'msgpackr/pack', codec)).toEqual([
      expect.stringMatching(/msgpackr-extract.*\.node$/),
    ])
  })
})
