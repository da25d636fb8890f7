import { spawn } from 'node:child_process'

export interface ScriptResult {
  /** The exit code (null when killed). */
  code: number | null
  /** What the script printed on stdout. */
  out: string
}

/** How `runScript` starts a TypeScript file: this Node, through tsx. */
const tsxRuntime = [process.execPath, '--import', 'tsx']

/**
 * Runs a script in a fresh process (a TypeScript file in this Node, through tsx, unless
 * `runtime` says otherwise, e.g. `['npx', '-y', 'node@22']` for a plain JavaScript file under
 * another Node) and resolves with its exit code and output; rejects if it has not exited by
 * itself within `limitMs`, which is how a test proves that nothing (a timer, a socket, a
 * listener) keeps a process alive, or if the runtime cannot be started.
 *
 * Give the test a timeout above `limitMs`: a test that times out first leaves the child
 * running, for good when it is the process that does not exit.
 */
export function runScript(
  script: string,
  args: string[] = [],
  limitMs = 10_000,
  runtime: readonly string[] = tsxRuntime,
): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const [command = process.execPath, ...runtimeArgs] = runtime
    const child = spawn(command, [...runtimeArgs, script, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${script} did not exit by itself within ${limitMs} ms; it printed: ${out}`))
    }, limitMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(new Error(`could not start ${runtime.join(' ')}: ${error.message}`))
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}
