// The ingest service: sends a stream of typed entries to the ledger through @lifeline/node,
// checks every receipt, asks for balances on the way, and at the end compares its own count with
// the ledger's audit. Prints `progress <n>` as it sends and one JSON line of results at the end.
//   usage: ingest.ts <ledger url> <entries>
import { createClient } from '@lifeline/node'
import { token, type Ledger } from './schema.js'

const [url = 'ws://127.0.0.1:8080/', countText = '600'] = process.argv.slice(2)
const count = Number(countText)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const ledger = createClient<Ledger>({
  url,
  // Evaluated before every attempt, as a token that rotates would be.
  socket: { headers: () => ({ Authorization: `Bearer ${token}` }), maxDelayMs: 500 },
})
let wasOpen = false
ledger.events.on('statechange', (state) => {
  if (state.status === 'open')
    console.log(`ingest: open, session ${state.resumed ? 'resumed' : 'new'}`)
  else if (wasOpen && state.status === 'reconnecting')
    console.log(`ingest: link lost (${state.closeCode}), ${ledger.unacked} entries unacknowledged`)
  wasOpen = state.status === 'open'
})
const receipts: number[] = []
ledger.on('receipt', ({ id }) => receipts.push(id))

let balances = 0
const balanceFailures: string[] = []
for (let id = 1; id <= count; id++) {
  ledger.send('entry', { id, account: `acct-${id % 7}`, cents: id })
  if (id % 100 === 0) {
    console.log(`progress ${id}`)
    // A request while the ledger may be restarting waits in the outbox, as the messages do.
    void ledger.request('balance', { account: 'acct-1' }, { timeoutMs: 20_000 }).then(
      () => balances++,
      // A timeout, or the session lost under it (CLOSED): said, never an unhandled rejection.
      (error: { code?: string }) => balanceFailures.push(error.code ?? String(error)),
    )
  }
  await sleep(1)
}
// Bounded: a ledger that never comes back ends the run with what is missing, not a hang.
const giveUpAt = Date.now() + 120_000
while (
  (receipts.length < count ||
    ledger.unacked > 0 ||
    balances + balanceFailures.length < count / 100) &&
  Date.now() < giveUpAt
) {
  await sleep(20)
}
// A ledger that is gone answers no audit: the run ends with what it knows, as above.
const audit = await ledger.request('audit', {}, { timeoutMs: 10_000 }).catch((error: Error) => {
  console.error(`ingest: no audit from the ledger (${error.message})`)
  return { ids: [] as number[], restarts: -1 }
})
ledger.close()

const exactlyOnceInOrder = (ids: number[]) =>
  ids.length === count && ids.every((id, index) => id === index + 1)
const result = {
  sent: count,
  receipts: receipts.length,
  booked: audit.ids.length,
  duplicated: audit.ids.length - new Set(audit.ids).size,
  lost: count - new Set(audit.ids).size,
  inOrder: exactlyOnceInOrder(audit.ids) && exactlyOnceInOrder(receipts),
  ledgerRestarts: audit.restarts,
  balancesAnswered: balances,
  balancesFailed: balanceFailures,
}
console.log(JSON.stringify(result))
process.exitCode =
  result.inOrder && result.lost === 0 && result.duplicated === 0 && balanceFailures.length === 0
    ? 0
    : 1
