/**
 * Helpers for benchmarks that run each sample in a fresh process: a sample script prints one
 * JSON line on stdout; a server script prints one JSON line `{ port, … }` once it listens and
 * keeps running until it is stopped. Every wait is bounded by a timeout.
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { median } from './measure.js'

/** Node flags for a TypeScript script run through tsx, plus the caller's own. */
const nodeArgs = (script: string, args: readonly string[], flags: readonly string[]) => [
  ...flags,
  '--import',
  'tsx',
  script,
  ...args,
]

/** Milliseconds since the epoch with sub-millisecond precision, comparable across processes. */
export const wallClockMs = (): number => performance.timeOrigin + performance.now()

/** Runs one sample in a fresh process and parses the last line it printed. */
export function runSample<T>(
  script: string,
  args: readonly string[],
  options: { flags?: readonly string[]; timeoutMs?: number } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      nodeArgs(script, args, options.flags ?? []),
      { encoding: 'utf8', timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${script} ${args.join(' ')} failed: ${error.message}\n${stderr}`))
          return
        }
        const lines = stdout.trim().split('\n')
        resolve(JSON.parse(lines[lines.length - 1] ?? 'null') as T)
      },
    )
  })
}

export interface ServerProcess<Info> {
  readonly info: Info
  readonly child: ChildProcess
  /** Lines the server printed after its first one, parsed as JSON. */
  readonly messages: AsyncIterator<unknown>
  /** Ends the server with `signal` and waits (bounded) for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>
}

/** Starts a server script in its own process and waits for its first line. */
export async function startServer<Info extends { port: number }>(
  script: string,
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<ServerProcess<Info>> {
  const child = spawn(process.execPath, nodeArgs(script, args, []), {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await withTimeout(exited, 10_000, 'server exit')
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
    return { info, child, messages, stop }
  } catch (error) {
    await stop('SIGKILL')
    throw error
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The variants of one round, rotated by the round number. */
export function rotated<T>(variants: readonly T[], round: number): T[] {
  return variants.map((_, i) => variants[(i + round) % variants.length] as T)
}

/** Median of per-round ratios `values[i] / baseline[i]`. */
export function medianRatio(values: readonly number[], baseline: readonly number[]): number {
  return median(values.map((value, i) => value / (baseline[i] ?? NaN)))
}

/** The 1-minute load average, for the section's header. */
export { loadavg } from 'node:os'

// One implementation of each, shared with the benchmarks that run samples synchronously.
export { progress, spread } from './samples.js'
