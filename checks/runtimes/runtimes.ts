import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A JavaScript runtime the client side of the integration scenarios runs under. */
export interface Runtime {
  /** The row's name in the README's table. */
  readonly name: string
  /** The npm package that brings it, and the exact version: a run is the same on every machine. */
  readonly npm: { readonly name: string; readonly version: string }
  /** The executable the package links in `node_modules/.bin`. */
  readonly bin: string
  /** Arguments between the executable and the script. */
  readonly args: readonly string[]
  /**
   * The WebSocket the client is given: the runtime's global one where it has one, `ws` where it
   * does not (Node 20).
   */
  readonly webSocket: 'global' | 'ws'
}

/**
 * Every runtime of the matrix, each from the npm registry: Node from the `node` package (which
 * brings the official binary for the platform), Bun and Deno from theirs (whose binaries come as
 * optional platform packages).
 */
export const runtimes: readonly Runtime[] = [
  {
    name: 'Node 20',
    npm: { name: 'node', version: '20.20.2' },
    bin: 'node',
    args: [],
    webSocket: 'ws',
  },
  {
    name: 'Node 22',
    npm: { name: 'node', version: '22.23.3' },
    bin: 'node',
    args: [],
    webSocket: 'global',
  },
  {
    name: 'Node 24',
    npm: { name: 'node', version: '24.21.0' },
    bin: 'node',
    args: [],
    webSocket: 'global',
  },
  {
    name: 'Bun',
    npm: { name: 'bun', version: '1.4.5' },
    bin: 'bun',
    args: [],
    webSocket: 'global',
  },
  {
    name: 'Deno',
    npm: { name: 'deno', version: '2.9.6' },
    bin: 'deno',
    // Network and file reads for the sockets and the modules; no lockfile written in the repo.
    args: ['run', '--allow-net', '--allow-read', '--allow-env', '--no-lock'],
    webSocket: 'global',
  },
]

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/**
 * Where the runtimes are kept between runs: under the repository's `node_modules`, so a fresh
 * clone fetches them once and `git clean` or a new install starts over.
 */
export const runtimeCacheDir = join(root, 'node_modules', '.cache', 'lifeline-runtimes')

/** The installed executable of `runtime` (present once `fetchRuntime` has resolved). */
export function executableOf(runtime: Runtime): string {
  return join(prefixOf(runtime), 'node_modules', '.bin', runtime.bin)
}

function prefixOf(runtime: Runtime): string {
  return join(runtimeCacheDir, `${runtime.npm.name}-${runtime.npm.version}`)
}

/** What `--version` prints for each runtime: the check that the executable is the one asked. */
function versionMatches(runtime: Runtime, printed: string): boolean {
  return printed.includes(runtime.npm.version)
}

async function printedVersion(runtime: Runtime): Promise<string> {
  const { stdout } = await run(executableOf(runtime), ['--version'], { timeout: 30_000 })
  return stdout.trim()
}

/**
 * Installs `runtime` from the npm registry into the cache, unless a previous run did; resolves
 * once its executable answers `--version` with the version asked. Rejects with the reason
 * (npm's own output, or what the executable printed) when it cannot: a runtime that cannot be
 * had fails the run, it is never skipped.
 */
export async function fetchRuntime(runtime: Runtime): Promise<{ fetched: boolean }> {
  const prefix = prefixOf(runtime)
  const done = join(prefix, '.complete')
  if (existsSync(done)) return { fetched: false }
  rmSync(prefix, { recursive: true, force: true })
  mkdirSync(prefix, { recursive: true })
  const { name, version } = runtime.npm
  // The packages put their binary in place with an install script: allowed here by name, as
  // npm asks a project to (older npm ignores the field and runs them anyway).
  writeFileSync(
    join(prefix, 'package.json'),
    `${JSON.stringify({ private: true, dependencies: { [name]: version }, allowScripts: { [name]: true } }, null, 2)}\n`,
  )
  try {
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'],
      { cwd: prefix, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
    )
  } catch (error) {
    const { stderr = '', message } = error as { stderr?: string; message: string }
    throw new Error(
      `could not fetch ${runtime.name} (npm install ${name}@${version}): ${stderr.trim() || message}`,
    )
  }
  let printed: string
  try {
    printed = await printedVersion(runtime)
  } catch (error) {
    throw new Error(
      `${runtime.name} was installed from npm (${name}@${version}) but ${executableOf(runtime)} does not run: ${(error as Error).message}`,
    )
  }
  if (!versionMatches(runtime, printed)) {
    throw new Error(
      `${executableOf(runtime)} says ${JSON.stringify(printed)}, expected ${runtime.name} ${version}`,
    )
  }
  writeFileSync(done, `${printed}\n`)
  return { fetched: true }
}
