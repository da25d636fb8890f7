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

/** The services running now. */
const running = new Set<ChildProcess>()
/** The signal that stopped this process, if one did. */
let stoppedBy: NodeJS.Signals | undefined

// Stopped itself, main stops the two services with it. `kill <pid>`, `timeout` or a process
// manager signal this process alone: without this, the ledger went on listening as an orphan and
// ingest died writing to a closed pipe. Ctrl-C reaches the services too; the ledger takes the
// second signal as the same stop. The ledger saves its sessions and state (closeOnSignals), and
// the run ends below, once both have exited, with the directory removed.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stoppedBy ??= signal
    for (const child of running) child.kill('SIGTERM')
  })
}

/** Runs a service; calls `onLine` with each line it prints, and prints it too. */
function run(file: string, args: string[], onLine: (line: string) => void): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: import.meta.dirname,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  running.add(child)
  child.once('exit', () => running.delete(child))
  // Started after the stop (the ledger's next process, mid-restart): stopped at once.
  if (stoppedBy) child.kill('SIGTERM')
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('progress')) console.log(line)
    onLine(line)
  })
  return child
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

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

const finish = (message: string, code: number) => {
  rmSync(dir, { recursive: true, force: true })
  console.log(message)
  process.exitCode = code
}

const first = await startLedger(0).catch((error: Error) => {
  finish(stoppedBy ? `main: stopped by ${stoppedBy}` : `main: ${error.message}`, 1)
  return undefined
})
if (!first) process.exit()
let ledger = first
let restarted: Promise<void> | undefined
const ingest = run('ingest.ts', [`ws://127.0.0.1:${ledger.port}/`, String(entries)], (line) => {
  if (restarted || line !== `progress ${restartAt}`) return
  console.log(`main: restarting the ledger's process after ${restartAt} entries sent`)
  restarted = (async () => {
    const stopped = exited(ledger.child)
    ledger.child.kill('SIGTERM')
    await stopped
    ledger = await startLedger(ledger.port)
  })().catch((error: unknown) => {
    // A restart under way when a signal came ends with its new process stopped: not a failure.
    if (!stoppedBy) throw error
  })
})
const code = await exited(ingest)
await restarted
ledger.child.kill('SIGTERM')
await exited(ledger.child)
const seconds = (performance.now() / 1000).toFixed(1)
if (stoppedBy) finish(`main: stopped by ${stoppedBy}`, 1)
else if (code === 0) finish(`main: nothing lost, nothing duplicated (${seconds} s)`, 0)
else finish('main: FAILED', code ?? 1)
