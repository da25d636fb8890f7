// Starts a child that would outlive this script, prints its pid (and writes this script's pid
// and the child's to the file named by the first argument, if any), then hangs: what
// `runScript` must end when its time is up or the process that runs it is ended.
import { spawn } from 'node:child_process'
import { renameSync, writeFileSync } from 'node:fs'

const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
process.stdout.write(`${String(child.pid)}\n`)
const pidFile = process.argv[2]
// Written aside and renamed: a reader never sees half of it.
if (pidFile !== undefined) {
  writeFileSync(`${pidFile}.tmp`, `${process.pid} ${String(child.pid)}`)
  renameSync(`${pidFile}.tmp`, pidFile)
}
setInterval(() => undefined, 1_000)
