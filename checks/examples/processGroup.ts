import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { root } from '../readme/compile.js'

/** An example's `main.ts` running in a process group of its own. */
export interface ExampleRun {
  main: ChildProcess
  /** The group: main and every process it started (`process.kill(-pgid, …)`). */
  pgid: number
  /** Main's exit code. */
  exited: Promise<number | null>
  /** What main printed so far. */
  out(): string
}

/**
 * Starts `examples/<name>/main.ts` under tsx in a group of its own, so that a test can signal
 * main alone, as `kill <pid>` or a process manager does, and then see whether what it started
 * went with it (`groupAlive`).
 */
export function startExample(name: string, env: NodeJS.ProcessEnv): ExampleRun {
  const main = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
    cwd: join(root, 'examples', name),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const exited = new Promise<number | null>((resolve) => main.once('exit', resolve))
  let out = ''
  main.stdout?.on('data', (chunk: Buffer) => (out += String(chunk)))
  main.stderr?.resume()
  return { main, pgid: main.pid as number, exited, out: () => out }
}

/** Whether any process of the group `pgid` is left. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}
