import { expectTypeOf } from 'vitest'
import type { Unset } from '@lifeline/test-utils'
import type {
  AnySchema,
  ClientOptions,
  ClientMessages,
  ClientState,
  LifelineError,
  MessageType,
  RequestOf,
  RequestOptions,
  ResetEvent,
  ResponseOf,
  RpcMethod,
  Schema,
  SendOptions,
  ServerMethods,
} from '../src/index.js'
import { Client, createClient } from '../src/index.js'

interface Chat {
  client: { say: { text: string } }
  server: { said: { text: string; from: string } }
  rpc: { add: RpcMethod<{ a: number; b: number }, number> }
  clientRpc: { confirm: RpcMethod<string, boolean> }
}

// The functions below are only type-checked, never called.
expectTypeOf((url: string) => createClient<Chat>({ url })).returns.toEqualTypeOf<Client<Chat>>()
expectTypeOf((url: string) => createClient({ url })).returns.toEqualTypeOf<Client<AnySchema>>()
expectTypeOf((url: string) => new Client({ url })).returns.toEqualTypeOf<Client<AnySchema>>()

declare const client: Client<Chat>

// send(): the client's own message types, with their payloads.
client.send('say', { text: 'hi' })
client.send('say', { text: 'hi' }, { reliable: false })
// Options a wrapper passes on as it got them, under exactOptionalPropertyTypes: undefined is "not given".
declare const maybe: { reliable?: boolean; timeoutMs?: number; signal?: AbortSignal }
client.send('say', { text: 'hi' }, { reliable: maybe.reliable })
void client.request('add', { a: 1, b: 2 }, { timeoutMs: maybe.timeoutMs, signal: maybe.signal })
expectTypeOf(client.send<'say'>)
  .parameter(1)
  .toEqualTypeOf<{ text: string }>()
// A receipt: the message's id, for delivered().
expectTypeOf(client.send('say', { text: 'hi' })).toEqualTypeOf<number>()
expectTypeOf(client.delivered(client.send('say', { text: 'hi' }))).toEqualTypeOf<Promise<void>>()
// @ts-expect-error a receipt is a number
void client.delivered('1')
// @ts-expect-error no such message type
client.send('shout', { text: 'hi' })
// @ts-expect-error the payload's field has the wrong type
client.send('say', { text: 1 })
// @ts-expect-error the payload misses its field
client.send('say', {})
// @ts-expect-error the payload is required
client.send('say')
// @ts-expect-error 'said' is a server -> client type
client.send('said', { text: 'hi', from: 'ann' })
// @ts-expect-error an RPC method is not a message type
client.send('add', { a: 1, b: 2 })
// @ts-expect-error an unknown send option
client.send('say', { text: 'hi' }, { reliable: false, urgent: true })

// `$`-types are control frames: excluded even when a schema names one.
interface WithControlKey {
  client: { say: { text: string }; $ack: { a: number } }
  server: { $welcome: { sid: string }; said: { text: string } }
}
declare const controlled: Client<WithControlKey>
controlled.send('say', { text: 'hi' })
// @ts-expect-error a `$`-prefixed type is a control frame, not a message
controlled.send('$ack', { a: 1 })
// @ts-expect-error a `$`-prefixed type is a control frame, not a message
controlled.on('$welcome', () => {})
// @ts-expect-error `$hello` is not a message type either
client.send('$hello', { v: 1 })

// on() and once(): the server's message types, with their payloads.
client.on('said', (d) => expectTypeOf(d).toEqualTypeOf<{ text: string; from: string }>())
client.once('said', (d) => expectTypeOf(d).toEqualTypeOf<{ text: string; from: string }>())
expectTypeOf(client.on('said', () => {})).toEqualTypeOf<() => void>()
expectTypeOf(client.once('said', () => {})).toEqualTypeOf<() => void>()
// @ts-expect-error 'say' is a client -> server type
client.on('say', () => {})
// @ts-expect-error no such message type
client.once('shout', () => {})
// @ts-expect-error the handler's parameter must accept the payload
client.on('said', (d: { text: number }) => d)

// request(): the server's methods, with their request and response types.
expectTypeOf(client.request('add', { a: 1, b: 2 })).toEqualTypeOf<Promise<number>>()
expectTypeOf(
  client.request('add', { a: 1, b: 2 }, { timeoutMs: 500, signal: new AbortController().signal }),
).toEqualTypeOf<Promise<number>>()
// @ts-expect-error the request misses a field
client.request('add', { a: 1 })
// @ts-expect-error a field has the wrong type
client.request('add', { a: '1', b: 2 })
// @ts-expect-error 'confirm' is a method of the client, not of the server
client.request('confirm', 'sure?')
// @ts-expect-error no such method
client.request('subtract', { a: 1, b: 2 })
// @ts-expect-error a message type is not a method
client.request('say', { text: 'hi' })

// handle(): the client's methods; the handler answers the response type, or a promise of it.
client.handle('confirm', (q) => {
  expectTypeOf(q).toEqualTypeOf<string>()
  return q.length > 0
})
client.handle('confirm', async (q) => q === 'yes')
expectTypeOf(client.handle('confirm', () => true)).toEqualTypeOf<() => void>()
expectTypeOf(client.handle<'confirm'>)
  .parameter(1)
  .returns.toEqualTypeOf<boolean | Promise<boolean>>()
// @ts-expect-error the response must be a boolean
client.handle('confirm', () => 'yes')
// @ts-expect-error nor a promise of anything else
client.handle('confirm', async () => 1)
// @ts-expect-error 'add' is the server's method
client.handle('add', ({ a, b }) => a + b)
// @ts-expect-error no such method
client.handle('deny', () => false)

// Without a schema: any type, unknown payloads.
declare const untyped: Client
expectTypeOf(untyped).toEqualTypeOf<Client<AnySchema>>()
untyped.send('anything', 42)
untyped.send('other', { nested: [1, 'two'] })
untyped.on('whatever', (d) => expectTypeOf(d).toEqualTypeOf<unknown>())
expectTypeOf(untyped.request('method', { x: 1 })).toEqualTypeOf<Promise<unknown>>()
untyped.handle('method', (q) => {
  expectTypeOf(q).toEqualTypeOf<unknown>()
  return { any: 'thing' }
})
// @ts-expect-error a type is still a string
untyped.send(42, 'data')

// A payload that may be undefined (`void`, `undefined`, or one that is optional) need not be
// written out; one that may not, must.
interface Signals {
  client: { typing: void; away: undefined; mood: string | undefined; say: { text: string } }
  rpc: {
    ping: RpcMethod<void, number>
    reset: RpcMethod<undefined, boolean>
    add: RpcMethod<{ a: number; b: number }, number>
  }
}
declare const signals: Client<Signals>
signals.send('typing')
signals.send('typing', undefined, { reliable: false })
signals.send('away')
signals.send('mood')
signals.send('mood', 'fine')
expectTypeOf(signals.request('ping')).toEqualTypeOf<Promise<number>>()
expectTypeOf(signals.request('reset')).toEqualTypeOf<Promise<boolean>>()
signals.request('ping', undefined, { timeoutMs: 100 })
// @ts-expect-error a void payload is still no string
signals.send('typing', 'yes')
// @ts-expect-error a payload that may not be undefined is required
signals.send('say')
// @ts-expect-error a request that may not be undefined is required
void signals.request('add')
// @ts-expect-error options are no payload
void signals.request('add', { timeoutMs: 100 })
untyped.send('anything')
// A wrapper generic in the schema passes its own optional options on (`undefined` when left
// out): the payload's arguments are a conditional type there, which TypeScript checks as a
// tuple, whose optional element takes `undefined` only if it says so.
export function sendWith<T extends Schema, K extends MessageType<ClientMessages<T>>>(
  client: Client<T>,
  type: K,
  data: ClientMessages<T>[K],
  options?: SendOptions,
): number {
  return client.send(type, data, options)
}
export function requestWith<T extends Schema, K extends MessageType<ServerMethods<T>>>(
  client: Client<T>,
  method: K,
  data: RequestOf<ServerMethods<T>, K>,
  options?: RequestOptions,
): Promise<ResponseOf<ServerMethods<T>, K>> {
  return client.request(method, data, options)
}
expectTypeOf(untyped.request('method')).toEqualTypeOf<Promise<unknown>>()

// A schema with only some parts: the missing ones allow nothing.
interface ServerOnly {
  server: { tick: number }
}
declare const listener: Client<ServerOnly>
listener.on('tick', (n) => expectTypeOf(n).toEqualTypeOf<number>())
// @ts-expect-error no client -> server messages in this schema
listener.send('tick', 1)
// @ts-expect-error no server methods in this schema
listener.request('tick', 1)

// A schema whose parts are optional, as `Schema` declares them, still types its messages: they
// were read as no part at all, so no message type could be sent, listened to or called.
interface OptionalParts {
  client?: { say: { text: string } }
  server?: { said: string }
  rpc?: { add: RpcMethod<{ a: number; b: number }, number> }
  clientRpc?: { confirm: RpcMethod<string, boolean> }
}
declare const optional: Client<OptionalParts>
optional.send('say', { text: 'hi' })
optional.on('said', (d) => expectTypeOf(d).toEqualTypeOf<string>())
expectTypeOf(optional.request('add', { a: 1, b: 2 })).toEqualTypeOf<Promise<number>>()
optional.handle('confirm', (q) => {
  expectTypeOf(q).toEqualTypeOf<string>()
  return q === 'yes'
})
expectTypeOf<ClientMessages<OptionalParts>>().toEqualTypeOf<{ say: { text: string } }>()
// @ts-expect-error the payload's field has the wrong type
optional.send('say', { text: 1 })
// @ts-expect-error no such message type
optional.on('shout', () => {})
// @ts-expect-error the response must be a boolean
optional.handle('confirm', () => 'yes')

// A function generic over any schema that has some messages and methods names them: they are
// read from the constraint, where the names resolved to no name at all and nothing compiled.
interface HasChat {
  client: { say: { text: string } }
  server: { said: { text: string; from: string } }
  rpc: { add: RpcMethod<{ a: number; b: number }, number> }
  clientRpc: { confirm: RpcMethod<string, boolean> }
}
export function chatOver<T extends HasChat>(
  chat: Client<T>,
  say: { text: string },
  sum: { a: number; b: number },
): Promise<number> {
  chat.on('said', (d) => expectTypeOf(d.from).toEqualTypeOf<string>())
  chat.once('said', (d) => expectTypeOf(d.text).toEqualTypeOf<string>())
  chat.handle('confirm', (q) => q.length > 0)
  chat.send('say', say)
  chat.send('say', say, { reliable: false })
  // @ts-expect-error no such message type
  chat.send('shout', say)
  // @ts-expect-error a method of the client is not one of the server
  void chat.request('confirm', 'sure?')
  // @ts-expect-error the response must be a boolean
  chat.handle('confirm', () => 'yes')
  // @ts-expect-error the handler's parameter must accept the payload
  chat.on('said', (d: { text: number }) => d)
  // @ts-expect-error the payload's field has the wrong type
  chat.send('say', { text: 1 } as { text: number })
  return chat.request('add', sum, { timeoutMs: 100 }).then((n) => n + 1)
}
// The helper is used with its schema, and with a larger one.
interface LargerChat extends HasChat {
  client: { say: { text: string }; typing: void }
}
declare const exact: Client<HasChat>
declare const larger: Client<LargerChat>
expectTypeOf(chatOver(exact, { text: 'hi' }, { a: 1, b: 2 })).toEqualTypeOf<Promise<number>>()
void chatOver(larger, { text: 'hi' }, { a: 1, b: 2 })

// The state narrows on `status`.
const state = client.state
expectTypeOf(state).toEqualTypeOf<ClientState>()
expectTypeOf(state.status).toEqualTypeOf<
  'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed'
>()
expectTypeOf(state).not.toHaveProperty('sessionId')
if (state.status === 'open') {
  expectTypeOf(state.attempt).toEqualTypeOf<number>()
  expectTypeOf(state.sessionId).toEqualTypeOf<string | undefined>()
  expectTypeOf(state.resumed).toEqualTypeOf<boolean | undefined>()
  expectTypeOf(state).not.toHaveProperty('closeCode')
} else if (state.status === 'reconnecting') {
  expectTypeOf(state.delayMs).toEqualTypeOf<number>()
  expectTypeOf(state.closeCode).toEqualTypeOf<number>()
  expectTypeOf(state.lastError).toEqualTypeOf<LifelineError | undefined>()
} else if (state.status === 'closed') {
  expectTypeOf(state.closeCode).toEqualTypeOf<number | undefined>()
  expectTypeOf(state).not.toHaveProperty('attempt')
} else if (state.status === 'closing') {
  expectTypeOf(state).toEqualTypeOf<{ readonly status: 'closing' }>()
} else {
  expectTypeOf(state.status).toEqualTypeOf<'connecting'>()
  expectTypeOf(state.lastError).toEqualTypeOf<LifelineError | undefined>()
}

// Lifecycle events are typed, and only they can be listened to.
client.events.on('reset', (e) => {
  expectTypeOf(e).toEqualTypeOf<ResetEvent>()
  expectTypeOf(e.resent).toEqualTypeOf<number>()
  expectTypeOf(e.sessionId).toEqualTypeOf<string>()
})
client.events.on('statechange', (next, previous) => {
  expectTypeOf(next).toEqualTypeOf<ClientState>()
  expectTypeOf(previous).toEqualTypeOf<ClientState>()
})
client.events.on('error', (error) => expectTypeOf(error).toEqualTypeOf<LifelineError>())
client.events.on('drop', (e) =>
  expectTypeOf(e).toEqualTypeOf<{
    readonly type: string
    readonly data: unknown
    readonly reason: 'offline' | 'overflow' | 'too-large' | 'unencodable'
  }>(),
)
// @ts-expect-error no such event
client.events.on('nope', () => {})
// @ts-expect-error message types are not lifecycle events
client.events.on('said', () => {})
// @ts-expect-error the reset event is not a LifelineError
client.events.on('reset', (e: LifelineError) => e)

// The client's options, as a wrapper passes on those it got, under exactOptionalPropertyTypes:
// each optional one, the heartbeat's too, takes `undefined` as "not given".
expectTypeOf<Unset<ClientOptions> & Pick<ClientOptions, 'url'>>().toExtend<ClientOptions>()
expectTypeOf<Unset<Exclude<ClientOptions['heartbeat'], false | undefined>>>().toExtend<
  NonNullable<ClientOptions['heartbeat']>
>()
