// The one type both services compile against: a wrong message type or payload does not compile.
import type { RpcMethod } from '@lifeline/node'

export interface Ledger {
  /** ingest → ledger: one entry to book. */
  client: { entry: { id: number; account: string; cents: number } }
  /** ledger → ingest: the entry is booked; the account's balance after it. */
  server: { receipt: { id: number; balance: number } }
  rpc: {
    balance: RpcMethod<{ account: string }, number>
    /** What the ledger booked, across its restarts: the ids in the order they were booked. */
    audit: RpcMethod<Record<string, never>, { ids: number[]; restarts: number }>
  }
}

export const token = 'ledger-demo-token'
