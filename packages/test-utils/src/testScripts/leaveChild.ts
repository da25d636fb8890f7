// Starts a child that would outlive this script, prints its pid, then exits or hangs
// (`hang` as the first argument): what `runScript` must end either way.
import { spawn } from 'node:child_process'

const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
process.stdout.write(`${String(child.pid)}\n`)
if (process.argv[2] === 'hang') setInterval(() => undefined, 1_000)
else child.unref()
