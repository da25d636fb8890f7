// Small measuring pieces of the scale-out benchmark: Redis INFO sections,
// opening many clients a few at a time, and bounded waits.
import { readFileSync } from 'node:fs'
import { sendRedisCommand } from '@lifeline/test-utils'

/** One `INFO <section>` of the Redis on `port`, as `field → value`. */
export async function redisInfo(port: number, section: string): Promise<Map<string, string>> {
  const text = String(await sendRedisCommand(port, ['INFO', section]))
  const fields = new Map<string, string>()
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1))
  }
  return fields
}

/** Calls per command since the Redis started (`INFO commandstats`), INFO itself left out. */
export async function commandCalls(port: number): Promise<Map<string, number>> {
  const calls = new Map<string, number>()
  for (const [field, value] of await redisInfo(port, 'commandstats')) {
    const command = field.replace(/^cmdstat_/, '')
    if (command === 'info') continue
    calls.set(command, Number(/calls=(\d+)/.exec(value)?.[1] ?? 0))
  }
  return calls
}

/** Calls per command between two `commandCalls` snapshots, most called first. */
export function callsBetween(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Array<[string, number]> {
  return [...after]
    .map(([command, calls]): [string, number] => [command, calls - (before.get(command) ?? 0)])
    .filter(([, calls]) => calls > 0)
    .sort((a, b) => b[1] - a[1])
}

/** How many of `calls` are script calls: one request each, whatever the script runs. */
export function scriptCalls(calls: ReadonlyArray<[string, number]>): number {
  return calls
    .filter(([command]) => command === 'evalsha' || command === 'eval')
    .reduce((sum, [, count]) => sum + count, 0)
}

export async function usedMemory(port: number): Promise<number> {
  return Number((await redisInfo(port, 'memory')).get('used_memory'))
}

/** Runs `open(i)` for i in [0, n), at most `concurrency` at once; resolves with the results. */
export async function openMany<T>(
  n: number,
  open: (i: number) => Promise<T>,
  concurrency = 50,
): Promise<T[]> {
  const results: T[] = new Array<T>(n)
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      results[i] = await open(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  return results
}

/** Polls `predicate` every 5 ms until it holds; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs: number, what = 'a condition') {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** CPU µs spent so far by every process of a run: the servers, this (load) process, Redis. */
export interface CpuSnapshot {
  servers: number
  load: number
  redis: number
  /**
   * Write system calls of the server processes (`write`, `writev`…: `syscw` of
   * `/proc/<pid>/io`, Linux; NaN elsewhere): on loopback each one also runs the receiving side's
   * TCP work, so the writes per delivery go far to explain the servers' CPU.
   */
  serverWrites: number
}

/**
 * The CPU of the server processes `pids` (from `/proc`, Linux, in ticks of 10 ms: NaN
 * elsewhere), of this process, and of the Redis on `redisPort` (`INFO cpu`), so far.
 */
export async function cpuSnapshot(
  pids: readonly number[],
  redisPort: number,
): Promise<CpuSnapshot> {
  const cpu = await redisInfo(redisPort, 'cpu')
  const own = process.cpuUsage()
  return {
    servers: pids.reduce((sum, pid) => sum + processCpuUs(pid), 0),
    load: own.user + own.system,
    redis: (Number(cpu.get('used_cpu_user')) + Number(cpu.get('used_cpu_sys'))) * 1e6,
    serverWrites: pids.reduce((sum, pid) => sum + processWrites(pid), 0),
  }
}

function processWrites(pid: number): number {
  try {
    return Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN)
  } catch {
    return NaN
  }
}

function processCpuUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // After the command name (which may hold spaces): state is the first, utime the 12th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return NaN
  }
}
