// Checked by `tsc -p tsconfig.json` (the package typecheck): each `@ts-expect-error` must be an
// error, and each `expectTypeOf` must hold.
import { expectTypeOf } from 'vitest'
import type { MessageType, Schema, ServerMessages } from '@lifeline/core/protocol'
import type { Unset } from '@lifeline/test-utils'
import {
  createServer,
  type LifelineServer,
  type MemorySessionStoreOptions,
  type Peer,
  type RequestInfo,
  type RpcMethod,
  type SendOptions,
  type ServerHeartbeatOptions,
  type ServerOptions,
  type ServerStats,
} from '../src/index.js'

interface Chat {
  client: { say: { room: string; text: string }; typing: boolean }
  server: { said: { room: string; text: string; from: string } }
  rpc: { history: RpcMethod<{ room: string }, string[]> }
  clientRpc: { confirm: RpcMethod<{ question: string }, boolean> }
}

interface User {
  name: string
}

const server = createServer<Chat, User>({ port: 0 })
expectTypeOf(server).toEqualTypeOf<LifelineServer<Chat, User>>()
expectTypeOf(server.ready).toEqualTypeOf<Promise<void>>()
expectTypeOf(server.port).toEqualTypeOf<number>()
expectTypeOf(server.stats).toEqualTypeOf<ServerStats>()

server.on('connection', (peer, info) => {
  expectTypeOf(peer).toEqualTypeOf<Peer<Chat, User>>()
  expectTypeOf(peer.user).toEqualTypeOf<User>()
  expectTypeOf(info.restored).toEqualTypeOf<boolean>()

  // Handler payloads are inferred from the schema.
  peer.on('say', (data, from) => {
    expectTypeOf(data).toEqualTypeOf<{ room: string; text: string }>()
    expectTypeOf(from).toEqualTypeOf<Peer<Chat, User>>()
  })
  peer.on('typing', (data) => expectTypeOf(data).toEqualTypeOf<boolean>())
  expectTypeOf(peer.on('typing', () => undefined)).toEqualTypeOf<() => void>()
  // @ts-expect-error: not a client message type
  peer.on('said', () => undefined)

  peer.send('said', { room: 'a', text: 'b', from: peer.id })
  peer.send('said', { room: 'a', text: 'b', from: peer.id }, { reliable: false })
  // @ts-expect-error: not a server message type
  peer.send('wrong', {})
  // @ts-expect-error: wrong payload
  peer.send('said', { room: 'a' })
  // @ts-expect-error: wrong payload type
  peer.send('said', { room: 1, text: 'b', from: 'c' })
  // @ts-expect-error: control types are not message types
  peer.send('$error', {})

  const answer = peer.request('confirm', { question: 'sure?' }, { timeoutMs: 1_000 })
  expectTypeOf(answer).toEqualTypeOf<Promise<boolean>>()
  // @ts-expect-error: not a client method
  void peer.request('history', { room: 'a' })
  // @ts-expect-error: wrong request payload
  void peer.request('confirm', { q: 'sure?' })
})

server.on('disconnect', (peer, info) => {
  expectTypeOf(peer).toEqualTypeOf<Peer<Chat, User>>()
  expectTypeOf(info.code).toEqualTypeOf<number>()
})
server.on('session:end', (_peer, info) => {
  expectTypeOf(info.reason).toEqualTypeOf<'expired' | 'closed' | 'lossy' | 'oversize' | 'moved'>()
})
// @ts-expect-error: no such event
server.on('nope', () => undefined)

// Method handlers: typed request, enforced response, sync or async.
server.handle('history', (data, peer) => {
  expectTypeOf(data).toEqualTypeOf<{ room: string }>()
  expectTypeOf(peer).toEqualTypeOf<Peer<Chat, User>>()
  return [data.room]
})
server.handle('history', async ({ room }) => [room])
// Which request it runs: always reliable, so its seq and id are set.
server.handle('history', (data, _peer, info) => {
  expectTypeOf(info).toEqualTypeOf<RequestInfo>()
  expectTypeOf(info.id).toEqualTypeOf<string>()
  expectTypeOf(info.seq).toEqualTypeOf<number>()
  return [data.room, info.id]
})
// @ts-expect-error: wrong response type
server.handle('history', () => 42)
// @ts-expect-error: wrong async response type
server.handle('history', async () => [1, 2])
// @ts-expect-error: not a server method
server.handle('confirm', () => true)

// Rooms and broadcast are typed like peer.send.
server.to('lobby').send('said', { room: 'lobby', text: 'hi', from: 'server' })
server.broadcast('said', { room: 'lobby', text: 'hi', from: 'server' }, { reliable: false })
// Options passed on as a wrapper got them, under exactOptionalPropertyTypes.
declare const maybe: {
  reliable?: boolean
  id?: string
  except?: Peer<Chat, User>
  timeoutMs?: number
  signal?: AbortSignal
}
server
  .to('lobby')
  .send(
    'said',
    { room: 'lobby', text: 'hi', from: 'server' },
    { reliable: maybe.reliable, id: maybe.id, except: maybe.except },
  )
server.on('connection', (peer) => {
  peer.send('said', { room: 'a', text: 'b', from: 'c' }, { reliable: maybe.reliable })
  void peer.request(
    'confirm',
    { question: 'sure?' },
    { timeoutMs: maybe.timeoutMs, signal: maybe.signal },
  )
})
// @ts-expect-error: wrong payload
server.to('lobby').send('said', { text: 'hi' })
// @ts-expect-error: not a server message type
server.broadcast('say', { room: 'a', text: 'b' })

// A payload that may be undefined need not be written out, on every way of sending.
interface Signals {
  server: { refresh: void; said: { text: string } }
  clientRpc: { ping: RpcMethod<void, number>; ask: RpcMethod<string, boolean> }
}
const signals = createServer<Signals>({ port: 0 })
signals.on('connection', (peer) => {
  peer.send('refresh')
  peer.send('refresh', undefined, { reliable: false })
  expectTypeOf(peer.request('ping')).toEqualTypeOf<Promise<number>>()
  void peer.request('ping', undefined, { timeoutMs: 1_000 })
  // @ts-expect-error: a payload that may not be undefined is required
  peer.send('said')
  // @ts-expect-error: so is a request that may not be
  void peer.request('ask')
})
signals.broadcast('refresh')
signals.to('lobby').send('refresh')
signals.to('lobby').send('refresh', undefined, { reliable: false })
// @ts-expect-error: a payload that may not be undefined is required
signals.broadcast('said')
// @ts-expect-error: in a room too
signals.to('lobby').send('said')

// A wrapper generic in the schema passes its own optional options on (see core's types test).
export function sendWith<T extends Schema, K extends MessageType<ServerMessages<T>>>(
  peer: Peer<T>,
  type: K,
  data: ServerMessages<T>[K],
  options?: SendOptions,
): boolean {
  return peer.send(type, data, options)
}

// Without a schema, everything goes with unknown payloads.
const loose = createServer({ port: 0 })
loose.on('connection', (peer) => {
  peer.send('anything', { at: 1 })
  peer.on('whatever', (data) => expectTypeOf(data).toEqualTypeOf<unknown>())
  expectTypeOf(peer.request('m', 1)).toEqualTypeOf<Promise<unknown>>()
  expectTypeOf(peer.user).toEqualTypeOf<unknown>()
})
loose.handle('echo', (data) => data)

// authenticate's result type is the peer's user type.
createServer<Chat, User>({
  port: 0,
  authenticate: async (request) => (request.headers.authorization ? { name: 'ada' } : false),
})
createServer<Chat, User>({
  port: 0,
  // @ts-expect-error: authenticate must return a User (or false)
  authenticate: () => ({ id: 1 }),
})
// sessionOwner is given that user, and answers a string.
createServer<Chat, User>({
  port: 0,
  sessionOwner: (user) => user.name,
})
createServer<Chat, User>({
  port: 0,
  // @ts-expect-error: a user has no id
  sessionOwner: (user) => user.id,
})
createServer<Chat, User>({
  port: 0,
  // @ts-expect-error: an owner is a string
  sessionOwner: () => 1,
})

// A schema whose parts are optional, as `Schema` declares them, types its messages on this side
// too: they were read as no part at all.
interface OptionalParts {
  client?: { say: { text: string } }
  server?: { said: string }
  rpc?: { add: RpcMethod<{ a: number; b: number }, number> }
  clientRpc?: { confirm: RpcMethod<string, boolean> }
}
const optional = createServer<OptionalParts>({ port: 0 })
optional.on('connection', (peer) => {
  peer.on('say', (data) => expectTypeOf(data).toEqualTypeOf<{ text: string }>())
  peer.send('said', 'hi')
  expectTypeOf(peer.request('confirm', 'sure?')).toEqualTypeOf<Promise<boolean>>()
  // @ts-expect-error: wrong payload type
  peer.send('said', 1)
})
optional.handle('add', ({ a, b }) => a + b)
optional.to('lobby').send('said', 'hi')
// @ts-expect-error: wrong response type
optional.handle('add', () => 'three')
// @ts-expect-error: not a server message type
optional.to('lobby').send('say', { text: 'hi' })

// A function generic over any schema that has some messages and methods names them on this side
// too (read from the constraint; they resolved to no name at all).
interface HasChat {
  client: { say: { room: string; text: string } }
  server: { said: { room: string; text: string; from: string } }
  rpc: { history: RpcMethod<{ room: string }, string[]> }
  clientRpc: { confirm: RpcMethod<{ question: string }, boolean> }
}
export function chatOver<T extends HasChat, U>(
  host: LifelineServer<T, U>,
  said: { room: string; text: string; from: string },
  question: { question: string },
): void {
  host.handle('history', ({ room }) => [room])
  host.to('lobby').send('said', said)
  host.broadcast('said', said, { reliable: false })
  host.on('connection', (peer) => {
    peer.on('say', (data) => expectTypeOf(data.text).toEqualTypeOf<string>())
    peer.send('said', said)
    void peer.request('confirm', question).then((yes): boolean => yes)
    // @ts-expect-error: not a server message type
    peer.send('say', said)
  })
  // @ts-expect-error: wrong response type
  host.handle('history', () => 42)
  // @ts-expect-error: not a server method
  host.handle('confirm', () => true)
}
chatOver(server, { room: 'a', text: 'b', from: 'c' }, { question: 'sure?' })

// The server's options, as a wrapper passes on those it got, under exactOptionalPropertyTypes:
// each optional one, nested ones too, takes `undefined` as "not given".
expectTypeOf<Unset<ServerOptions>>().toExtend<ServerOptions>()
expectTypeOf<Unset<ServerHeartbeatOptions>>().toExtend<ServerHeartbeatOptions>()
type ConnectionLimitOptions = Exclude<ServerOptions['connectionLimits'], false | undefined>
expectTypeOf<Unset<ConnectionLimitOptions>>().toExtend<ConnectionLimitOptions>()
expectTypeOf<Unset<MemorySessionStoreOptions>>().toExtend<MemorySessionStoreOptions>()
