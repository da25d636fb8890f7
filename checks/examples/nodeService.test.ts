import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createClient } from '@lifeline/node'
import { runScript, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, expect, it } from 'vitest'
import { token, type Ledger } from '../../examples/node-service/schema.js'
import { root } from '../readme/compile.js'
import { groupAlive, startExample } from './processGroup.js'

const fx = useFixtures(afterEach)

/** Three tsx processes start one after another (one twice): seconds each on a loaded machine. */
const limitMs = 90_000

// The example as its README starts it: the ledger's process is stopped mid-stream and a new one
// started; ingest checks every receipt and the ledger's audit of what it booked.
it('runs examples/node-service: a service restarted mid-stream, nothing lost or duplicated', async () => {
  const result = await runScript(join(root, 'examples', 'node-service', 'main.ts'), [], limitMs)
  const summary = result.out.split('\n').find((line) => line.startsWith('{'))
  expect(JSON.parse(summary ?? '{}')).toEqual({
    sent: 600,
    receipts: 600,
    booked: 600,
    duplicated: 0,
    lost: 0,
    inOrder: true,
    ledgerRestarts: 1,
    balancesAnswered: 6,
    balancesFailed: [],
  })
  expect(result.out).toContain('ledger: resumed session')
  expect(result.code).toBe(0)
})

// `kill <pid>`, `timeout` or a process manager that signals the process it started, not its
// group: the example stops its two services with it. Without that, the ledger went on listening
// as an orphan, ingest died of EPIPE on its closed stdout, and the state directory stayed.
it('stops both services when main alone is sent SIGTERM', async () => {
  // Its own temporary directory, where main makes the ledger's state directory.
  const tmp = mkdtempSync(join(tmpdir(), 'lifeline-node-service-'))
  const { main, pgid, exited, out } = startExample('node-service', {
    ENTRIES: '1000000',
    TMPDIR: tmp,
  })
  try {
    await waitFor(() => out().includes('ingest: open'), {
      message: 'ingest open',
      timeoutMs: 30_000,
    })
    main.kill('SIGTERM')
    await exited
    await waitFor(() => !groupAlive(pgid), {
      message: 'the ledger and ingest to have exited with main',
      timeoutMs: 15_000,
    })
    expect(out()).toContain('main: stopped by SIGTERM')
    // The state directory goes with the run (tsx may keep its cache there).
    expect(readdirSync(tmp).filter((name) => name.startsWith('lifeline-ledger-'))).toEqual([])
  } finally {
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL')
    rmSync(tmp, { recursive: true, force: true })
  }
})

/** Starts `ledger.ts` on a free port with its files in `dir`; resolves once it listens. */
async function startLedger(dir: string, port = 0) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'ledger.ts', String(port), dir], {
    cwd: join(root, 'examples', 'node-service'),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  // Ended after the test whatever happens, one that never listens too.
  fx.add(() => child.kill('SIGKILL'))
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const listening = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const port = /listening on (\d+)/.exec(line)?.[1]
      if (port) resolve(Number(port))
    })
    void exited.then(() => reject(new Error('the ledger exited before it listened')))
  })
  return { child, exited, port: listening }
}

const ingest = (port: number) =>
  fx.add(
    createClient<Ledger>({
      url: `ws://127.0.0.1:${port}/`,
      socket: { headers: () => ({ Authorization: `Bearer ${token}` }), maxDelayMs: 200 },
    }),
  )

/** The ledger's state directory, removed after the test (after the ledger is ended). */
function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-ledger-'))
  fx.add(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// Ctrl-C stops the ledger as SIGTERM does: its sessions and what it booked are saved, so the
// next process goes on from there. Without it, entries the ledger had receipted were gone.
it('saves the ledger on SIGINT as on SIGTERM', async () => {
  const dir = stateDir()
  const ledger = await startLedger(dir)
  const client = ingest(ledger.port)
  const receipt = new Promise((resolve) => client.on('receipt', resolve))
  client.send('entry', { id: 1, account: 'acct-1', cents: 100 })
  expect(await receipt).toEqual({ id: 1, balance: 100 })
  ledger.child.kill('SIGINT')
  expect(await ledger.exited).toEqual({ code: 0, signal: null })
  const state = JSON.parse(readFileSync(join(dir, 'ledger-state.json'), 'utf8')) as unknown
  expect(state).toEqual({ ids: [1], balances: { 'acct-1': 100 }, restarts: 0 })
})

// Account names are the client's: one named like a property every object has is an account
// like any other, kept across a restart; and a wrong token is refused.
it('books accounts named __proto__ or constructor like any other, and refuses a wrong token', async () => {
  const dir = stateDir()
  let ledger = await startLedger(dir)
  const client = ingest(ledger.port)
  const intruder = fx.add(
    createClient<Ledger>({
      url: `ws://127.0.0.1:${ledger.port}/`,
      socket: { headers: () => ({ Authorization: `Bearer ${token}x` }) },
    }),
  )
  // Closed with 4401, for good: no session.
  const codes: string[] = []
  intruder.events.on('error', (error) => codes.push(error.code))
  await waitFor(() => codes.includes('UNAUTHENTICATED'), { message: 'the refusal' })
  expect(intruder.state.status).toBe('closed')
  const accounts = ['__proto__', 'constructor', 'toString']
  const receipts: number[] = []
  client.on('receipt', ({ balance }) => receipts.push(balance))
  accounts.forEach((account, i) => client.send('entry', { id: i + 1, account, cents: 5 }))
  await waitFor(() => receipts.length === 3, { message: 'three receipts', timeoutMs: 10_000 })
  expect(receipts).toEqual([5, 5, 5])
  ledger.child.kill('SIGTERM')
  await ledger.exited
  ledger = await startLedger(dir, ledger.port)
  for (const account of accounts) {
    expect(await client.request('balance', { account })).toBe(5)
  }
  expect(await client.request('balance', { account: 'hasOwnProperty' })).toBe(0)
})

// A ledger killed outright (SIGKILL, a crash) saves nothing at its end: an entry it receipted
// is on disk already, and one it did not is sent again after the reset, booked once.
it('keeps what the ledger receipted when its process is killed with SIGKILL', async () => {
  const dir = stateDir()
  const first = await startLedger(dir)
  const client = ingest(first.port)
  const receipts: number[] = []
  client.on('receipt', ({ id }) => receipts.push(id))
  for (const id of [1, 2, 3]) client.send('entry', { id, account: 'acct-1', cents: id })
  await waitFor(() => receipts.length === 3 && client.unacked === 0, {
    message: 'three receipts',
    timeoutMs: 10_000,
  })
  first.child.kill('SIGKILL')
  await first.exited
  await startLedger(dir, first.port)
  client.send('entry', { id: 4, account: 'acct-1', cents: 4 })
  await waitFor(() => receipts.includes(4), { message: 'the fourth receipt', timeoutMs: 10_000 })
  expect((await client.request('audit', {})).ids).toEqual([1, 2, 3, 4])
  expect(await client.request('balance', { account: 'acct-1' })).toBe(10)
})
