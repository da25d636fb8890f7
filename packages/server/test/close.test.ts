import { fileURLToPath } from 'node:url'
import { queryObjects, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createFaultProxy, once, runScript, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createClient, type ClientState } from '@lifeline/core'
import { createMemorySessionStore, createServer, type Peer } from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)
const child = fileURLToPath(new URL('./fixtures/serveAndClose.ts', import.meta.url))
const signalledTwice = fileURLToPath(new URL('./fixtures/signalTwice.ts', import.meta.url))
const signalledStuck = fileURLToPath(new URL('./fixtures/signalStuck.ts', import.meta.url))
const twoServers = fileURLToPath(new URL('./fixtures/signalTwoServers.ts', import.meta.url))
const twoServersFail = fileURLToPath(new URL('./fixtures/signalTwoServersFail.ts', import.meta.url))

describe('graceful close', () => {
  it('closes every client with 1012, resolves, and refuses new connections', async () => {
    const server = await startServer(fx)
    const closes: string[] = []
    server.on('close', () => closes.push('server'))
    const a = await ProtocolClient.connect(fx, urlOf(server))
    const b = await ProtocolClient.connect(fx, urlOf(server))
    const handshaking = await ProtocolClient.open(fx, urlOf(server))
    await server.close()
    expect((await a.client.waitClose()).code).toBe(1012)
    expect((await b.client.waitClose()).code).toBe(1012)
    expect((await handshaking.waitClose()).code).toBe(1012)
    expect(closes).toEqual(['server'])
    expect(server.stats.connections).toBe(0)
    const late = fx.add(new WebSocket(urlOf(server), ['lifeline.v1.json']))
    const [error] = (await once(late, 'error')) as [Error & { code?: string }]
    expect(error.code).toBe('ECONNREFUSED')
    expect(server.close()).toBe(server.close())
  })

  it('terminates a client that does not complete the closing handshake, within closeTimeoutMs', async () => {
    const server = await startServer(fx, { closeTimeoutMs: 100 })
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    await ProtocolClient.connect(fx, proxy.url())
    proxy.blackhole()
    const started = performance.now()
    await server.close()
    // Without the timeout, the close would wait on `ws`'s own 30 s; 2 s is slack for a loaded
    // machine, not a measure of the 100 ms.
    expect(performance.now() - started).toBeLessThan(2_000)
    expect(server.stats.connections).toBe(0)
  })

  it('a new server on the same port and store resumes the sessions: replay, rooms, ids, seqs', async () => {
    const store = createMemorySessionStore()
    const first = createServer({ port: 0, store })
    fx.add(() => first.close())
    await first.ready
    let peer: Peer | undefined
    first.on('connection', (p) => {
      peer = p
      p.join('red')
    })
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(first))
    client.send({ t: 'm', d: 1, s: 1 })
    peer?.send('m', 'one')
    await client.waitForMessages(1)
    await waitFor(() => first.stats.messagesReceived === 1, { message: 'the client message' })
    await first.close()
    expect((await client.waitClose()).code).toBe(1012)
    expect(store.size).toBe(1)

    const second = createServer({ port: first.port, store })
    fx.add(() => second.close())
    await second.ready
    // Asserted in the test, not in the listener: the server catches what its listeners throw.
    const restored: Peer[] = []
    const restoredFlags: boolean[] = []
    second.on('connection', (p, info) => {
      restored.push(p)
      restoredFlags.push(info.restored)
    })
    second.to('red').send('m', 'nobody yet')
    const back = await ProtocolClient.connect(fx, urlOf(second), { sid: welcome.sid, a: 0 })
    expect(back.welcome).toEqual({
      sid: welcome.sid,
      resumed: true,
      a: 1,
      max: 1_048_576,
      w: 524_288,
    })
    expect(restored).toHaveLength(1)
    expect(restoredFlags).toEqual([true])
    expect(restored[0]?.id).toBe(peer?.id)
    expect(restored[0]?.rooms).toEqual(['red'])
    const replayed = await back.client.waitForMessages(1)
    expect(replayed).toEqual([{ t: 'm', d: 'one', s: 1, a: 1 }])
    expect(second.to('red').send('m', 'two')).toBe(1)
    expect((await back.client.waitForMessages(2))[1]).toMatchObject({ d: 'two', s: 2 })
  })

  /**
   * A server closed while its handler of `slow` runs (it answers 'done' after `handlerMs`), then
   * a server on the same store and port: the client resumed there.
   */
  async function closedWhileHandling(options: { closeTimeoutMs?: number }, handlerMs: number) {
    const store = createMemorySessionStore()
    const first = createServer({ port: 0, store, ...options })
    fx.add(() => first.close())
    await first.ready
    let started = false
    first.handle('slow', () => {
      started = true
      return new Promise((resolve) => setTimeout(() => resolve('done'), handlerMs))
    })
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(first))
    client.send({ t: '$req', d: { id: 1, m: 'slow' }, s: 1 })
    await waitFor(() => started, { message: 'the handler to start' })
    await first.close()
    const second = createServer({ port: first.port, store })
    fx.add(() => second.close())
    await second.ready
    return ProtocolClient.connect(fx, urlOf(second), { sid: welcome.sid, a: 0 })
  }

  it('lets a running RPC handler finish and keeps its response for the resumed client', async () => {
    const back = await closedWhileHandling({}, 50)
    expect(back.welcome).toMatchObject({ resumed: true, a: 1 })
    expect((await back.client.next('$res')).d).toEqual({ id: 1, d: 'done' })
  })

  it('answers a request whose handler outlasts closeTimeoutMs with CLOSED for the resumed client', async () => {
    // Processed: the next server drops the request as a duplicate, so its answer is stored.
    const back = await closedWhileHandling({ closeTimeoutMs: 100 }, 1_000)
    expect(back.welcome).toMatchObject({ resumed: true, a: 1 })
    expect((await back.client.next('$res')).d).toEqual({
      id: 1,
      e: { code: 'CLOSED', message: 'the server closed before the handler finished' },
    })
  })

  it('keeps nothing per call of a handler that never settles once its session ended, and gives such handlers closeTimeoutMs', async () => {
    // A handler awaiting a call with no timeout (a database that stopped answering).
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const promises = (): number => {
      gc()
      return queryObjects(Promise, { format: 'count' })
    }
    const server = await startServer(fx, { closeTimeoutMs: 200, sessionTtlMs: 50 })
    let started = 0
    server.handle('hang', () => {
      started++
      return new Promise(() => undefined)
    })
    const ended: string[] = []
    server.on('session:end', (_peer, { reason }) => ended.push(reason))
    const closedByServer = await ProtocolClient.connect(fx, urlOf(server))
    const expiring = await ProtocolClient.connect(fx, urlOf(server))
    const [peer] = [...server.peers.values()]
    const calls = 300
    const before = promises()
    for (let s = 1; s <= calls; s++) {
      for (const { client } of [closedByServer, expiring]) {
        client.send({ t: '$req', d: { id: s, m: 'hang' }, s })
      }
    }
    await waitFor(() => started === 2 * calls, { message: 'every handler to start' })
    peer?.close()
    await expiring.client.drop()
    await waitFor(() => ended.length === 2, { message: 'both sessions to end' })
    expect(ended.sort()).toEqual(['closed', 'expired'])
    expect(promises() - before).toBeLessThan(calls)
    // Still running, for all the server knows: the close waits for them, as long as it may.
    const closing = performance.now()
    await server.close()
    expect(performance.now() - closing).toBeGreaterThanOrEqual(190)
  })

  it('refuses what its peers send, ask or join once closed: the store has them as they were', async () => {
    const server = await startServer(fx)
    let peer: Peer | undefined
    server.on('connection', (p) => {
      peer = p
      p.join('red')
    })
    await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => peer, { message: 'the peer' })
    await server.close()
    const closed = expect.objectContaining({ code: 'CLOSED' }) as unknown
    expect(() => peer?.send('m', 'lost')).toThrow(closed)
    expect(() => peer?.send('m', 'lost', { reliable: false })).toThrow(closed)
    expect(() => peer?.join('blue')).toThrow(closed)
    peer?.leave('red')
    expect(peer?.rooms).toEqual(['red'])
    expect(server.to('red').send('m', 'lost')).toBe(0)
    // At once, not at its timeout: its timer would hold the process that far past the close.
    await expect(peer?.request('confirm', null, { timeoutMs: 2_000 })).rejects.toMatchObject({
      code: 'CLOSED',
    })
  })

  it('refuses peer.close() once closed: the session the store keeps resumes on the next server', async () => {
    const store = createMemorySessionStore()
    const first = await startServer(fx, { store })
    const ended: string[] = []
    first.on('session:end', (_peer, { reason }) => ended.push(reason))
    const client = createClient({ url: urlOf(first), socket: { delayMs: () => 0 } })
    fx.add(() => client.close())
    await waitFor(() => client.state.status === 'open' && first.peers.size === 1, {
      message: 'the client to open',
    })
    const [peer] = [...first.peers.values()] as [Peer]
    const resets: unknown[] = []
    client.events.on('reset', (info) => resets.push(info))
    await first.close()
    // A clean-up that ends its peers after the close deleted every session from the store.
    expect(() => peer.close()).toThrow(expect.objectContaining({ code: 'CLOSED' }))
    expect(ended).toEqual([])
    const next = await startServer(fx, { store, port: first.port })
    const resumed: boolean[] = []
    next.on('connection', (_peer, { restored }) => resumed.push(restored))
    await waitFor(() => client.state.status === 'open' && resumed.length === 1, {
      message: 'the client back on the next server',
    })
    expect(resumed).toEqual([true])
    expect(resets).toEqual([])
  })

  it('leaves a server passed in the options open', async () => {
    const { createServer: createHttpServer } = await import('node:http')
    const http = createHttpServer()
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
    const server = createServer({ server: http, path: '/live' })
    await server.ready
    const { client } = await ProtocolClient.connect(fx, urlOf(server, '/live'))
    await server.close()
    expect((await client.waitClose()).code).toBe(1012)
    expect(http.listening).toBe(true)
    expect(http.listenerCount('upgrade')).toBe(0)
  })

  it('leaves nothing behind: a Node process exits by itself after close()', async () => {
    const { code, out } = await runScript(child, [], 8_000)
    expect(code).toBe(0)
    expect(out.split('\n').sort()).toEqual(
      ['', 'client closed 1012', 'request CLOSED', 'request CLOSED', 'server closed'].sort(),
    )
  }, 12_000)

  it('closeOnSignals: a second signal during the close does not cut it short', async () => {
    const { code, out } = await runScript(signalledTwice, [], 8_000)
    expect({ code, out }).toEqual({ code: 0, out: 'stored\nclosed\n' })
  }, 12_000)

  it('closeOnSignals: a signal again past the grace ends a close that does not finish', async () => {
    const { code, out } = await runScript(signalledStuck, [], 8_000)
    expect({ code, out }).toEqual({ code: 1, out: 'gave up late\n' })
  }, 12_000)

  it('closeOnSignals: with two servers in the process, it exits once both are closed', async () => {
    const { code, out } = await runScript(twoServers, [], 8_000)
    expect({ code, out }).toEqual({ code: 0, out: 'quick closed\nslow closed\n' })
  }, 12_000)

  it('closeOnSignals: one of two closes failing still waits for the other, then exits with 1, saying why', async () => {
    const { code, out } = await runScript(twoServersFail, [], 8_000)
    expect({ code, out }).toEqual({ code: 1, out: 'closeOnSignals: quick failed\nslow closed\n' })
  }, 12_000)
})

describe('peer.close', () => {
  it('refuses a reason that is no string with INVALID_ARGUMENT, and leaves the session as it was', async () => {
    const server = await startServer(fx)
    const client = createClient({ url: urlOf(server) })
    fx.add(() => client.close())
    await waitFor(() => client.state.status === 'open' && server.peers.size === 1, {
      message: 'the client to open',
    })
    const [peer] = [...server.peers.values()] as [Peer]
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' })
    // From plain JavaScript: a number measured as a string threw Node's TypeError.
    for (const reason of [5, null, {}, Symbol('why')]) {
      expect(() => peer.close(4000, reason as unknown as string)).toThrow(invalid)
    }
    expect(() => peer.close(Symbol('code') as unknown as number)).toThrow(invalid)
    expect(peer.closed).toBe(false)
    expect(peer.send('still', 1)).toBe(true)
    // The state that follows the close is taken from the event: polled, a loaded machine can see
    // the next attempt's 'connecting', which carries no close code.
    const after: ClientState[] = []
    client.events.on('statechange', (state) => after.push(state))
    peer.close(4000, 'bye')
    await waitFor(() => after.length > 0, { message: 'the close' })
    expect(after[0]).toMatchObject({ status: 'reconnecting', closeCode: 4000 })
  })
})
