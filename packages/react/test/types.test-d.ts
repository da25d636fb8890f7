import { expectTypeOf } from 'vitest'
import type { Client, ClientState, LifelineError, RpcMethod } from '@lifeline/core'
import {
  createLifelineHooks,
  useClient,
  useConnectionState,
  useRequest,
  type LifelineProviderProps,
} from '../src/index.js'
import type { Chat } from './fake.js'

const hooks = createLifelineHooks<Chat>()

expectTypeOf(hooks.useClient()).toEqualTypeOf<Client<Chat>>()
expectTypeOf(useClient<Chat>()).toEqualTypeOf<Client<Chat>>()
expectTypeOf(useConnectionState()).toEqualTypeOf<ClientState>()
expectTypeOf(useConnectionState((state) => state.status)).toEqualTypeOf<ClientState['status']>()

// Message types and payloads are inferred from the schema.
hooks.useMessage('said', (data) => expectTypeOf(data).toEqualTypeOf<Chat['server']['said']>())
// @ts-expect-error 'say' is a client -> server message
hooks.useMessage('say', () => undefined)
expectTypeOf(hooks.useLatest('said')).toEqualTypeOf<Chat['server']['said'] | undefined>()
expectTypeOf(hooks.useLatest('said', (data) => data.n)).toEqualTypeOf<number | undefined>()
// @ts-expect-error no such message type
hooks.useLatest('shout')

const sum = hooks.useRequest('add', { a: 1, b: 2 }, { enabled: true, deps: [1] })
expectTypeOf(sum.data).toEqualTypeOf<number | undefined>()
expectTypeOf(sum.error).toEqualTypeOf<LifelineError | undefined>()
expectTypeOf(sum.status).toEqualTypeOf<'idle' | 'loading' | 'success' | 'error'>()
// @ts-expect-error the request's payload has the wrong type
hooks.useRequest('add', { a: '1', b: 2 })
// Options and props a component passes on as it got them, under exactOptionalPropertyTypes:
// undefined is "not given", as for `client.request`.
declare const maybe: {
  enabled?: boolean
  deps?: readonly unknown[]
  timeoutMs?: number
  closeDelayMs?: number
}
hooks.useRequest(
  'add',
  { a: 1, b: 2 },
  { enabled: maybe.enabled, deps: maybe.deps, timeoutMs: maybe.timeoutMs },
)
declare const chatClient: Client<Chat>
export const provided: LifelineProviderProps<Chat> = {
  client: chatClient,
  closeDelayMs: maybe.closeDelayMs,
}

const send = hooks.useSend()
expectTypeOf(send('say', { text: 'hi' })).toEqualTypeOf<number>()
// @ts-expect-error the payload misses its field
send('say', {})

// A payload that may be undefined need not be written out; one that may not, must.
interface Signals {
  client: { typing: void; say: { text: string } }
  rpc: { ping: RpcMethod<void, number>; add: RpcMethod<{ a: number }, number> }
}
const signals = createLifelineHooks<Signals>()
const signalSend = signals.useSend()
expectTypeOf(signalSend('typing')).toEqualTypeOf<number>()
signalSend('typing', undefined, { reliable: false })
// @ts-expect-error a payload that may not be undefined is required
signalSend('say')
expectTypeOf(signals.useRequest('ping').data).toEqualTypeOf<number | undefined>()
signals.useRequest('ping', undefined, { deps: [1] })
expectTypeOf(useRequest<Signals, 'ping'>('ping').data).toEqualTypeOf<number | undefined>()
// @ts-expect-error a request that may not be undefined is required
signals.useRequest('add')

// A component generic over any schema that has some messages and methods names them: they are
// read from the constraint, where they resolved to no name at all.
interface HasSaid {
  client: { say: { text: string } }
  server: { said: { text: string; room: string; n: number } }
  rpc: { add: RpcMethod<{ a: number; b: number }, number> }
}
export function useChatOver<T extends HasSaid>(
  said: { text: string },
  sum: { a: number; b: number },
): number | undefined {
  const typed = createLifelineHooks<T>()
  typed.useMessage('said', (data) => expectTypeOf(data.n).toEqualTypeOf<number>())
  const latest: number | undefined = typed.useLatest('said', (data) => data.n)
  const say = typed.useSend()
  say('say', said)
  // @ts-expect-error no such message type
  typed.useMessage('shout', () => undefined)
  const total: number | undefined = typed.useRequest('add', sum).data
  return latest ?? total
}
useChatOver<Chat>({ text: 'hi' }, { a: 1, b: 2 })
