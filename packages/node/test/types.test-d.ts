import { expectTypeOf } from 'vitest'
import { WebSocket } from 'ws'
import type { Unset } from '@lifeline/test-utils'
import type {
  Client,
  NodeClientOptions,
  NodeReconnectingWebSocketOptions,
  RpcMethod,
  TlsOptions,
} from '../src/index.js'
import { ReconnectingWebSocket, createClient } from '../src/index.js'

interface Ingest {
  client: { entry: { id: number } }
  server: { receipt: { id: number } }
  rpc: { total: RpcMethod<Record<string, never>, number> }
}

// The functions are only type-checked, never called.
expectTypeOf(() =>
  createClient<Ingest>({ url: 'ws://x', socket: { headers: async () => ({ A: 'b' }) } }),
).returns.toEqualTypeOf<Client<Ingest>>()
expectTypeOf(
  () => new ReconnectingWebSocket('ws://x', null, { heartbeat: { intervalMs: 1 }, maxPayload: 1 }),
).returns.toEqualTypeOf<ReconnectingWebSocket>()

// The socket is always `ws`, and the heartbeat is the ping one: core's data-frame options are not.
export function misuses(): void {
  // @ts-expect-error the WebSocket is not an option here
  void new ReconnectingWebSocket('ws://x', null, { WebSocket })
  // @ts-expect-error core's heartbeat takes a ping value; this one pings by itself
  void new ReconnectingWebSocket('ws://x', null, { heartbeat: { ping: 'ping' } })
  // @ts-expect-error header values are strings
  void createClient({ url: 'ws://x', socket: { headers: { 'X-Count': 1 } } })
  // @ts-expect-error a client is made closed with `startClosed` of its own, not its socket's
  void createClient({ url: 'ws://x', socket: { startClosed: true } })
}

// Options a wrapper passes on as it got them, under exactOptionalPropertyTypes: each optional
// one takes `undefined` as "not given". (TLS's own keys; those of Node's `SecureContextOptions`
// are typed by Node.)
expectTypeOf<Unset<NodeReconnectingWebSocketOptions>>().toExtend<NodeReconnectingWebSocketOptions>()
expectTypeOf<
  Unset<NodeClientOptions> & Pick<NodeClientOptions, 'url'>
>().toExtend<NodeClientOptions>()
expectTypeOf<
  Unset<Exclude<NodeReconnectingWebSocketOptions['heartbeat'], false | undefined>>
>().toExtend<NonNullable<NodeReconnectingWebSocketOptions['heartbeat']>>()
expectTypeOf<
  Unset<Pick<TlsOptions, 'rejectUnauthorized' | 'checkServerIdentity' | 'servername'>>
>().toExtend<TlsOptions>()
