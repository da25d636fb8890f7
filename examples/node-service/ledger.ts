// The ledger service: a Lifeline server that books entries and answers balances. Its state (the
// booked ids and balances) is saved to a file as each entry is booked, and its sessions on
// SIGTERM or SIGINT, so the next process goes on where this one stopped, and its clients resume
// their sessions there.
//   usage: ledger.ts <port> <state dir>
import { createHash, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { closeOnSignals, createServer } from '@lifeline/server'
import { createFileSessionStore } from './fileStore.js'
import { token, type Ledger } from './schema.js'

const [port = '0', dir = '.'] = process.argv.slice(2)
const statePath = join(dir, 'ledger-state.json')
const saved = existsSync(statePath)
  ? (JSON.parse(readFileSync(statePath, 'utf8')) as {
      ids: number[]
      balances: Record<string, number>
      restarts: number
    })
  : { ids: [], balances: {}, restarts: -1 }
// Accounts are named by the client: a Map, so that `__proto__` or `constructor` is an account
// like any other, never a property every object has.
const balances = new Map(Object.entries(saved.balances))
const state = { ids: saved.ids, restarts: saved.restarts + 1 }

/** The token's digest: compared in constant time, so the time of a refusal tells nothing. */
const digest = (value: string) => createHash('sha256').update(value).digest()
const expected = digest(`Bearer ${token}`)

const server = createServer<Ledger>({
  port: Number(port),
  host: '127.0.0.1',
  store: createFileSessionStore(join(dir, 'ledger-sessions.json')),
  authenticate: (request) => timingSafeEqual(digest(request.headers.authorization ?? ''), expected),
})
const booked = new Set(state.ids)
// Written to a file beside it and renamed over it: a process killed mid-write leaves the last
// whole state, never half of one. Written whole on each entry, so the work grows with the
// square of the entries: fine for this example's 600, where a real ledger appends to a journal
// or books in a database's transaction.
const saveState = () => {
  const whole = { ids: state.ids, balances: Object.fromEntries(balances), restarts: state.restarts }
  writeFileSync(`${statePath}.tmp`, JSON.stringify(whole))
  renameSync(`${statePath}.tmp`, statePath)
}
server.on('connection', (peer, { restored }) => {
  console.log(`ledger: ${restored ? 'resumed' : 'new'} session of ${peer.id}`)
  peer.on('entry', ({ id, account, cents }) => {
    // An entry comes again after a reset (a process killed before its acknowledgement reached
    // ingest): booked once, by its id.
    if (!booked.has(id)) {
      booked.add(id)
      state.ids.push(id)
      balances.set(account, (balances.get(account) ?? 0) + cents)
      // On disk before the handler returns, so before the entry is acknowledged: a process
      // killed after that (SIGKILL, a crash) has not lost it.
      saveState()
    }
    peer.send('receipt', { id, balance: balances.get(account) ?? 0 })
  })
})
server.handle('balance', ({ account }) => balances.get(account) ?? 0)
// A copy: an answer is kept for replay as the value returned, and the ledger goes on adding to
// `state.ids` (see @lifeline/server's README).
server.handle('audit', () => ({ ids: [...state.ids], restarts: state.restarts }))

// On SIGTERM, and on Ctrl-C (SIGINT) as well: stopped by either without this, the process would
// end with what it booked and receipted unsaved. Clients are told 1012 and come back to the next
// process; sessions go to the store, then the ledger's state, so both agree; then it exits.
closeOnSignals({
  async close() {
    await server.close()
    saveState()
    console.log(`ledger: stopped after ${state.ids.length} entries`)
  },
})
await server.ready
console.log(`ledger: listening on ${server.port}`)
