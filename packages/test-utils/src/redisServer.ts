import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterClosePhase, delay } from './realTime.js'
import { sendRedisCommand } from './redisCommand.js'
import type { RedisReply } from './redisCommand.js'
import { TimeoutError, withTimeout } from './wait.js'

export interface RedisServerOptions {
  /**
   * Keep the data on disk, in the fixture's temp dir (append-only file, fsync on every write),
   * so it survives `stop()`/`restart()` and even `kill()`/`restart()`. Off, nothing is ever
   * written to disk and a restart starts empty.
   * @default false
   */
  persistence?: boolean
  /**
   * The `redis-server` executable.
   * @default process.env.REDIS_SERVER_PATH, else `redis-server` on PATH
   */
  redisServerPath?: string
  /** More `redis-server` arguments, after the fixture's own (`['--maxmemory', '64mb']`). @default [] */
  args?: readonly string[]
  /** How long a start or restart may take to answer PING. @default 5000 */
  startTimeoutMs?: number
  /** How long `stop()` waits for a graceful shutdown before it kills the server. @default 5000 */
  stopTimeoutMs?: number
}

export const redisServerDefaults = {
  persistence: false,
  args: [],
  startTimeoutMs: 5_000,
  stopTimeoutMs: 5_000,
} satisfies Required<Omit<RedisServerOptions, 'redisServerPath'>>

export interface RedisServerFixture {
  /** Stays the same across `stop()`/`kill()` and `restart()`. */
  readonly port: number
  readonly host: '127.0.0.1'
  /** `redis://127.0.0.1:<port>`, for a Redis client. */
  readonly url: string
  /** The server's working directory, a fresh temp dir removed by `close()`. */
  readonly dir: string
  /** True from a start or restart until `stop()`, `kill()` or an exit of its own. */
  readonly running: boolean
  /** The process id of the running server, if any. */
  readonly pid: number | undefined
  /** What the server printed (its log), the last 64 KiB: for failure messages. */
  readonly output: string
  /** Sends one command on a fresh connection and resolves with the reply (see `sendRedisCommand`). */
  command(...args: (string | number)[]): Promise<RedisReply>
  /**
   * Graceful shutdown (the SHUTDOWN command: clients are disconnected, an append-only file is
   * flushed); killed if it takes longer than `stopTimeoutMs`. The port is free until `restart()`.
   */
  stop(): Promise<void>
  /** SIGKILL, as a crash: nothing is flushed. Resolves when the process has exited. */
  kill(): Promise<void>
  /** Starts again on the same port and directory (stopping first if running), answering PING. */
  restart(): Promise<void>
  /** Kills the server and removes its directory, for good. Idempotent. */
  close(): Promise<void>
}

const HOST = '127.0.0.1'
const OUTPUT_LIMIT = 64 * 1024
/** Attempts at a fresh port when another process takes the chosen one before Redis binds it. */
const PORT_ATTEMPTS = 5

/** Starts Debian's `redis-server` on 127.0.0.1, on a free port, in a temp dir of its own. */
export function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerFixture> {
  return launchRedisServer(options, findFreePort)
}

/**
 * `startRedisServer` with the port chooser injected, so a test can make the first choice lose
 * the race for the port.
 */
export async function launchRedisServer(
  options: RedisServerOptions,
  choosePort: () => Promise<number>,
): Promise<RedisServerFixture> {
  const executable = options.redisServerPath ?? process.env.REDIS_SERVER_PATH ?? 'redis-server'
  const persistence = options.persistence ?? redisServerDefaults.persistence
  const extraArgs = options.args ?? redisServerDefaults.args
  const startTimeoutMs = options.startTimeoutMs ?? redisServerDefaults.startTimeoutMs
  const stopTimeoutMs = options.stopTimeoutMs ?? redisServerDefaults.stopTimeoutMs
  const dir = await mkdtemp(join(tmpdir(), 'lifeline-redis-'))
  openDirs.add(dir)
  const removeDir = async (): Promise<void> => {
    await rm(dir, { recursive: true, force: true })
    openDirs.delete(dir)
  }

  let output = ''
  let current: RunningServer | undefined
  let closed = false
  /** Operations run one at a time, so a close() during a restart() never leaves a process. */
  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(operation: () => Promise<T>): Promise<T> => {
    const result = queue.then(operation, operation)
    queue = result.catch(() => {})
    return result
  }

  const launch = (port: number): Promise<RunningServer> =>
    startProcess({
      executable,
      dir,
      args: serverArgs(port, dir, persistence, extraArgs),
      port,
      startTimeoutMs,
      onOutput(text) {
        output = (output + text).slice(-OUTPUT_LIMIT)
      },
      output: () => output,
    })

  const shutDown = async (how: 'shutdown' | 'kill'): Promise<void> => {
    const server = current
    current = undefined
    if (server === undefined) return
    await server.stop(how, stopTimeoutMs)
  }

  let port = 0
  try {
    for (let attempt = 1; ; attempt += 1) {
      port = await choosePort()
      try {
        current = await launch(port)
        break
      } catch (error) {
        if (!(error instanceof PortTakenError) || attempt === PORT_ATTEMPTS) throw error
      }
    }
  } catch (error) {
    // Whatever failed (the port chooser included), no fixture is returned to remove the dir.
    await removeDir()
    throw error
  }

  return {
    port,
    host: HOST,
    url: `redis://${HOST}:${port}`,
    dir,
    get running() {
      return current?.exited === false
    },
    get pid() {
      return current?.exited === false ? current.child.pid : undefined
    },
    get output() {
      return output
    },
    command(...args) {
      return sendRedisCommand(port, args)
    },
    stop() {
      return serial(() => shutDown('shutdown'))
    },
    kill() {
      return serial(() => shutDown('kill'))
    },
    restart() {
      return serial(async () => {
        if (closed) throw new Error('restart() after close(): this Redis fixture is gone')
        await shutDown('shutdown')
        current = await launch(port)
      })
    },
    close() {
      return serial(async () => {
        if (closed) return
        closed = true
        try {
          await shutDown('kill')
        } finally {
          await removeDir()
        }
      })
    },
  }
}

function serverArgs(
  port: number,
  dir: string,
  persistence: boolean,
  extraArgs: readonly string[],
): string[] {
  const storage = persistence
    ? ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always']
    : ['--save', '', '--appendonly', 'no']
  return [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--dir',
    dir,
    '--daemonize',
    'no',
    // The log goes to stdout, which the fixture keeps for failure messages.
    '--logfile',
    '',
    ...storage,
    ...extraArgs,
  ]
}

/** The OS picks a free port; it is released for Redis to take, which another process may race. */
function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

class PortTakenError extends Error {}

interface RunningServer {
  readonly child: ChildProcess
  readonly exited: boolean
  /** Shuts the server down, or kills it, and resolves once it has exited. */
  stop(how: 'shutdown' | 'kill', timeoutMs: number): Promise<void>
}

interface ProcessOptions {
  executable: string
  /** The fixture's directory, which the guard removes if this process dies with the server. */
  dir: string
  args: string[]
  port: number
  startTimeoutMs: number
  onOutput(text: string): void
  output(): string
}

/** Spawns one `redis-server` and resolves once it answers PING. */
async function startProcess(options: ProcessOptions): Promise<RunningServer> {
  const child = spawn(options.executable, options.args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const guard = guardProcess(child, options.dir)
  child.stdout?.on('data', (chunk: Buffer) => options.onOutput(chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => options.onOutput(chunk.toString()))

  let exited = false
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true
      guard.release()
      resolve()
    })
  })
  const spawnFailed = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      exited = true
      guard.release()
      reject(describeSpawnError(options.executable, error))
    })
  })
  // Once started, a later 'error' (a failed kill) must not surface as unhandled.
  spawnFailed.catch(() => {})

  const server: RunningServer = {
    child,
    get exited() {
      return exited
    },
    async stop(how, timeoutMs) {
      if (exited) return
      if (how === 'kill') {
        child.kill('SIGKILL')
        await exit
      } else {
        // SHUTDOWN acts at once, where SIGTERM waits for the next server tick (up to 100 ms).
        // Its connection closes without a reply; a server that does not answer is killed.
        sendRedisCommand(options.port, ['SHUTDOWN'], { timeoutMs }).catch(() => {})
        try {
          await withTimeout(exit, timeoutMs, `redis-server (pid ${child.pid}) to shut down`)
        } catch {
          child.kill('SIGKILL')
          await exit
        }
      }
      // The stdout and stderr pipes close with the process; let libuv release them.
      await afterClosePhase()
    },
  }

  const exitedEarly = exit.then(() => {
    const log = options.output()
    if (/Address already in use|Failed listening on port/.test(log)) {
      throw new PortTakenError(`port ${options.port} was taken before redis-server could bind it`)
    }
    throw new Error(`redis-server exited while starting (exit code ${child.exitCode}):\n${log}`)
  })
  try {
    await withTimeout(
      Promise.race([spawnFailed, exitedEarly, answersPing(options.port, () => exited)]),
      options.startTimeoutMs,
      `redis-server on port ${options.port} to answer PING`,
    )
  } catch (error) {
    exitedEarly.catch(() => {})
    await server.stop('kill', options.startTimeoutMs)
    if (error instanceof TimeoutError) {
      throw new Error(`${error.message}; it printed:\n${options.output()}`, { cause: error })
    }
    throw error
  }
  exitedEarly.catch(() => {})
  return server
}

/** Resolves once the server answers PING with PONG (not refused, not still LOADING). */
async function answersPing(port: number, gone: () => boolean): Promise<void> {
  while (!gone()) {
    try {
      if ((await sendRedisCommand(port, ['PING'], { timeoutMs: 500 })) === 'PONG') return
    } catch {
      // Not listening yet, or loading its data: try again shortly.
    }
    await delay(10)
  }
}

function describeSpawnError(executable: string, error: NodeJS.ErrnoException): Error {
  if (error.code === 'ENOENT' || error.code === 'EACCES') {
    const where =
      executable === 'redis-server'
        ? 'there is no redis-server on PATH'
        : `${executable} is not an executable`
    return new Error(
      `cannot start redis-server: ${where}. Install it (Debian: apt-get install -y redis-server) ` +
        'or point REDIS_SERVER_PATH at one',
      { cause: error },
    )
  }
  return new Error(`cannot start ${executable}: ${error.message}`, { cause: error })
}

/** Servers to kill when this process exits, whichever way the test run ends. */
const liveServers = new Map<ChildProcess, ChildProcess>()
/** Fixture directories not yet removed by `close()` (or a failed start). */
const openDirs = new Set<string>()
let exitHookInstalled = false

interface Guard {
  /** The server has exited: nothing to kill any more. */
  release(): void
}

/**
 * The watchdog's script ($1 the server's pid, $2 its directory). "done" on stdin: the server
 * exited, stand down (the fixture still owns the directory). End of file: the process that held
 * the pipe is gone, and with it the fixture that would have removed the directory, so the server
 * is killed and the directory removed. The removal is tried again while the dying server may
 * still be creating a file in it.
 */
const WATCHDOG_SCRIPT = [
  'read -r line',
  '[ "$line" = done ] && exit 0',
  'kill -9 "$1" 2>/dev/null',
  'for try in 1 2 3 4 5 6 7 8 9 10; do rm -rf "$2" 2>/dev/null; [ -e "$2" ] || exit 0; sleep 0.1; done',
].join('\n')

/**
 * Makes sure a server, and its directory, never outlive the process that started it:
 *
 * - on a normal exit (the test run ends, a fixture was never closed), a synchronous 'exit'
 *   hook kills it and removes the directory of every fixture not closed;
 * - when this process dies without running exit hooks (SIGKILL, SIGTERM from a test runner
 *   tearing a worker down), a watchdog notices that its stdin pipe, held by this process, has
 *   closed, kills the server and removes its directory. The watchdog is a `sh` waiting on
 *   `read`, so it costs nothing.
 */
function guardProcess(child: ChildProcess, dir: string): Guard {
  if (child.pid === undefined) return { release() {} }
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const [server, watchdog] of liveServers) {
        watchdog.kill('SIGKILL')
        server.kill('SIGKILL')
      }
      for (const open of openDirs) {
        try {
          rmSync(open, { recursive: true, force: true })
        } catch {
          // A server killed just above may still be writing in it; nothing more to do on exit.
        }
      }
    })
  }
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'sh', String(child.pid), dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
  })
  watchdog.on('error', () => {})
  watchdog.stdin?.on('error', () => {})
  // The watchdog lives exactly as long as the server; it must never keep this process alive.
  watchdog.unref()
  ;(watchdog.stdin as { unref?: () => void } | null)?.unref?.()
  liveServers.set(child, watchdog)
  let released = false
  return {
    release() {
      if (released) return
      released = true
      liveServers.delete(child)
      watchdog.stdin?.end('done\n')
    },
  }
}
