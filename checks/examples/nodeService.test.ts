import { join } from 'node:path'
import { runScript } from '@lifeline/test-utils'
import { expect, it } from 'vitest'
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
