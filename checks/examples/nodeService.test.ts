import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createClient } from '@lifeline/node'
import { runScript } from '@lifeline/test-utils'
import { expect, it } from 'vitest'
import { token, type Ledger } from '../../examples/node-service/schema.js'
import { root } from '../readme/compile.js'

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
  })
  expect(result.out).toContain('ledger: resumed session')
  expect(result.code).toBe(0)
})

// Ctrl-C stops the ledger as SIGTERM does: its sessions and what it booked are saved, so the
// next process goes on from there. Without it, entries the ledger had receipted were gone.
it('saves the ledger on SIGINT as on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-ledger-'))
  const ledger = spawn(process.execPath, ['--import', 'tsx', 'ledger.ts', '0', dir], {
    cwd: join(root, 'examples', 'node-service'),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    ledger.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const port = await new Promise<string>((resolve) =>
    createInterface({ input: ledger.stdout }).on('line', (line) => {
      const listening = /listening on (\d+)/.exec(line)?.[1]
      if (listening) resolve(listening)
    }),
  )
  const client = createClient<Ledger>({
    url: `ws://127.0.0.1:${port}/`,
    socket: { headers: () => ({ Authorization: `Bearer ${token}` }) },
  })
  try {
    const receipt = new Promise((resolve) => client.on('receipt', resolve))
    client.send('entry', { id: 1, account: 'acct-1', cents: 100 })
    expect(await receipt).toEqual({ id: 1, balance: 100 })
    ledger.kill('SIGINT')
    expect(await exited).toEqual({ code: 0, signal: null })
    const state = JSON.parse(readFileSync(join(dir, 'ledger-state.json'), 'utf8')) as unknown
    expect(state).toEqual({ ids: [1], balances: { 'acct-1': 100 }, restarts: 0 })
  } finally {
    client.close()
    ledger.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})
