import { spawn } from 'node:child_process'

export interface ScriptResult {
  /** The exit code (null when killed). */
  code: number | null
  /** What the script printed on stdout. */
  out: string
}

/** The signals that end this process and, first, a script's group. */
const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** How `runScript` starts a TypeScript file: this Node, through tsx. */
const tsxRuntime = [process.execPath, '--import', 'tsx']

/**
 * Runs a script in a fresh process (a TypeScript file in this Node, through tsx, unless
 * `runtime` says otherwise, e.g. `['npx', '-y', 'node@22']` for a plain JavaScript file under
 * another Node) and resolves with its exit code and output; rejects if it has not exited by
 * itself within `limitMs`, which is how a test proves that nothing (a timer, a socket, a
 * listener) keeps a process alive, or if the runtime cannot be started.
 *
 * The script runs in a process group of its own, ended whole (SIGKILL) when its time is up,
 * and when this process exits or is ended by SIGINT, SIGTERM or SIGHUP while it runs (a Ctrl-C
 * no longer reaches a group of its own): what it started (a server, a worker) is ended with it,
 * never left holding a port after a failure. Once the script has exited by itself, what it left
 * on purpose (a watchdog that cleans up after it) is left to finish.
 *
 * Give the test a timeout above `limitMs`: a test that times out first leaves the child
 * running until this process exits.
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
      detached: true,
    })
    const endGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // Gone already (ESRCH): nothing of it is left.
      }
    }
    // Ended by a signal, this process would run no 'exit' listener: the group is ended first,
    // then the signal raised again for what it does without this listener (unless another
    // listener of this process takes it, which has had it already).
    const onSignal = (signal: NodeJS.Signals): void => {
      forget()
      endGroup()
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    }
    const forget = (): void => {
      process.off('exit', endGroup)
      for (const signal of forwarded) process.off(signal, onSignal)
    }
    process.once('exit', endGroup)
    for (const signal of forwarded) process.once(signal, onSignal)
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    const timer = setTimeout(() => {
      endGroup()
      reject(new Error(`${script} did not exit by itself within ${limitMs} ms; it printed: ${out}`))
    }, limitMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      forget()
      reject(new Error(`could not start ${runtime.join(' ')}: ${error.message}`))
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      forget()
      resolve({ code, out })
    })
  })
}
