// A SessionStore on a JSON file, so that sessions outlive the ledger's process: `server.close()`
// saves every session here on SIGTERM, and the next process resumes them. Written whole on every
// change, which is fine for a handful of peer services; a fleet would use a shared store.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import type { SessionRecord, SessionStore } from '@lifeline/server'

export function createFileSessionStore(path: string): SessionStore {
  const records = new Map<string, SessionRecord>(
    existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as [string, SessionRecord][]) : [],
  )
  // Expired records go at each save: a session saved by one process's close() whose client never
  // came back to the next is deleted by no server, it only expires. Written to a file beside it
  // and renamed over it, as the ledger's state is: a process killed mid-write leaves the last
  // whole file, where half of one would keep the next ledger from starting.
  const save = () => {
    const now = Date.now()
    for (const [id, record] of records) if (record.expiresAt <= now) records.delete(id)
    writeFileSync(`${path}.tmp`, JSON.stringify([...records]))
    renameSync(`${path}.tmp`, path)
  }
  return {
    get: (id) => {
      const record = records.get(id)
      return record && record.expiresAt > Date.now() ? record : undefined
    },
    set: (record) => {
      records.set(record.id, record)
      save()
    },
    delete: (id) => {
      records.delete(id)
      save()
    },
  }
}
