import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type * as fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { createFileSessionStore } from '../../examples/node-service/fileStore.js'

// A process killed while the file store writes (SIGKILL, a crash, a full disk) stops the write
// part way. What it leaves must still be the last whole file: a file cut in half is no JSON, and
// the next ledger would not start at all.
const cut = vi.hoisted(() => ({ next: false }))
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof fs>()
  const writeFileSync: typeof real.writeFileSync = (file, data, options) => {
    if (!cut.next) return real.writeFileSync(file, data, options)
    cut.next = false
    real.writeFileSync(file, String(data).slice(0, 10), options)
    throw new Error('the process ended mid-write')
  }
  return { ...real, default: { ...real, writeFileSync }, writeFileSync }
})

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const record = (id: string, expiresAt = Date.now() + 60_000) => ({
  id,
  peerId: id,
  lastClientSeq: 0,
  lastServerSeq: 0,
  replay: [],
  lossy: false,
  rooms: [],
  expiresAt,
})

it('leaves the last whole file when a write stops part way', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-file-store-'))
  dirs.push(dir)
  const path = join(dir, 'sessions.json')
  const store = createFileSessionStore(path)
  void store.set(record('kept'))
  cut.next = true
  expect(() => store.set(record('cut'))).toThrow('the process ended mid-write')
  expect(existsSync(path)).toBe(true)
  const saved = JSON.parse(readFileSync(path, 'utf8')) as [string][]
  expect(saved.map(([id]) => id)).toEqual(['kept'])
  // The next process reads it.
  expect(createFileSessionStore(path).get('kept')).toMatchObject({ id: 'kept' })
})

it('keeps no expired session in its file store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-file-store-'))
  dirs.push(dir)
  const path = join(dir, 'sessions.json')
  const store = createFileSessionStore(path)
  void store.set(record('gone', Date.now() - 1))
  void store.set(record('live', Date.now() + 60_000))
  const saved = () => (JSON.parse(readFileSync(path, 'utf8')) as [string][]).map(([id]) => id)
  // A session that was never resumed is never deleted by the server: its record expires.
  expect(saved()).toEqual(['live'])
  writeFileSync(
    path,
    JSON.stringify([
      ['old', record('old', Date.now() - 1)],
      ['live', record('live', Date.now() + 60_000)],
    ]),
  )
  void createFileSessionStore(path).set(record('new', Date.now() + 60_000))
  expect(saved()).toEqual(['live', 'new'])
})
