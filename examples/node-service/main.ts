// Two Node services on 127.0.0.1: the ledger (a Lifeline server) and ingest (a client on
// @lifeline/node), each in its own process. Mid-stream the ledger's process is stopped (SIGTERM)
// and a new one started on the same port; ingest resumes its session on it. At the end ingest
// compares what it sent with the ledger's audit: nothing lost, nothing booked twice, in order.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const entries = Number(process.env.ENTRIES ?? 600)
const restartAt = Math.floor(entries / 3)
const dir = mkdtempSync(join(tmpdir(), 'lifeline-ledger-'))

/** Runs a service; calls `onLine` with each line it prints, and prints it too. */
function run(file: string, args: string[], onLine: (line: string) => void): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: import.meta.dirname,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('progress')) console.log(line)
    onLine(line)
  })
  return child
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

/** Starts the ledger and resolves with its process and port once it listens. */
function startLedger(port: number) {
  return new Promise<{ child: ChildProcess; port: number }>((resolve, reject) => {
    const child = run('ledger.ts', [String(port), dir], (line) => {
      const listening = /listening on (\d+)/.exec(line)
      if (listening) resolve({ child, port: Number(listening[1]) })
    })
    void exited(child).then((code) => reject(new Error(`the ledger exited with ${code}`)))
  })
}

let ledger = await startLedger(0)
let restarted: Promise<void> | undefined
const ingest = run('ingest.ts', [`ws://127.0.0.1:${ledger.port}/`, String(entries)], (line) => {
  if (restarted || line !== `progress ${restartAt}`) return
  console.log(`main: restarting the ledger's process after ${restartAt} entries sent`)
  restarted = (async () => {
    const stopped = exited(ledger.child)
    ledger.child.kill('SIGTERM')
    await stopped
    ledger = await startLedger(ledger.port)
  })()
})
const code = await exited(ingest)
await restarted
ledger.child.kill('SIGTERM')
await exited(ledger.child)
rmSync(dir, { recursive: true, force: true })
const seconds = (performance.now() / 1000).toFixed(1)
console.log(code === 0 ? `main: nothing lost, nothing duplicated (${seconds} s)` : 'main: FAILED')
process.exitCode = code ?? 1
