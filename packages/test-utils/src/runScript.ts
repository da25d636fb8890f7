import { spawn } from 'node:child_process'

export interface ScriptResult {
  /** The exit code (null when killed). */
  code: number | null
  /** What the script printed on stdout. */
  out: string
}

/**
 * Runs a TypeScript file in a fresh Node process (through tsx) and resolves with its exit code
 * and output; rejects if it has not exited by itself within `limitMs`, which is how a test
 * proves that nothing (a timer, a socket, a listener) keeps a process alive.
 */
export function runScript(
  script: string,
  args: string[] = [],
  limitMs = 10_000,
): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${script} did not exit by itself within ${limitMs} ms; it printed: ${out}`))
    }, limitMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}
