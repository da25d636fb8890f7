import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const script = join(root, 'scripts', 'prepare-test-env.sh')

let dirs: string[] = []
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  dirs = []
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-prepare-'))
  dirs.push(dir)
  return dir
}

function executable(path: string, body: string): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

interface Machine {
  /** What `id -u` prints. */
  uid: number
  /**
   * Whether `apt-get` exists; it records its arguments and, on install, makes a program of each
   * package's name (the packages the script asks for are named as their programs).
   */
  apt?: boolean
  /** Whether `apt-get install` really provides the programs. @default true */
  aptProvides?: boolean
  /** Whether `chromium` is on PATH from the start. */
  chromium?: boolean
  /**
   * Whether `redis-server` is on PATH from the start: by default it is, so that the tests of
   * Chromium see Chromium alone.
   * @default true
   */
  redisServer?: boolean
  env?: Record<string, string>
}

/**
 * Runs the script on a simulated machine: PATH holds only a fake `id`, and the fake `apt-get`,
 * `chromium` and `redis-server` asked for, so nothing is installed and the real programs stay
 * hidden.
 */
function prepare(machine: Machine) {
  const bin = tempDir()
  const log = join(bin, 'apt.log')
  executable(join(bin, 'id'), `echo ${machine.uid}`)
  if (machine.chromium) executable(join(bin, 'chromium'), 'exit 0')
  if (machine.redisServer ?? true) executable(join(bin, 'redis-server'), 'exit 0')
  if (machine.apt) {
    const install =
      machine.aptProvides === false
        ? ':'
        : `shift 3; for p in "$@"; do printf '#!/bin/sh\\n' > ${bin}/$p; /bin/chmod +x ${bin}/$p; done`
    executable(
      join(bin, 'apt-get'),
      `echo "$*" >> ${log}\nif [ "$1" = install ]; then ${install}; fi`,
    )
  }
  const started = Date.now()
  const result = spawnSync('/bin/sh', [script], {
    env: { PATH: bin, ...machine.env },
    encoding: 'utf8',
  })
  let apt: string[] = []
  try {
    apt = readFileSync(log, 'utf8').trim().split('\n')
  } catch {
    // apt-get never ran
  }
  return {
    status: result.status,
    stdout: result.stdout,
    stderrLines: result.stderr.split('\n').filter(Boolean),
    apt,
    elapsedMs: Date.now() - started,
  }
}

describe('scripts/prepare-test-env.sh', () => {
  it('stops at once with one line saying what to install when Chromium is missing and it cannot install', () => {
    for (const machine of [{ uid: 1000, apt: true }, { uid: 0 }]) {
      const result = prepare(machine)
      expect(result.status).toBe(1)
      expect(result.stdout).toBe('')
      expect(result.stderrLines).toEqual([
        'The tests need chromium: install it (Debian: apt-get install -y chromium) and run the tests again',
      ])
      expect(result.apt).toEqual([])
      // "At once": no network, no waiting. Bound generous for a loaded machine.
      expect(result.elapsedMs).toBeLessThan(5_000)
    }
  })

  it('installs Chromium through apt when it runs as root on a machine with apt-get', () => {
    const result = prepare({ uid: 0, apt: true })
    expect(result.status).toBe(0)
    expect(result.apt).toEqual(['update -qq', 'install -y -qq chromium'])
    expect(result.stderrLines).toEqual(['installing chromium for the tests (apt-get)'])
  })

  it('fails with one line when apt-get ran but Chromium is still missing', () => {
    const result = prepare({ uid: 0, apt: true, aptProvides: false })
    expect(result.status).toBe(1)
    expect(result.stderrLines.at(-1)).toBe(
      'apt-get installed chromium but chromium is still not on PATH',
    )
  })

  it('does nothing when Chromium is on PATH', () => {
    const result = prepare({ uid: 0, apt: true, chromium: true })
    expect(result).toMatchObject({ status: 0, stdout: '', stderrLines: [], apt: [] })
  })

  it('takes CHROMIUM_PATH as the user’s choice: used when executable, never replaced by an install', () => {
    const chromium = executable(join(tempDir(), 'my-chromium'), 'exit 0')
    expect(prepare({ uid: 0, apt: true, env: { CHROMIUM_PATH: chromium } })).toMatchObject({
      status: 0,
      stderrLines: [],
      apt: [],
    })

    const missing = prepare({ uid: 0, apt: true, env: { CHROMIUM_PATH: '/nonexistent/chromium' } })
    expect(missing.status).toBe(1)
    expect(missing.stderrLines).toEqual([
      'CHROMIUM_PATH is /nonexistent/chromium, which is not an executable: point it at chromium, or unset it to use chromium from PATH',
    ])
    expect(missing.apt).toEqual([])
  })

  it('refuses a CHROMIUM_PATH that names a directory, as Debian’s /usr/lib/chromium is', () => {
    const directory = tempDir()
    const result = prepare({ uid: 0, apt: true, env: { CHROMIUM_PATH: directory } })
    expect(result.status).toBe(1)
    expect(result.stderrLines).toEqual([
      `CHROMIUM_PATH is ${directory}, which is not an executable: point it at chromium, or unset it to use chromium from PATH`,
    ])
    expect(result.apt).toEqual([])
  })
})

describe('scripts/prepare-test-env.sh, redis-server', () => {
  it('names every missing program in its one line', () => {
    const result = prepare({ uid: 1000, apt: true, redisServer: false })
    expect(result.status).toBe(1)
    expect(result.stderrLines).toEqual([
      'The tests need chromium redis-server: install it (Debian: apt-get install -y chromium redis-server) and run the tests again',
    ])
    expect(result.apt).toEqual([])
  })

  it('installs redis-server through apt, with Chromium in the same apt-get call', () => {
    const alone = prepare({ uid: 0, apt: true, chromium: true, redisServer: false })
    expect(alone.status).toBe(0)
    expect(alone.apt).toEqual(['update -qq', 'install -y -qq redis-server'])

    const both = prepare({ uid: 0, apt: true, redisServer: false })
    expect(both.status).toBe(0)
    expect(both.apt).toEqual(['update -qq', 'install -y -qq chromium redis-server'])
    expect(both.stderrLines).toEqual(['installing chromium redis-server for the tests (apt-get)'])
  })

  it('takes REDIS_SERVER_PATH as the user’s choice', () => {
    const redis = executable(join(tempDir(), 'my-redis-server'), 'exit 0')
    const chosen = { REDIS_SERVER_PATH: redis }
    expect(
      prepare({ uid: 0, apt: true, chromium: true, redisServer: false, env: chosen }),
    ).toMatchObject({ status: 0, stderrLines: [], apt: [] })

    const missing = prepare({
      uid: 0,
      apt: true,
      chromium: true,
      env: { REDIS_SERVER_PATH: '/nonexistent/redis-server' },
    })
    expect(missing.status).toBe(1)
    expect(missing.stderrLines).toEqual([
      'REDIS_SERVER_PATH is /nonexistent/redis-server, which is not an executable: point it at redis-server, or unset it to use redis-server from PATH',
    ])
  })
})

describe('the test command', () => {
  const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<
    string,
    string
  >

  it('starts with the preparation step', () => {
    expect(scripts.test).toMatch(/^sh scripts\/prepare-test-env\.sh && /)
  })

  it('is all that CI runs: .ci/run adds nothing to the README’s command', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const command = 'npx -y pnpm@10.34.9 install --frozen-lockfile && npx -y pnpm@10.34.9 test'
    expect(readme).toContain(`\`\`\`sh\n${command}\n\`\`\``)
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    expect(ci).toEqual(['set -euo pipefail', 'cd "$(dirname "$0")/.."', command])
  })
})
