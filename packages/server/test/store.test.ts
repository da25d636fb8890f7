import { useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createMemorySessionStore,
  createServer,
  type Peer,
  type SessionRecord,
  type SessionStore,
} from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)

/**
 * A store that answers later, as one over a network would, and checks the contract's promise
 * that calls for one id never overlap.
 */
function asyncStore() {
  const inner = createMemorySessionStore()
  const inFlight = new Map<string, number>()
  const calls: string[] = []
  let overlaps = 0
  const later = <T>(id: string, name: string, work: () => T): Promise<T> => {
    calls.push(`${name} ${id}`)
    const count = (inFlight.get(id) ?? 0) + 1
    inFlight.set(id, count)
    if (count > 1) overlaps++
    return new Promise((resolve) =>
      setTimeout(() => {
        inFlight.set(id, (inFlight.get(id) ?? 1) - 1)
        resolve(work())
      }, 5),
    )
  }
  const store: SessionStore = {
    get: (id) => later(id, 'get', () => inner.get(id)),
    set: (record: SessionRecord) => later(record.id, 'set', () => inner.set(record)),
    delete: (id) => later(id, 'delete', () => inner.delete(id)),
  }
  return { store, calls, overlaps: () => overlaps, inner }
}

describe('session stores', () => {
  it('counts the replay a session was restored with against replayLimitBytes', async () => {
    // Encoded sizes are not stored: the replay a restored session kept counted 0 bytes, and
    // 16 KB were kept under a limit of 10 KB (nor did they pace the replay).
    const store = createMemorySessionStore()
    const first = createServer({ port: 0, store, replayLimitBytes: 10_000 })
    fx.add(() => first.close())
    await first.ready
    const peers: Peer[] = []
    first.on('connection', (peer) => peers.push(peer))
    const a = await ProtocolClient.connect(fx, urlOf(first))
    await waitFor(() => peers.length === 1, { message: 'the session' })
    await a.client.drop()
    await waitFor(() => peers[0]?.connected === false, { message: 'the client away' })
    for (let i = 0; i < 8; i++) peers[0]?.send('m' as never, 'x'.repeat(1000) as never)
    await first.close()

    const second = await startServer(fx, { store, replayLimitBytes: 10_000 })
    const restored: Peer[] = []
    second.on('connection', (peer) => restored.push(peer))
    const b = await ProtocolClient.connect(fx, urlOf(second), { sid: a.welcome.sid, a: 0 })
    expect(b.welcome.resumed).toBe(true)
    await b.client.waitForMessages(8)
    await b.client.drop()
    await waitFor(() => restored[0]?.connected === false, { message: 'the client away again' })
    for (let i = 0; i < 8; i++) restored[0]?.send('m' as never, 'y'.repeat(1000) as never)
    // 8 KB restored and 8 KB more, none acknowledged: over the limit, the session is reset.
    const c = await ProtocolClient.connect(fx, urlOf(second), { sid: a.welcome.sid, a: 0 })
    expect(c.welcome.resumed).toBe(false)
  })

  it('resumes across a restart through a store that answers asynchronously', async () => {
    const { store, calls, overlaps, inner } = asyncStore()
    const first = createServer({ port: 0, store })
    fx.add(() => first.close())
    await first.ready
    first.on('connection', (peer) => peer.send('m', 'kept'))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(first))
    await client.waitForMessages(1)
    // A drop and a resume on the same server write the session; close() writes it again.
    await client.drop()
    await waitFor(() => calls.length >= 1, { message: 'the write at detach' })
    await first.close()
    expect(inner.get(welcome.sid)?.replay).toEqual([{ t: 'm', d: 'kept', s: 1 }])

    const second = createServer({ port: first.port, store })
    fx.add(() => second.close())
    await second.ready
    const back = await ProtocolClient.connect(fx, urlOf(second), { sid: welcome.sid, a: 0 })
    expect(back.welcome.resumed).toBe(true)
    expect((await back.client.waitForMessages(1))[0]).toMatchObject({ d: 'kept', s: 1 })
    expect(calls).toEqual([`set ${welcome.sid}`, `set ${welcome.sid}`, `get ${welcome.sid}`])
    expect(overlaps()).toBe(0)
  })

  it('resets a stored session whose count is below what its client was acknowledged (sa)', async () => {
    const store = createMemorySessionStore()
    const first = createServer({ port: 0, store })
    fx.add(() => first.close())
    await first.ready
    let processed = 0
    first.on('connection', (peer) => peer.on('m', () => processed++))
    const kept = await ProtocolClient.connect(fx, urlOf(first))
    const stale = await ProtocolClient.connect(fx, urlOf(first))
    kept.client.send({ t: 'm', d: 1, s: 1 })
    stale.client.send({ t: 'm', d: 1, s: 1 })
    await waitFor(() => processed === 2, { message: 'both processed' })
    await first.close()
    expect(store.get(stale.welcome.sid)?.lastClientSeq).toBe(1)

    const second = await startServer(fx, { store })
    const resets: string[] = []
    second.on('session:reset', (_peer, info) => resets.push(info.reason))
    const { sid } = kept.welcome
    const back = await ProtocolClient.connect(fx, urlOf(second), { sid, a: 0, sa: 1 })
    expect(back.welcome).toMatchObject({ sid, resumed: true, a: 1 })
    // Its client was acknowledged 2: the record is older than what served it (a write lost).
    const reset = await ProtocolClient.connect(fx, urlOf(second), {
      sid: stale.welcome.sid,
      a: 0,
      sa: 2,
    })
    expect(reset.welcome).toMatchObject({ resumed: false, a: 0 })
    expect(resets).toEqual(['lossy'])
    await waitFor(() => store.get(stale.welcome.sid) === undefined, {
      message: 'the stale record deleted',
    })
  })

  it('resets, not refuses (1002), a stored session older than what its client got from the server', async () => {
    // A store that outlives its process (a file, a database): the process wrote the record, served
    // the client more, then was killed before its next write. The client comes back with an `a`
    // past the record's count; a violation would end it for good (the client takes 1002 as fatal).
    const store = createMemorySessionStore()
    const first = createServer({ port: 0, store })
    fx.add(() => first.close())
    await first.ready
    first.on('connection', (peer) => peer.send('m', 1))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(first))
    expect((await client.next('m')).s).toBe(1)
    await first.close()
    expect(store.get(welcome.sid)?.lastServerSeq).toBe(1)

    const second = await startServer(fx, { store })
    const resets: string[] = []
    second.on('session:reset', (_peer, info) => resets.push(info.reason))
    const back = await ProtocolClient.connect(fx, urlOf(second), { sid: welcome.sid, a: 3 })
    expect(back.welcome).toMatchObject({ resumed: false, a: 0 })
    expect(resets).toEqual(['lossy'])
    expect(second.stats.protocolErrors).toBe(0)
    await waitFor(() => store.get(welcome.sid) === undefined, {
      message: 'the stale record deleted',
    })
  })

  it('keeps a session in rooms named __proto__, constructor and toString across a restart', async () => {
    const store = createMemorySessionStore()
    const rooms = ['__proto__', 'constructor', 'toString']
    const first = createServer({ port: 0, store })
    fx.add(() => first.close())
    await first.ready
    first.on('connection', (peer) => {
      for (const room of rooms) peer.join(room)
    })
    const { welcome } = await ProtocolClient.connect(fx, urlOf(first))
    await first.close()
    const record = store.get(welcome.sid)
    expect(record?.rooms).toEqual(rooms)
    expect(Object.keys(record?.roomCursors ?? {})).toEqual(rooms)

    const second = await startServer(fx, { store })
    const back = await ProtocolClient.connect(fx, urlOf(second), { sid: welcome.sid, a: 0 })
    expect(back.welcome.resumed).toBe(true)
    for (const room of rooms) second.to(room).send('m', room)
    expect((await back.client.waitForMessages(3)).map((frame) => frame.d)).toEqual(rooms)
  })

  it('treats a store that fails as not knowing the session, and reports the failure', async () => {
    const failing: SessionStore = {
      get: () => Promise.reject(new Error('store down')),
      set: () => undefined,
      delete: () => undefined,
    }
    const server = await startServer(fx, { store: failing })
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server), { sid: 'elsewhere', a: 0 })
    expect(welcome.resumed).toBe(false)
    expect(errors).toEqual([expect.objectContaining({ message: 'store down' })])
  })

  it('deletes an ended session from the store', async () => {
    const store = createMemorySessionStore()
    const server = await startServer(fx, { store })
    const ended: string[] = []
    server.on('session:end', (peer) => ended.push(peer.id))
    let sid = ''
    server.on('connection', (peer) => (sid = peer.sessionId))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    await client.drop()
    await waitFor(() => store.get(sid) !== undefined, { message: 'the session in the store' })
    const [peer] = [...server.peers.values()]
    peer?.close()
    await waitFor(() => store.get(sid) === undefined, { message: 'the store to forget it' })
    expect(ended).toEqual([peer?.id])
  })
})
