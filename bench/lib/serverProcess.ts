/**
 * Servers in a process of their own, so that their work does not count in a client's CPU figure
 * and a benchmark can kill and restart them. Both sides of it: `startServer` in the parent, and
 * `announce` / `exitWithParent` in the server script, which prints one JSON line `{ port, … }`
 * once it listens, may print more JSON lines later (results), and exits when its parent closes
 * its stdin, or dies. Every wait is bounded.
 */
import { spawn } from 'node:child_process'
import { appendFileSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { withTimeout } from './samples.js'
import type { ServerKind, ServerMode } from './schema.js'

/** Milliseconds since the epoch with sub-millisecond precision, comparable across processes. */
export const wallClockMs = (): number => performance.timeOrigin + performance.now()

/**
 * Milliseconds this process's main thread has spent runnable but waiting for a CPU (Linux
 * schedstat; NaN elsewhere): time the machine, not the process, took.
 */
export function runQueueMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6
  } catch {
    return NaN
  }
}

export interface ServerProcess<Info> {
  /** The server's first line. */
  readonly info: Info
  /** The lines it printed after its first one, parsed as JSON. */
  readonly messages: AsyncIterator<unknown>
  /**
   * Ends the server and waits (bounded) for it to exit: by closing its stdin, which lets it
   * print a last line (see `exitWithParent`), or by `signal` (`SIGKILL`: a crash).
   */
  stop(signal?: NodeJS.Signals): Promise<void>
}

/** Node flags for a server process, and where its V8 traces go. */
export interface NodeOptions {
  /** Flags for `node` (`--trace-gc-nvp`, `--single-threaded-gc`…). */
  flags?: readonly string[]
  /**
   * A file to which the lines the process prints that are not JSON (V8's traces print on
   * stdout) are appended; without it, every line must be JSON.
   */
  log?: string | undefined
}

/** Starts a server script (TypeScript, through tsx) in its own process; resolves once it listens. */
export async function startServer<Info extends { port: number }>(
  script: string,
  args: readonly string[],
  timeoutMs = 30_000,
  node: NodeOptions = {},
): Promise<ServerProcess<Info>> {
  // BENCH_CPU_PROF=<dir>: each server process writes a V8 CPU profile there when it exits.
  const profile = process.env.BENCH_CPU_PROF
  const flags = profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]
  flags.push(...(node.flags ?? []))
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', script, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const all = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const { log } = node
  const lines = {
    next: async (): Promise<IteratorResult<string>> => {
      for (;;) {
        const line = await all.next()
        if (line.done === true || log === undefined || String(line.value).startsWith('{')) {
          return line
        }
        appendFileSync(log, `${String(line.value)}\n`)
      }
    },
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (signal?: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      if (signal === undefined) child.stdin.end()
      else child.kill(signal)
    }
    try {
      await withTimeout(exited, 10_000, `${script} to exit`)
    } catch {
      child.kill('SIGKILL')
      await exited
    }
  }
  try {
    const first = await withTimeout(lines.next(), timeoutMs, `${script} to listen`)
    if (first.done === true) throw new Error(`${script} exited before listening`)
    const info = JSON.parse(String(first.value)) as Info
    const messages: AsyncIterator<unknown> = {
      next: async () => {
        const line = await lines.next()
        return line.done === true
          ? { done: true, value: undefined }
          : { done: false, value: JSON.parse(String(line.value)) as unknown }
      },
    }
    return { info, messages, stop }
  } catch (error) {
    await stop('SIGKILL')
    throw error
  }
}

/** In a server script: prints its first line, `{ port, … }`. */
export function announce<Info extends { port: number }>(info: Info): void {
  process.stdout.write(`${JSON.stringify(info)}\n`)
}

/**
 * In a server script: exits when the parent closes stdin or dies (so no server outlives a
 * sample that failed), after printing `last()` as a final JSON line if given.
 */
export function exitWithParent(last?: () => unknown): void {
  let ended = false
  const end = () => {
    if (ended) return
    ended = true
    if (last === undefined) process.exit(0)
    process.stdout.write(`${JSON.stringify(last())}\n`, () => process.exit(0))
  }
  process.stdin.resume()
  process.stdin.once('end', end)
  process.stdin.once('close', end)
}

export interface BenchServer {
  readonly port: number
  /** Stops the server; resolves with the CPU µs (user + system) it spent since it listened. */
  stop(): Promise<number>
}

const benchServerScript = fileURLToPath(new URL('./benchServer.ts', import.meta.url))

/**
 * Starts `benchServer.ts`: a server of `kind` in `mode` (for `sink` and `push`, `count` per
 * connection; for `push`, of `bytes` bytes).
 */
export async function spawnBenchServer(
  kind: ServerKind,
  mode: ServerMode,
  count = 0,
  bytes = 100,
): Promise<BenchServer> {
  const server = await startServer(benchServerScript, [kind, mode, String(count), String(bytes)])
  return {
    port: server.info.port,
    stop: async () => {
      await server.stop()
      const last = await withTimeout(server.messages.next(), 5_000, 'the server CPU figure')
      return last.done === true ? NaN : (last.value as { cpuUs: number }).cpuUs
    },
  }
}
