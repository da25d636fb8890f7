import { expectTypeOf } from 'vitest'
import WebSocket from 'ws'
import type { Unset } from '@lifeline/test-utils'
import type {
  ConnectionState,
  DisconnectCause,
  HeartbeatOptions,
  LifelineError,
  ListenerOptions,
  ReconnectingWebSocketOptions,
  SendQueueSettings,
} from '../src/index.js'
import { ReconnectingWebSocket } from '../src/index.js'
import { FakeWebSocket } from '../src/testing/index.js'

type InjectableWebSocket = NonNullable<ReconnectingWebSocketOptions['WebSocket']>

// `ws`'s WebSocket and the fake plug in as the `WebSocket` option.
expectTypeOf<typeof WebSocket>().toExtend<InjectableWebSocket>()
expectTypeOf<typeof FakeWebSocket>().toExtend<InjectableWebSocket>()
expectTypeOf<typeof globalThis.WebSocket>().toExtend<InjectableWebSocket>()
expectTypeOf((url: string) => {
  return new ReconnectingWebSocket(url, undefined, {
    WebSocket: globalThis.WebSocket,
    startClosed: true,
  })
}).returns.toEqualTypeOf<ReconnectingWebSocket>()

// And a socket can be made with each (the functions are only type-checked, never called).
expectTypeOf((url: string) => {
  return new ReconnectingWebSocket(url, undefined, { WebSocket, startClosed: true })
}).returns.toEqualTypeOf<ReconnectingWebSocket>()
expectTypeOf((url: string) => {
  return new ReconnectingWebSocket(url, undefined, { WebSocket: FakeWebSocket, startClosed: true })
}).returns.toEqualTypeOf<ReconnectingWebSocket>()

// A class with the whole surface fits; the same class without `send` does not.
class CompleteSocket {
  readonly readyState = 0
  readonly protocol = ''
  readonly extensions = ''
  readonly bufferedAmount = 0
  binaryType = 'blob'
  onopen = null
  onmessage = null
  onclose = null
  onerror = null
  send(_data: string): void {}
  close(): void {}
}
class SocketWithoutSend {
  readonly readyState = 0
  readonly protocol = ''
  readonly extensions = ''
  readonly bufferedAmount = 0
  binaryType = 'blob'
  onopen = null
  onmessage = null
  onclose = null
  onerror = null
  close(): void {}
}
expectTypeOf(CompleteSocket).toExtend<InjectableWebSocket>()
const complete: ReconnectingWebSocketOptions = { WebSocket: CompleteSocket }
// @ts-expect-error a WebSocket implementation needs send()
expectTypeOf(SocketWithoutSend).toExtend<InjectableWebSocket>()
// @ts-expect-error a WebSocket implementation needs send()
const withoutSend: ReconnectingWebSocketOptions = { WebSocket: SocketWithoutSend }
expectTypeOf([complete, withoutSend]).toEqualTypeOf<ReconnectingWebSocketOptions[]>()

declare const socket: ReconnectingWebSocket

// send() takes what the standard WebSocket takes, and nothing else.
socket.send('text')
socket.send(new Uint8Array(1))
socket.send(new ArrayBuffer(1))
// @ts-expect-error a number is not WebSocket data
socket.send(42)

// Only the socket's own event types can be listened to.
// @ts-expect-error no such event
socket.addEventListener('nope', () => {})

// close() takes a numeric code, as the standard's does.
socket.close(1000, 'done')
// @ts-expect-error the code is a number
socket.close('1000')

// Events carry their own precise types.
socket.addEventListener('reconnecting', (e) => expectTypeOf(e.delayMs).toEqualTypeOf<number>())
socket.addEventListener('reconnecting', (e) =>
  expectTypeOf(e.cause).toEqualTypeOf<DisconnectCause>(),
)
socket.addEventListener('connecting', (e) => expectTypeOf(e.attempt).toEqualTypeOf<number>())
socket.addEventListener('error', (e) => expectTypeOf(e.error).toEqualTypeOf<LifelineError>())
socket.addEventListener('close', (e) => expectTypeOf(e.code).toEqualTypeOf<number>())
socket.addEventListener('open', (e) =>
  expectTypeOf(e.target).toEqualTypeOf<ReconnectingWebSocket>(),
)
socket.addEventListener('statechange', (e) =>
  expectTypeOf(e.state).toEqualTypeOf<ConnectionState>(),
)
socket.onmessage = (e) => expectTypeOf(e.data).toEqualTypeOf<unknown>()
socket.onclose = (e) => expectTypeOf(e.wasClean).toEqualTypeOf<boolean>()
socket.addEventListener('message', {
  handleEvent: (e) => expectTypeOf(e.data).toEqualTypeOf<unknown>(),
})

// The state narrows on `status`.
const state = socket.state
expectTypeOf(state.status).toEqualTypeOf<
  'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed'
>()
expectTypeOf(state).not.toHaveProperty('delayMs')
if (state.status === 'reconnecting') {
  expectTypeOf(state.attempt).toEqualTypeOf<number>()
  expectTypeOf(state.delayMs).toEqualTypeOf<number>()
  expectTypeOf(state.cause).toEqualTypeOf<DisconnectCause>()
} else if (state.status === 'closed') {
  expectTypeOf(state.cause).toEqualTypeOf<DisconnectCause | undefined>()
  expectTypeOf(state).not.toHaveProperty('attempt')
} else if (state.status === 'closing') {
  expectTypeOf(state).toEqualTypeOf<{ readonly status: 'closing' }>()
} else {
  expectTypeOf(state.status).toEqualTypeOf<'connecting' | 'open'>()
  expectTypeOf(state.attempt).toEqualTypeOf<number>()
}

// Options a wrapper passes on as it got them, under exactOptionalPropertyTypes: each optional
// one, nested ones too, takes `undefined` as "not given".
expectTypeOf<Unset<ReconnectingWebSocketOptions>>().toExtend<ReconnectingWebSocketOptions>()
expectTypeOf<Unset<HeartbeatOptions>>().toExtend<HeartbeatOptions>()
expectTypeOf<Unset<SendQueueSettings>>().toExtend<
  NonNullable<ReconnectingWebSocketOptions['queue']>
>()
expectTypeOf<Unset<ListenerOptions>>().toExtend<ListenerOptions>()
