import { isLifelineError } from '@lifeline/codec'
import { useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import { createClient, type RpcMethod } from '@lifeline/core'
import { RpcError, type LifelineServer, type Peer } from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)

describe('RPC: client calls server', () => {
  it('answers with the handler result, sync or async, as a reliable $res', async () => {
    const server = await startServer(fx)
    server.handle('add', (data) => {
      const { x, y } = data as { x: number; y: number }
      return x + y
    })
    server.handle('later', async (data) => `later ${String(data)}`)
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: '$req', d: { id: 7, m: 'add', d: { x: 2, y: 3 } }, s: 1 })
    expect(await client.next('$res')).toEqual({ t: '$res', d: { id: 7, d: 5 }, s: 1, a: 1 })
    client.send({ t: '$req', d: { id: 'b', m: 'later', d: 1 }, s: 2 })
    expect((await client.next('$res')).d).toEqual({ id: 'b', d: 'later 1' })
  })

  it("turns a thrown error's code into e.code, and an error without one into INTERNAL", async () => {
    const server = await startServer(fx)
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    server.handle('coded', () => {
      throw new RpcError('NO_ROOM', 'room is full')
    })
    server.handle('rejects', () => Promise.reject(new RpcError('LATE', 'too late')))
    server.handle('bug', () => {
      throw new TypeError('secret internals')
    })
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: '$req', d: { id: 1, m: 'coded' }, s: 1 })
    expect((await client.next('$res')).d).toEqual({
      id: 1,
      e: { code: 'NO_ROOM', message: 'room is full' },
    })
    client.send({ t: '$req', d: { id: 2, m: 'rejects' }, s: 2 })
    expect((await client.next('$res')).d).toEqual({
      id: 2,
      e: { code: 'LATE', message: 'too late' },
    })
    client.send({ t: '$req', d: { id: 3, m: 'bug' }, s: 3 })
    expect((await client.next('$res')).d).toEqual({
      id: 3,
      e: { code: 'INTERNAL', message: 'internal error' },
    })
    expect(errors).toEqual([expect.objectContaining({ message: 'secret internals' })])
  })

  it("answers INTERNAL for a system error (a file, a socket): its code and message name the server's paths and hosts", async () => {
    const server = await startServer(fx)
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    server.handle('read', () => readFile('/srv/lifeline-secrets/missing-key.pem'))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: '$req', d: { id: 1, m: 'read' }, s: 1 })
    expect((await client.next('$res')).d).toEqual({
      id: 1,
      e: { code: 'INTERNAL', message: 'internal error' },
    })
    // Reported on the server, where it is of use.
    expect(errors).toEqual([expect.objectContaining({ code: 'ENOENT', syscall: 'open' })])
  })

  it("answers INTERNAL for Node's own errors (ERR_*): a handler's bug, whose message quotes what it was given", async () => {
    const server = await startServer(fx)
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    // A bug: Node refuses the argument, and its message quotes the start of it.
    server.handle('hash', () => Buffer.from(12 as unknown as string))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: '$req', d: { id: 1, m: 'hash' }, s: 1 })
    expect((await client.next('$res')).d).toEqual({
      id: 1,
      e: { code: 'INTERNAL', message: 'internal error' },
    })
    // Reported on the server: answered with its own code, the bug was seen by nobody there.
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' })])
  })

  it("sends an application's or another library's ERR_* code as it is", async () => {
    const server = await startServer(fx)
    server.handle('own', () => {
      throw new RpcError('ERR_NOT_FOUND', 'no such room')
    })
    server.handle('library', () => {
      throw Object.assign(new Error('Request failed with status code 400'), {
        code: 'ERR_BAD_REQUEST',
      })
    })
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: '$req', d: { id: 1, m: 'own' }, s: 1 })
    expect((await client.next('$res')).d).toEqual({
      id: 1,
      e: { code: 'ERR_NOT_FOUND', message: 'no such room' },
    })
    client.send({ t: '$req', d: { id: 2, m: 'library' }, s: 2 })
    expect((await client.next('$res')).d).toEqual({
      id: 2,
      e: { code: 'ERR_BAD_REQUEST', message: 'Request failed with status code 400' },
    })
  })

  it('answers INTERNAL for an error whose fields throw when read, sync or async', async () => {
    const server = await startServer(fx)
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    const hostile = {
      get code(): string {
        throw new Error('a getter that throws')
      },
    }
    server.handle('throws', () => {
      throw hostile
    })
    server.handle('rejects', () => Promise.reject(hostile))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: '$req', d: { id: 1, m: 'throws' }, s: 1 })
    client.send({ t: '$req', d: { id: 2, m: 'rejects' }, s: 2 })
    const internal = { code: 'INTERNAL', message: 'internal error' }
    expect((await client.next('$res')).d).toEqual({ id: 1, e: internal })
    expect((await client.next('$res')).d).toEqual({ id: 2, e: internal })
    expect(client.closed).toBeUndefined()
    expect(errors).toEqual([hostile, hostile])
  })

  it('answers ENCODE_FAILED for a result the codec refuses, and reports it', async () => {
    // As a client that cannot send its answer does (PROTOCOL.md, 8): the handler did not fail.
    const server = await startServer(fx)
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    server.handle('big', () => 10n)
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: '$req', d: { id: 1, m: 'big' }, s: 1 })
    expect((await client.next('$res')).d).toEqual({
      id: 1,
      e: { code: 'ENCODE_FAILED', message: 'the response could not be encoded' },
    })
    expect(errors).toEqual([expect.objectContaining({ code: 'ENCODE_FAILED' })])
  })

  it('answers NOT_FOUND for an unknown method', async () => {
    const server = await startServer(fx)
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: '$req', d: { id: 1, m: 'nope', d: null }, s: 1 })
    expect((await client.next('$res')).d).toMatchObject({ id: 1, e: { code: 'NOT_FOUND' } })
  })

  it('executes a request once when the client resends it with the same s, and replays the response', async () => {
    const server = await startServer(fx)
    let calls = 0
    let release: (() => void) | undefined
    server.handle('once', () => {
      calls++
      return new Promise<string>((resolve) => (release = () => resolve('done')))
    })
    const first = await ProtocolClient.connect(fx, urlOf(server))
    first.client.send({ t: '$req', d: { id: 1, m: 'once' }, s: 1 })
    await waitFor(() => calls === 1, { message: 'the handler to run' })
    first.client.send({ t: '$req', d: { id: 1, m: 'once' }, s: 1 })
    await first.client.drop()
    release?.()
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: first.welcome.sid, a: 0 })
    expect(second.welcome).toMatchObject({ resumed: true, a: 1 })
    second.client.send({ t: '$req', d: { id: 1, m: 'once' }, s: 1 })
    expect((await second.client.next('$res')).d).toEqual({ id: 1, d: 'done' })
    second.client.send({ t: '$ping', d: { ts: 0 } })
    await second.client.next('$pong')
    expect(calls).toBe(1)
    expect(second.client.received.filter((frame) => frame.t === '$res')).toHaveLength(1)
  })

  it("tells a method handler which request it runs, by the id a message's handler gets", async () => {
    // A request that a process killed before its store write ran reaches the next process with
    // the same s (PROTOCOL.md, 11): its id is all an idempotent method can key its effects by.
    const server = await startServer(fx)
    const seen: unknown[] = []
    server.on('connection', (peer) => peer.on('up', (_data, _peer, info) => seen.push(info)))
    server.handle('charge', (_data, _peer, info) => {
      seen.push(info)
      return 'charged'
    })
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'up', s: 1 })
    client.send({ t: '$req', d: { id: 'c1', m: 'charge' }, s: 2 })
    client.send({ t: '$req', d: { id: 'c1', m: 'charge' }, s: 2 })
    expect((await client.next('$res')).d).toEqual({ id: 'c1', d: 'charged' })
    const peerId = [...server.peers.keys()][0] as string
    expect(seen).toEqual([
      { seq: 1, id: `${peerId}:1` },
      { seq: 2, id: `${peerId}:2` },
    ])
  })

  it('closes with 1002 on a $req without s or without a method', async () => {
    const server = await startServer(fx)
    const a = await ProtocolClient.connect(fx, urlOf(server))
    a.client.send({ t: '$req', d: { id: 1, m: 'x' } })
    expect((await a.client.waitClose()).code).toBe(1002)
    const b = await ProtocolClient.connect(fx, urlOf(server))
    b.client.send({ t: '$req', d: { id: 1 }, s: 1 })
    expect((await b.client.waitClose()).code).toBe(1002)
  })
})

describe('RPC: server calls client', () => {
  async function connected(options: Parameters<typeof startServer>[1] = {}) {
    const server = await startServer(fx, options)
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    return { server, client, welcome, peer: peer as Peer }
  }

  it('resolves with the client response; the id is the s of the $req', async () => {
    const { client, peer } = await connected()
    const answer = peer.request('confirm', { q: 'sure?' })
    const request = await client.next('$req')
    expect(request).toEqual({
      t: '$req',
      d: { id: 1, m: 'confirm', d: { q: 'sure?' } },
      s: 1,
      a: 0,
    })
    client.send({ t: '$res', d: { id: 1, d: true }, s: 1, a: 1 })
    await expect(answer).resolves.toBe(true)
  })

  it('takes null options, as plain JavaScript passes them, for no options', async () => {
    const { client, peer } = await connected()
    const answer = peer.request('confirm', 'sure?', null as unknown as undefined)
    expect(await client.next('$req')).toMatchObject({ d: { id: 1, m: 'confirm' }, s: 1 })
    client.send({ t: '$res', d: { id: 1, d: true }, s: 1, a: 1 })
    await expect(answer).resolves.toBe(true)
  })

  it('takes a null signal, as fetch does, for none', async () => {
    const { client, peer } = await connected()
    const answer = peer.request('confirm', 'sure?', { signal: null as unknown as undefined })
    expect(await client.next('$req')).toMatchObject({ d: { id: 1, m: 'confirm' }, s: 1 })
    client.send({ t: '$res', d: { id: 1, d: true }, s: 1, a: 1 })
    await expect(answer).resolves.toBe(true)
  })

  it('rejects with REMOTE_ERROR carrying the remote code', async () => {
    const { client, peer } = await connected()
    const answer = peer.request('confirm', null)
    await client.next('$req')
    client.send({ t: '$res', d: { id: 1, e: { code: 'NOPE', message: 'no way' } }, s: 1 })
    const error: unknown = await answer.catch((e: unknown) => e)
    expect(isLifelineError(error, 'REMOTE_ERROR')).toBe(true)
    expect(error).toMatchObject({ remoteCode: 'NOPE', message: 'no way' })
  })

  it('rejects with REQUEST_TIMEOUT, and ignores the late response', async () => {
    const { client, peer } = await connected()
    const answer = peer.request('slow', null, { timeoutMs: 30 })
    await expect(answer).rejects.toMatchObject({ code: 'REQUEST_TIMEOUT' })
    client.send({ t: '$res', d: { id: 1, d: 'late' }, s: 1 })
    client.send({ t: '$ping', d: { ts: 0 } })
    await client.next('$pong')
    expect(client.closed).toBeUndefined()
  })

  it('takes a requestTimeoutMs longer than a timer can wait, as a call takes its timeoutMs', async () => {
    // The deadline is checked again each time the longest timer is up: a month is waited, not
    // fired after 1 ms, so the option is no timer's delay to bound.
    const month = 30 * 24 * 60 * 60 * 1000
    const { client, peer } = await connected({ requestTimeoutMs: month })
    const answer = peer.request('confirm', 'sure?')
    expect(await client.next('$req')).toMatchObject({ d: { id: 1, m: 'confirm' }, s: 1 })
    client.send({ t: '$ping', d: { ts: 0 } })
    await client.next('$pong')
    client.send({ t: '$res', d: { id: 1, d: true }, s: 1, a: 1 })
    await expect(answer).resolves.toBe(true)
  })

  it('rejects with ABORTED through its signal', async () => {
    const { peer } = await connected()
    const controller = new AbortController()
    const answer = peer.request('slow', null, { signal: controller.signal })
    controller.abort()
    await expect(answer).rejects.toMatchObject({ code: 'ABORTED' })
    await expect(peer.request('x', null, { signal: controller.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    })
  })

  it('rejects a bad method or timeout with INVALID_ARGUMENT and sends nothing for it', async () => {
    const { client, peer } = await connected()
    for (const timeoutMs of [0, -1, Number.NaN]) {
      await expect(peer.request('x', null, { timeoutMs })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
    }
    await expect(peer.request(42 as unknown as string, null)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    // A signal that is no AbortSignal: refused before the `$req` goes out, not after.
    await expect(
      peer.request('x', null, { signal: {} as unknown as AbortSignal }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    // The next request is the first one on the wire, with the first id.
    void peer.request('after', null).catch(() => undefined)
    expect(await client.next('$req')).toMatchObject({ d: { id: 1, m: 'after' }, s: 1 })
  })

  it('rejects with CLOSED when the session ends', async () => {
    const { client, peer } = await connected()
    const answer = peer.request('slow', null)
    peer.close(4000, 'bye')
    await expect(answer).rejects.toMatchObject({ code: 'CLOSED' })
    expect((await client.waitClose()).code).toBe(4000)
    await expect(peer.request('x', null)).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('survives a reconnect: the $req is replayed and the response settles it', async () => {
    const { server, client, welcome, peer } = await connected()
    await client.drop()
    await waitFor(() => !peer.connected, { message: 'the drop' })
    const answer = peer.request('confirm', 'again?')
    const second = await ProtocolClient.connect(fx, urlOf(server), { sid: welcome.sid, a: 0 })
    const request = await second.client.next('$req')
    expect(request.d).toEqual({ id: 1, m: 'confirm', d: 'again?' })
    second.client.send({ t: '$res', d: { id: 1, d: 'yes' }, s: 1, a: 1 })
    await expect(answer).resolves.toBe('yes')
  })

  it('closes with 1002 on a malformed $res', async () => {
    const { client } = await connected()
    client.send({ t: '$res', d: { id: 1, e: 'bad' }, s: 1 })
    expect((await client.waitClose()).code).toBe(1002)
  })
})

describe('RPC from plain JavaScript', () => {
  interface Calls {
    rpc: { odd: RpcMethod<null, unknown> }
    clientRpc: { count: RpcMethod<null, number> }
  }

  /** A server and a `@lifeline/core` client that answers `count` and counts its calls. */
  async function linked(setUp: (server: LifelineServer<Calls>) => void = () => {}) {
    const server = await startServer<Calls>(fx)
    setUp(server)
    const client = createClient<Calls>({ url: urlOf(server) })
    fx.add(() => client.close())
    let calls = 0
    client.handle('count', () => ++calls)
    await waitFor(() => client.state.status === 'open' && server.peers.size === 1, {
      message: 'the client to open',
    })
    const [peer] = [...server.peers.values()] as [Peer]
    return { server, client, peer, calls: () => calls }
  }

  it('answers a request whose result has a then that throws when read', async () => {
    // A handler's result is looked at for a `then`: a getter that throws there is a handler
    // that failed, answered INTERNAL, not a request processed and never answered.
    const errors: unknown[] = []
    const { client } = await linked((server) => {
      server.on('error', (error) => errors.push(error))
      server.handle('odd', () => ({
        get then(): never {
          throw new Error('then getter')
        },
      }))
    })
    await expect(client.request('odd', null, { timeoutMs: 2_000 })).rejects.toMatchObject({
      code: 'REMOTE_ERROR',
      remoteCode: 'INTERNAL',
    })
    expect(errors).toEqual([expect.objectContaining({ message: 'then getter' })])
  })

  it('rejects a timeoutMs that is no number with INVALID_ARGUMENT, and the client never runs it', async () => {
    const { peer, calls } = await linked()
    // A string was added to the clock as text (a deadline already past), a BigInt threw after
    // the `$req` was out: either way the client ran a method its caller was told had failed.
    for (const timeoutMs of ['60000', 5_000n, Symbol('ms'), [5_000], true]) {
      await expect(
        peer.request('count', null, { timeoutMs: timeoutMs as unknown as number }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    }
    await expect(peer.request('count', null)).resolves.toBe(1)
    expect(calls()).toBe(1)
  })
})
