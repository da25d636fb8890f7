// Starts a child that would outlive this script, prints its pid (and writes this script's pid
// and the child's to the file named by the second argument, if any), then exits or hangs
// (`hang` as the first argument): what `runScript` must end either way.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'

const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
process.stdout.write(`${String(child.pid)}\n`)
const [mode, pidFile] = process.argv.slice(2)
if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid} ${String(child.pid)}`)
if (mode === 'hang') setInterval(() => undefined, 1_000)
else child.unref()
