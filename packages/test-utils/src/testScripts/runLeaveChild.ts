// Runs leaveChild.ts through runScript, hanging, with the pid file named by the first argument:
// a test process that a signal ends while its script runs.
import { fileURLToPath } from 'node:url'
import { runScript } from '../runScript.js'

const script = fileURLToPath(new URL('./leaveChild.ts', import.meta.url))
await runScript(script, [process.argv[2] as string], 60_000)
